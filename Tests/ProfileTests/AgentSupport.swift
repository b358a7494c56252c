// Support for the agent tests: build the agent (`make agent`) once per test
// process, compile the C programs of Tests/C/programs/agent once each,
// and run them with the agent preloaded, every run bounded in time.
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Every agent test, one at a time: they measure sleep durations and run
/// 200-thread programs at high sampling frequencies, which would disturb
/// each other on a 2-core machine.  The nested suites live in the
/// Agent*Tests.swift files.
@Suite("Agent", .serialized)
struct AgentTests {}

struct AgentTestError: Error, CustomStringConvertible {
    let description: String
}

/// A finished (or killed) run of a program.
struct AgentRun {
    let status: Int32
    let stdout: String
    let stderr: String
    /// The record file's bytes, nil when the agent wrote none.
    let file: [UInt8]?
    let seconds: Double
    /// The agent's messages (<record file>.log), empty when it wrote none.
    var log: String = ""

    var summary: String {
        "status \(status) after \(String(format: "%.2f", seconds)) s\nstdout:\n\(stdout)\nstderr:\n\(stderr)"
    }
}

enum Agent {
    /// The package root, from this file's path (Tests/ProfileTests/AgentSupport.swift).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Scratch folder of this test process (compiled programs, record files).
    static let scratch: URL = {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("up-agent-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    /// The agent, built by `make agent` once per test process (a static
    /// let runs once, and every caller waits for that one run).
    static let library: Result<URL, AgentTestError> = {
        do {
            let make = try which("make")
            // `all` too: programs named agent_core_* link the C library.
            let run = try runBounded(make, ["-C", root.path, "--no-print-directory", "all", "agent"],
                                     environment: nil, bound: 300)
            guard run.status == 0 else {
                return .failure(AgentTestError(description: "make agent failed: \(run.summary)"))
            }
            let lib = root.appendingPathComponent(".build-c/libunwind_profile_agent.so")
            guard FileManager.default.fileExists(atPath: lib.path) else {
                return .failure(AgentTestError(description: "make agent built no \(lib.path)"))
            }
            return .success(lib)
        } catch {
            return .failure(AgentTestError(description: "make agent: \(error)"))
        }
    }()

    private static let compiled = NSLock()
    nonisolated(unsafe) private static var programs: [String: URL] = [:]

    /// Tests/C/programs/agent/<name>.c compiled with the flags the
    /// issue names, once per test process.
    static func program(_ name: String) throws -> URL {
        compiled.lock()
        defer { compiled.unlock() }
        if let url = programs[name] { return url }
        let source = root.appendingPathComponent("Tests/C/programs/agent/\(name).c")
        let binary = scratch.appendingPathComponent(name)
        let cc = try which("cc")
        var args = ["-O1", "-g", "-fno-omit-frame-pointer", "-pthread", "-Wall", "-Wextra", "-Werror",
                    source.path, "-o", binary.path]
        if name == "agent_aio" { args.append("-laio") } // libaio-dev: Scripts/ensure-deps.sh
        if name.hasPrefix("agent_core_") {
            // A program with its own copy of the core: libdeferred_unwind from `make all`.
            _ = try library.get()
            let lib = root.appendingPathComponent(".build-c").path
            args += ["-I", root.appendingPathComponent("Sources/CDeferredUnwind/include").path,
                     "-L", lib, "-l:libdeferred_unwind.so.0", "-Wl,-rpath," + lib]
        }
        let run = try runBounded(cc, args, environment: nil, bound: 120)
        guard run.status == 0 else {
            throw AgentTestError(description: "cc \(args.joined(separator: " ")) failed: \(run.summary)")
        }
        programs[name] = binary
        return binary
    }

    /// Runs a test program with the agent preloaded (prepended to any
    /// LD_PRELOAD), UNWIND_PROFILE_OUTPUT set to a fresh file (unless
    /// `output` is false) and the given frequency.  Killed after `bound` s.
    static func profile(_ name: String, _ args: [String] = [], frequency: String? = "999",
                        output: Bool = true, bound: Double = 45) throws -> AgentRun {
        let lib = try library.get()
        let exe = try program(name)
        var env = ProcessInfo.processInfo.environment
        env["LD_PRELOAD"] = [lib.path, env["LD_PRELOAD"]].compactMap { $0 }.joined(separator: " ")
        let file = scratch.appendingPathComponent("\(name)-\(UInt32.random(in: 0...UInt32.max)).data")
        if output { env["UNWIND_PROFILE_OUTPUT"] = file.path } else { env["UNWIND_PROFILE_OUTPUT"] = nil }
        env["UNWIND_PROFILE_FREQUENCY"] = frequency
        let run = try runBounded(exe, args, environment: env, bound: bound)
        let bytes = (try? Data(contentsOf: file)).map { [UInt8]($0) }
        try? FileManager.default.removeItem(at: file)
        let logURL = URL(fileURLWithPath: file.path + ".log")
        let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: logURL)
        return AgentRun(status: run.status, stdout: run.stdout, stderr: run.stderr, file: bytes,
                        seconds: run.seconds, log: log)
    }

    /// Runs the same test program without the agent (no preload added, no
    /// UNWIND_PROFILE_* variables): the same-run baseline that timing
    /// checks compare a profiled run with.  Killed after `bound` s.
    static func unprofiled(_ name: String, _ args: [String] = [], bound: Double = 45) throws -> AgentRun {
        let exe = try program(name)
        var env = ProcessInfo.processInfo.environment
        for key in env.keys where key.hasPrefix("UNWIND_PROFILE_") { env[key] = nil }
        return try runBounded(exe, args, environment: env, bound: bound)
    }

    static func which(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw AgentTestError(description: "\(name) not found on PATH")
    }

    /// Runs exe; stdout and stderr go to files (no pipe can fill up).  After
    /// `bound` seconds the process is killed and the status says so (-9).
    static func runBounded(_ exe: URL, _ args: [String], environment: [String: String]?,
                           bound: Double) throws -> AgentRun {
        let id = UInt32.random(in: 0...UInt32.max)
        let outURL = scratch.appendingPathComponent("out-\(id)")
        let errURL = scratch.appendingPathComponent("err-\(id)")
        guard FileManager.default.createFile(atPath: outURL.path, contents: nil),
              FileManager.default.createFile(atPath: errURL.path, contents: nil)
        else { throw AgentTestError(description: "cannot create files in \(scratch.path)") }
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        if let environment { p.environment = environment }
        p.standardOutput = out
        p.standardError = err
        p.currentDirectoryURL = scratch
        let start = Date()
        try p.run()
        var killed = false, hungState = ""
        while p.isRunning {
            if Date().timeIntervalSince(start) > bound {
                hungState = processState(p.processIdentifier)
                kill(p.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(5_000)
        }
        p.waitUntilExit()
        try? out.close()
        try? err.close()
        let seconds = Date().timeIntervalSince(start)
        let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        var stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        if killed { stderr += "\n[killed after \(bound) s: hung; load average \(loadAverage()); \(hungState)]" }
        let status: Int32 = killed ? -9
            : p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus
        return AgentRun(status: status, stdout: stdout, stderr: stderr, file: nil, seconds: seconds)
    }
}

/// What a process that outlived its bound was doing, from /proc: its
/// threads' states and kernel wait channels, counted, and its CPU time
/// (a hang sleeps; a starved or livelocked process runs).
func processState(_ pid: pid_t) -> String {
    let dir = "/proc/\(pid)/task"
    guard let tids = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return "no /proc state" }
    var states: [String: Int] = [:], channels: [String: Int] = [:]
    var ticks = 0
    for tid in tids {
        if let stat = try? String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13 {
                states[String(fields[0]), default: 0] += 1
                ticks += (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
            }
        }
        let wchan = (try? String(contentsOfFile: "\(dir)/\(tid)/wchan", encoding: .utf8)) ?? "?"
        channels[wchan.isEmpty ? "-" : wchan, default: 0] += 1
    }
    func list(_ d: [String: Int]) -> String { d.sorted { $0.value > $1.value }.map { "\($0.key) x\($0.value)" }.joined(separator: ", ") }
    return "\(tids.count) threads; states: \(list(states)); wait channels: \(list(channels)); "
        + "CPU time \(ticks) ticks (utime+stime of its threads)"
}

/// /proc/loadavg as read now ("1-min 5-min 15-min running/total last-pid"),
/// for the messages of timing checks: a timing failure says how loaded the
/// machine was.  "unknown" where there is no /proc.
func loadAverage() -> String {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}
