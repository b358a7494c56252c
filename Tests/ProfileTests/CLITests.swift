// The unwind-profile command line, run as a program: help, argument errors
// and their exit codes, the agent lookup, running the program (with a stand-in
// for the agent: the C agent is built elsewhere), and reports of bad and good
// files.

import Foundation
import ProfileFormat
import Testing

@Suite("unwind-profile command line", .timeLimit(.minutes(1)))
struct CLITests {
    @Test("--help names both subcommands; each subcommand has help")
    func help() throws {
        let root = try CLI.run(["--help"])
        #expect(root.status == 0)
        #expect(root.stdout.contains("USAGE: unwind-profile <subcommand>"))
        #expect(root.stdout.contains("record") && root.stdout.contains("report"))
        let record = try CLI.run(["record", "--help"])
        #expect(record.status == 0)
        #expect(record.stdout.contains("--frequency <Hz>") && record.stdout.contains("libunwind_profile_agent.so"))
        let report = try CLI.run(["report", "-h"])
        #expect(report.status == 0)
        #expect(report.stdout.contains("--format <format>") && report.stdout.contains("folded"))
    }

    @Test("bad arguments: usage exit status 64 and a message that says what is wrong", arguments: [
        (["record"], "missing the program to run"),
        (["record", "-F", "0", "--", "true"], "--frequency must be in 1...10000 samples per second (got 0)"),
        (["record", "--frequency", "10001", "--", "true"], "--frequency must be in 1...10000"),
        (["record", "-F", "fast", "--", "true"], "fast"),
        (["record", "--bogus", "true"], "unknown option '--bogus' (the program goes after --"),
        (["record", "-o", "", "--", "true"], "--output needs a file name"),
        (["report", "--format", "xml"], "'xml' is invalid"),
        (["report", "a", "b"], "Unexpected argument 'b'"),
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
    ])
    func badArguments(arguments: [String], message: String) throws {
        let result = try CLI.run(arguments, environment: CLI.cleanEnvironment)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("no agent: a clear error naming `make agent`, and nothing renamed or run")
    func agentNotFound() throws {
        let dir = try TempDir()
        // A copy of the executable, away from any checkout's .build-c.
        let copy = dir.path("unwind-profile")
        try FileManager.default.copyItem(atPath: CLI.executable, toPath: copy)
        let out = dir.path("unwind-profile.data")
        try Data("old".utf8).write(to: URL(fileURLWithPath: out))
        let marker = dir.path("ran")
        let result = try CLI.run(["record", "--", "/bin/sh", "-c", "touch \(marker)"], executable: copy,
                                 environment: CLI.cleanEnvironment, in: dir.url)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("unwind-profile record: cannot find the agent libunwind_profile_agent.so"))
        #expect(result.stderr.contains("\(dir.url.path)/libunwind_profile_agent.so"))
        #expect(result.stderr.contains("`make agent`") && result.stderr.contains("Scripts/profile.sh"))
        #expect(try readText(out) == "old")
        #expect(!FileManager.default.fileExists(atPath: marker))

        let option = try CLI.run(["record", "--agent", "/nonexistent/agent.so", "--", "true"],
                                 environment: CLI.cleanEnvironment)
        #expect(option.status == 1)
        #expect(option.stderr == "unwind-profile record: agent /nonexistent/agent.so (from --agent) not found\n")
        var env = CLI.cleanEnvironment
        env["UNWIND_PROFILE_AGENT"] = "/nonexistent/env-agent.so"
        let variable = try CLI.run(["record", "--", "true"], environment: env)
        #expect(variable.status == 1)
        #expect(variable.stderr.contains("agent /nonexistent/env-agent.so (from UNWIND_PROFILE_AGENT) not found"))
    }

    /// A library that is harmless to preload, standing in for the agent:
    /// the libc this test process runs with.
    static func standInAgent() throws -> String {
        let maps = try readText("/proc/self/maps")
        let path = maps.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
            .first { ($0 as NSString).lastPathComponent.hasPrefix("libc.so") }
        return try #require(path, "no libc in /proc/self/maps")
    }

    @Test("record runs the program with the agent's environment and exits with its status")
    func recordRunsProgram() throws {
        let agent = try Self.standInAgent()
        let dir = try TempDir()
        try Data("previous".utf8).write(to: dir.url.appendingPathComponent("out.data"))
        var env = CLI.cleanEnvironment
        env["LD_PRELOAD"] = agent
        let script = "printf '%s|%s|%s' \"$LD_PRELOAD\" \"$UNWIND_PROFILE_OUTPUT\" \"$UNWIND_PROFILE_FREQUENCY\" > env.txt; "
            + "printf 12345678 > \"$UNWIND_PROFILE_OUTPUT\"; exit 7"
        let result = try CLI.run(["record", "-o", "out.data", "-F", "250", "--agent", agent, "--", "/bin/sh", "-c", script],
                                 environment: env, in: dir.url)
        #expect(result.status == 7, "\(result.stderr)")
        let seen = try readText(dir.path("env.txt"))
        #expect(seen == "\(agent):\(agent)|\(dir.url.path)/out.data|250")
        #expect(try readText(dir.path("out.data.old")) == "previous")
        #expect(result.stderr.contains("[ unwind-profile record: wrote 8 bytes to out.data ]"))
    }

    @Test("record: killed by a signal gives 128 + signal, no file is said, a missing program gives 127")
    func recordStatuses() throws {
        let agent = try Self.standInAgent()
        let dir = try TempDir()
        let killed = try CLI.run(["record", "--agent", agent, "--", "/bin/sh", "-c", "kill -TERM $$"],
                                 environment: CLI.cleanEnvironment, in: dir.url)
        #expect(killed.status == 143, "\(killed.stderr)")
        #expect(killed.stderr.contains("no record file was written to unwind-profile.data"))
        let missing = try CLI.run(["record", "--agent", agent, "--", "no-such-program-unwind-profile-test"],
                                  environment: CLI.cleanEnvironment, in: dir.url)
        #expect(missing.status == 127)
        #expect(missing.stderr == "unwind-profile record: no-such-program-unwind-profile-test: command not found\n")
        let ok = try CLI.run(["record", "--agent", agent, "--", "true"], environment: CLI.cleanEnvironment, in: dir.url)
        #expect(ok.status == 0)
    }

    @Test("report of a bad file: exit 1 and the problem with its offset, nothing on stdout")
    func reportBadFile() throws {
        let dir = try TempDir()
        var bad = Fixture.file(Fixture.everyType)
        bad[0] = 0
        try Data(bad).write(to: dir.url.appendingPathComponent("bad.data"))
        let magic = try CLI.run(["report", "bad.data"], environment: CLI.cleanEnvironment, in: dir.url)
        #expect(magic.status == 1)
        #expect(magic.stderr == "unwind-profile report: bad.data: bad magic at offset 0: not an unwind-profile "
                + "record file (expected \"DUPROFIL\")\n")
        #expect(magic.stdout.isEmpty)

        let good = Fixture.file(Fixture.everyType)
        let sample = Fixture.recordOffsets(good)[5]
        try Data(good[0..<(sample + 20)]).write(to: dir.url.appendingPathComponent("cut.data"))
        let cut = try CLI.run(["report", "--format", "folded", "cut.data"], environment: CLI.cleanEnvironment,
                              in: dir.url)
        #expect(cut.status == 1)
        #expect(cut.stderr == "unwind-profile report: cut.data: truncated record at offset \(sample): "
                + "size 40 but only 20 bytes left\n")

        let missing = try CLI.run(["report"], environment: CLI.cleanEnvironment, in: dir.url)
        #expect(missing.status == 1)
        #expect(missing.stderr == "unwind-profile report: unwind-profile.data: No such file or directory\n")
    }

    @Test("report of a good file as perf script text (the default file and format)")
    func reportPerf() throws {
        let dir = try TempDir()
        try Data(Fixture.file(Fixture.everyType)).write(to: dir.url.appendingPathComponent("unwind-profile.data"))
        let result = try CLI.run(["report"], environment: CLI.cleanEnvironment, in: dir.url)
        #expect(result.status == 0, "\(result.stderr)")
        let samples = result.stdout.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(samples.count == 2)
        for sample in samples {
            let header = String(sample.prefix { $0 != "\n" })
            #expect(header.firstMatch(of: PerfScriptTests.firefoxHeader) != nil, "\(header)")
        }
        #expect(samples[0] == """
            main_thread 4242/11 5.010000: 10000000 wall-clock:
            \t               0 [read] ([unwind-profile])
            \t          401111 libgone.so+0x11111 (/nonexistent/unwind-profile-tests/libgone.so)
            \t          402222 libgone.so+0x12222 (/nonexistent/unwind-profile-tests/libgone.so)
            \t          403333 libgone.so+0x13333 (/nonexistent/unwind-profile-tests/libgone.so)
            """)
        let stderr = result.stderr.split(separator: "\n").map(String.init)
        #expect(stderr == [
            "unwind-profile report: warning: /nonexistent/unwind-profile-tests/libgone.so: file not found; "
                + "its frames are shown as module+offset",
            "unwind-profile report: 2 samples (1 in interposed calls, 1 outside; on-CPU 50.0 % of 2 periods), "
                + "0 stacks lost, 1 stacks for 1 samples in calls (1.00 samples per unwind), 0 stacks never used, "
                + "3 lost records",
        ])
    }

    @Test("report of a good file as folded stacks into -o, and the test binary's function by name")
    func reportFolded() throws {
        let dir = try TempDir()
        let address = SelfMapping.markerAddress
        let map = try SelfMapping.map(containing: address)
        let records = Fixture.everyType.dropLast() + [
            .map(map),
            .sample(SampleRecord(tid: 11, call: 2, timeNanoseconds: 5_500_000_000, cookie: 77, pc: 0)),
            .stack(StackRecord(tid: 11, cookie: 77, ips: [address + 1])),
        ]
        try Data(Fixture.file(Array(records))).write(to: dir.url.appendingPathComponent("p.data"))
        let result = try CLI.run(["report", "p.data", "--format", "folded", "-o", "out.folded"],
                                 environment: CLI.cleanEnvironment, in: dir.url)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("; no END record: the recording was cut short"))
        let text = try readText(dir.path("out.folded"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        for line in lines { #expect(line.wholeMatch(of: FoldedTests.line) != nil, "\(line)") }
        #expect(lines.contains("main thread;[on-cpu];libgone.so+0x12000 1"))
        #expect(lines.contains { $0.hasPrefix("main thread;") && $0.contains("symbolTestMarkerFunction") && $0.hasSuffix(";[futex] 1") },
                "\(lines)")
    }

    @Test("report hands pprof and svg to their writers: gzip bytes into -o, an SVG with the title")
    func reportPprofAndSVG() throws {
        let dir = try TempDir()
        try Data(Fixture.file(Fixture.everyType)).write(to: dir.url.appendingPathComponent("p.data"))
        let pprof = try CLI.run(["report", "p.data", "--format", "pprof", "-o", "p.pb.gz"],
                                environment: CLI.cleanEnvironment, in: dir.url)
        #expect(pprof.status == 0, "\(pprof.stderr)")
        let bytes = Array(try Data(contentsOf: dir.url.appendingPathComponent("p.pb.gz")))
        #expect(bytes.starts(with: [0x1f, 0x8b]))
        let svg = try CLI.run(["report", "p.data", "--format", "svg", "--title", "Off-CPU <test>"],
                              environment: CLI.cleanEnvironment, in: dir.url)
        #expect(svg.status == 0, "\(svg.stderr)")
        #expect(svg.stdout.hasPrefix("<?xml") && svg.stdout.contains("Off-CPU &lt;test&gt;"))
        #expect(svg.stderr.contains("unwind-profile report: 2 samples"))
    }
}
