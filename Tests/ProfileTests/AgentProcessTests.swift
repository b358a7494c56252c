// Every process (issue 18 item 1): fork children and exec'd programs
// profile themselves into <output>.<pid>[.<gen>], `report` shows them side
// by side, `record --no-inherit` keeps them unprofiled
// (Tests/C/programs/agent/agent_procs.c, Docs/Agent.md "Every process").
import Foundation
import ProfileFormat
import ProfileReport
import Testing

/// One `record` run of agent_procs in its own directory.
private struct Recording {
    let dir: TempDir
    let run: CLIResult
    var root: String { dir.path("p.data") }
    var files: [String] { [root] + Processes.siblings(of: root) }

    init(_ args: [String], noInherit: Bool = false, program: String? = nil) throws {
        dir = try TempDir()
        let exe = try program ?? Agent.program("agent_procs").path
        let agent = try Agent.library.get()
        run = try CLI.run(["record", "-F", "999", "-o", dir.path("p.data"), "--agent", agent.path]
                          + (noInherit ? ["--no-inherit"] : []) + ["--", exe] + args,
                          environment: CLI.cleanEnvironment, in: dir.url, seconds: 60)
    }

    /// Every file decoded: (its PROCESS record of itself, the other PROCESS
    /// records, END flags or nil without END, samples, stacks).
    func decoded() throws -> [(own: ProcessRecord?, events: [ProcessRecord], end: UInt16?, samples: Int, stacks: Int)] {
        try files.map { path in
            let d = try decodeProfile([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            var own: ProcessRecord?, events: [ProcessRecord] = [], end: UInt16?, samples = 0, stacks = 0
            for r in d.records {
                switch r {
                case .process(let p) where p.isSelf: own = p
                case .process(let p): events.append(p)
                case .end(let e): end = e.flags
                case .sample: samples += 1
                case .stack: stacks += 1
                default: break
                }
            }
            return (own, events, end, samples, stacks)
        }
    }

    func report(_ args: [String]) throws -> CLIResult {
        try CLI.run(["report"] + args + [root], environment: CLI.cleanEnvironment, seconds: 120)
    }
}

/// "worker i pid P" / "master pid P" lines of the program's stderr.
private func pids(_ stderr: String, _ prefix: String) -> [UInt32] {
    stderr.split(separator: "\n").compactMap { line in
        guard line.hasPrefix(prefix), let last = line.split(separator: " ").last else { return nil }
        return UInt32(last)
    }
}

private func sortedLines(_ s: String) -> [Substring] { s.split(separator: "\n").sorted() }

/// Runs exe with `extra` variables through `env --default-signal` (a test
/// runner started from a background job ignores SIGINT, and children
/// inherit that; env itself runs without the extra variables), waits for
/// "ready" on its stdout, lets it run `after` seconds, sends `sig` and
/// waits (bounded).  Status: exit code, or 128 + signal.
private func runThenSignal(_ exe: String, _ args: [String], extra: [String: String] = [:], sig: Int32,
                           after: Double = 1.0, in dir: URL) throws -> (status: Int32, stdout: String) {
    let outURL = dir.appendingPathComponent("stdout-\(UInt32.random(in: 0...UInt32.max))")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    defer { try? out.close() }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["--default-signal=INT,TERM,HUP"] + extra.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        + [exe] + args
    p.environment = CLI.cleanEnvironment
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.currentDirectoryURL = dir
    try p.run()
    let start = Date()
    while !((try? String(contentsOf: outURL, encoding: .utf8)) ?? "").contains("ready") {
        guard p.isRunning, Date().timeIntervalSince(start) < 60 else {
            p.terminate()
            throw AgentTestError(description: "\(exe) never said ready")
        }
        usleep(10_000)
    }
    usleep(UInt32(after * 1_000_000))
    kill(p.processIdentifier, sig)
    let sent = Date()
    while p.isRunning && Date().timeIntervalSince(sent) < 30 { usleep(5_000) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
    p.waitUntilExit()
    let status = p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus
    return (status, (try? String(contentsOf: outURL, encoding: .utf8)) ?? "")
}

extension AgentTests {
    @Suite("Agent: every process", .timeLimit(.minutes(3)))
    struct EveryProcess {
        @Test("a forking server: every worker has its own file, samples and stacks; output and status as unprofiled")
        func forkingServer() throws {
            let plain = try Agent.unprofiled("agent_procs", ["workers", "3"])
            let rec = try Recording(["workers", "3"])
            #expect(rec.run.status == plain.status && plain.status == 0, "\(rec.run.stderr)")
            #expect(sortedLines(rec.run.stdout) == sortedLines(plain.stdout), "\(rec.run.stdout) vs \(plain.stdout)")
            let master = try #require(pids(rec.run.stderr, "master pid").first, "\(rec.run.stderr)")
            let workers = pids(rec.run.stderr, "worker ")
            try #require(workers.count == 3, "\(rec.run.stderr)")

            let files = try rec.decoded()
            #expect(files.count == 4, "files: \(rec.files)")
            for f in files { #expect(f.end != nil, "a file without END: \(f)") }
            let root = try #require(files.first)
            #expect(root.own?.pid == master && root.own?.kind == ProcessRecord.Kind.root.rawValue)
            // The master's file names each worker it forked.
            #expect(Set(root.events.filter { $0.kind == ProcessRecord.Kind.fork.rawValue }.map(\.pid)) == Set(workers))
            for w in workers {
                let f = try #require(files.first { $0.own?.pid == w }, "no file of worker \(w): \(rec.files)")
                #expect(f.own?.kind == ProcessRecord.Kind.fork.rawValue && f.own?.ppid == master)
                // 8 rounds of ~10 ms CPU and 40 ms blocked at 999 Hz: ~400
                // samples; 50 is far below on a loaded machine.
                #expect(f.samples >= 50 && f.stacks >= 1, "worker \(w): \(f.samples) samples, \(f.stacks) stacks")
            }

            let folded = try rec.report(["--format", "folded"])
            #expect(folded.status == 0, "\(folded.stderr)")
            for w in workers {
                let mine = folded.stdout.split(separator: "\n").filter { $0.hasPrefix("agent_procs (\(w));") }
                #expect(mine.contains { $0.contains(";worker_wait;[read] ") }, "worker \(w) blocked stack: \(mine)")
                // On-CPU: the pc's frame, or the stack unwound from a copy.
                #expect(mine.contains { $0.contains("[on-cpu];") && $0.contains(";worker_spin ") },
                        "worker \(w) on-CPU: \(mine)")
                #expect(folded.stderr.contains("process agent_procs (\(w)) [fork of \(master)]"), "\(folded.stderr)")
            }
            #expect(!folded.stderr.contains("not profiled"), "\(folded.stderr)")

            let one = try rec.report(["--format", "folded", "--pid", String(workers[1])])
            let roots = Set(one.stdout.split(separator: "\n").map { $0.prefix { $0 != ";" } })
            #expect(one.status == 0 && roots == ["agent_procs"], "--pid: \(roots) \(one.stderr)")
            #expect(one.stderr.components(separatedBy: "report: process ").count == 2, "\(one.stderr)")
        }

        @Test("fork + exec of /bin/sh -c 'a pipeline': the shell and each program of the pipeline profiled")
        func shellPipeline() throws {
            let plain = try Agent.unprofiled("agent_procs", ["shell"])
            let rec = try Recording(["shell"])
            #expect(rec.run.status == plain.status && rec.run.stdout == plain.stdout && plain.status == 0,
                    "\(rec.run.stdout) vs \(plain.stdout); \(rec.run.stderr)")
            let files = try rec.decoded()
            for f in files { #expect(f.end != nil, "a file without END: \(f)") }
            let programs = Set(files.compactMap { $0.own.map { ($0.path as NSString).lastPathComponent } })
            for p in ["seq", "sort", "tail", "sleep"] {
                #expect(programs.contains { $0 == p }, "no file of \(p): \(programs)")
            }
            let sh = files.filter { ($0.own?.path ?? "").hasSuffix("sh") && $0.own?.kind == 2 }
            #expect(sh.count == 1, "one exec'd shell (exec after fork): \(files.map { $0.own })")
            let summary = try rec.report(["--format", "folded"])
            #expect(summary.status == 0 && summary.stderr.contains("process sort ("), "\(summary.stderr)")
        }

        @Test("exec in place: the root's file ends at the exec, the new image writes <file>.<pid>")
        func execInPlace() throws {
            let plain = try Agent.unprofiled("agent_procs", ["exec"])
            let rec = try Recording(["exec"])
            #expect(rec.run.status == plain.status && rec.run.stdout == plain.stdout, "\(rec.run.stderr)")
            let master = try #require(pids(rec.run.stderr, "master pid").first)
            let files = try rec.decoded()
            #expect(files.first?.end.map { $0 & EndRecord.flagExec != 0 } == true)
            #expect(files.contains { $0.own?.pid == master && $0.own?.kind == ProcessRecord.Kind.exec.rawValue },
                    "\(files.map { $0.own })")
            #expect(rec.files.contains(rec.root + ".\(master)"), "\(rec.files)")
        }

        @Test("posix_spawnp of sh -c 'a pipeline': the spawned shell and its programs profiled, the spawn recorded")
        func spawned() throws {
            let plain = try Agent.unprofiled("agent_procs", ["spawn"])
            let rec = try Recording(["spawn"])
            #expect(rec.run.status == plain.status && rec.run.stdout == plain.stdout && plain.status == 0,
                    "\(rec.run.stdout) vs \(plain.stdout); \(rec.run.stderr)")
            let child = try #require(pids(rec.run.stderr, "spawned pid").first, "\(rec.run.stderr)")
            let files = try rec.decoded()
            #expect(files.first?.events.contains { $0.pid == child && $0.kind == ProcessRecord.Kind.spawn.rawValue } == true,
                    "\(files.first?.events ?? [])")
            #expect(files.contains { $0.own?.pid == child && $0.own?.kind == ProcessRecord.Kind.spawn.rawValue },
                    "\(files.map { $0.own })")
            let programs = Set(files.compactMap { $0.own.map { ($0.path as NSString).lastPathComponent } })
            #expect(programs.isSuperset(of: ["seq", "sort", "tail"]), "\(programs)")
        }

        @Test("a child that drops LD_PRELOAD (env -i): gets the environment it was given; seen, not profiled, and the report says so")
        func unprofiledChild() throws {
            // The second env prints its (empty) environment.
            let rec = try Recording(["-c", "env -i /usr/bin/env; echo ok"], program: "/bin/sh")
            #expect(rec.run.status == 0 && rec.run.stdout == "ok\n", "\(rec.run.stdout) \(rec.run.stderr)")
            let report = try rec.report(["--format", "folded"])
            #expect(report.status == 0, "\(report.stderr)")
            let line = report.stderr.split(separator: "\n").first { $0.contains("seen, not profiled") }
            #expect(line?.contains("/usr/bin/env") == true, "\(report.stderr)")
            #expect(report.stderr.contains("process env ("), "\(report.stderr)")
        }

        @Test("a child moves its error pipe onto the agent's descriptor number, its exec fails: the parent reads the error")
        func spawnErrorPipe() throws {
            // GLib's spawn child does this with descriptor 3; the agent
            // closed the program's pipe when it finished the child's file
            // at the exec, so the failed exec looked like a success (glib's
            // spawn-singlethread aborted in test_spawn_nonexistent).
            let run = try Agent.profile("agent_spawn_fd", frequency: "999")
            #expect(run.status == 0 && run.stdout == "child reported errno 2 (No such file or directory)\n",
                    "\(run.summary)")
        }

        @Test("record --no-inherit: children run unprofiled, one file, END says children were forked")
        func noInherit() throws {
            let rec = try Recording(["workers", "2"], noInherit: true)
            #expect(rec.run.status == 0 && rec.run.stdout.contains("master done, 0 failed"), "\(rec.run.stderr)")
            #expect(rec.files.count == 1, "\(rec.files)")
            let root = try #require(try rec.decoded().first)
            #expect(root.end.map { $0 & EndRecord.flagForked != 0 } == true)
            #expect(root.events.isEmpty)
        }

        @Test("SIGINT/SIGTERM to a program with blocked threads: END written, stacks delivered, the same death",
              arguments: [SIGINT, SIGTERM])
        func fatalSignal(_ sig: Int32) throws {
            let dir = try TempDir()
            let exe = try Agent.program("agent_sigint").path
            let plain = try runThenSignal(exe, [], sig: sig, in: dir.url)
            let file = dir.path("s.data")
            let prof = try runThenSignal(exe, [], extra: ["LD_PRELOAD": try Agent.library.get().path,
                                                          "UNWIND_PROFILE_OUTPUT": file, "UNWIND_PROFILE_FREQUENCY": "999"],
                                         sig: sig, in: dir.url)
            #expect(plain.status == 128 + sig && prof.status == plain.status, "status \(prof.status) vs \(plain.status)")
            #expect(prof.stdout == plain.stdout, "\(prof.stdout) vs \(plain.stdout)")
            let stitched = try decodeAndStitch([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))))
            let m = stitched.summary
            #expect(m.hasEnd, "no END: \(m.line)")
            // Four threads blocked for >= 1 s at 999 Hz: thousands of
            // periods (few samples: blocked threads are parked).
            #expect(m.periods >= 400 && m.samplesWithLostStack * 100 <= m.samples, "\(m.line)")
        }

        @Test("the program's own SIGINT handler and SIG_DFL actions: sigaction reports exactly what it would unprofiled")
        func ownHandler() throws {
            let dir = try TempDir()
            let exe = try Agent.program("agent_sigint").path
            let plain = try runThenSignal(exe, ["handler"], sig: SIGINT, in: dir.url)
            let prof = try runThenSignal(exe, ["handler"], extra: ["LD_PRELOAD": try Agent.library.get().path,
                                                                   "UNWIND_PROFILE_OUTPUT": dir.path("h.data"),
                                                                   "UNWIND_PROFILE_FREQUENCY": "999"],
                                         sig: SIGINT, in: dir.url)
            #expect(plain.status == 3 && prof.status == 3, "status \(prof.status) vs \(plain.status)")
            #expect(prof.stdout == plain.stdout && plain.stdout.contains("caught"), "\(prof.stdout) vs \(plain.stdout)")
        }

        @Test("SIGINT to record: passed on to the program, which finishes its file; record exits as it did")
        func interruptRecord() throws {
            let dir = try TempDir()
            let exe = try Agent.program("agent_sigint").path
            let file = dir.path("r.data")
            let run = try runThenSignal(CLI.executable, ["record", "-F", "999", "-o", file, "--agent",
                                                         try Agent.library.get().path, "--", exe],
                                        sig: SIGINT, in: dir.url)
            #expect(run.status == 128 + SIGINT, "record: status \(run.status)")
            let m = try decodeAndStitch([UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))).summary
            #expect(m.hasEnd && m.samplesWithLostStack * 100 <= m.samples, "\(m.line)")
        }

        @Test("PROCESS records round-trip; a reader skips a PROCESS record it does not know by its size")
        func processRecordFormat() throws {
            let meta = MetaRecord(pid: 7, frequencyHz: 99, startNanoseconds: 1, startRealtimeNanoseconds: 2,
                                  signal: 27, commandLine: ["x"])
            let records: [ProfileRecord] = [
                .meta(meta),
                .process(ProcessRecord(flags: ProcessRecord.flagSelf, pid: 7, ppid: 1, kind: 2, path: "/bin/sh")),
                .process(ProcessRecord(pid: 8, ppid: 7, kind: 1, path: "")),
            ]
            let bytes = ProfileEncoder.file(records)
            #expect(try decodeProfile(bytes).records == records)
            let framed = try AgentRecordFile(bytes)
            #expect(framed.all(AgentRecordType.process).count == 2)
        }
    }
}
