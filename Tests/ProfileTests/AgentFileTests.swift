// The record file at the byte level (Docs/ProfileFormat.md), read by the
// tests' own reader (AgentRecordReader.swift), from a profiled run of
// Tests/C/programs/agent/agent_mix.c.
import Testing

extension AgentTests {
    @Suite("Agent: the record file", .timeLimit(.minutes(1)))
    struct File {
        @Test("well-formed: META first, CALLs before SAMPLEs, END last with the right counts, stacks for off-CPU samples")
        func wellFormed() throws {
            let run = try Agent.profile("agent_mix", frequency: "999")
            try #require(run.status == 0, "\(run.summary)")
            #expect(run.stderr.isEmpty, "\(run.stderr)")
            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            let records = file.records
            try #require(records.count > 2)

            // META: first and only; pid, frequency, signal, command line.
            #expect(records.first?.type == AgentRecordType.meta)
            #expect(file.all(AgentRecordType.meta).count == 1)
            let meta = records[0]
            #expect(meta.u32(12) == 999, "frequency")
            #expect(meta.u32(32) == 27, "signal (SIGPROF)")
            #expect(meta.u64(16) > 0 && meta.u64(24) > 0, "start times")
            let cmdline = meta.string(40, Int(meta.u32(36)))
            #expect(cmdline.hasSuffix("agent_mix\0"), "command line \(cmdline.debugDescription)")
            let pid = meta.u32(8)

            // END: last and only; its counts are the file's.
            #expect(records.last?.type == AgentRecordType.end)
            #expect(file.all(AgentRecordType.end).count == 1)
            let end = try #require(records.last)
            let samples = file.all(AgentRecordType.sample)
            let stacks = file.all(AgentRecordType.stack)
            let lost = file.all(AgentRecordType.lost).reduce(UInt64(0)) { $0 + $1.u64(16) }
            #expect(end.u64(16) == UInt64(samples.count), "END.samples")
            #expect(end.u64(24) == UInt64(stacks.count), "END.stacks")
            #expect(end.u64(32) == lost, "END.lost")
            #expect(end.u64(8) >= meta.u64(16), "END.time_ns before start")

            // CALL: ids 1..n, all before the first SAMPLE; every SAMPLE's call is known.
            let calls = file.all(AgentRecordType.call)
            let ids = calls.map { $0.u32(8) }
            #expect(ids == Array(1...UInt32(calls.count)), "CALL ids \(ids)")
            let names = Dictionary(uniqueKeysWithValues: calls.map { ($0.u32(8), $0.string(16, Int($0.u32(12)))) })
            for expected in ["read", "nanosleep", "pthread_cond_wait", "futex", "pthread_mutex_lock"] {
                #expect(names.values.contains(expected), "no CALL record for \(expected)")
            }
            let firstSample = try #require(records.firstIndex { $0.type == AgentRecordType.sample })
            #expect(records.lastIndex { $0.type == AgentRecordType.call }! < firstSample)
            #expect(samples.allSatisfy { $0.u32(12) == 0 || names[$0.u32(12)] != nil })

            // Samples: on-CPU and in calls, each with a pc and a time.
            let inCall = samples.filter { $0.u32(12) != 0 }
            #expect(samples.count > 0 && inCall.count > 0)
            #expect(samples.contains { $0.u32(12) == 0 }, "no on-CPU sample (agent_mix computes)")
            let called = Set(inCall.map { names[$0.u32(12)] ?? "?" })
            #expect(called.isSuperset(of: ["read", "nanosleep", "pthread_cond_wait"]), "\(called)")
            #expect(samples.allSatisfy { $0.u64(32) != 0 && $0.u64(16) >= meta.u64(16) })
            // Flags bits 0..2 are the request's answer; bits 3.. count the
            // timer's overruns (any sample).
            // Outside calls: no request; a cookie only for a stack copy
            // (bit 63, up_copy.h), whose STACK the writer wrote.
            let outside = samples.filter { $0.u32(12) == 0 }
            #expect(outside.allSatisfy { ($0.u64(24) == 0 || $0.u64(24) >> 63 == 1) && $0.flags & 7 == 0 },
                    "samples outside calls carry no request's cookie")
            let copied = outside.filter { $0.u64(24) != 0 }, stackKeys = Set(file.stackKeys)
            #expect(copied.allSatisfy { stackKeys.contains(.init(tid: $0.u32(8), cookie: $0.u64(24))) },
                    "a stack copy's STACK is missing")

            // Stacks: one per (tid, cookie); every accepted off-CPU sample has one.
            let keys = file.stackKeys
            #expect(Set(keys).count == keys.count, "two STACK records for one (tid, cookie)")
            #expect(stacks.allSatisfy { $0.u32(12) & 0x200 != 0 && $0.u64(16) != 0 })
            #expect(stacks.contains { $0.u32(24) > 0 }, "every stack is empty")
            let have = Set(keys)
            let accepted = inCall.filter { $0.flags & 0x3 != 0 }
            #expect(accepted.count == inCall.count, "du_request failed for some samples")
            let missing = accepted.filter { !have.contains(.init(tid: $0.u32(8), cookie: $0.u64(24))) }
            #expect(missing.isEmpty, "\(missing.count) of \(accepted.count) off-CPU samples have no STACK")

            // THREAD names the three threads; MAP names the program with its build id.
            let threads = file.all(AgentRecordType.thread)
            #expect(Set(threads.map { $0.u32(8) }).count == 3, "THREAD records: \(threads.count)")
            #expect(threads.contains { $0.u32(8) == pid && $0.string(16, Int($0.u32(12))) == "agent_mix" })
            let maps = file.all(AgentRecordType.map)
            let program = maps.filter { $0.string(48 + Int($0.u16(40)), Int($0.u16(42))).hasSuffix("/agent_mix") }
            #expect(!program.isEmpty, "no MAP record for the program")
            #expect(program.allSatisfy { $0.u16(40) > 0 && $0.u64(8) < $0.u64(16) }, "program MAP: build id, range")
            // Deferred stacks (a stack copy's starts at its sample's pc, anywhere).
            let topFrames = stacks.filter { $0.u32(24) > 0 && $0.u32(12) & 0x400 == 0 }.map { $0.u64(32) }
            #expect(topFrames.allSatisfy { ip in program.contains { $0.u64(8) <= ip && ip < $0.u64(16) } },
                    "a stack does not start in the program (the agent's frames were not cut)")
        }
    }
}
