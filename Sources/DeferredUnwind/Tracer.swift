import CDeferredUnwind

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A registered callback that wants (stack, cookie) pairs: one of the
/// ``DeferredUnwinding/maxTracers`` bits of every thread's pending word.
///
/// Life cycle: `init` registers; ``request()`` asks for the calling thread's
/// stack at its next ``DeferredUnwinding/safePoint()``; ``cancel()`` stops it
/// (waiting for running callbacks); `deinit` cancels if needed and releases
/// the callback.  The C handle owns no memory, so `cancel()` from several
/// threads at once, or racing `deinit` on another thread's copy of the
/// handle, is safe.
///
/// Contexts.  Thread context only, never a signal handler (a C signal
/// handler calls `du_request()` on a C tracer instead).  The callback runs on
/// the thread that made the request, inside its safe point, its detach, or
/// its thread-exit destructor; it may allocate, block, call ``request()``
/// (served before the safe point returns) and create tracers, but
/// ``cancel()``, ``DeferredUnwinding/detachCurrentThread()`` and
/// ``DeferredUnwinding/safePoint()`` throw ``DeferredUnwindError/Code/wouldDeadlock``
/// there.
///
/// Dropping the last reference inside a callback.  `deinit` cannot cancel
/// there (cancel waits for running callbacks, including the current one),
/// so it hands the C tracer and the callback to a detached cleanup thread
/// that cancels the tracer and releases the callback once the callback has
/// returned.  Until then
/// the callback may still run for requests that were already pending, and
/// the tracer's bit stays in use (``DeferredUnwindError/Code/registryFull`` is
/// possible for a moment).  This never frees anything a callback may still
/// touch, never blocks the callback, and never leaks silently; only if no
/// thread can be created are the C tracer and callback kept alive forever
/// (still safe: nothing can request it any more).
public final class Tracer: Sendable {
    /// What ``request()`` did.  Both cases carry this entry context's cookie;
    /// the callback will get (or already got) the same cookie.
    public enum RequestResult: Sendable, Hashable {
        /// This call queued the work: the callback will run with the cookie.
        case queued(Cookie)
        /// Already queued or delivered in this entry context: the callback
        /// with this cookie was or will be delivered once, not again.
        case alreadyRequested(Cookie)

        /// The cookie, whichever the case.
        public var cookie: Cookie {
            switch self {
            case .queued(let c), .alreadyRequested(let c): return c
            }
        }
    }

    /// The name kept by the C core (at most 31 bytes of the given name).
    public let name: String
    private let handle: TracerHandle
    private let box: CallbackBox

    /// Registers a tracer.
    ///
    /// - Parameters:
    ///   - name: a label; the first 31 bytes are kept.
    ///   - callback: called with (trace, cookie) on the requesting thread,
    ///     inside its safe point or detach (see the type's documentation for
    ///     what it may do).  The trace is a copy and may be kept.
    /// - Throws: ``DeferredUnwindError/Code/registryFull`` when
    ///   ``DeferredUnwinding/maxTracers`` tracers exist.
    ///
    /// Context: thread (callbacks included); may block (registry mutex).
    public init(
        name: String,
        callback: @escaping @Sendable (StackTrace, Cookie) -> Void
    ) throws(DeferredUnwindError) {
        let box = CallbackBox(callback)
        self.box = box
        // Unretained: `self.box` keeps the box alive until deinit, and deinit
        // releases it only after du_tracer_destroy() returned 0, i.e. after
        // no callback of this tracer runs or can start.
        let pointer = try CShim.tracerRegister(
            { trace, cookie, arg in Tracer.deliver(trace, cookie, arg) },
            Unmanaged.passUnretained(box).toOpaque(),
            name
        )
        handle = TracerHandle(pointer: pointer)
        self.name = CShim.tracerName(pointer)
    }

    /// Asks for the calling thread's stack at its next safe point.
    ///
    /// - Returns: ``RequestResult/queued(_:)`` the first time in this entry
    ///   context, ``RequestResult/alreadyRequested(_:)`` after that.
    /// - Throws: ``DeferredUnwindError/Code/notAttached``,
    ///   ``DeferredUnwindError/Code/tracerCancelled``,
    ///   ``DeferredUnwindError/Code/threadExiting`` (inside callbacks run by detach).
    ///
    /// Context: thread, including callbacks; lock-free, never blocks.  Not
    /// from a signal handler: use `du_request()` from C there.
    public func request() throws(DeferredUnwindError) -> RequestResult {
        let (status, raw) = try CShim.request(handle.pointer)
        let cookie = Cookie(delivered: raw)
        return status == 0 ? .queued(cookie) : .alreadyRequested(cookie)
    }

    /// Cancels the tracer.  When it returns, no callback of this tracer runs
    /// or will start on any thread, and requests throw
    /// ``DeferredUnwindError/Code/tracerCancelled`` (from the moment cancel began).
    /// Other tracers' callbacks, however long they run, do not delay it.
    ///
    /// - Returns: how many entry contexts had accepted requests of this
    ///   tracer that will never get a callback (pending when cancel began, or
    ///   racing with it): their samples' stacks are lost.
    /// - Throws: ``DeferredUnwindError/Code/alreadyCancelled`` the second time;
    ///   ``DeferredUnwindError/Code/wouldDeadlock`` inside any tracer callback.
    ///
    /// Context: thread, not a callback; blocks for requests in flight on any
    /// thread, a short RCU grace period and this tracer's running callbacks
    /// (even sleeping ones).
    @discardableResult
    public func cancel() throws(DeferredUnwindError) -> Int {
        try CShim.tracerCancel(handle.pointer)
    }

    /// The tracer's bit in the pending word while registered, `nil` once
    /// cancelled.  Context: thread; lock-free.
    public var bit: Int? {
        CShim.tracerBit(handle.pointer)
    }

    /// Whether ``cancel()`` was called (or began).  Context: thread; lock-free.
    public var isCancelled: Bool {
        bit == nil
    }

    /// Cancels (if needed); then releases the callback.  Blocks for the
    /// grace periods.  Inside a callback, hands both to a cleanup thread instead
    /// (see the type's documentation).
    deinit {
        let ret = CShim.tracerDestroy(handle.pointer)
        if ret >= 0 {
            return // `box` is released after this, when nothing can call it.
        }
        // -EDEADLK: we are inside a callback, and
        // nothing was freed.  du_tracer_destroy() returns nothing else for a
        // live, non-null tracer; any other failure takes the same safe path.
        DeferredDestroy.start(handle: handle, box: box)
    }

    /// The C callback: a plain function pointer, `arg` is the box.
    private static func deliver(
        _ trace: UnsafePointer<du_trace>?, _ cookie: UInt64, _ arg: UnsafeMutableRawPointer?
    ) {
        guard let trace, let arg else { return }
        let box = Unmanaged<CallbackBox>.fromOpaque(arg).takeUnretainedValue()
        box.callback(StackTrace(copying: trace), Cookie(delivered: cookie))
    }
}

/// The C tracer pointer.  The C core's tracer functions are thread-safe.
struct TracerHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// Holds the Swift closure the C callback's `arg` points at.
final class CallbackBox: Sendable {
    let callback: @Sendable (StackTrace, Cookie) -> Void
    init(_ callback: @escaping @Sendable (StackTrace, Cookie) -> Void) {
        self.callback = callback
    }
}

/// The deinit-inside-a-callback path: a detached thread, outside any RCU
/// read-side section, runs du_tracer_destroy() (which waits for the current
/// callback to return) and then releases the callback box.
enum DeferredDestroy {
    final class Job: @unchecked Sendable {
        let handle: TracerHandle
        let box: CallbackBox
        init(handle: TracerHandle, box: CallbackBox) {
            self.handle = handle
            self.box = box
        }
    }

    static func start(handle: TracerHandle, box: CallbackBox) {
        let job = Unmanaged.passRetained(Job(handle: handle, box: box))
        var attr = pthread_attr_t()
        guard pthread_attr_init(&attr) == 0 else {
            return // leak on purpose: see Tracer's documentation
        }
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let created = pthread_create(&thread, &attr, { arg in
            guard let arg else { return nil }
            let job = Unmanaged<Job>.fromOpaque(arg).takeRetainedValue()
            // Not attached and not in a read-side section: cannot deadlock.
            if CShim.tracerDestroy(job.handle.pointer) < 0 {
                // Cannot happen here; keep everything alive rather than free
                // what a callback may still use.
                _ = Unmanaged.passRetained(job)
            }
            return nil
        }, job.toOpaque())
        if created != 0 {
            // No thread: keep the C tracer and the box alive forever.  Safe:
            // nobody holds the tracer, so no new request can name it.
            _ = job
        }
    }
}
