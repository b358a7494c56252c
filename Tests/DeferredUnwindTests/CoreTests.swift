// Unit tests of the C core, one group per numbered point of the core issue.
import CDeferredUnwind
import CTestSupport
import Glibc
import Testing

// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    // 3 minutes: realNestedSignalsAcrossAttachDetach may need 150 s under
    // a saturating load (CoreSignalTests.swift); the others take seconds.
    @Suite("C core", .timeLimit(.minutes(3)))
    struct CoreTests {}
}

extension LibraryStateTests.CoreTests {
    // 1. Threads
    @Test func footprintIsTwoCacheLinesPlusLazyPage() {
        #expect(du_thread_footprint() == 128) // the hot line and the frozen region's
        #expect(du_trace_cache_bytes() == 4096)
        #expect(du_trace_capacity() == 511)
    }

    @Test func attachTwiceAndDetachTwiceAreErrors() {
        let codes = coreOnFreshThread { () -> [Int32] in
            [du_thread_attach(), du_thread_attach(), du_thread_detach(), du_thread_detach()]
        }
        #expect(codes == [0, -EEXIST, 0, -ESRCH])
    }

    @Test func requestWithoutAttachFails() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let r = coreOnFreshThread { t.request() }
        #expect(r.status == -ESRCH && r.cookie == 0)
        #expect(coreOnFreshThread { du_safe_point() } == -ESRCH)
        var c: UInt64 = 7
        #expect(du_request(nil, &c) == -EINVAL && c == 0)
        #expect(du_request(t.handle, nil) == -EINVAL)
    }

    @Test func detachDeliversPendingWithExitingTrace() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let cookie = coreOnFreshThread { () -> UInt64 in
            _ = du_thread_attach()
            let r = t.request()
            _ = du_thread_detach()
            return r.cookie
        }
        let d = recorder.snapshot()
        #expect(d.count == 1)
        #expect(d.first?.cookie == cookie)
        #expect(d.first.map { $0.flags & DU_TRACE_EXITING.rawValue != 0 && $0.frames.isEmpty } == true)
    }

    @Test func threadExitWithoutDetachDeliversPending() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let cookie = coreOnFreshThread { () -> UInt64 in
            _ = du_thread_attach()
            return t.request().cookie // thread exits attached
        }
        let d = recorder.snapshot()
        #expect(d.count == 1 && d.first?.cookie == cookie)
        #expect(d.first.map { $0.flags & DU_TRACE_EXITING.rawValue != 0 } == true)
    }

    @Test func requestsDuringDetachAreRefused() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let u = try CoreTracer(recorder, index: 1)
        let inner = TestLocked<Int32>(0)
        recorder.actions.withLock { $0[0] = { inner.withLock { $0 = u.request().status } } }
        coreOnFreshThread {
            _ = du_thread_attach()
            _ = t.request()
            _ = du_thread_detach()
        }
        #expect(inner.withLock { $0 } == -ESHUTDOWN)
        #expect(recorder.count(tracer: 1) == 0)
    }

    // 2. Cookies
    @Test func cookieHalvesAreNeverZeroAndCounterIsOdd() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let cookies = coreOnFreshThread { () -> [UInt64] in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            return (0..<1000).map { _ in
                let c = t.request().cookie
                _ = du_safe_point()
                return c
            }
        }
        for c in cookies {
            #expect(du_cookie_thread_half(c) != 0)
            #expect(du_cookie_context_half(c) & 1 == 1)
        }
        #expect(Set(cookies).count == cookies.count)
    }

    @Test func cookieAcrossCounterWrapIsNeverZero() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let cookies = coreOnFreshThread { () -> [UInt64] in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            du_cookie_seed_seq(0xFFFF_FFF0)
            return (0..<64).map { _ in
                let c = t.request().cookie
                _ = du_safe_point()
                return c
            }
        }
        #expect(cookies.allSatisfy { du_cookie_context_half($0) != 0 && du_cookie_thread_half($0) != 0 })
        #expect(cookies.contains { du_cookie_context_half($0) < 16 }, "the counter did wrap")
        #expect(Set(cookies).count == cookies.count)
        #expect(Set(cookies.map(du_cookie_thread_half)).count == 1, "one thread, one serial")
        #expect(recorder.snapshot().map(\.cookie) == cookies)
    }

    @Test func threadSerialsSkipZeroAtTheWrap() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        du_cookie_seed_serials(UInt32.max - 2)
        // Afterwards, continue far above any serial handed out before in
        // this process (tests attach far fewer than 2^30 threads), so later
        // threads never share a serial with a thread still attached.
        defer { du_cookie_seed_serials(0x4000_0000) }
        let serials = (0..<5).map { _ in
            coreOnFreshThread { () -> UInt32 in
                _ = du_thread_attach()
                defer { _ = du_thread_detach() }
                let c = t.request().cookie
                _ = du_safe_point()
                return du_cookie_thread_half(c)
            }
        }
        #expect(serials == [UInt32.max - 1, UInt32.max, 1, 2, 3], "serials \(serials)")
    }

    @Test func cookiesAreUniqueAcrossThreads() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let all = TestLocked<[UInt64]>([])
        var threads: [pthread_t] = []
        final class Job: @unchecked Sendable {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        for _ in 0..<4 {
            let job = Job {
                _ = du_thread_attach()
                var mine: [UInt64] = []
                for _ in 0..<5000 {
                    mine.append(t.request().cookie)
                    _ = du_safe_point()
                }
                _ = du_thread_detach()
                all.withLock { $0 += mine }
            }
            var tid = pthread_t()
            pthread_create(&tid, nil, { raw in
                Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(job).toOpaque())
            threads.append(tid)
        }
        threads.forEach { pthread_join($0, nil) }
        let cookies = all.withLock { $0 }
        #expect(cookies.count == 20000)
        #expect(Set(cookies).count == 20000)
        #expect(recorder.snapshot().count == 20000)
    }

    // 3. Request statuses
    @Test func requestStatusesAndCookieAgreement() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let a = try CoreTracer(recorder, index: 0)
        let b = try CoreTracer(recorder, index: 1)
        let r = coreOnFreshThread { () -> [(Int32, UInt64)] in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            let first = [a.request(), a.request(), b.request()].map { ($0.status, $0.cookie) }
            let n = du_safe_point()
            let after = a.request() // new context
            _ = du_safe_point()
            return first + [(Int32(n), 0), (after.status, after.cookie)]
        }
        #expect(r[0].0 == 0 && r[1].0 == 1 && r[2].0 == 0)
        #expect(r[0].1 == r[1].1 && r[1].1 == r[2].1 && r[0].1 != 0)
        #expect(r[3].0 == 2)
        #expect(r[4].0 == 0 && r[4].1 != r[0].1)
        #expect(recorder.snapshot().map(\.cookie) == [r[0].1, r[0].1, r[4].1])
    }

    @Test func requestPreservesErrno() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let e = coreOnFreshThread { () -> Int32 in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            errno = 4242
            _ = t.request()
            _ = t.request()
            return errno
        }
        #expect(e == 4242)
    }

    // 4. Registry
    @Test func registryFullGivesEBUSYAndBitsAreDistinct() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        var tracers: [CoreTracer] = []
        while tracers.count < 61 {
            do {
                tracers.append(try CoreTracer(recorder, index: tracers.count))
            } catch {
                // The registry is process-wide: every other test's tracers
                // must be gone by now.
                Issue.record("""
                    registered only \(tracers.count) of 61 tracers (\(error)): \(61 - tracers.count) bits are \
                    held elsewhere: a tracer leaked by an earlier test, or a suite that touches the \
                    registry without being nested under LibraryStateTests
                    """)
                return
            }
        }
        #expect(Set(tracers.map(\.bit)).count == 61)
        #expect(tracers.allSatisfy { $0.bit >= 3 && $0.bit <= 63 })
        #expect(throws: CoreError.errno(-EBUSY)) { try CoreTracer(recorder, index: 99) }
        #expect(tracers[10].cancel() == 0)
        let again = try CoreTracer(recorder, index: 100)
        #expect(again.bit == tracers[10].bit || tracers[10].bit == -1)
        #expect(tracers[10].cancel() == -EALREADY)
    }

    // 5. Dispatch
    @Test func requestsDuringDispatchAreServedBeforeSafePointReturns() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let tracers = try (0..<8).map { try CoreTracer(recorder, index: $0) }
        let statuses = TestLocked<[Int32]>([])
        // Each callback requests the next tracer and itself again.
        for i in 0..<8 {
            recorder.actions.withLock {
                $0[i] = {
                    let again = tracers[i].request().status
                    let next = i + 1 < 8 ? tracers[i + 1].request().status : 1
                    statuses.withLock { $0 += [again, next] }
                }
            }
        }
        let (called, cookie) = coreOnFreshThread { () -> (Int32, UInt64) in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            let c = tracers[0].request().cookie
            let n = du_safe_point()
            return (n, c)
        }
        #expect(called == 8)
        #expect(recorder.snapshot().map(\.tracer) == Array(0..<8))
        #expect(recorder.snapshot().allSatisfy { $0.cookie == cookie })
        // self re-request answers 1; the next tracer's first request answers 0
        #expect(statuses.withLock { $0 } == (0..<8).flatMap { i in [1, i < 7 ? 0 : 1] })
    }

    @Test func allocationFailureStillCallsBackWithFlaggedEmptyTrace() throws {
        #if DEBUG
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        coreOnFreshThread {
            _ = du_thread_attach()
            du_debug_fail_next_cache_alloc()
            _ = t.request()
            _ = du_safe_point()
            _ = t.request()
            _ = du_safe_point() // allocates now
            _ = du_thread_detach()
        }
        let d = recorder.snapshot()
        #expect(d.count == 2)
        #expect(d[0].flags == DU_TRACE_NOMEM.rawValue && d[0].frames.isEmpty)
        // From the rule cache, to the thread's outermost frame (clone3).
        #expect(d[1].flags == DU_TRACE_COMPLETE.rawValue && !d[1].frames.isEmpty)
        #endif
    }

    // 6. Real unwinding
    @Test func traceStartsAtTheSafePointCallerAndIsDeep() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let depthReached = coreOnFreshThread { () -> Int in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            _ = t.request()
            return coreRecurse(20)
        }
        #expect(depthReached == 20)
        let d = try #require(recorder.snapshot().first)
        // From the rule cache (not the backtrace() fallback), to clone3.
        #expect(d.flags == DU_TRACE_COMPLETE.rawValue)
        // Innermost frame: the return address inside coreSafePointCaller.
        #expect(coreSymbol(d.frames[0]).contains("coreSafePointCaller"), "\(coreSymbol(d.frames[0]))")
        // Then the 20 recursion frames.
        let recursion = d.frames.prefix(30).filter { coreSymbol($0).contains("coreRecurse") }.count
        #expect(recursion == 21, // coreRecurse(20) ... coreRecurse(0)
                "\(d.frames.prefix(30).map(coreSymbol))")
        #expect(!d.frames.contains { coreSymbol($0).contains("du_") }, "library frames were cut")
    }

    @Test func deepStackIsTruncatedAndFlagged() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        _ = coreOnFreshThread { () -> Int in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            _ = t.request()
            return coreRecurse(600)
        }
        let d = try #require(recorder.snapshot().first)
        #expect(d.flags == DU_TRACE_TRUNCATED.rawValue)
        #expect(d.frames.count == Int(du_trace_capacity()))
    }
}

@inline(never) func coreSafePointCaller() -> Int {
    let n = du_safe_point()
    return Int(n) // keep the call non-tail
}

@inline(never) func coreRecurse(_ n: Int) -> Int {
    if n == 0 { return coreSafePointCaller() - 1 }
    let r = coreRecurse(n - 1) + 1
    return r
}

/// Symbol name of a return address (dladdr), "" when unknown.
func coreSymbol(_ ip: UInt) -> String {
    var buf = [CChar](repeating: 0, count: 512)
    du_test_symbolize(ip, &buf, buf.count)
    let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
