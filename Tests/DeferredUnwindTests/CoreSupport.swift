// Helpers for the C-core tests: fresh OS threads, callback recording, tracer setup.
import CDeferredUnwind
import Glibc
import Synchronization

/// Runs `body` on a new pthread and waits for it. Attach and detach must
/// happen on one OS thread, which Swift concurrency's pool does not promise.
func coreRunOnFreshThread(_ body: @escaping @Sendable () -> Void) {
    let tid = coreStartThread(body)
    pthread_join(tid, nil)
}

/// Starts `body` on a new pthread; join the result.
func coreStartThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    let job = CoreThreadJob(body)
    var tid = pthread_t()
    let rc = pthread_create(&tid, nil, { raw in
        Unmanaged<CoreThreadJob>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, Unmanaged.passRetained(job).toOpaque())
    precondition(rc == 0, "pthread_create failed: \(rc)")
    return tid
}

final class CoreThreadJob: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// `coreRunOnFreshThread` with a result.
func coreOnFreshThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
    let result = TestLocked<T?>(nil)
    coreRunOnFreshThread {
        let r = body()
        result.withLock { $0 = r }
    }
    return result.withLock { $0 }!
}

/// One delivered callback.
struct CoreDelivery: Sendable, Equatable {
    var tracer: Int
    var cookie: UInt64
    var flags: UInt32
    var frames: [UInt]
}

/// Records callbacks of several tracers; `index` tells them apart. Thread-safe.
final class CoreRecorder: Sendable {
    let deliveries = TestLocked<[CoreDelivery]>([])
    /// Per tracer index: a closure run inside the callback (thread context).
    let actions = TestLocked<[Int: @Sendable () -> Void]>([:])

    func snapshot() -> [CoreDelivery] { deliveries.withLock { $0 } }
    func clear() { deliveries.withLock { $0.removeAll() } }
    func count(tracer: Int) -> Int { snapshot().filter { $0.tracer == tracer }.count }
}

/// What a tracer's C `arg` points to: its recorder and its index.
final class CoreTracerContext: Sendable {
    let recorder: CoreRecorder
    let index: Int
    init(recorder: CoreRecorder, index: Int) {
        self.recorder = recorder
        self.index = index
    }
}

let coreCallback: du_callback = { trace, cookie, arg in
    let ctx = Unmanaged<CoreTracerContext>.fromOpaque(arg!).takeUnretainedValue()
    let t = trace!.pointee
    var frames: [UInt] = []
    if let ips = t.ips {
        frames = (0..<Int(t.nr)).map { UInt(ips[$0]) }
    }
    ctx.recorder.deliveries.withLock {
        $0.append(CoreDelivery(tracer: ctx.index, cookie: cookie, flags: t.flags, frames: frames))
    }
    if let action = ctx.recorder.actions.withLock({ $0[ctx.index] }) {
        action()
    }
}

/// A registered C tracer plus the context object its callback uses.
final class CoreTracer: @unchecked Sendable {
    let handle: OpaquePointer
    let context: CoreTracerContext
    private var destroyed = false

    init(_ recorder: CoreRecorder, index: Int, name: String = "test") throws {
        let context = CoreTracerContext(recorder: recorder, index: index)
        var out: OpaquePointer?
        let rc = du_tracer_register(coreCallback, Unmanaged.passUnretained(context).toOpaque(),
                                    name, &out)
        guard rc == 0, let out else { throw CoreError.errno(rc) }
        self.handle = out
        self.context = context
    }

    var bit: Int32 { du_tracer_bit(handle) }

    func request() -> (status: Int32, cookie: UInt64) {
        var cookie: UInt64 = 0xdead
        let rc = du_request(handle, &cookie)
        return (rc, cookie)
    }

    func cancel() -> Int32 { du_tracer_cancel(handle) }

    func destroy() {
        guard !destroyed else { return }
        destroyed = true
        let rc = du_tracer_destroy(handle)
        precondition(rc >= 0, "du_tracer_destroy: \(rc)") // >= 0: contexts it dropped
    }

    deinit { destroy() }
}

enum CoreError: Error, Equatable { case errno(Int32) }

/// A counter one thread stores and others poll, lock-free (no mutex in a
/// hot loop; ThreadSanitizer sees these atomics).
final class CoreCounter: Sendable {
    private let value = Atomic<Int>(0)
    func store(_ v: Int) { value.store(v, ordering: .relaxed) }
    func add(_ v: Int) { value.add(v, ordering: .relaxed) }
    func load() -> Int { value.load(ordering: .relaxed) }
}
