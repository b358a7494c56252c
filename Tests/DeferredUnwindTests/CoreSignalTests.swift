// Unit tests of the C core: real nested signals across attach and detach.
import CDeferredUnwind
import CTestSupport
import Glibc
import Testing

extension LibraryStateTests.CoreTests {
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
        // Generous: a few seconds when the machine is idle or busy with
        // builds; ~70 s with two busy loops per core on 2 cores (measured:
        // 86 queued requests in 60 s), so 150 s.  The message says what was
        // reached and the load average.
        let bound: Duration = .seconds(150)

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
                // Spinning waits, not sched_yield() or sleeps: on a loaded
                // machine a yield hands the CPU to every CPU-bound process
                // for a time slice, and a woken sleeper waits for one (the
                // sender managed 10-30 pairs a second with two busy loops per
                // core that way); a spinner runs whenever the scheduler
                // gives it a CPU, and pairs go at full speed whenever it and
                // the worker run at the same time.
                func waitFor(_ reached: () -> Bool) {
                    while !reached() && !done.withLock({ $0 }) {}
                }
                waitFor { du_test_count(DU_TEST_RUNS) >= runs + 2 }
                let round = progress.load()
                waitFor { progress.load() > round }
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
            queued, >= \(needNested) nested handler runs; reached \(outcomes); load average \(testLoadAverage())
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
}
