// Threads renamed mid-run (Tests/C/programs/agent/agent_rename.c): with
// prctl(PR_SET_NAME) (Profiler/Agent/up_name.c) and pthread_setname_np,
// each sample carries the name the thread had when it was taken.
import ProfileFormat
import Testing

extension AgentTests {
    @Suite("Agent: thread names at each sample", .timeLimit(.minutes(1)))
    struct Names {
        @Test("a thread renamed by prctl or pthread_setname_np: samples before have the old name, after the new")
        func renamedMidRun() throws {
            let run = try Agent.profile("agent_rename", frequency: "999")
            try #require(run.status == 0, "\(run.summary)")
            // The program sees its own names (prctl passes through).
            #expect(run.stdout == "p-before\np-after\ndone\n" && run.stderr.isEmpty, "\(run.summary)")
            let stitched = try decodeAndStitch(try #require(run.file, "no record file"))
            for (before, after) in [("p-before", "p-after"), ("n-before", "n-after")] {
                let early = stitched.samples.filter { $0.threadName == before }
                let late = stitched.samples.filter { $0.threadName == after }
                // 300 ms each at 999 Hz: far more than 10 periods per name
                // (a sleeping thread's periods come as a few weighted
                // samples: parked, Docs/Agent.md).
                let earlyPeriods = early.reduce(0) { $0 + Int($1.periods) }
                let latePeriods = late.reduce(0) { $0 + Int($1.periods) }
                try #require(earlyPeriods >= 10 && latePeriods >= 10,
                             "\(before): \(earlyPeriods) periods, \(after): \(latePeriods) (\(stitched.summary.line))")
                #expect(Set(early.map(\.tid)) == Set(late.map(\.tid)), "one thread, two names")
                let lastEarly = early.map(\.timeNanoseconds).max() ?? 0
                let firstLate = late.map(\.timeNanoseconds).min() ?? 0
                #expect(lastEarly < firstLate, "\(before) samples after \(after) ones")
            }
        }
    }
}
