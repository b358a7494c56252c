// The agent across a process's life: inert runs, fork with and without
// exec, many threads, exit while threads run
// (Tests/C/programs/agent/agent_fork.c, agent_threads.c, agent_mix.c).
import Testing

extension AgentTests {
    @Suite("Agent: process lifecycle", .timeLimit(.minutes(1)))
    struct Lifecycle {
        @Test("the agent exports only the interposed names; BIND_NOW, NODELETE (Scripts/check-agent.sh)")
        func exportsAndDynamicSection() throws {
            let lib = try Agent.library.get()
            let script = Agent.root.appendingPathComponent("Scripts/check-agent.sh")
            let run = try Agent.runBounded(script, [lib.path], environment: nil, bound: 120)
            #expect(run.status == 0 && !run.stderr.contains("FAIL"), "\(run.summary)")
            for line in ["exports = agent.map", "agent.map = the UP_EXPORT definitions", "no du_* symbol exported",
                         "BIND_NOW / NOW (-z now)", "NODELETE"] {
                #expect(run.stdout.contains("ok: " + line), "\(run.summary)")
            }
        }

        @Test("without UNWIND_PROFILE_OUTPUT the agent is inert: no file, no output")
        func inertWithoutOutput() throws {
            let run = try Agent.profile("agent_mix", output: false)
            #expect(run.status == 0, "\(run.summary)")
            #expect(run.stdout == "done\n" && run.stderr.isEmpty, "\(run.summary)")
            #expect(run.file == nil)
        }

        @Test("a bad UNWIND_PROFILE_FREQUENCY: one line in the agent's log, none on stderr; the program runs unprofiled")
        func badFrequency() throws {
            for bad in ["0", "10001", "fast", "-5"] {
                let run = try Agent.profile("agent_mix", frequency: bad)
                #expect(run.status == 0 && run.stdout == "done\n", "\(bad): \(run.summary)")
                #expect(run.file == nil, "\(bad): a file was written")
                #expect(run.stderr.isEmpty, "\(bad): the agent wrote on the program's stderr: \(run.stderr)")
                #expect(run.log.hasPrefix("unwind-profile agent (pid ") &&
                        run.log.contains("UNWIND_PROFILE_FREQUENCY=\(bad)"), "\(bad): log: \(run.log)")
            }
        }

        @Test("fork in a program with its own copy of the core: liburcu's fork hooks nest, nothing hangs")
        func forkWithTwoCopiesOfTheCore() throws {
            // Bound 30 s: before up_urcu_fork.c the first fork hung with
            // every signal blocked (the bounded run kills it).
            let run = try Agent.profile("agent_core_fork", frequency: "999", bound: 30)
            #expect(run.status == 0 && run.stdout.contains("forks ok"), "\(run.summary)")
            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            #expect(file.records.last?.type == AgentRecordType.end, "no END record")
        }

        @Test("fork while other threads hold the agent's slot locks (renames, thread starts): no child hangs")
        func forkWhileLocksAreHeld() throws {
            // Without the atfork handlers of up_slot.c, 7-8 of 200 children
            // hung at their first attach (a lock copied held).  Each child is
            // waited for up to 10 s by the program itself.
            let run = try Agent.profile("agent_fork_locks", ["150"], frequency: "999", bound: 240)
            #expect(run.status == 0 && run.stdout.hasPrefix("hung 0 of 150, failed 0"), "\(run.summary)")
        }

        @Test("fork without exec: the children run and exit fine; the parent's file has nothing of theirs, nothing twice")
        func forkWithoutExec() throws {
            let run = try Agent.profile("agent_fork", frequency: "999")
            try #require(run.status == 0, "\(run.summary)")
            #expect(run.stderr.isEmpty, "\(run.stderr)")
            let lines = run.stdout.split(separator: "\n")
            #expect(lines.contains("children 0 0 0"), "a child failed or saw UNWIND_PROFILE_OUTPUT: \(run.stdout)")
            let childTids = Set(lines.filter { $0.hasPrefix("child tid=") }.compactMap { UInt32($0.dropFirst(10)) })
            let parentTids = Set(lines.filter { $0.hasPrefix("parent tid=") }.compactMap { UInt32($0.dropFirst(11)) })
            #expect(childTids.count == 3 && parentTids.count == 2, "\(run.stdout)")

            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            #expect(file.records.first?.type == AgentRecordType.meta && file.all(AgentRecordType.meta).count == 1)
            #expect(file.records.last?.type == AgentRecordType.end && file.all(AgentRecordType.end).count == 1)
            let tidRecords = file.records.filter {
                [AgentRecordType.sample, AgentRecordType.stack, AgentRecordType.thread].contains($0.type)
            }
            let foreign = tidRecords.filter { childTids.contains($0.u32(8)) }
            #expect(foreign.isEmpty, "\(foreign.count) records of a child's thread in the parent's file")
            let samples = file.all(AgentRecordType.sample)
            #expect(samples.contains { parentTids.contains($0.u32(8)) }, "the parent was not sampled")
            #expect(Set(samples.map { Array($0.bytes) }).count == samples.count, "a SAMPLE record written twice")
            #expect(Set(file.stackKeys).count == file.stackKeys.count, "a STACK record written twice")
        }

        @Test("200 threads that block briefly: no hang, every thread named, the file complete")
        func manyThreads() throws {
            let run = try Agent.profile("agent_threads", ["200"], frequency: "999")
            try #require(run.status == 0, "\(run.summary)")
            #expect(run.stdout == "done\n" && run.stderr.isEmpty, "\(run.summary)")
            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            #expect(file.records.last?.type == AgentRecordType.end, "no END")
            let names = Set(file.all(AgentRecordType.thread).map { $0.string(16, Int($0.u32(12))) })
            let workers = (0..<200).map { "w\($0)" }
            #expect(Set(workers).isSubset(of: names), "missing THREAD names: \(Set(workers).subtracting(names).sorted())")
            let samples = file.all(AgentRecordType.sample)
            #expect(Set(samples.map { $0.u32(8) }).count > 100, "few threads sampled")
            let have = Set(file.stackKeys)
            let unmatched = samples.filter { $0.u32(12) != 0 && $0.flags & 0x3 != 0 }
                .filter { !have.contains(.init(tid: $0.u32(8), cookie: $0.u64(24))) }
            let lost = file.all(AgentRecordType.lost).reduce(UInt64(0)) { $0 + $1.u64(16) }
            #expect(unmatched.isEmpty || lost > 0, "\(unmatched.count) off-CPU samples without STACK and no LOST record")
        }

        @Test("exit() while threads sleep in a loop: the file is finished (END), the process exits at once")
        func exitWithRunningThreads() throws {
            // The same program without the agent, before and after (the
            // same-run baseline: its 200 ms nap and exit at this load).
            let before = try Agent.unprofiled("agent_threads", ["exit"])
            let loadBefore = loadAverage()
            let run = try Agent.profile("agent_threads", ["exit"], frequency: "999")
            let loadAfter = loadAverage()
            let after = try Agent.unprofiled("agent_threads", ["exit"])
            #expect(run.status == 0 && run.stdout == "done\n", "\(run.summary)")
            #expect(before.status == 0 && after.status == 0, "without the agent: \(before.summary)\n\(after.summary)")
            // "At once": no more than 5 times the slower run without the
            // agent (a process that waited for its sleeping threads would
            // run until killed; one that waited a timeout, seconds).
            let baseline = max(before.seconds, after.seconds)
            let took = String(format: "%.3f", run.seconds)
            let base = String(format: "%.3f s and %.3f s", before.seconds, after.seconds)
            #expect(run.seconds <= 5 * baseline,
                    "with the agent the run took \(took) s, > 5 x the slower run without it (\(base)); load average \(loadBefore) -> \(loadAfter)")
            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            #expect(file.records.last?.type == AgentRecordType.end, "no END")
            #expect(file.all(AgentRecordType.sample).count > 0)
        }
    }
}
