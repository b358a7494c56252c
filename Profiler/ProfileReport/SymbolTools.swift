// The external tools of symbolisation: llvm-symbolizer (addresses to
// function names), swift-demangle (Swift names to readable ones) and
// llvm-objdump (the FDE ranges of stripped objects), all shipped with the
// Swift toolchain, and how they are run: a batch on stdin,
// the answer on stdout.

import Foundation

public struct SymbolTools: Sendable {
    /// llvm-symbolizer, nil when not found (frames fall back to module+offset).
    public var symbolizer: String?
    /// swift-demangle, nil when not found (Swift names stay mangled).
    public var demangler: String?
    /// llvm-objdump, nil when not found (addresses without a symbol stay
    /// module+offset instead of being grouped by function).
    public var objdump: String?

    public init(symbolizer: String?, demangler: String?, objdump: String? = nil) {
        self.symbolizer = symbolizer
        self.demangler = demangler
        self.objdump = objdump
    }

    /// Finds both tools: the directory of the `swift` on PATH (the toolchain
    /// the project builds with) first, then PATH, then /opt/swift/usr/bin.
    public static func find(environment: [String: String] = ProcessInfo.processInfo.environment) -> SymbolTools {
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        var dirs: [String] = []
        if let swift = executable(named: "swift", in: path) {
            let real = URL(fileURLWithPath: swift).resolvingSymlinksInPath().path
            dirs.append((real as NSString).deletingLastPathComponent)
        }
        dirs += path
        dirs.append("/opt/swift/usr/bin")
        return SymbolTools(symbolizer: executable(named: "llvm-symbolizer", in: dirs),
                           demangler: executable(named: "swift-demangle", in: dirs),
                           objdump: executable(named: "llvm-objdump", in: dirs))
    }

    static func executable(named name: String, in dirs: [String]) -> String? {
        for dir in dirs where !dir.isEmpty {
            let candidate = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// Why a tool run gave no answer.
struct ToolFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `tool` with `arguments`, `input` on its stdin, and returns its
/// stdout.  The input goes through a temporary file, so a large batch cannot
/// deadlock against the output pipe; stderr is kept for the failure message.
func runTool(_ tool: String, arguments: [String], input: String) throws(ToolFailure) -> String {
    var bytes: [UInt8] = []
    try runTool(tool, arguments: arguments, input: input) { bytes.append(contentsOf: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

/// The same, the output handed to `output` in pieces as it is read (64 KiB
/// at most), so a large answer is never held whole.
func runTool(_ tool: String, arguments: [String], input: String,
             output: (UnsafeRawBufferPointer) -> Void) throws(ToolFailure) {
    let fm = FileManager.default
    let base = fm.temporaryDirectory.appendingPathComponent("unwind-profile-\(getpid())-\(UUID().uuidString)")
    let inURL = base.appendingPathExtension("in"), errURL = base.appendingPathExtension("err")
    defer {
        try? fm.removeItem(at: inURL)
        try? fm.removeItem(at: errURL)
    }
    let name = (tool as NSString).lastPathComponent
    do {
        try Data(input.utf8).write(to: inURL)
        guard fm.createFile(atPath: errURL.path, contents: nil) else {
            throw ToolFailure(description: "cannot create \(errURL.path)")
        }
        let stdinHandle = try FileHandle(forReadingFrom: inURL)
        let stderrHandle = try FileHandle(forWritingTo: errURL)
        defer {
            try? stdinHandle.close()
            try? stderrHandle.close()
        }
        let out = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardInput = stdinHandle
        process.standardOutput = out
        process.standardError = stderrHandle
        try process.run()
        // Our copy of the write end is closed by Process after the spawn, so
        // read(2) sees end of file when the tool exits.
        let fd = out.fileHandleForReading.fileDescriptor
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                chunk.withUnsafeBytes { output(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } else if n == 0 || errno != EINTR {
                break
            }
        }
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let err = String(decoding: readWholeFile(errURL.path) ?? [], as: UTF8.self)
            let firstLine = err.split(separator: "\n").first.map(String.init) ?? ""
            throw ToolFailure(description: "\(name) failed (status \(process.terminationStatus))"
                              + (firstLine.isEmpty ? "" : ": \(firstLine)"))
        }
    } catch let failure as ToolFailure {
        throw failure
    } catch {
        throw ToolFailure(description: "cannot run \(name): \(error.localizedDescription)")
    }
}

/// The whole file, read with read(2) until end of file: Foundation's
/// String(contentsOfFile:) stops after the first read of a file whose size
/// says 0 (/proc files) and, in Swift 6.3, leaks its buffer for an empty file.
func readWholeFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            bytes += chunk[0..<n]
        } else if n == 0 {
            return bytes
        } else if errno != EINTR {
            return nil
        }
    }
}
