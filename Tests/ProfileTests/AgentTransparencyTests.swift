// The transparency matrix: every case of
// Tests/C/programs/agent/agent_transparency.c run without the agent
// and with it (999 Hz, and the agent's maximum rate for the cases whose
// answer a tick could change), in the same test run; each case prints what
// the program saw of its call (return value, errno, bytes, checksum,
// timeout honoured, whether its own signal interrupted) and must print the
// same, with nothing on stderr.  The matrix is printed (one line per case:
// `TRANSPARENCY <case> <rate>: identical | DIFFERS`).  Plus the profile of
// a siglongjmp out of a wrapped read: later samples on-CPU, the abandoned
// call's samples never given another call's stack.
import Foundation
import Testing

extension AgentTests {
    @Suite("Agent: transparency, call by call", .timeLimit(.minutes(10)))
    struct Transparency {
        static let program = "agent_transparency"

        /// The case names, from the program itself.
        static func cases() throws -> [String] {
            let exe = try Agent.program(program)
            let run = try Agent.runBounded(exe, ["list"], environment: nil, bound: 60)
            return run.stdout.split(separator: "\n").map(String.init)
        }

        /// The CASE lines of a run, or a description of how it failed.
        static func outcome(_ run: AgentRun) -> String {
            let lines = run.stdout.split(separator: "\n").filter { $0.hasPrefix("CASE ") }
            return "status \(run.status): " + lines.joined(separator: " | ")
        }

        @Test("every call answers as without the agent, at 999 Hz and at 10 kHz; nothing on stderr")
        func matrix() throws {
            let exe = try Agent.program(Self.program)
            var differ: [String] = []
            var rows: [String] = []
            let loadBefore = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?"
            for name in try Self.cases() {
                let plain = try Agent.runBounded(exe, [name], environment: nil, bound: 60)
                for rate in ["999", "10000"] {
                    let profiled = try Agent.profile(Self.program, [name], frequency: rate, bound: 60)
                    let same = Self.outcome(plain) == Self.outcome(profiled) && plain.status == 0
                        && profiled.stderr == plain.stderr
                    rows.append("TRANSPARENCY \(name) \(rate) Hz: \(same ? "identical" : "DIFFERS")")
                    if !same {
                        differ.append("""
                            \(name) at \(rate) Hz:
                              without the agent: \(Self.outcome(plain)) stderr: \(plain.stderr)
                              with the agent:    \(Self.outcome(profiled)) stderr: \(profiled.stderr)
                            """)
                    }
                }
            }
            print(rows.joined(separator: "\n"))
            print("TRANSPARENCY summary: rows=\(rows.count) identical=\(rows.count - differ.count) "
                  + "differ=\(differ.count) load=\(loadBefore.split(separator: " ").prefix(3).joined(separator: " "))")
            #expect(differ.isEmpty, "the program noticed the agent:\n\(differ.joined(separator: "\n"))")
        }

        @Test("every blocking call under each program-signal path, a jump, non-blocking descriptors: as without the agent")
        func callMatrix() throws {
            let exe = try Agent.program("agent_matrix")
            let listed = try Agent.runBounded(exe, ["list"], environment: nil, bound: 60)
            let variants = listed.stdout.split(separator: "\n").map(String.init)
            try #require(!variants.isEmpty, "agent_matrix list: \(listed.summary)")
            var rows = 0, differ: [String] = []
            for variant in variants {
                let plain = try Agent.runBounded(exe, [variant], environment: nil, bound: 120)
                // 10 kHz for the variants where a tick could change an answer most.
                let rates = variant == "plain" || variant == "own-sigaction" ? ["999", "10000"] : ["999"]
                for rate in rates {
                    let profiled = try Agent.profile("agent_matrix", [variant], frequency: rate, bound: 120)
                    let a = plain.stdout.split(separator: "\n").filter { $0.hasPrefix("ROW ") }
                    let b = profiled.stdout.split(separator: "\n").filter { $0.hasPrefix("ROW ") }
                    rows += a.count
                    if plain.status != 0 || profiled.status != 0 || a.count != b.count || !profiled.stderr.isEmpty {
                        differ.append("\(variant) \(rate) Hz: status \(plain.status) / \(profiled.status), "
                                      + "\(a.count) / \(b.count) rows, stderr: \(profiled.stderr)")
                        continue
                    }
                    for (x, y) in zip(a, b) where x != y {
                        differ.append("\(rate) Hz: without: \(x)\n           with:    \(y)")
                    }
                }
            }
            print("TRANSPARENCY matrix: variants=\(variants.count) rows=\(rows) differ=\(differ.count)")
            #expect(differ.isEmpty, "the program noticed the agent:\n\(differ.joined(separator: "\n"))")
        }

        @Test("libaio's io_getevents: events, min_nr across a tick, its timeout and the program's EINTR as without the agent")
        func ioGetevents() throws {
            // Tests/C/programs/agent/agent_aio.c (IOCB_CMD_POLL on pipes).  Before the agent
            // interposed io_getevents every case answered -EINTR at 999 Hz.
            let plain = try Agent.unprofiled("agent_aio", bound: 60)
            try #require(plain.status == 0, "\(plain.summary)")
            let want = plain.stdout.split(separator: "\n").filter { $0.hasPrefix("AIO ") }
            #expect(want.count == 4, "\(plain.summary)")
            for rate in ["999", "10000"] {
                let run = try Agent.profile("agent_aio", frequency: rate, bound: 60)
                let got = run.stdout.split(separator: "\n").filter { $0.hasPrefix("AIO ") }
                print("AIO at \(rate) Hz: \(got == want ? "identical" : "differ")")
                #expect(run.status == 0 && got == want,
                        "\(rate) Hz: without the agent \(want), with it \(got); \(run.summary)")
            }
        }

        @Test("a FUTEX_WAKE that lands while a tick has the waiter out of its wait still wakes it (no EAGAIN)")
        func futexWakeDuringTick() throws {
            // Tests/C/programs/agent/agent_futex_race.c: 1000 rounds of a 1 ms wait.  At
            // 10 kHz a tick's handler overlaps the wake in a few % of the
            // rounds (9 and 28 of 1000 seen before the agent turned a
            // restarted wait's EAGAIN into 0).
            func counts(_ run: AgentRun) throws -> [String: Int] {
                let line = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("FUTEX ") },
                                        "\(run.summary)")
                var fields: [String: Int] = [:]
                for field in line.split(separator: " ").dropFirst() {
                    let kv = field.split(separator: "=", maxSplits: 1)
                    if kv.count == 2, let n = Int(kv[1]) { fields[String(kv[0])] = n }
                }
                return fields
            }
            let plain = try counts(try Agent.unprofiled("agent_futex_race", ["1000"], bound: 60))
            let profiled = try counts(try Agent.profile("agent_futex_race", ["1000"], frequency: "10000", bound: 60))
            print("FUTEX without the agent: \(plain); with it at 10 kHz: \(profiled)")
            #expect(plain["rounds"] == 1000 && profiled["rounds"] == 1000)
            #expect((profiled["eagain"] ?? -1) <= (plain["eagain"] ?? 0),
                    "waits that began with the word at 0 returned EAGAIN: without \(plain), with \(profiled)")
        }

        @Test("siglongjmp out of a wrapped read: later samples on-CPU; the read's samples get no other call's stack")
        func longjmpLeavesNoStaleMark() throws {
            let run = try Agent.profile(Self.program, ["longjmp-read"], frequency: "999", bound: 60)
            try #require(run.status == 0 && run.stdout.contains("CASE longjmp-read jumped=1"), "\(run.summary)")
            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            // The call ids: CALL records name them.
            var callNames: [UInt32: String] = [:]
            for r in file.all(AgentRecordType.call) {
                callNames[r.u32(8)] = r.string(16, Int(r.u32(12)))
            }
            let readID = try #require(callNames.first { $0.value == "read" }?.key, "no CALL record for read")
            // The main thread is the one whose samples were in read.
            let samples = file.all(AgentRecordType.sample)
            let mainTid = try #require(samples.first { $0.u32(12) == readID }?.u32(8), "no sample in read")
            let main = samples.filter { $0.u32(8) == mainTid }
            let inRead = main.filter { $0.u32(12) == readID }
            let onCPU = main.filter { $0.u32(12) == 0 }
            // About 1 s blocked in read, then about 1 s on-CPU: the on-CPU
            // second must not be charged to the read.  In sampling periods
            // (1 + the timer's overruns, flags bits 3..): on a loaded
            // machine the spinning thread waits for a CPU and gets one
            // signal for several ticks.
            func periods(_ s: [AgentRecord]) -> Int { s.reduce(0) { $0 + 1 + Int($1.flags >> 3) } }
            let counts = "\(periods(onCPU)) of \(periods(main)) periods on-CPU (\(onCPU.count) samples), "
                + "\(periods(inRead)) in read"
            #expect(periods(onCPU) * 5 >= periods(main),
                    "after the jump the thread ran on-CPU for about half the run, yet \(counts): a stale mark")
            // A stack for the read's context is right only if the writer's
            // proxy unwound it while the thread was still blocked in the
            // read (flag 0x20: from the read's frozen region); one from a
            // later safe point would be another call's stack.
            let stacks = file.all(AgentRecordType.stack)
            let late = Set(stacks.filter { $0.u32(12) & 0x20 == 0 }.map { $0.u64(16) })
            let proxied = Set(stacks.filter { $0.u32(12) & 0x20 != 0 }.map { $0.u64(16) })
            let misattributed = inRead.filter { $0.u64(24) != 0 && late.contains($0.u64(24)) }
            print("longjmp-read: \(counts); \(inRead.filter { proxied.contains($0.u64(24)) }.count) in-read samples "
                  + "with the proxy's stack of the read")
            #expect(misattributed.isEmpty,
                    "\(misattributed.count) samples of the abandoned read got a stack unwound elsewhere")
        }

        /// Runs `exe args` with the agent preloaded and a fresh record file.
        static func profileCommand(_ exe: String, _ args: [String]) throws -> AgentRun {
            let lib = try Agent.library.get()
            var env = ProcessInfo.processInfo.environment
            env["LD_PRELOAD"] = lib.path
            let file = Agent.scratch.appendingPathComponent("cmd-\(UInt32.random(in: 0...UInt32.max)).data")
            env["UNWIND_PROFILE_OUTPUT"] = file.path
            env["UNWIND_PROFILE_FREQUENCY"] = "999"
            let run = try Agent.runBounded(URL(fileURLWithPath: exe), args, environment: env, bound: 60)
            let bytes = (try? Data(contentsOf: file)).map { [UInt8]($0) }
            let log = (try? String(contentsOfFile: file.path + ".log", encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: file)
            try? FileManager.default.removeItem(atPath: file.path + ".log")
            return AgentRun(status: run.status, stdout: run.stdout, stderr: run.stderr, file: bytes,
                            seconds: run.seconds, log: log)
        }

        @Test("shells, wrappers and exec: one valid file with END (flagged exec / forked), the exit status kept",
              arguments: [
                  // bash defines its own unsetenv: its children must not reopen the file
                  // (they profile themselves into <file>.<pid>: END says nothing of them).
                  ("/bin/bash", ["-c", "sleep 0.3; exit 7"], Int32(7), UInt16(0)),
                  // dash leaves with _exit.
                  ("/bin/sh", ["-c", "sleep 0.3; exit 7"], Int32(7), UInt16(0)),
                  // a shell's exec, and a wrapper that execs.
                  ("/bin/sh", ["-c", "exec sleep 0.3"], Int32(0), UInt16(1)),
                  ("/usr/bin/env", ["sleep", "0.3"], Int32(0), UInt16(1)),
              ])
        func shellsAndExec(_ exe: String, _ args: [String], _ status: Int32, _ flags: UInt16) throws {
            let run = try Self.profileCommand(exe, args)
            #expect(run.status == status, "\(exe) \(args): \(run.summary)")
            #expect(run.stderr.isEmpty, "\(exe) \(args): the agent wrote on stderr: \(run.stderr)")
            let file = try AgentRecordFile(try #require(run.file, "\(exe) \(args): no record file"))
            let ends = file.all(AgentRecordType.end)
            try #require(ends.count == 1 && file.records.last?.type == AgentRecordType.end,
                         "\(exe) \(args): \(ends.count) END records, last record type \(file.records.last?.type ?? 0)")
            // Only the bits this case must have (dash's vfork children are not seen).
            #expect(ends[0].flags & flags == flags, "\(exe) \(args): END flags \(ends[0].flags), want \(flags); log: \(run.log)")
        }
    }
}
