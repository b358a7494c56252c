// Unit tests of the C core: cancel (callbacks, requests in flight, bit reuse).
import CDeferredUnwind
import CTestSupport
import Glibc
import Testing

extension LibraryStateTests.CoreTests {
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
        let worker = coreRequestOnFreshThread(t)
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
        let worker = coreRequestOnFreshThread(t)
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
        // The request read the tracer live before cancel began, so it is
        // accepted, and cancel (which the thread's detach cannot precede)
        // drops its context.
        #expect(t.cancel() == 1)
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
        #expect(old.cancel() == 1, "the pending request is dropped and counted")
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
}

/// Starts a thread that attaches, requests on `t`, reaches a safe point (so
/// `t`'s callback runs there) and detaches; join the result.
func coreRequestOnFreshThread(_ t: CoreTracer) -> pthread_t {
    coreStartThread {
        _ = du_thread_attach()
        _ = t.request()
        _ = du_safe_point()
        _ = du_thread_detach()
    }
}
