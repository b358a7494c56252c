// Unit tests of the C core: cancel waits for its own tracer only, and
// reports the accepted requests it dropped.
import CDeferredUnwind
import CTestSupport
import Glibc
import Testing

extension LibraryStateTests.CoreTests {
    /// Tracer S's callback blocks until the test releases it.  A cancel of
    /// another tracer must return meanwhile - also of X, requested in the
    /// same blocked context and not yet called (dropped, counted).  Not a
    /// timing test at its core: a cancel that waited for S would never
    /// return before the release; the bound only turns that hang into a
    /// failure.  Then the target: cancels of idle tracers while S blocks
    /// cost what they cost when no callback runs, measured in the same run
    /// just before S's callback starts and just after it returns (the
    /// fastest of 10 while S blocks: a preempted cancel does not count; at
    /// most 10x the slower of the fastest before (40) and the fastest after
    /// (70) - the old target was <= 1 ms absolute, which a loaded machine
    /// can miss).
    @Test func cancelDoesNotWaitForAnotherTracersCallback() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } } // break tracer <-> action cycles
        // Cancels of 20 idle tracers, each timed on its own (µs).
        func idleCancels(_ first: Int) -> [Double] {
            (0..<20).map { i in
                guard let idle = try? CoreTracer(recorder, index: first + i) else {
                    Issue.record("cannot register idle tracer \(first + i)")
                    return .infinity
                }
                let clock = ContinuousClock(), start = clock.now
                let rc = idle.cancel()
                let took = start.duration(to: clock.now)
                #expect(rc == 0, "an idle tracer's cancel drops nothing")
                return Double(took.components.attoseconds) / 1e12 + Double(took.components.seconds) * 1e6
            }.sorted()
        }
        let before = idleCancels(40)
        let s = try CoreTracer(recorder, index: 0) // registered first: lower bit, called first
        let x = try CoreTracer(recorder, index: 1)
        let inCallback = TestLocked(false), release = TestLocked(false), callbackTimedOut = TestLocked(false)
        recorder.actions.withLock {
            $0[0] = {
                inCallback.withLock { $0 = true }
                if testPoll({ release.withLock { $0 } }) == nil { callbackTimedOut.withLock { $0 = true } }
            }
        }
        let worker = coreStartThread {
            _ = du_thread_attach()
            _ = s.request()
            _ = x.request()
            _ = du_safe_point()
            _ = du_thread_detach()
        }
        testExpectEventually("S's callback to start") { inCallback.withLock { $0 } }

        let dropped = TestLocked<Int32?>(nil)
        let canceller = coreStartThread { let r = x.cancel(); dropped.withLock { $0 = r } }
        testExpectEventually("cancel of X to return while S's callback blocks (a cancel must not wait for "
                             + "another tracer's callback)") { dropped.withLock { $0 } != nil }

        // The target, measured while S still blocks.
        let loadBefore = testLoadAverage()
        let micros = idleCancels(10)
        let loadAfter = testLoadAverage()
        let stillBlocked = !release.withLock { $0 } && !callbackTimedOut.withLock { $0 }
        release.withLock { $0 = true }
        pthread_join(canceller, nil)
        pthread_join(worker, nil)
        let after = idleCancels(70)

        func summary(_ m: [Double]) -> String { "min \(m[0]) us, median \(m[m.count / 2]) us, max \(m[m.count - 1]) us" }
        // The slower of the two same-run baselines: under the CI's load stage
        // the samples before the callback blocked ran under the same load as
        // the target's, the ones after may not (seen: before 11.6 us, after
        // 1.1 us, target 36.5 us); idle, both are about 1.1 us.
        let baseline = max(before[0], after[0])
        let measured = "cancel of an idle tracer while another tracer's callback blocks: \(summary(micros)); "
            + "with no callback running, before: \(summary(before)); after: \(summary(after)); "
            + "load average \(loadBefore) -> \(loadAfter)"
        print(measured)
        #expect(stillBlocked, "S's callback was still blocked during the measurements")
        #expect(micros[0] <= 10 * baseline,
                "target: the fastest of 10 within 10x the slower of the fastest before and after, with no callback running (\(baseline) us); \(measured)")
        #expect(dropped.withLock { $0 } == 1, "X was accepted in the blocked context and never called")
        #expect(recorder.count(tracer: 1) == 0, "no callback of X after its cancel returned")
        #expect(recorder.count(tracer: 0) == 1)
        #expect(!callbackTimedOut.withLock { $0 }, "S's callback was never released")
    }

    /// Accepted requests pending on three threads are dropped and counted;
    /// a thread that detached before the cancel got its delivery (flagged
    /// EXITING) and is not counted.
    @Test func cancelCountsDroppedContextsAcrossThreads() throws {
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } }
        let x = try CoreTracer(recorder, index: 0)
        let ready = CoreCounter(), go = TestLocked(false)
        let workers = (0..<3).map { _ in
            coreStartThread {
                _ = du_thread_attach()
                _ = x.request()
                _ = x.request() // same context: still one dropped context
                ready.add(1)
                _ = testPoll { go.withLock { $0 } }
                _ = du_safe_point()
                _ = du_thread_detach()
            }
        }
        coreRunOnFreshThread {
            _ = du_thread_attach()
            _ = x.request()
            _ = du_thread_detach() // delivered here, flagged EXITING
        }
        testExpectEventually("three threads to request", state: { "ready \(ready.load())" }) { ready.load() == 3 }
        #expect(x.cancel() == 3)
        go.withLock { $0 = true }
        workers.forEach { pthread_join($0, nil) }
        let got = recorder.snapshot()
        #expect(got.count == 1 && got.first?.flags == UInt32(DU_TRACE_EXITING.rawValue),
                "only the detached thread's request was delivered: \(got)")
    }

    #if DEBUG
    /// A thread whose accepted request is pending leaves (detach) while the
    /// cancel is past its mark: its exit delivery finds the tracer
    /// cancelled, so the request is dropped - and counted by the cancel,
    /// although the thread is no longer on the list when cancel scrubs.
    @Test func cancelCountsAThreadThatLeftDuringTheCancel() throws {
        final class Gate: @unchecked Sendable {
            let leave = TestLocked(false), left = TestLocked(false), hooked = TestLocked(false)
        }
        let gate = Gate()
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } }
        let x = try CoreTracer(recorder, index: 0)
        let requested = TestLocked(false)
        let worker = coreStartThread {
            _ = du_thread_attach()
            _ = x.request()
            requested.withLock { $0 = true }
            _ = testPoll { gate.leave.withLock { $0 } }
            _ = du_thread_detach()
            gate.left.withLock { $0 = true }
        }
        testExpectEventually("the worker to request") { requested.withLock { $0 } }
        let hook: du_step_hook = { step, arg in
            guard step == DU_STEP_CANCEL_SYNCED else { return }
            let gate = Unmanaged<Gate>.fromOpaque(arg!).takeUnretainedValue()
            gate.hooked.withLock { $0 = true }
            gate.leave.withLock { $0 = true }
            _ = testPoll { gate.left.withLock { $0 } }
        }
        du_debug_set_step_hook(hook, Unmanaged.passUnretained(gate).toOpaque())
        let rc = x.cancel()
        du_debug_set_step_hook(nil, nil)
        gate.leave.withLock { $0 = true } // in case the hook never ran
        pthread_join(worker, nil)
        #expect(gate.hooked.withLock { $0 }, "the cancel reached cancel.synced")
        #expect(gate.left.withLock { $0 }, "the worker detached inside the cancel")
        #expect(rc == 1, "the request of the thread that left is dropped and counted")
        #expect(recorder.count(tracer: 0) == 0)
    }

    /// A context whose callback already ran is not dropped, even while it is
    /// still open (its bit and completed mark set until the reset): the
    /// worker parks right after the callback returned, before its reset,
    /// until cancel has returned.
    @Test func cancelDoesNotCountADeliveredContext() throws {
        final class Gate: @unchecked Sendable {
            let parked = TestLocked(false), cancelled = TestLocked(false)
        }
        let gate = Gate()
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } }
        let x = try CoreTracer(recorder, index: 0)
        let hook: du_step_hook = { step, arg in
            guard step == DU_STEP_DISPATCH_RETURNED else { return }
            let gate = Unmanaged<Gate>.fromOpaque(arg!).takeUnretainedValue()
            gate.parked.withLock { $0 = true }
            _ = testPoll { gate.cancelled.withLock { $0 } }
        }
        let worker = coreStartThread {
            _ = du_thread_attach()
            du_debug_set_step_hook(hook, Unmanaged.passUnretained(gate).toOpaque())
            _ = x.request()
            _ = du_safe_point()
            du_debug_set_step_hook(nil, nil)
            _ = du_thread_detach()
        }
        testExpectEventually("the worker to park after the callback") { gate.parked.withLock { $0 } }
        let rc = x.cancel()
        gate.cancelled.withLock { $0 = true }
        pthread_join(worker, nil)
        #expect(rc == 0, "the callback ran: nothing was dropped")
        #expect(recorder.count(tracer: 0) == 1)
    }
    #endif
}
