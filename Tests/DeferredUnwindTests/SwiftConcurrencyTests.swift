import DeferredUnwind
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    @Suite("Swift API: several threads", .timeLimit(.minutes(1)))
    struct SwiftConcurrencyTests {}
}

extension LibraryStateTests.SwiftConcurrencyTests {
    struct Delivered: Sendable, Hashable {
        let tracer: Int
        let thread: UInt
        let cookie: Cookie
        let afterCancel: Bool
    }

    @Test("threads request and deliver independently; cancel and churn race with them")
    func manyThreads() throws {
        let workers = 4
        let rounds = 300
        let log = SwiftAPIRecorder<Delivered>()
        let cancelled = SwiftAPISlot<Bool>(false)
        func make(_ index: Int) throws -> Tracer {
            try swiftAPITracer("mt-\(index)") { trace, cookie in
                precondition(!trace.isThreadExiting)
                log.append(Delivered(tracer: index, thread: swiftAPIThreadID(), cookie: cookie,
                                     afterCancel: cancelled.value == true))
            }
        }
        let a = try make(0), b = try make(1), c = try make(2)

        struct WorkerResult: Sendable {
            var thread: UInt = 0
            var cookies: [Cookie] = []      // one per round, from a
            var cQueued: [Cookie] = []      // requests of c that were accepted
            var cRefused = 0
            var failures: [String] = []
        }
        let go = SwiftAPISlot<Bool>(false)
        let roundsDone = CoreCounter() // all workers' rounds so far
        let handles = try (0..<workers).map { _ in
            try SwiftAPIThread.start { () throws -> WorkerResult in
                try DeferredUnwinding.attachCurrentThread()
                defer { try? DeferredUnwinding.detachCurrentThread() }
                var r = WorkerResult()
                r.thread = swiftAPIThreadID()
                guard testPoll({ go.value == true }) != nil else {
                    r.failures.append("never told to start")
                    return r
                }
                for i in 0..<rounds {
                    let ra = try a.request()
                    let rb = try b.request()
                    guard case .queued(let cookie) = ra, rb == .alreadyRequested(cookie) || rb == .queued(cookie)
                    else { r.failures.append("round \(i): \(ra) \(rb)"); continue }
                    if case .queued = rb {} else { r.failures.append("round \(i): b not queued") }
                    var expected = 2
                    switch swiftAPICatch({ try c.request() }) {
                    case .success(let rc):
                        if rc.cookie != cookie { r.failures.append("round \(i): c cookie differs") }
                        r.cQueued.append(cookie)
                        expected = 3
                    case .failure(.tracerCancelled): r.cRefused += 1
                    case .failure(let e): r.failures.append("round \(i): c \(e)")
                    }
                    let ran = try DeferredUnwinding.safePoint()
                    // c may be cancelled between its request and the safe point.
                    if ran != expected && !(expected == 3 && ran == 2) {
                        r.failures.append("round \(i): ran \(ran), expected \(expected)")
                    }
                    r.cookies.append(cookie)
                    roundsDone.add(1)
                    if i % 50 == 0 { sched_yield() }
                }
                return r
            }
        }
        // Registry churn and a cancel, concurrently with the workers.
        let churn = try SwiftAPIThread.start { () throws -> Int in
            guard testPoll({ go.value == true }) != nil else { return -1 }
            var n = 0
            for i in 0..<20 {
                let t = try swiftAPITracer("churn-\(i)") { _, _ in }
                try t.cancel()
                n += 1
            }
            return n
        }
        go.value = true
        // Cancel c while the workers run: once a quarter of all rounds are
        // done (not after a sleep that a loaded machine may outlast).
        testExpectEventually("the workers to do a quarter of their rounds",
                             state: { "\(roundsDone.load()) of \(workers * rounds) done" }) {
            roundsDone.load() >= workers * rounds / 4
        }
        try c.cancel()
        cancelled.value = true
        let results = try handles.map { try $0.join() }
        #expect(try churn.join() == 20)

        for r in results { #expect(r.failures.isEmpty, "\(r.failures.prefix(5))") }
        let delivered = log.all
        #expect(!delivered.contains { $0.afterCancel && $0.tracer == 2 }, "c ran after cancel returned")
        for r in results {
            for tracer in 0...1 {
                let got = delivered.filter { $0.tracer == tracer && $0.thread == r.thread }.map(\.cookie)
                #expect(got == r.cookies, "tracer \(tracer), thread \(r.thread): each request once, in order")
            }
            let gotC = delivered.filter { $0.tracer == 2 && $0.thread == r.thread }.map(\.cookie)
            #expect(Set(gotC).isSubset(of: Set(r.cQueued)))
            #expect(gotC.count <= r.cQueued.count)
            #expect(r.cookies.count == rounds)
        }
        // Every entry context on every thread had its own cookie.
        let all = results.flatMap(\.cookies)
        #expect(Set(all).count == all.count)
    }
}
