// Running the built unwind-profile executable from the tests, with a bound.

import Foundation
import Testing
@testable import ProfileReport

struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLI {
    /// .build/<config>/unwind-profile, next to the test bundle.
    static var executable: String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("unwind-profile")
    }

    /// Runs `executable` with `arguments`; output through files (no pipe can
    /// fill up); gives up after `seconds` (then kills it and says so).
    static func run(_ arguments: [String], executable: String = CLI.executable,
                    environment: [String: String]? = nil, in directory: URL? = nil,
                    seconds: Double = 30) throws -> CLIResult {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw CLIError(description: "\(executable) not built (swift build --product unwind-profile)")
        }
        let scratch = try TempDir()
        let outURL = scratch.url.appendingPathComponent("stdout"), errURL = scratch.url.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer {
            try? out.close()
            try? err.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw CLIError(description: "unwind-profile \(arguments) still running after \(seconds) s: killed (load average \(loadAverage()))")
        }
        process.waitUntilExit()
        let status = process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        return CLIResult(status: status, stdout: try readText(outURL.path), stderr: try readText(errURL.path))
    }

    /// This environment without the agent variables (so the default lookup runs).
    static var cleanEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["UNWIND_PROFILE_AGENT", "UNWIND_PROFILE_OUTPUT", "UNWIND_PROFILE_FREQUENCY", "LD_PRELOAD"] {
            env[key] = nil
        }
        return env
    }
}

struct CLIError: Error, CustomStringConvertible {
    var description: String
}

/// A directory removed when the value goes away.
final class TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("unwind-profile-tests-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A whole file as text: ProfileReport's readWholeFile (read(2) until end of
/// file; Foundation's String(contentsOfFile:) stops early on /proc files and
/// leaks for empty ones).
func readText(_ path: String) throws -> String {
    guard let bytes = readWholeFile(path) else {
        throw CLIError(description: "\(path): \(String(cString: strerror(errno)))")
    }
    return String(decoding: bytes, as: UTF8.self)
}
