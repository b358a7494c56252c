// Exhaustive interruption tests: at every step point of cookie assignment,
// request, dispatch, reset, cancel and detach, run a nested "signal" (a
// request, called from the step hook exactly where a handler could land), and
// inside that one, at each of its own steps, a second nested request: depth 2.
// Every combination of step and tracer is run; after each, the invariants of
// the design are checked against what the requests returned and what the
// callbacks received.
#if DEBUG
import CDeferredUnwind
import Glibc
import Testing

/// Drives one run: counts steps per depth and injects requests.
final class StepDriver: @unchecked Sendable {
    struct Request {
        var tracer: Int
        var status: Int32
        var cookie: UInt64
        var context: Int
        var depth: Int
        var afterCancel: Bool
        var afterExiting: Bool
    }

    let tracers: [CoreTracer]
    var target1 = -1, tracer1 = 0
    var target2 = -1, tracer2 = 0
    var depth = 0
    var outerSteps = 0, nestedSteps = 0
    var context = 0
    var requests: [Request] = []
    var stepsAtTarget1: du_step?
    var cancelMarked = false, exiting = false

    init(tracers: [CoreTracer]) { self.tracers = tracers }

    func record(_ tracer: Int, _ result: (status: Int32, cookie: UInt64)) {
        requests.append(Request(tracer: tracer, status: result.status, cookie: result.cookie,
                                context: context, depth: depth, afterCancel: cancelMarked,
                                afterExiting: exiting))
    }

    func request(_ tracer: Int) {
        record(tracer, tracers[tracer].request())
    }

    func step(_ step: du_step) {
        switch step {
        case DU_STEP_RESET_DONE: context += 1
        case DU_STEP_CANCEL_MARKED: cancelMarked = true
        case DU_STEP_DETACH_EXITING: exiting = true
        default: break
        }
        switch depth {
        case 0:
            defer { outerSteps += 1 }
            guard outerSteps == target1 else { return }
            stepsAtTarget1 = step
            depth = 1
            request(tracer1)
            depth = 0
        case 1:
            defer { nestedSteps += 1 }
            guard nestedSteps == target2 else { return }
            depth = 2
            request(tracer2)
            depth = 1
        default:
            break
        }
    }
}

let stepHook: du_step_hook = { step, arg in
    Unmanaged<StepDriver>.fromOpaque(arg!).takeUnretainedValue().step(step)
}

/// The thread-context program a run interrupts.
enum StepProgram: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// request A, repeat A, request B, safe point (twice: the second serves
    /// requests that landed after the first one's reset).
    case requestAndDispatch
    /// request A and B, cancel B (on this thread), safe point, then the bit's
    /// next owner must get no stale request.
    case cancel
    /// request A, detach: delivered with an exiting trace; later requests refused.
    case detach
    /// A's callback requests B from inside the dispatch.
    case requestFromCallback

    var testDescription: String { rawValue }
}

struct StepOutcome: CustomStringConvertible {
    var target1: Int, tracer1: Int, target2: Int, tracer2: Int
    var step1: String
    var problems: [String]
    var description: String {
        "nested #\(target1) (tracer \(tracer1), at \(step1)) depth2 #\(target2) (tracer \(tracer2)): "
            + problems.joined(separator: "; ")
    }
}

/// Runs `program` once with the given injection points and checks the invariants.
func runStepProgram(_ program: StepProgram, target1: Int, tracer1: Int, target2: Int,
                    tracer2: Int) -> (outerSteps: Int, nestedSteps: Int, problems: [String], step: String) {
    coreOnFreshThread {
        var problems: [String] = []
        let recorder = CoreRecorder()
        guard du_thread_attach() == 0 else { return (0, 0, ["attach failed"], "") }
        let tracers = (0..<3).map { try! CoreTracer(recorder, index: $0) }
        let driver = StepDriver(tracers: tracers)
        driver.target1 = target1
        driver.tracer1 = tracer1
        driver.target2 = target2
        driver.tracer2 = tracer2
        if program == .requestFromCallback {
            let b = tracers[1]
            recorder.actions.withLock {
                $0[0] = { driver.request(1); _ = b }
            }
        }
        let cancelledBit = tracers[1].bit
        du_debug_set_step_hook(stepHook, Unmanaged.passUnretained(driver).toOpaque())

        var cancelReturnedAt = -1
        switch program {
        case .requestAndDispatch, .requestFromCallback:
            driver.request(0)
            driver.request(0)
            if program == .requestAndDispatch { driver.request(1) }
            _ = du_safe_point()
            _ = du_safe_point()
        case .cancel:
            driver.request(0)
            driver.request(1)
            // B's request was accepted in this context and never delivered:
            // cancel drops exactly that one context, whatever nested
            // requests the step points add (they share the context).
            let rc = tracers[1].cancel()
            if rc != 1 { problems.append("cancel returned \(rc), expected 1 dropped context") }
            cancelReturnedAt = recorder.snapshot().count
            _ = du_safe_point()
            _ = du_safe_point()
        case .detach:
            driver.request(0)
            let rc = du_thread_detach()
            if rc != 0 { problems.append("detach returned \(rc)") }
        }
        du_debug_set_step_hook(nil, nil)

        // After a cancel: the bit's next owner must see no stale request.
        var reuser: CoreTracer?
        if program == .cancel {
            let d = try! CoreTracer(recorder, index: 3)
            reuser = d
            if d.bit != cancelledBit {
                problems.append("reuser got bit \(d.bit), expected \(cancelledBit)")
            }
            let r = d.request()
            if r.status != 0 { problems.append("first request of the bit's next owner returned \(r.status)") }
            driver.requests.append(.init(tracer: 3, status: r.status, cookie: r.cookie,
                                         context: driver.context, depth: 0,
                                         afterCancel: false, afterExiting: false))
            _ = du_safe_point()
        }
        if program != .detach {
            if du_current_cookie() != 0 { problems.append("cookie not cleared after the safe points") }
            _ = du_thread_detach()
        }
        let deliveries = recorder.snapshot()
        problems += checkStepInvariants(program, driver: driver, deliveries: deliveries,
                                        cancelReturnedAt: cancelReturnedAt)
        reuser?.destroy()
        tracers.forEach { $0.destroy() }
        recorder.actions.withLock { $0.removeAll() }
        return (driver.outerSteps, driver.nestedSteps, problems,
                driver.stepsAtTarget1.map { String(cString: du_step_name($0)) } ?? "-")
    }
}

func checkStepInvariants(_ program: StepProgram, driver: StepDriver, deliveries: [CoreDelivery],
                         cancelReturnedAt: Int) -> [String] {
    var problems: [String] = []
    let accepted = driver.requests.filter { $0.status >= 0 }
    let cancelled = 1 // tracer index cancelled by .cancel
    for r in driver.requests {
        if r.status >= 0 && r.cookie == 0 { problems.append("accepted request got cookie 0") }
        if r.status < 0 && r.cookie != 0 { problems.append("failed request got cookie \(r.cookie)") }
        if r.afterExiting && r.status != -ESHUTDOWN && r.status != -ESRCH {
            problems.append("request after EXITING returned \(r.status)")
        }
        if program == .cancel && r.tracer == cancelled && r.afterCancel && r.status != -ECANCELED {
            problems.append("request of the cancelled tracer after cancel began returned \(r.status)")
        }
        if r.status < 0 && !r.afterExiting && !(program == .cancel && r.tracer == cancelled) {
            problems.append("unexpected error \(r.status) for tracer \(r.tracer)")
        }
    }
    // Agreement within a context, uniqueness across contexts.
    var cookieOf: [Int: UInt64] = [:]
    for r in accepted {
        if let c = cookieOf[r.context], c != r.cookie {
            problems.append("context \(r.context): cookies \(c) and \(r.cookie) disagree")
        }
        cookieOf[r.context] = r.cookie
    }
    if Set(cookieOf.values).count != cookieOf.count { problems.append("two contexts share a cookie") }
    // Exactly once, status truth, no spurious callbacks.
    struct Key: Hashable { var tracer: Int; var cookie: UInt64 }
    var delivered: [Key: Int] = [:]
    for (i, d) in deliveries.enumerated() {
        delivered[Key(tracer: d.tracer, cookie: d.cookie), default: 0] += 1
        if program == .cancel && d.tracer == cancelled && i >= cancelReturnedAt {
            problems.append("callback of the cancelled tracer after cancel returned")
        }
        if program == .detach && d.flags & DU_TRACE_EXITING.rawValue == 0 {
            problems.append("detach delivered without the EXITING flag")
        }
    }
    var zeros: [Key: Int] = [:]
    for r in accepted { if r.status == 0 { zeros[Key(tracer: r.tracer, cookie: r.cookie), default: 0] += 1 } }
    for key in Set(accepted.map { Key(tracer: $0.tracer, cookie: $0.cookie) }) {
        let n = delivered[key] ?? 0
        let exempt = program == .cancel && key.tracer == cancelled
        if !exempt && n != 1 { problems.append("tracer \(key.tracer) cookie \(key.cookie): \(n) callbacks") }
        if (zeros[key] ?? 0) != 1 {
            problems.append("tracer \(key.tracer) cookie \(key.cookie): \(zeros[key] ?? 0) requests answered 0")
        }
    }
    for (key, n) in delivered where !accepted.contains(where: { $0.tracer == key.tracer && $0.cookie == key.cookie }) {
        problems.append("spurious callback: tracer \(key.tracer) cookie \(key.cookie) (\(n)x)")
    }
    return problems
}

// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    @Suite("Step points: nested requests at every atomic step, depth 2")
    struct CoreStepPointTests {}
}

extension LibraryStateTests.CoreStepPointTests {
    @Test("step points are built in debug")
    func built() {
        #expect(du_debug_step_points_built() == 1)
    }

    @Test(.timeLimit(.minutes(3)), arguments: StepProgram.allCases)
    func exhaustive(_ program: StepProgram) {
        let baseline = runStepProgram(program, target1: -1, tracer1: 0, target2: -1, tracer2: 0)
        #expect(baseline.problems.isEmpty, "no interruption: \(baseline.problems)")
        #expect(baseline.outerSteps > 5, "program reached only \(baseline.outerSteps) steps")
        var failures: [StepOutcome] = []
        var runs = 0
        var stepsVisited = Set<String>()
        for i in 0..<baseline.outerSteps {
            for t1 in 0..<3 {
                let one = runStepProgram(program, target1: i, tracer1: t1, target2: -1, tracer2: 0)
                runs += 1
                stepsVisited.insert(one.step)
                if !one.problems.isEmpty {
                    failures.append(.init(target1: i, tracer1: t1, target2: -1, tracer2: -1,
                                          step1: one.step, problems: one.problems))
                }
                for j in 0..<one.nestedSteps {
                    for t2 in 0..<3 {
                        let two = runStepProgram(program, target1: i, tracer1: t1, target2: j, tracer2: t2)
                        runs += 1
                        if !two.problems.isEmpty {
                            failures.append(.init(target1: i, tracer1: t1, target2: j, tracer2: t2,
                                                  step1: two.step, problems: two.problems))
                        }
                    }
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.count) of \(runs) runs broke an invariant; first: \(failures.prefix(3))")
        #expect(runs > baseline.outerSteps * 3, "only \(runs) runs")
        print("step points \(program.rawValue): \(runs) runs, steps visited: \(stepsVisited.sorted().joined(separator: ","))")
    }
}
#endif
