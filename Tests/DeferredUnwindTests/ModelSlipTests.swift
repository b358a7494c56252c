// The Spin model's switches (Model/, Scripts/model-check.sh) as code-level
// tests: each test here fails when the slip a switch describes is made in
// the C code (Benchmarks/mutations/<SWITCH>.diff, Scripts/mutation-check.sh,
// Docs/Model.md, "Each slip in the C code") and no older test caught it.  Where the design's
// window has a step point inside, the step hook interrupts there; where it
// has none, the x86 trap flag interrupts after every instruction
// (Tests/C/slips/ms_single_step.c), which is what the model's
// granularity (one atomic operation per step) asks for.  Deterministic: no
// timing in any verdict; every wait is bounded only to turn a hang into a
// failure.
#if DEBUG
import CDeferredUnwind
import CTestSupport
import Glibc
import Testing

// Process-wide library state (registry bits, step hooks, SIGTRAP): nested
// under LibraryStateTests, which runs its suites one at a time.
extension LibraryStateTests {
    @Suite("Model slips: the model's switches as code-level tests", .timeLimit(.minutes(5)))
    struct ModelSlipTests {}
}

/// A level-1 request from the step hook at one step of the outer request,
/// stepped instruction by instruction, with a level-2 request after one of
/// its instructions (ms_single_step.c).
private final class DrawDriver: @unchecked Sendable {
    let tracers: [CoreTracer]
    var armed = false
    var outerSteps = 0, nestedInstructions = 0
    var target1 = -1, tracer1 = 0, target2 = 0, tracer2 = 0
    var results: [(tracer: Int, status: Int32, cookie: UInt64)] = []
    var steps: [du_step] = []

    init(_ tracers: [CoreTracer]) { self.tracers = tracers }

    func request(_ i: Int) {
        let r = tracers[i].request()
        results.append((i, r.status, r.cookie))
    }

    func step(_ step: du_step) {
        guard armed else { return }
        steps.append(step)
        defer { outerSteps += 1 }
        guard outerSteps == target1 else { return }
        // Level 1, stepped; no hook meanwhile (level 1's own steps are not
        // targets, and the hook's code would only lengthen the stepping).
        du_debug_set_step_hook(nil, nil)
        var inj = ms_injection()
        inj.tracer = tracers[tracer2].handle
        var cookie: UInt64 = 0
        var status: Int32 = 0
        nestedInstructions = ms_traced_request_nested(tracers[tracer1].handle, &cookie, &status, target2, &inj)
        results.append((tracer1, status, cookie))
        if inj.fired != 0 { results.append((tracer2, inj.status, inj.cookie)) }
        du_debug_set_step_hook(drawHook, Unmanaged.passUnretained(self).toOpaque())
    }
}

private let drawHook: du_step_hook = { step, arg in
    Unmanaged<DrawDriver>.fromOpaque(arg!).takeUnretainedValue().step(step)
}

/// Checks one context: every accepted request got the same nonzero cookie,
/// each (tracer) answered 0 exactly once, and each got exactly one callback
/// with that cookie.  `tracers`: index -> requests in the context.
private func checkContext(_ label: String, requests: [(tracer: Int, status: Int32, cookie: UInt64)],
                          deliveries: [CoreDelivery]) -> [String] {
    var problems: [String] = []
    let accepted = requests.filter { $0.status >= 0 }
    if accepted.count != requests.count {
        problems.append("\(label): a request failed: \(requests.map { $0.status })")
    }
    let cookies = Set(accepted.map { $0.cookie })
    if cookies.count > 1 { problems.append("\(label): one context, cookies \(cookies.sorted())") }
    if cookies.contains(0) { problems.append("\(label): cookie 0") }
    for t in Set(accepted.map { $0.tracer }) {
        let zeros = accepted.filter { $0.tracer == t && $0.status == 0 }.count
        if zeros != 1 { problems.append("\(label): tracer \(t): \(zeros) requests answered 0") }
        let calls = deliveries.filter { $0.tracer == t }
        if calls.count != 1 {
            problems.append("\(label): tracer \(t): \(calls.count) callbacks")
        } else if let c = cookies.first, calls[0].cookie != c {
            problems.append("\(label): tracer \(t) called back with \(calls[0].cookie), requests got \(c)")
        }
    }
    for d in deliveries where !accepted.contains(where: { $0.tracer == d.tracer }) {
        problems.append("\(label): callback of tracer \(d.tracer), which did not request")
    }
    return problems
}

extension LibraryStateTests.ModelSlipTests {
    /// SPEC_DRAW (Docs/Model.md, finding 1).  The first request of a context
    /// is interrupted at each of its step points by a nested request (level
    /// 1), and that one after each of its instructions by another (level 2);
    /// then the context ends and the next one starts.  If seq were stored
    /// before the install, the thread (interrupted between its draw and its
    /// store) would store its stale draw after level 2's larger one won the
    /// install: seq goes back, and the next context draws this one's cookie
    /// again.  Every context of the thread must have its own cookie.
    @Test(.enabled(if: ms_single_step_supported() == 1, "x86-64 without ThreadSanitizer only"))
    func specDraw() {
        let result = coreOnFreshThread { () -> (runs: Int, outer: Int, failures: [String]) in
            guard du_thread_attach() == 0 else { return (0, 0, ["attach failed"]) }
            let recorder = CoreRecorder()
            let tracers = (0..<2).map { try! CoreTracer(recorder, index: $0) }
            let driver = DrawDriver(tracers)
            du_debug_set_step_hook(drawHook, Unmanaged.passUnretained(driver).toOpaque())
            var seen = Set<UInt64>()
            var runs = 0
            func context(_ label: String, _ body: () -> Void) -> [String] {
                recorder.clear()
                driver.results = []
                body()
                _ = du_safe_point()
                var problems = checkContext(label, requests: driver.results, deliveries: recorder.snapshot())
                if let c = driver.results.first(where: { $0.status >= 0 })?.cookie {
                    if seen.contains(c) { problems.append("\(label): cookie \(c) of an earlier context again") }
                    seen.insert(c)
                }
                return problems
            }
            func run(_ i: Int, _ t1: Int, _ j: Int, _ t2: Int) -> [String] {
                (driver.target1, driver.tracer1, driver.target2, driver.tracer2) = (i, t1, j, t2)
                driver.outerSteps = 0
                driver.steps = []
                driver.nestedInstructions = 0
                runs += 1
                let label = "level 1 (tracer \(t1)) at step #\(i), level 2 (tracer \(t2)) after its instruction \(j)"
                var problems = context(label) {
                    driver.armed = true
                    driver.request(0)
                    driver.armed = false
                }
                problems += context("\(label), next context") { driver.request(0) }
                return problems
            }
            var failures = run(-1, 0, 0, 0)
            // The outer steps before the install (once the context has its
            // cookie, level 1 draws nothing); level 2 asks for the other
            // tracer (any request of the context draws the same way).
            let drawing = driver.steps.prefix { $0 != DU_STEP_COOKIE_CLAIMED }.count
            let outer = driver.outerSteps
            if drawing < 2 { failures.append("only \(drawing) steps before the install: \(driver.steps)") }
            for i in 0..<drawing {
                for t1 in 0..<2 {
                    failures += run(i, t1, 0, 1)
                    let n = driver.nestedInstructions
                    if n < 20 { failures.append("level 1 at step #\(i): only \(n) instructions stepped") }
                    for j in 1...max(n, 1) { failures += run(i, t1, j, 1) }
                }
            }
            du_debug_set_step_hook(nil, nil)
            _ = du_thread_detach()
            tracers.forEach { $0.destroy() }
            return (runs, outer, failures)
        }
        print("cookie draw, depth 2: \(result.runs) runs (the first request has \(result.outer) steps)")
        #expect(result.outer >= 5, "the first request reached only \(result.outer) steps")
        #expect(result.failures.isEmpty, "\(result.failures.count) problems: \(result.failures.prefix(3))")
    }

    /// NONATOMIC_CLAIM, COOKIE_PLAIN_STORE: a nested request (tracer A again,
    /// or B) after every instruction of a context's first request of A.  The
    /// windows have no step point: between the load of the cookie and the
    /// load of seq (a plain store of the draw would then install a second
    /// cookie), between the load and the store of a claim written as two
    /// (both answer 0, or B's bit is lost).  Requests of one context agree
    /// on the cookie, one 0 per tracer, one callback each.
    @Test(.enabled(if: ms_single_step_supported() == 1, "x86-64 without ThreadSanitizer only"))
    func nestedAtEveryInstruction() {
        let failures = coreOnFreshThread { () -> (runs: Int, instructions: [Int], failures: [String]) in
            guard du_thread_attach() == 0 else { return (0, [], ["attach failed"]) }
            let recorder = CoreRecorder()
            let tracers = (0..<2).map { try! CoreTracer(recorder, index: $0) }
            var failures: [String] = []
            var runs = 0
            var lengths: [Int] = []
            for inner in 0..<2 {
                var n = -1
                var k = 0
                while n < 0 || k <= n {
                    var inj = ms_injection()
                    inj.tracer = tracers[inner].handle
                    var cookie: UInt64 = 0
                    var status: Int32 = 0
                    let traps = ms_traced_request_nested(tracers[0].handle, &cookie, &status, k, &inj)
                    _ = du_safe_point()
                    if n < 0 { n = traps; lengths.append(traps) }
                    var requests = [(tracer: 0, status: status, cookie: cookie)]
                    if inj.fired != 0 { requests.append((inner, inj.status, inj.cookie)) }
                    let problems = checkContext("nested request of tracer \(inner) after instruction \(k)",
                                                requests: requests, deliveries: recorder.snapshot())
                    if du_current_cookie() != 0 { failures.append("instruction \(k): cookie left after the safe point") }
                    failures += problems
                    recorder.clear()
                    runs += 1
                    k += 1
                }
            }
            _ = du_thread_detach()
            tracers.forEach { $0.destroy() }
            return (runs, lengths, failures)
        }
        print("nested request after every instruction of a first request: \(failures.runs) runs, "
              + "\(failures.instructions) instructions stepped")
        #expect(failures.instructions.allSatisfy { $0 > 20 }, "stepped only \(failures.instructions) instructions")
        #expect(failures.failures.isEmpty, "\(failures.failures.count) problems: \(failures.failures.prefix(3))")
    }

    /// CLAIM_AFTER_LIVE (and every other way a request could set a bit its
    /// tracer's cancel does not wait for): after every instruction of
    /// du_request(A), another thread cancels A and, once the cancel has
    /// returned, registers D, which gets A's bit.  The cancel either returns
    /// (the request has not read A as live, or is done) or waits for the
    /// request.  D's first request must answer 0 (no stale bit of A) and D
    /// must be called back exactly once.
    @Test(.enabled(if: ms_single_step_supported() == 1, "x86-64 without ThreadSanitizer only"))
    func cancelAtEveryInstruction() {
        let result = coreOnFreshThread { () -> (runs: Int, instructions: Int, states: [Int32: Int], failures: [String]) in
            guard du_thread_attach() == 0 else { return (0, 0, [:], ["attach failed"]) }
            let recorder = CoreRecorder()
            var failures: [String] = []
            var states: [Int32: Int] = [:]
            var n = -1
            var k = 0
            var runs = 0
            while n < 0 || k <= n {
                let a = try! CoreTracer(recorder, index: 0)
                let bit = a.bit
                var inj = ms_injection()
                var cookie: UInt64 = 0
                var status: Int32 = 0
                let traps = ms_traced_request_cancel(a.handle, &cookie, &status, k, a.handle, &inj)
                if n < 0 { n = traps }
                var fresh: OpaquePointer?
                let rc = ms_cancel_finish(&fresh)
                states[inj.cancel_state, default: 0] += 1
                let label = "cancel after instruction \(k) of the request"
                if rc < 0 { failures.append("\(label): cancel returned \(rc)") }
                if inj.cancel_state < 0 { failures.append("\(label): the cancel neither returned nor waited") }
                if let d = fresh {
                    if du_tracer_bit(d) != bit { failures.append("\(label): D got bit \(du_tracer_bit(d)), not A's \(bit)") }
                    var c: UInt64 = 0
                    let r = du_request(d, &c)
                    if r != 0 { failures.append("\(label): D's first request answered \(r): a stale bit of A (status of A's request \(status))") }
                    _ = du_safe_point()
                    let calls = ms_fresh_calls()
                    if calls != 1 { failures.append("\(label): D called back \(calls) times") }
                    _ = du_tracer_destroy(d)
                } else {
                    failures.append("\(label): no tracer registered after the cancel")
                    _ = du_safe_point()
                }
                a.destroy()
                recorder.clear()
                runs += 1
                k += 1
            }
            _ = du_thread_detach()
            return (runs, n, states, failures)
        }
        print("cancel after every instruction of a request: \(result.runs) runs, \(result.instructions) instructions, "
              + "cancel states \(result.states.sorted { $0.key < $1.key })")
        #expect(result.instructions > 20, "stepped only \(result.instructions) instructions")
        #expect(result.failures.isEmpty, "\(result.failures.count) problems: \(result.failures.prefix(3))")
        #expect((result.states[1] ?? 0) > 0 && (result.states[2] ?? 0) > 0,
                "the cancel should both return early and wait for the request: \(result.states)")
    }

    /// CALLING_AFTER_UNLOCK, DISPATCH_NO_RECHECK (and the cancel orders the
    /// dispatch depends on: SKIP_SYNC, REORDER_QUIET_BEFORE_SYNC): after
    /// every instruction of a dispatch, from its unwind to the return of A's
    /// callback, another thread cancels A and, once the cancel returned,
    /// registers D in A's bit.  The cancel either returns, or waits for this
    /// thread (its read-side section, or A's callback).  A's callback never
    /// begins after cancel(A) returned; D, which never requested, is not
    /// called back; a delivered context is not also counted as dropped.
    @Test(.enabled(if: ms_single_step_supported() == 1, "x86-64 without ThreadSanitizer only"))
    func cancelAtEveryInstructionOfTheDispatch() {
        let result = coreOnFreshThread { () -> (runs: Int, instructions: Int, states: [Int32: Int], failures: [String]) in
            guard du_thread_attach() == 0 else { return (0, 0, [:], ["attach failed"]) }
            var failures: [String] = []
            var states: [Int32: Int] = [:]
            var n = -1, k = 0, runs = 0
            while n < 0 || k <= n {
                var a: OpaquePointer?
                guard ms_register_victim(&a) == 0, let a else { failures.append("register failed"); break }
                let bit = du_tracer_bit(a)
                var cookie: UInt64 = 0
                let status = du_request(a, &cookie)
                var inj = ms_injection()
                let traps = ms_traced_dispatch_cancel(a, k, &inj)
                if n < 0 { n = traps }
                var fresh: OpaquePointer?
                let rc = ms_cancel_finish(&fresh)
                var calls: UInt = 0, late: UInt = 0
                ms_victim_calls(&calls, &late)
                let dCalls = ms_fresh_calls()
                states[inj.cancel_state, default: 0] += 1
                let label = "cancel after instruction \(k) of the dispatch"
                if status != 0 { failures.append("\(label): A's request returned \(status)") }
                if rc < 0 { failures.append("\(label): cancel returned \(rc)") }
                if inj.cancel_state < 0 { failures.append("\(label): the cancel neither returned nor waited") }
                if late != 0 { failures.append("\(label): A's callback began after cancel(A) returned") }
                if calls > 1 { failures.append("\(label): A called back \(calls) times") }
                if calls == 1 && rc > 0 { failures.append("\(label): A's context delivered and counted as dropped") }
                if dCalls != 0 { failures.append("\(label): D called back \(dCalls) times without a request") }
                if let d = fresh {
                    if du_tracer_bit(d) != bit { failures.append("\(label): D got bit \(du_tracer_bit(d)), not A's \(bit)") }
                    var c: UInt64 = 0
                    let r = du_request(d, &c)
                    if r != 0 { failures.append("\(label): D's first request answered \(r): a stale bit of A") }
                    _ = du_safe_point()
                    let again = ms_fresh_calls()
                    if again != 1 { failures.append("\(label): D called back \(again) times for its one request") }
                    _ = du_tracer_destroy(d)
                } else {
                    failures.append("\(label): no tracer registered after the cancel")
                }
                _ = du_tracer_destroy(a)
                runs += 1
                k += 1
            }
            _ = du_thread_detach()
            return (runs, n, states, failures)
        }
        print("cancel after every instruction of a dispatch: \(result.runs) runs, \(result.instructions) instructions, "
              + "cancel states \(result.states.sorted { $0.key < $1.key })")
        #expect(result.instructions > 20, "stepped only \(result.instructions) instructions")
        #expect(result.failures.isEmpty, "\(result.failures.count) problems: \(result.failures.prefix(3))")
        #expect((result.states[1] ?? 0) > 0 && (result.states[2] ?? 0) > 0,
                "the cancel should both return early and wait for the callback: \(result.states)")
    }

    /// SPEC_SCRUB_ORDER (Docs/Model.md, finding 2).  X's callback ran; the
    /// thread's reset lands after every instruction of cancel(X)'s scrub.
    /// Read mask first and completed second, the scrub would see X's bit in
    /// the word and no completed mark (the reset cleared both in between) and
    /// count a delivered request as dropped.
    @Test(.enabled(if: ms_single_step_supported() == 1, "x86-64 without ThreadSanitizer only"))
    func scrubOrder() {
        let result = coreOnFreshThread { () -> (runs: Int, instructions: Int, fired: Int, failures: [String]) in
            var failures: [String] = []
            var traps = 0, calls: UInt = 0
            var fired: Int32 = 0
            let base = ms_scrub_race(0, &traps, &calls, &fired)
            if base != 0 || calls != 1 { failures.append("no interruption: dropped \(base), \(calls) callbacks") }
            let n = traps
            var firedRuns = 0
            for k in 1...max(n, 1) {
                let rc = ms_scrub_race(k, &traps, &calls, &fired)
                if fired != 0 { firedRuns += 1 }
                if rc != 0 || calls != 1 {
                    failures.append("reset after instruction \(k) of the scrub: cancel returned \(rc) (dropped), "
                                    + "\(calls) callbacks of X (it ran: nothing is dropped)")
                }
            }
            return (n, n, firedRuns, failures)
        }
        print("reset after every instruction of the scrub: \(result.runs) runs, \(result.fired) with the reset inside")
        #expect(result.instructions > 10, "stepped only \(result.instructions) instructions of the scrub")
        #expect(result.fired > 0, "the reset never ran inside the scrub")
        #expect(result.failures.isEmpty, "\(result.failures.count) problems: \(result.failures.prefix(3))")
    }

    /// REORDER_FREE_BEFORE_SCRUB.  After every instruction of cancel(X)'s
    /// scrub (and of its free, were it moved before the scrub), another
    /// thread registers Z and requests it.  Z's request must be called back
    /// and not counted as X's dropped context: were the bit freed before the
    /// scrub, Z could get it and request it in between, and the scrub would
    /// clear Z's request and count it.
    @Test(.enabled(if: ms_single_step_supported() == 1, "x86-64 without ThreadSanitizer only"))
    func freeBeforeScrub() {
        let result = coreOnFreshThread { () -> (instructions: Int, failures: [String]) in
            var failures: [String] = []
            var traps = 0, zStatus: Int32 = 0, zCalls: UInt = 0, same: Int32 = 0
            let base = ms_free_race(0, &traps, &zStatus, &zCalls, &same)
            if base != 0 || zStatus != 0 || zCalls != 1 {
                failures.append("no interruption: cancel \(base), Z's request \(zStatus), \(zCalls) callbacks")
            }
            let n = traps
            for k in 1...max(n, 1) {
                let rc = ms_free_race(k, &traps, &zStatus, &zCalls, &same)
                if rc != 0 || zStatus != 0 || zCalls != 1 {
                    failures.append("Z registered and requested after instruction \(k) of the scrub: cancel(X) returned "
                                    + "\(rc) (X had no request), Z's request \(zStatus), \(zCalls) callbacks of Z"
                                    + (same != 0 ? " (Z got X's bit)" : ""))
                }
            }
            return (n, failures)
        }
        print("register and request on another thread after every instruction of the scrub: \(result.instructions) runs")
        #expect(result.instructions > 10, "stepped only \(result.instructions) instructions")
        #expect(result.failures.isEmpty, "\(result.failures.count) problems: \(result.failures.prefix(3))")
    }

    /// REORDER_FREE_BEFORE_QUIET (Docs/Model.md, finding 5).  While cancel(X)
    /// waits for X's running callback, a new tracer must not get X's bit:
    /// its callbacks would set `calling` to the same slot, and cancel(X)
    /// would wait for them too.
    @Test func freeBeforeCallbackWait() throws {
        final class Gate: @unchecked Sendable {
            let inCallback = TestLocked(false), release = TestLocked(false)
            let synced = TestLocked(false), waitingForCallbacks = TestLocked(false)
        }
        let gate = Gate()
        let recorder = CoreRecorder()
        defer { recorder.actions.withLock { $0.removeAll() } }
        let x = try CoreTracer(recorder, index: 0)
        let xBit = x.bit
        recorder.actions.withLock {
            $0[0] = {
                gate.inCallback.withLock { $0 = true }
                _ = testPoll { gate.release.withLock { $0 } }
            }
        }
        let worker = coreRequestOnFreshThread(x)
        testExpectEventually("X's callback to start") { gate.inCallback.withLock { $0 } }
        let hook: du_step_hook = { step, arg in
            let gate = Unmanaged<Gate>.fromOpaque(arg!).takeUnretainedValue()
            if step == DU_STEP_CANCEL_SYNCED { gate.synced.withLock { $0 = true } }
            if step == DU_STEP_CANCEL_WAIT_POLL && gate.synced.withLock({ $0 }) {
                gate.waitingForCallbacks.withLock { $0 = true }
            }
        }
        let rc = TestLocked<Int32?>(nil)
        let canceller = coreStartThread {
            du_debug_set_step_hook(hook, Unmanaged.passUnretained(gate).toOpaque())
            let r = x.cancel()
            du_debug_set_step_hook(nil, nil)
            rc.withLock { $0 = r }
        }
        testExpectEventually("cancel(X) to wait for X's callback") { gate.waitingForCallbacks.withLock { $0 } }
        let z = try CoreTracer(recorder, index: 1)
        let zBit = z.bit
        gate.release.withLock { $0 = true }
        pthread_join(canceller, nil)
        pthread_join(worker, nil)
        z.destroy()
        #expect(zBit != xBit, "a tracer registered while cancel(X) waited for X's callback got X's bit \(xBit)")
        #expect(rc.withLock { $0 } == 0, "X's callback ran: nothing dropped")
    }
}
#endif
