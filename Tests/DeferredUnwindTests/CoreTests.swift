// Unit tests of the C core, one group per numbered point of the core issue.
import CDeferredUnwind
import CTestSupport
import Glibc
import Testing

// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    @Suite("C core", .timeLimit(.minutes(2)))
    struct CoreTests {}
}

extension LibraryStateTests.CoreTests {
    // 1. Threads
    @Test func footprintIsOneCacheLinePlusLazyPage() {
        #expect(du_thread_footprint() == 64)
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
            #expect(du_cookie_cpu_half(c) >= 1 && du_cookie_cpu_half(c) <= du_cookie_slots())
            #expect(du_cookie_counter_half(c) & 1 == 1)
        }
        #expect(Set(cookies).count == cookies.count)
    }

    @Test func cookieAcrossCounterWrapIsNeverZero() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        du_cookie_seed_counters(0xFFFF_FFF0)
        defer { du_cookie_seed_counters(0) }
        let cookies = coreOnFreshThread { () -> [UInt64] in
            _ = du_thread_attach()
            defer { _ = du_thread_detach() }
            return (0..<64).map { _ in
                let c = t.request().cookie
                _ = du_safe_point()
                return c
            }
        }
        #expect(cookies.allSatisfy { du_cookie_counter_half($0) != 0 && du_cookie_cpu_half($0) != 0 })
        #expect(cookies.contains { du_cookie_counter_half($0) < 16 }, "the counter did wrap")
        #expect(recorder.snapshot().map(\.cookie) == cookies)
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

    @Test func cancelFromCallbackIsEDEADLKNotAHang() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let rc = TestLocked<[Int32]>([])
        recorder.actions.withLock {
            $0[0] = { rc.withLock { $0 = [t.cancel(), du_thread_detach(), du_safe_point()] } }
        }
        coreOnFreshThread {
            _ = du_thread_attach()
            _ = t.request()
            _ = du_safe_point()
            _ = du_thread_detach()
        }
        #expect(rc.withLock { $0 } == [-EDEADLK, -EDEADLK, -EDEADLK])
        #expect(t.cancel() == 0)
    }

    // The cancel tests below never rely on a sleep being long enough: the
    // callback (or the request) in progress waits until cancel has begun
    // (the tracer's bit reads -1: marked, now waiting), then sleeps.  A
    // correct cancel waits for it, whatever the timing; a cancel that did
    // not wait would return during the sleep, and the test catches it.
    @Test func cancelWaitsForASleepingCallback() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let t = try CoreTracer(recorder, index: 0)
        let inCallback = TestLocked(false)
        let cancelBegan = TestLocked<Bool?>(nil)
        let finished = TestLocked(false)
        recorder.actions.withLock {
            $0[0] = {
                inCallback.withLock { $0 = true }
                let began = testPoll { du_tracer_bit(t.handle) == -1 } != nil
                cancelBegan.withLock { $0 = began }
                usleep(200_000)
                finished.withLock { $0 = true }
            }
        }
        let worker = coreStartThread {
            _ = du_thread_attach()
            _ = t.request()
            _ = du_safe_point()
            _ = du_thread_detach()
        }
        testExpectEventually("the callback to start") { inCallback.withLock { $0 } }
        #expect(t.cancel() == 0)
        #expect(finished.withLock { $0 }, "cancel returned while the callback still ran")
        pthread_join(worker, nil)
        #expect(cancelBegan.withLock { $0 } == true,
                "the callback did not see cancel begin within \(testWaitBound)")
    }

    @Test func secondCancelWaitsForTheFirstToFinish() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } }
        let t = try CoreTracer(recorder, index: 0)
        let inCallback = TestLocked(false), finished = TestLocked(false)
        recorder.actions.withLock {
            $0[0] = {
                inCallback.withLock { $0 = true }
                _ = testPoll { du_tracer_bit(t.handle) == -1 } // the first cancel began
                usleep(300_000)
                finished.withLock { $0 = true }
            }
        }
        let worker = coreStartThread {
            _ = du_thread_attach()
            _ = t.request()
            _ = du_safe_point()
            _ = du_thread_detach()
        }
        testExpectEventually("the callback to start") { inCallback.withLock { $0 } }
        let first = coreStartThread { _ = t.cancel() }
        // The first cancel has marked the tracer (under the registry lock):
        // from here on, a cancel is the second one.
        testExpectEventually("the first cancel to mark the tracer", state: { "bit \(t.bit)" }) {
            t.bit == -1
        }
        let second = t.cancel()
        #expect(second == -EALREADY)
        #expect(finished.withLock { $0 }, "the second cancel returned while a callback still ran")
        pthread_join(first, nil)
        pthread_join(worker, nil)
    }

    #if DEBUG
    @Test func cancelWaitsForARequestInProgress() throws {
        final class Gate: @unchecked Sendable {
            let inRequest = TestLocked(false), cancelBegan = TestLocked<Bool?>(nil)
            let hookReturned = TestLocked(false)
            var tracer: OpaquePointer?
        }
        let gate = Gate()
        let recorder = CoreRecorder()
        let t = try CoreTracer(recorder, index: 0)
        gate.tracer = t.handle
        let hook: du_step_hook = { step, arg in
            guard step == DU_STEP_REQUEST_BIT_READ else { return }
            let gate = Unmanaged<Gate>.fromOpaque(arg!).takeUnretainedValue()
            gate.inRequest.withLock { $0 = true }
            // A handler preempted inside du_request, past its read of the
            // bit, while cancel begins.
            let began = testPoll { du_tracer_bit(gate.tracer) == -1 } != nil
            gate.cancelBegan.withLock { $0 = began }
            usleep(200_000)
            // Still inside the request's claim span, which cancel waits for.
            gate.hookReturned.withLock { $0 = true }
        }
        let status = TestLocked<Int32?>(nil)
        let worker = coreStartThread {
            _ = du_thread_attach()
            du_debug_set_step_hook(hook, Unmanaged.passUnretained(gate).toOpaque())
            let r = t.request()
            du_debug_set_step_hook(nil, nil)
            status.withLock { $0 = r.status }
            _ = du_thread_detach()
        }
        testExpectEventually("the request to reach its bit read") { gate.inRequest.withLock { $0 } }
        #expect(t.cancel() == 0)
        #expect(gate.hookReturned.withLock { $0 }, "cancel returned while du_request still read the tracer")
        pthread_join(worker, nil)
        #expect(gate.cancelBegan.withLock { $0 } == true,
                "the request did not see cancel begin within \(testWaitBound)")
        #expect(status.withLock { $0 } == 0, "the request read the bit before cancel: it queues")
    }
    #endif

    @Test func bitReuseAfterCancelSeesNoStaleRequest() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        let old = try CoreTracer(recorder, index: 0)
        let other = try CoreTracer(recorder, index: 1)
        // A thread requests `old` and waits at its safe point while we cancel.
        let requested = TestLocked(false), proceed = TestLocked(false)
        let result = TestLocked<[Int32]>([])
        let newTracer = TestLocked<CoreTracer?>(nil)
        final class Ctx: @unchecked Sendable {
            let body: () -> Void
            init(_ b: @escaping () -> Void) { body = b }
        }
        let ctx = Ctx {
            _ = du_thread_attach()
            _ = old.request()
            _ = other.request()
            requested.withLock { $0 = true }
            guard testPoll({ proceed.withLock { $0 } }) != nil, let fresh = newTracer.withLock({ $0 }) else {
                result.withLock { $0 = [-9999] } // the test never told us to go on
                _ = du_thread_detach()
                return
            }
            _ = du_safe_point()
            let r = fresh.request()
            _ = du_safe_point()
            result.withLock { $0 = [r.status] }
            _ = du_thread_detach()
        }
        var tid = pthread_t()
        pthread_create(&tid, nil, { raw in
            Unmanaged<Ctx>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, Unmanaged.passRetained(ctx).toOpaque())
        testExpectEventually("the thread to request") { requested.withLock { $0 } }
        let bit = old.bit
        #expect(old.cancel() == 0)
        let fresh = try CoreTracer(recorder, index: 2)
        #expect(fresh.bit == bit, "the freed bit is handed out again")
        newTracer.withLock { $0 = fresh }
        proceed.withLock { $0 = true }
        pthread_join(tid, nil)
        #expect(result.withLock { $0 } == [0], "the new owner's first request must queue")
        #expect(recorder.count(tracer: 0) == 0)
        #expect(recorder.count(tracer: 1) == 1)
        #expect(recorder.count(tracer: 2) == 1)
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
        #expect(d[1].flags == 0 && !d[1].frames.isEmpty)
        #endif
    }

    // Real signals, nesting (two handlers that interrupt each other), while the
    // thread attaches, requests, reaches safe points and detaches in a loop.
    // Where the signals land is left to chance (that is the point); how long
    // the test runs is not: the worker loops until it has made the progress
    // below, whatever the machine's load, with an explicit bound that fails
    // the test with what was reached.
    @Test func realNestedSignalsAcrossAttachDetach() throws {
        // Progress to reach: worker rounds, handler requests that queued work
        // (so landed in an attached window), handler runs nested in another
        // (the sig1 handler also raise()s sig2 itself: nesting is certain).
        // Except under ThreadSanitizer: it defers every signal, raise()d ones
        // included, to its own delivery points and runs the handlers one
        // after another, so no handler ever nests there.
        let tsan = ExampleTests.underThreadSanitizer
        let needRounds = 3000, needQueued: UInt = 100, needNested: UInt = tsan ? 0 : 20
        let bound: Duration = .seconds(60)

        let recorder = CoreRecorder()
        let t = try CoreTracer(recorder, index: 0)
        #expect(du_test_install_request_handlers(SIGUSR1, SIGUSR2, t.handle) == 0)
        defer {
            signal(SIGUSR1, SIG_IGN)
            signal(SIGUSR2, SIG_IGN)
        }
        struct WorkerReport: Sendable {
            var rounds = 0, threadQueued = 0, timedOut = false
            var elapsed: Duration = .zero
        }
        let target = TestLocked<pthread_t?>(nil)
        let done = TestLocked(false), senderStopped = TestLocked(false)
        let report = TestLocked(WorkerReport())
        let sent = TestLocked(0)
        let progress = CoreCounter() // worker rounds so far, for the sender's pacing
        let worker = coreStartThread {
            // Threads started from the test's pool thread inherit its blocked
            // signal mask (libdispatch blocks most): unblock ours.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGUSR1)
            sigaddset(&set, SIGUSR2)
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            target.withLock { $0 = pthread_self() }
            var r = WorkerReport()
            let clock = ContinuousClock()
            let start = clock.now
            while r.rounds < needRounds || du_test_count(DU_TEST_QUEUED) < needQueued
                || du_test_count(DU_TEST_NESTED) < needNested {
                if start.duration(to: clock.now) > bound {
                    r.timedOut = true
                    break
                }
                r.rounds += 1
                progress.store(r.rounds)
                _ = du_thread_attach()
                for _ in 0..<4 {
                    if r.rounds % 3 == 0, t.request().status == 0 { r.threadQueued += 1 }
                    _ = du_safe_point()
                }
                _ = du_thread_detach()
            }
            r.elapsed = start.duration(to: clock.now)
            report.withLock { $0 = r }
            done.withLock { $0 = true }
            // Stay alive (detached: the handlers' requests answer ESRCH) until
            // the sender has stopped sending to this thread.
            _ = testPoll { senderStopped.withLock { $0 } }
        }
        let sender = coreStartThread {
            guard testPoll({ target.withLock { $0 } != nil }) != nil else {
                senderStopped.withLock { $0 = true }
                return
            }
            let tid = target.withLock { $0 }!
            // Paced, not a flood: a flood keeps a signal pending at every
            // sigreturn, so the worker runs handler after handler (nearly
            // all answering "already", one context long) and hardly runs its
            // own code.  Send SIGUSR1 and at once SIGUSR2 (which may land
            // inside the first handler), wait until both were handled, then
            // until the worker has run on into its next round: each pair
            // lands wherever the worker happens to be.
            var n = 0
            while !done.withLock({ $0 }) {
                let runs = du_test_count(DU_TEST_RUNS)
                pthread_kill(tid, SIGUSR1)
                pthread_kill(tid, SIGUSR2)
                n += 2
                // The worker handles both and goes on or, past its bound,
                // sets `done`: neither wait can outlive the worker's bound.
                while du_test_count(DU_TEST_RUNS) < runs + 2 && !done.withLock({ $0 }) { sched_yield() }
                let round = progress.load()
                while progress.load() <= round && !done.withLock({ $0 }) { sched_yield() }
            }
            sent.withLock { $0 = n }
            senderStopped.withLock { $0 = true }
        }
        pthread_join(sender, nil)
        pthread_join(worker, nil)
        let r = report.withLock { $0 }
        let queued = du_test_count(DU_TEST_QUEUED), nested = du_test_count(DU_TEST_NESTED)
        let outcomes = "handler runs=\(du_test_count(DU_TEST_RUNS)) (nested \(nested)): "
            + "queued=\(queued) already=\(du_test_count(DU_TEST_ALREADY)) "
            + "not-attached=\(du_test_count(DU_TEST_NOT_ATTACHED)) exiting=\(du_test_count(DU_TEST_EXITING)); "
            + "signals sent=\(sent.withLock { $0 }); worker rounds=\(r.rounds) in \(r.elapsed)"
        #expect(!r.timedOut, """
            expected within \(bound): >= \(needRounds) worker rounds, >= \(needQueued) handler requests \
            queued, >= \(needNested) nested handler runs; reached \(outcomes)
            """)
        #expect(du_test_count(DU_TEST_ZERO_COOKIE) == 0, "\(outcomes)")
        #expect(du_test_count(DU_TEST_ERRNO_SPOILED) == 0, "\(outcomes)")
        #expect(du_test_count(DU_TEST_OTHER) == 0, "\(outcomes)")
        #expect(du_test_count(DU_TEST_CANCELLED) == 0, "\(outcomes)")
        // Exactly once and status truth: one callback per request that answered 0.
        let total = Int(queued) + r.threadQueued
        let callbacks = recorder.snapshot().count
        #expect(callbacks == total,
                "callbacks \(callbacks) != requests answered 0: \(queued) by handlers + \(r.threadQueued) by the thread; \(outcomes)")
        print("real signals: \(outcomes); callbacks=\(callbacks)")
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
        #expect(d.flags == 0)
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
