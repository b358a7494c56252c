// Threads that stay blocked for the whole run get their stacks: every
// interposed call is a frozen region of the core, and the agent's writer
// thread serves them as a proxy once per period and once more at the end
// (up_writer.c, up_stack.c; Docs/Agent.md).  agent_blocked: three threads
// blocked in read, pthread_cond_wait and sleep from start to exit while the
// main thread computes.  Before the proxy every off-CPU sample of theirs was
// "[stack lost]".
import Foundation
import Testing

extension AgentTests {
    @Suite("Agent: stacks of threads that never return from a blocking call", .timeLimit(.minutes(1)))
    struct Proxy {
        @Test("threads blocked for the whole run: at most 1 % of their samples without a stack")
        func blockedThreads() throws {
            let run = try Agent.profile("agent_blocked", ["1.5"], frequency: "999")
            try #require(run.status == 0, "\(run.summary)")
            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            let samples = file.all(AgentRecordType.sample)
            let stacks = file.all(AgentRecordType.stack)
            let keys = file.stackKeys
            #expect(Set(keys).count == keys.count, "two STACK records for one (tid, cookie)")
            let have = Set(keys)
            let accepted = samples.filter { $0.u32(12) != 0 && $0.flags & 0x3 != 0 }
            let missing = accepted.filter { !have.contains(.init(tid: $0.u32(8), cookie: $0.u64(24))) }
            // Ticks, not records: a parked thread's periods come as weighted
            // samples (Docs/Agent.md, "Parked threads").
            func ticks(_ r: [AgentRecord]) -> Int { r.map { 1 + Int($0.flags >> 3) }.reduce(0, +) }
            let proxied = stacks.filter { $0.u32(12) & 0x20 != 0 } // DU_TRACE_PROXY
            let blockedTids = Set(accepted.map { $0.u32(8) })
            let note = """
                \(accepted.count) off-CPU samples (\(ticks(accepted)) ticks) of \(blockedTids.count) threads, \
                \(missing.count) without a stack (\(ticks(missing)) ticks); \(stacks.count) STACK records, \
                \(proxied.count) by the proxy
                """
            print("proxy: " + note)
            #expect(blockedTids.count == 3, "the three blocked threads: \(note)")
            #expect(ticks(accepted) > 3 * 500, "too few samples to judge: \(note)")
            #expect(Double(ticks(missing)) <= 0.01 * Double(ticks(accepted)), "\(note)")
            #expect(proxied.count >= 3, "no stack came from the proxy: \(note)")
            // The agent's frames are cut: each proxied stack starts in the
            // program, not in the interposer that entered the region.
            let maps = file.all(AgentRecordType.map)
            let program = maps.filter { $0.string(48 + Int($0.u16(40)), Int($0.u16(42))).hasSuffix("/agent_blocked") }
            let libc = maps.filter { $0.string(48 + Int($0.u16(40)), Int($0.u16(42))).contains("libc.so") }
            let tops = proxied.filter { $0.u32(24) > 0 }.map { $0.u64(32) }
            #expect(!tops.isEmpty && tops.allSatisfy { ip in (program + libc).contains { $0.u64(8) <= ip && ip < $0.u64(16) } },
                    "a proxied stack does not start in the program or libc (agent frames not cut): \(note)")
        }
    }
}
