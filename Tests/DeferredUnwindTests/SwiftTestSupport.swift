import DeferredUnwind
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs closures on fresh OS threads.  Attachment is per OS thread and a
/// Swift task may hop threads at any await, so every test that attaches does
/// it inside `SwiftAPIThread.run`, which creates a pthread, runs the body
/// there, joins it and returns the body's result (or rethrows its error).
/// Assertions stay in the test body: the thread returns values to check.
enum SwiftAPIThread {
    struct CreateFailed: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "pthread_create failed: \(code)" }
    }

    private final class Job: @unchecked Sendable {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// A started thread; `join()` waits for it and returns its result.
    final class Handle<T: Sendable>: @unchecked Sendable {
        fileprivate var thread = pthread_t()
        fileprivate let result = TestLocked<Result<T, any Error>?>(nil)
        private var joined = false

        /// Joins the thread (once) and returns the body's result or rethrows.
        func join() throws -> T {
            if !joined {
                pthread_join(thread, nil)
                joined = true
            }
            guard let r = result.withLock({ $0 }) else { throw CreateFailed(code: -1) }
            return try r.get()
        }
    }

    /// Starts `body` on a new pthread.
    static func start<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T
    ) throws -> Handle<T> {
        let handle = Handle<T>()
        let job = Unmanaged.passRetained(Job {
            let r = Result { try body() }
            handle.result.withLock { $0 = r }
        })
        let rc = pthread_create(&handle.thread, nil, { arg in
            guard let arg else { return nil }
            Unmanaged<Job>.fromOpaque(arg).takeRetainedValue().body()
            return nil
        }, job.toOpaque())
        guard rc == 0 else {
            job.release()
            throw CreateFailed(code: rc)
        }
        return handle
    }

    /// Runs `body` on a new pthread and joins it (blocking the caller only
    /// for the body's duration).
    static func run<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T
    ) throws -> T {
        try start(body).join()
    }

    /// Runs `body` on a new, attached thread; detaches afterwards (unless
    /// the body detached itself).
    static func attached<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T
    ) throws -> T {
        try run {
            try DeferredUnwinding.attachCurrentThread()
            defer {
                if DeferredUnwinding.isCurrentThreadAttached {
                    try? DeferredUnwinding.detachCurrentThread()
                }
            }
            return try body()
        }
    }
}

/// Collects what callbacks saw.  Sendable; callbacks run on other threads.
final class SwiftAPIRecorder<Element: Sendable>: Sendable {
    private let storage = TestLocked<[Element]>([])
    func append(_ e: Element) { storage.withLock { $0.append(e) } }
    var all: [Element] { storage.withLock { $0 } }
    var count: Int { storage.withLock { $0.count } }
}

/// One delivery: trace, cookie, and the OS thread it ran on.
struct SwiftAPIDelivery: Sendable {
    let trace: StackTrace
    let cookie: Cookie
    let thread: UInt
}

func swiftAPIThreadID() -> UInt {
    UInt(pthread_self())
}

/// Captures the outcome of a throwing call (run anywhere, checked later).
/// An error that is not a DeferredUnwindError becomes code `.other`, errno -1.
func swiftAPICatch<T>(_ body: () throws -> T) -> Result<T, DeferredUnwindError> {
    do { return .success(try body()) } catch let e as DeferredUnwindError {
        return .failure(e)
    } catch {
        return .failure(DeferredUnwindError(errno: -1))
    }
}

extension Result where Failure == DeferredUnwindError {
    /// "ok", the error's code name, or "other(<errno>)", for compact comparisons.
    var swiftAPIStatus: String {
        switch self {
        case .success: return "ok"
        case .failure(let e): return e.code == .other ? "other(\(e.errno))" : "\(e.code)"
        }
    }
}

/// A settable reference shared with callbacks (e.g. the tracer a callback
/// acts on, set after init).  Clear it to break the cycle.
final class SwiftAPISlot<T: Sendable>: Sendable {
    private let storage: TestLocked<T?>
    init(_ value: T? = nil) { storage = TestLocked(value) }
    var value: T? {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// A tool, file or symbol a test needs is missing: the test fails (never skips).
struct SwiftAPIToolMissing: Error, CustomStringConvertible {
    let what: String
    var description: String { "missing: \(what)" }
}

/// `Tracer(name:callback:)`.  No retry on `registryFull`: every suite that
/// registers tracers is nested under LibraryStateTests and runs alone, so a
/// full registry here means a tracer leaked by an earlier test (or a suite
/// that is not nested): a bug to see, not to wait out.
func swiftAPITracer(
    _ name: String, _ callback: @escaping @Sendable (StackTrace, Cookie) -> Void
) throws -> Tracer {
    try Tracer(name: name, callback: callback)
}
