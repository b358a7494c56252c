// Frozen regions and proxy safe points (Sources/CDeferredUnwind/proxy.c):
// the C checks of Tests/C/lifecycle/lc_proxy.c, and the Swift API.
import CDeferredUnwind
import CTestSupport
import DeferredUnwind
import Foundation
import Synchronization
import Testing

// Process-wide state (tracers, attached threads): nested under
// LibraryStateTests, which runs its suites one at a time.
extension LibraryStateTests {
    @Suite("Proxy safe points: frozen regions served by another thread", .timeLimit(.minutes(2)))
    struct ProxyTests {}
}

/// Runs a C check that also writes a report line, prints the line.
func proxyCheck(_ name: String, _ body: (UnsafeMutablePointer<CChar>, Int, UnsafeMutablePointer<CChar>, Int) -> Int32) {
    var message = [CChar](repeating: 0, count: 512)
    var report = [CChar](repeating: 0, count: 512)
    let rc = message.withUnsafeMutableBufferPointer { m in
        report.withUnsafeMutableBufferPointer { r in body(m.baseAddress!, m.count, r.baseAddress!, r.count) }
    }
    let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    let line = report.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    print("PROXY \(name): \(line)")
    #expect(rc == 0, "\(text)")
}

extension LibraryStateTests.ProxyTests {
    @Test("a proxy delivers a frozen thread's request once, with its cookie and its stack; the thread delivers the rest")
    func deliversOnce() {
        proxyCheck("delivers-once") { du_lc_proxy_delivers_once($0, $1, $2, $3) }
    }

    @Test("leaving the region waits for the proxy's callback of this thread")
    func leaveWaits() {
        proxyCheck("leave-waits") { du_lc_proxy_leave_waits(50, $0, $1, $2, $3) }
    }

    @Test("cancel waits for the proxy's running callback of the cancelled tracer")
    func cancelWaits() {
        proxyCheck("cancel-waits") { du_lc_proxy_cancel_waits($0, $1, $2, $3) }
    }

    @Test("thread exit inside a region delivers once", arguments: [0, 1])
    func exitInRegion(serveFirst: Int32) {
        lifecycleCheck { du_lc_proxy_exit_in_region(serveFirst, $0, $1) }
    }

    @Test("a proxy's callback forks: the child's serve returns, the child works on its own",
          .enabled(if: !ExampleTests.underAddressSanitizer, "ASan's runtime is not fork-safe with busy threads"))
    func forkInCallback() {
        lifecycleCheck { du_lc_proxy_fork_in_callback($0, $1) }
    }

    @Test("a tracer cancelled after the proxy read the thread's word, its bit reused: nobody is called",
          .enabled(if: LibraryStateTests.LifecycleTests.stepPoints, "needs step points (debug build)"))
    func bitReuse() {
        lifecycleCheck { du_lc_proxy_bit_reuse($0, $1) }
    }

    @Test("a thread cannot detach between a proxy's peek of it and the proxy's claim",
          .enabled(if: LibraryStateTests.LifecycleTests.stepPoints, "needs step points (debug build)"))
    func detachWaitsForThePeek() {
        lifecycleCheck { du_lc_proxy_detach_waits_for_peek($0, $1) }
    }

    @Test("misuse answers: -ESRCH, -EINVAL, -EBUSY, -EDEADLK")
    func misuse() {
        lifecycleCheck { du_lc_proxy_misuse($0, $1) }
    }

    @Test("Swift: withFrozenRegion and serveFrozenThreads")
    func swiftAPI() throws {
        let got = Mutex<[(StackTrace, Cookie)]>([])
        let tracer = try Tracer(name: "proxy-swift") { trace, cookie in
            got.withLock { $0.append((trace, cookie)) }
        }
        defer { _ = try? tracer.cancel() }
        try DeferredUnwinding.attachCurrentThread()
        defer { try? DeferredUnwinding.detachCurrentThread() }
        let entered = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0)
        let cookie = Mutex<Cookie?>(nil)
        let target = Thread {
            try? DeferredUnwinding.attachCurrentThread()
            if case .queued(let c)? = try? tracer.request() { cookie.withLock { $0 = c } }
            try? DeferredUnwinding.withFrozenRegion {
                entered.signal()
                go.wait()
            }
            _ = try? DeferredUnwinding.safePoint()
            try? DeferredUnwinding.detachCurrentThread()
            entered.signal()
        }
        target.start()
        entered.wait()
        #expect(try DeferredUnwinding.serveFrozenThreads() == 1)
        go.signal()
        entered.wait()
        let results = got.withLock { $0 }
        #expect(results.count == 1)
        #expect(results.first?.0.isFromProxy == true && results.first?.0.isComplete == true)
        #expect(results.first?.1 == cookie.withLock { $0 })
        let nested = #expect(throws: DeferredUnwindError.self) {
            try DeferredUnwinding.withFrozenRegion { try DeferredUnwinding.withFrozenRegion {} }
        }
        #expect(nested?.code == .busy)
    }
}
