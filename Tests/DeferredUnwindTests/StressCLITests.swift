import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The command line of the built unwind-stress (.build/<config>/unwind-stress,
/// next to the test bundle): help, exit status 2 with "unwind-stress: <message>"
/// for every usage error, the --list format, a short run.  A missing binary
/// fails the tests (never skips them).
@Suite("unwind-stress command line", .timeLimit(.minutes(1)))
struct StressCLITests {
    /// The --list output captured from the hand-parsed harness before the
    /// port to swift-argument-parser (outside the test target's folder, so
    /// SwiftPM does not ask for it to be declared as a resource).
    static let listFixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/unwind-stress-list.txt")

    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
        var diagnosis: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    }

    /// Runs unwind-stress with `args`; stdout and stderr go to files (no pipe
    /// to fill).  Killed, and reported as a failure, after `seconds`.
    static func run(_ args: [String], seconds: Double = 30) throws -> Result {
        let exe = try ExampleTests.buildDirectory().appendingPathComponent("unwind-stress")
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            throw SwiftAPIToolMissing(what: "\(exe.path): build it with `swift build --product unwind-stress` (same flags)")
        }
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("stress-cli-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("stdout"), err = dir.appendingPathComponent("stderr")
        for file in [out, err] where !FileManager.default.createFile(atPath: file.path, contents: nil) {
            throw SwiftAPIToolMissing(what: "writable \(file.path)")
        }
        let outHandle = try FileHandle(forWritingTo: out), errHandle = try FileHandle(forWritingTo: err)
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        // Help wraps at COLUMNS (or 80): wide, so no option text is split by
        // the tester's own setting.
        var environment = ProcessInfo.processInfo.environment
        environment["COLUMNS"] = "400"
        p.environment = environment
        p.standardOutput = outHandle
        p.standardError = errHandle
        try p.run()
        let deadline = Date().addingTimeInterval(seconds)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        let timedOut = p.isRunning
        if timedOut { p.terminate() }
        p.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        let result = Result(
            status: p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus,
            stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8))
        if timedOut {
            Issue.record("unwind-stress \(args) still running after \(seconds) s (load average \(testLoadAverage()))\n\(result.diagnosis)")
        }
        return result
    }

    @Test("--help and -h print every option and the exit statuses on stdout, exit 0", arguments: ["--help", "-h"])
    func help(flag: String) throws {
        let r = try Self.run([flag])
        #expect(r.status == 0, "\(r.diagnosis)")
        #expect(r.stderr.isEmpty, "\(r.diagnosis)")
        for option in ["--duration <seconds>", "--seed <n>", "--threads <n>", "--scenario <name>",
                       "--variant <name>", "--json <path>", "--list", "-h, --help",
                       "default 60", "2 x online CPUs", "number 1-23",
                       "Exit status: 0 no violation, 1 violation, 2 usage or environment error"] {
            #expect(r.stdout.contains(option), "help lacks '\(option)'\n\(r.diagnosis)")
        }
    }

    /// Usage errors: exit 2, "unwind-stress: <message>" then the usage, on
    /// stderr only.
    @Test("usage errors exit 2 with 'unwind-stress: <message>' and the usage", arguments: [
        (["--bogus"], "Unknown option '--bogus'"),
        // ArgumentParser's order: a refused value fails while parsing, before
        // the check for help (an unknown option does not: see below).
        (["--threads", "0", "-h"], "The value '0' is invalid for '--threads <n>': needs an integer in 1...64"),
        (["positional"], "Unexpected argument 'positional'"),
        (["--threads", "0"], "The value '0' is invalid for '--threads <n>': needs an integer in 1...64"),
        (["--threads", "65"], "The value '65' is invalid for '--threads <n>': needs an integer in 1...64"),
        (["--threads=x"], "The value 'x' is invalid for '--threads <n>': needs an integer in 1...64"),
        (["--duration", "-1"], "The value '-1' is invalid for '--duration <seconds>': needs a positive, finite number of seconds"),
        (["--duration", "nan"], "The value 'nan' is invalid for '--duration <seconds>': needs a positive, finite number of seconds"),
        (["--duration=0"], "The value '0' is invalid for '--duration <seconds>': needs a positive, finite number of seconds"),
        (["--duration"], "Missing value for '--duration <seconds>'"),
        (["--seed", "-1"], "The value '-1' is invalid for '--seed <n>': needs an unsigned 64-bit integer"),
        (["--scenario", "nosuch"], "The value 'nosuch' is invalid for '--scenario <name>': unknown scenario (see --list)"),
        (["--scenario", "24"], "The value '24' is invalid for '--scenario <name>': unknown scenario (see --list)"),
        (["--variant", "nosuch"], "The value 'nosuch' is invalid for '--variant <name>': unknown variant (see --list)"),
    ])
    func usageError(args: [String], message: String) throws {
        let r = try Self.run(args)
        #expect(r.status == 2, "\(r.diagnosis)")
        #expect(r.stderr.hasPrefix("unwind-stress: \(message)\n"), "\(r.diagnosis)")
        #expect(r.stderr.contains("Usage: unwind-stress [--duration <seconds>]"), "\(r.diagnosis)")
        #expect(r.stdout.isEmpty, "\(r.diagnosis)")
    }

    /// ArgumentParser's own order: help wins over an unknown option, before
    /// or after it.  (The hand-written parser went left to right and made an
    /// unknown option before -h/--help a usage error.)
    @Test("help wins over an unknown option before or after it (exit 0, ArgumentParser's order)", arguments: [
        ["--help", "--bogus"], ["--bogus", "--help"],
    ])
    func helpWithBadArgument(args: [String]) throws {
        let r = try Self.run(args)
        #expect(r.status == 0 && r.stdout.contains("--duration <seconds>"), "\(r.diagnosis)")
        #expect(r.stderr.isEmpty, "\(r.diagnosis)")
    }

    @Test("--lifecycle-child is the C child's entry, dispatched before the parser")
    func lifecycleChildBeforeParser() throws {
        let r = try Self.run(["--lifecycle-child", "nosuch"])
        #expect(r.status == 2, "\(r.diagnosis)")
        #expect(r.stderr == "unwind-stress: bad --lifecycle-child arguments\n", "\(r.diagnosis)")
    }

    @Test("--list prints the same lines as the hand-parsed harness did")
    func list() throws {
        let expected = try String(contentsOf: Self.listFixture, encoding: .utf8)
        let r = try Self.run(["--list"])
        #expect(r.status == 0, "\(r.diagnosis)")
        #expect(r.stderr.isEmpty, "\(r.diagnosis)")
        #expect(r.stdout == expected,
                "--list differs from \(Self.listFixture.path) (update the fixture only for a new scenario or variant)\n\(r.diagnosis)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            #expect(fields.count == 3 && ["scenario", "variant"].contains(fields[1]), "bad line '\(line)'")
        }
    }

    @Test("a short run of one scenario exits 0 with the options in its summary")
    func shortRun() throws {
        // --scenario wrap is scenario 1 again: counted once.
        let r = try Self.run(["--duration=1", "--scenario", "1", "--seed=7", "--threads", "2", "--scenario=wrap"])
        #expect(r.status == 0, "\(r.diagnosis)")
        let summary = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("SUMMARY unwind-stress:") },
                                   "no SUMMARY line\n\(r.diagnosis)")
        for field in ["duration=1s", "seed=7", "threads=2", "scenarios=1", "violations=0", "result=PASS"] {
            #expect(summary.split(separator: " ").contains(Substring(field)), "'\(field)' missing: \(summary)")
        }
    }
}
