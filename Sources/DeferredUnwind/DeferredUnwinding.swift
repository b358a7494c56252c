import CDeferredUnwind

/// Deferred user-stack unwinding: the calling thread's half of the API.
///
/// A sampler that may not unwind (a signal handler, in C: `du_request()`)
/// asks for the stack and gets a ``Cookie`` at once; the thread unwinds
/// later, once, at its next ``safePoint()``, and hands (stack, cookie) to
/// every ``Tracer`` that asked.
///
/// Contexts.  Every member here is for *thread context* only: never call
/// Swift from a signal handler (Swift may allocate, take locks and retain
/// objects; none of that is async-signal-safe).  Signal handlers use the C
/// API (`du_request()` from `deferred_unwind.h`).
///
/// Threads.  Attachment is per OS thread.  Attach, request, safe point and
/// detach on one OS thread: a Swift `async` function may resume on another
/// thread after any `await`, so do not attach from code running on Swift
/// concurrency's cooperative pool; use a `Thread` or pthread you own.
///
/// Name.  Not `DeferredUnwind`: a type with the module's name makes
/// module-qualified names (`DeferredUnwind.Tracer`) ambiguous.
public enum DeferredUnwinding {
    /// Most tracers registered at once (`DU_MAX_TRACERS`, one bit each).
    public static let maxTracers = Int(DU_MAX_TRACERS)

    /// Attaches the calling thread: allocates its state
    /// (``threadFootprintBytes``) and registers it with liburcu.
    ///
    /// Context: thread, not inside a tracer callback; may block (registry mutexes).
    /// - Throws: ``DeferredUnwindError/Code/alreadyAttached``,
    ///   ``DeferredUnwindError/Code/outOfMemory``.
    public static func attachCurrentThread() throws(DeferredUnwindError) {
        try CShim.threadAttach()
    }

    /// Detaches the calling thread: new requests fail with
    /// ``DeferredUnwindError/Code/threadExiting``, every pending request is
    /// delivered with an empty trace whose ``StackTrace/isThreadExiting`` is
    /// set, then the state is freed.  A thread that exits without detaching
    /// gets the same treatment from a thread-exit destructor.
    ///
    /// Context: thread; blocks while it runs callbacks.
    /// - Throws: ``DeferredUnwindError/Code/notAttached``;
    ///   ``DeferredUnwindError/Code/wouldDeadlock`` inside a callback.
    public static func detachCurrentThread() throws(DeferredUnwindError) {
        try CShim.threadDetach()
    }

    /// Whether the calling thread is attached.  Context: thread; lock-free.
    public static var isCurrentThreadAttached: Bool {
        CShim.threadIsAttached()
    }

    /// The calling thread's safe point ("return to user space"): if any
    /// request is pending, unwinds once, calls each requesting tracer exactly
    /// once with (trace, cookie), serves requests made meanwhile, then ends
    /// the entry context (the next request gets a new cookie).
    ///
    /// Always inlined into the caller (`@inline(always)`, also at `-Onone`),
    /// so the trace starts in the function that called `safePoint()`.
    ///
    /// Context: thread; runs the callbacks on this thread and blocks while
    /// they run.  Cheap (two loads) when nothing was requested.
    /// - Returns: the number of callbacks run.
    /// - Throws: ``DeferredUnwindError/Code/notAttached``;
    ///   ``DeferredUnwindError/Code/wouldDeadlock`` inside a callback.
    @inline(always)
    public static func safePoint() throws(DeferredUnwindError) -> Int {
        // du_safe_point() must be called from here, not from a wrapper
        // function: the C core starts the trace at its caller's frame.
        let ran = du_safe_point()
        if ran < 0 { throw DeferredUnwindError(cReturn: ran) }
        return Int(ran)
    }

    /// Runs `body` inside a frozen region: while it runs, another attached
    /// thread's ``serveFrozenThreads()`` may unwind this thread's stack above
    /// this call and run the callbacks of its pending requests (their traces
    /// have ``StackTrace/isFromProxy`` set; each request is delivered once,
    /// by a proxy or by this thread's next ``safePoint()``).  Wrap a call that
    /// may block for long (a read, a wait on a condition variable).
    ///
    /// The contract: `body` must not return into or unwind the frames
    /// above this call by other means (`longjmp`, thread exit) while it
    /// runs.  Regions do not nest.  Leaving waits while a proxy serves this
    /// thread (its unwind and callbacks).  ``safePoint()`` inside the region
    /// throws ``DeferredUnwindError/Code/busy`` when something is pending.
    ///
    /// Context: thread, attached.
    /// - Throws: ``DeferredUnwindError/Code/notAttached``;
    ///   ``DeferredUnwindError/Code/busy`` already in a region or exiting;
    ///   ``DeferredUnwindError/Code/wouldDeadlock`` inside a callback; and
    ///   whatever `body` throws (the region is left first).
    public static func withFrozenRegion<R>(_ body: () throws -> R) throws -> R {
        let entered = du_frozen_enter()
        if entered < 0 { throw DeferredUnwindError(cReturn: entered) }
        defer { _ = du_frozen_leave() }
        return try body()
    }

    /// Serves every other attached thread that is inside a frozen region
    /// and has pending requests: unwinds its stack and runs those callbacks
    /// here, on the calling thread (``StackTrace/isFromProxy``; the cookie is
    /// that thread's, its ``Cookie/threadHalf`` says whose).
    ///
    /// Context: thread, attached, not inside a frozen region or a callback;
    /// runs callbacks.
    /// - Returns: the number of callbacks run.
    /// - Throws: ``DeferredUnwindError/Code/notAttached``,
    ///   ``DeferredUnwindError/Code/busy`` (the caller is in a frozen region),
    ///   ``DeferredUnwindError/Code/wouldDeadlock`` inside a callback.
    public static func serveFrozenThreads() throws(DeferredUnwindError) -> Int {
        let ran = du_proxy_serve()
        if ran < 0 { throw DeferredUnwindError(cReturn: ran) }
        return Int(ran)
    }

    /// The calling thread's cookie for the current entry context, `nil` if
    /// none was handed out since the last safe point (or not attached).
    /// Context: thread; lock-free.
    public static var currentCookie: Cookie? {
        Cookie(rawValue: CShim.currentCookie())
    }

    /// Bytes of per-thread state allocated by ``attachCurrentThread()``
    /// (two cache lines).  Context: any.
    public static var threadFootprintBytes: Int {
        Int(du_thread_footprint())
    }

    /// Bytes of the per-thread trace cache, allocated at a thread's first
    /// unwind.  Context: any.
    public static var traceCacheBytes: Int {
        Int(du_trace_cache_bytes())
    }

    /// Return addresses the trace cache holds; deeper stacks are truncated
    /// (``StackTrace/isTruncated``).  Context: any.
    public static var traceCapacity: Int {
        Int(du_trace_capacity())
    }
}
