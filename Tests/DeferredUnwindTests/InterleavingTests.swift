// Deterministic two-thread interleavings of the real core (issue 8, part 4),
// and three-thread ones (issue 14, item 4): two requesters A and C and a
// canceller B, with cancel's look parked between its reads of each thread.
//
// Thread A (requests, safe points with callbacks, detach) and thread B
// (cancel, register, destroy) park at every step point; a controller in C
// (Tests/C/interleavings/il_sched.c) resumes one at a time up to its next step
// point, and enumerates every interleaving of their steps by depth-first
// search over the choice sequences, re-running the scenario from scratch
// (fresh tracers, fresh attach) for each.  Each run is checked against the
// design's invariants (il_check.c): exactly once or dropped-and-counted, no
// stale delivery after a bit is reused, one cookie per context, distinct
// cookies across contexts, no callback after its tracer's cancel returned,
// bounded rounds, and cancel's dropped count.  No sleeps: every wait in the
// scheduler is a condition-variable wait bounded by 300 s (generous, for
// loaded CI runners) whose failure says what was awaited and names the
// schedule.
//
// Frozen regions and proxy safe points (proxy.c): in the proxy scenarios A
// enters a frozen region (its enter's frame stays on the stack until the
// leave), C serves it with du_proxy_serve (C's callbacks count in A's
// context) and B cancels one of A's tracers (or is idle); the checks add
// the proxy's invariants (il_check.c, 8 and 9; the safe point's -EBUSY
// inside the region, the leave's and the serve's answers).
#if DEBUG
import CDeferredUnwind
import CTestSupport
import Foundation
import Glibc
import Testing

/// One scenario of il_scenarios.c, by index.
struct InterleavingScenario: Sendable, CustomTestStringConvertible {
    let index: Int32
    var name: String { String(cString: il_scenario_name(index)) }
    var testDescription: String { name }
    var threads: Int32 { il_scenario_threads(index) }

    static var all: [InterleavingScenario] {
        (0..<il_scenario_count()).map { InterleavingScenario(index: $0) }
    }
    /// The scenarios the tests run: all, or only those named in
    /// DU_IL_SCENARIO (comma-separated; Scripts/mutation-check.sh runs one
    /// scenario per slip this way).
    static var selected: [InterleavingScenario] {
        guard let names = getenv("DU_IL_SCENARIO").map({ String(cString: $0) }), !names.isEmpty else {
            return all
        }
        let wanted = Set(names.split(separator: ",").map(String.init))
        return all.filter { wanted.contains($0.name) }
    }
    static var twoThreads: [InterleavingScenario] { selected.filter { $0.threads == 2 } }
    static var threeThreads: [InterleavingScenario] { selected.filter { $0.threads == 3 } }
}

/// What an exploration found, copied out of the C result.
struct InterleavingOutcome {
    var schedules: UInt, pruned: UInt, redundant: UInt, outcomes: UInt
    var maxSteps: UInt, known: UInt, overlap: UInt
    var complete: Bool
    var preemptionBound: Int32, boundCut: Bool
    var failed: Bool
    var failure: String
    var knownExample: String
}

/// Explores every interleaving of `scenario` (on a fresh thread: the
/// controller waits on condition variables for up to 300 s at a time).
/// `mode`: 0 reduced, 2 conservative (interleave_support.h).
func exploreInterleavings(_ scenario: InterleavingScenario, mode: Int32 = 0, limit: UInt = 0) -> InterleavingOutcome {
    coreOnFreshThread {
        var r = il_result()
        let rc = il_explore_ex(scenario.index, limit, mode, &r)
        func text<T>(_ field: inout T) -> String {
            withUnsafeBytes(of: &field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return InterleavingOutcome(
            schedules: r.schedules, pruned: r.pruned, redundant: r.redundant, outcomes: r.outcomes,
            maxSteps: r.max_steps, known: r.known,
            overlap: r.overlap, complete: r.complete != 0,
            preemptionBound: r.preemption_bound, boundCut: r.bound_cut != 0, failed: rc != 0,
            failure: text(&r.failure), knownExample: text(&r.known_example))
    }
}

// Process-wide library state (registry bits, attached threads, step hooks):
// nested under LibraryStateTests, which runs its suites one at a time.
extension LibraryStateTests {
    @Suite("Interleavings: two and three threads at step-point granularity, every schedule",
           .timeLimit(.minutes(10)))
    struct InterleavingTests {}
}

extension LibraryStateTests.InterleavingTests {
    @Test("every interleaving of the scenario keeps the invariants", arguments: InterleavingScenario.twoThreads)
    func everyInterleaving(_ scenario: InterleavingScenario) {
        check(scenario, mode: 0)
    }

    /// Requesters A and C, canceller B (il_scenarios.c, `threads = 3`): the
    /// canceller parks at cancel.wait-looked after each thread's read in its
    /// waits' look (holding the thread-list lock: the scheduler keeps a
    /// requester that would take it from running meanwhile), so a requester
    /// starts or finishes a request between two reads of one look.
    @Test("every interleaving of three threads keeps the invariants", arguments: InterleavingScenario.threeThreads)
    func everyInterleavingThreeThreads(_ scenario: InterleavingScenario) {
        check(scenario, mode: 0)
    }

    /// The footprint table's B half (il_reduce.c) describes cancel's code
    /// between its step points; this search does not use it (every step of
    /// B is taken as touching everything), so a reordering of cancel's steps
    /// is caught here even if the table was not updated for it.
    @Test("every interleaving, conservative reduction", arguments: ["cancel-vs-dispatch", "detach-vs-cancel"])
    func everyInterleavingConservative(_ name: String) throws {
        check(try #require(InterleavingScenario.all.first { $0.name == name }), mode: 2)
    }

    func check(_ scenario: InterleavingScenario, mode: Int32) {
        let clock = ContinuousClock()
        let start = clock.now
        let out = exploreInterleavings(scenario, mode: mode)
        let took = start.duration(to: clock.now)
        print("interleavings \(scenario.name) [\(scenario.threads) threads]\(mode == 2 ? " (conservative)" : ""): "
              + "\(out.schedules) schedules, "
              + "\(out.outcomes) distinct outcomes, longest \(out.maxSteps) decisions, \(out.pruned) cut after a "
              + "vain poll, \(out.redundant) sleep-set redundant, \(out.overlap) with cancel done inside another "
              + "callback, \(out.known) with the dropped count a lower bound; complete \(out.complete)"
              + (out.preemptionBound > 0 ? " (bounded: at most \(out.preemptionBound) preemptions, bound reached "
                 + "\(out.boundCut))" : "") + "; \(took)")
        #expect(!out.failed, "\(out.failure)")
        #expect(out.complete, "\(scenario.name): exploration did not finish")
        #expect(out.schedules > 1, "\(scenario.name): only \(out.schedules) schedule")
        if il_scenario_wants_overlap(scenario.index) != 0 {
            #expect(out.overlap > 0, "\(scenario.name): B never finished its cancel inside T0's callback")
        }
        // out.known: schedules where the dropped count was the documented
        // lower bound (a context the thread's reset ended while the cancel
        // ran is not counted; deferred_unwind.h), which il_check.c accepts.
        if out.known > 0 { print("  lower bound, e.g. \(out.knownExample)") }
    }

    /// The reduction (sleep sets over static footprints, invisible local
    /// steps, the vain-poll cut; il_reduce.c, il_sched.c) must lose no
    /// outcome: on small scenarios, the full search (every step a decision,
    /// no sleep sets) and the reduced one reach the same set of outcomes
    /// (what each thread saw, and the verdict).
    /// proxy-serves-frozen checks the proxy steps' footprints (full 11691
    /// schedules, reduced 1392).  With DU_IL_SLOW set, also three-thread
    /// scenarios (within their preemption bound: 3t-request-behind-busy,
    /// full 70619 schedules, about 2 minutes, reduced 6840;
    /// 3t-proxy-vs-cancel, full 52390 before proxy.peeked, reduced 18690).
    @Test("the reduced search reaches every outcome of the full search",
          arguments: ["detach-vs-cancel", "proxy-serves-frozen"]
            + (ProcessInfo.processInfo.environment["DU_IL_SLOW"] != nil
               ? ["3t-request-behind-busy", "3t-proxy-vs-cancel"] : []))
    func reductionIsSound(_ name: String) throws {
        let scenario = try #require(InterleavingScenario.all.first { $0.name == name })
        let result = coreOnFreshThread { () -> (Int32, UInt, UInt, String) in
            var full: UInt = 0, reduced: UInt = 0
            var buffer = [CChar](repeating: 0, count: 1024)
            let rc = il_reduction_check(scenario.index, &full, &reduced, &buffer, buffer.count)
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return (rc, full, reduced, text)
        }
        print("interleavings \(name): full search \(result.1) schedules, reduced \(result.2)")
        #expect(result.0 == 0, "\(result.3)")
        #expect(result.2 < result.1, "the reduction did not reduce")
    }
}
#endif
