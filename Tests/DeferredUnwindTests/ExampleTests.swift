import DeferredUnwind
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The README's examples: they must be in the README verbatim, and they must
/// build and run.  A missing tool or file fails the test (never skips it).
@Suite("Examples", .serialized, .timeLimit(.minutes(1)))
struct ExampleTests {
    /// The package root, from this file's path (Tests/DeferredUnwindTests/ExampleTests.swift).
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let swiftExample = root.appendingPathComponent("Examples/SwiftUsage/main.swift")
    static let cExample = root.appendingPathComponent("Examples/c/example.c")
    static let readme = root.appendingPathComponent("README.md")

    /// The build folder: where the test bundle, the example binary and
    /// libCDeferredUnwindShared.so sit.
    static func buildDirectory() throws -> URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        guard exe.path != "/proc/self/exe" else { throw SwiftAPIToolMissing(what: "/proc/self/exe") }
        return exe.deletingLastPathComponent()
    }

    /// Whether this process (and so the whole build, the .so included) is
    /// instrumented by ThreadSanitizer.
    static var underThreadSanitizer: Bool {
        dlsym(nil, "__tsan_init") != nil // nil is RTLD_DEFAULT
    }

    /// Whether this process (and so the whole build) is instrumented by
    /// AddressSanitizer.
    static var underAddressSanitizer: Bool {
        dlsym(nil, "__asan_init") != nil
    }

    /// The C compiler for programs that link (or dlopen) the built library,
    /// and the flags that match the build's sanitizer: an instrumented
    /// library calls its sanitizer's runtime, so the program must link that
    /// runtime, from the toolchain's clang (the one swiftc used).
    static func cCompiler() throws -> (compiler: URL, flags: [String]) {
        let tsan = underThreadSanitizer, asan = underAddressSanitizer
        let compiler = try which(tsan || asan ? "clang" : "cc")
        var flags: [String] = []
        if asan { flags.append("-fsanitize=address") }
        if tsan {
            flags.append("-fsanitize=thread")
            // The toolchain's static TSan runtime has libdispatch interceptors:
            // link the toolchain's libdispatch and BlocksRuntime, as swiftc does.
            let runtime = compiler.resolvingSymlinksInPath().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("lib/swift/linux")
            guard FileManager.default.fileExists(atPath: runtime.appendingPathComponent("libdispatch.so").path)
            else { throw SwiftAPIToolMissing(what: "\(runtime.path)/libdispatch.so") }
            flags += ["-L", runtime.path, "-ldispatch", "-lBlocksRuntime", "-Wl,-rpath," + runtime.path]
        }
        return (compiler, flags)
    }

    static func read(_ url: URL) throws -> String {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SwiftAPIToolMissing(what: url.path)
        }
        return text
    }

    /// An executable on PATH, or an error.
    static func which(_ name: String) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw SwiftAPIToolMissing(what: "\(name) on PATH")
    }

    /// Runs a program; returns (exit status, stdout and stderr together).
    static func run(_ exe: URL, _ args: [String]) throws -> (Int32, String) {
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            throw SwiftAPIToolMissing(what: exe.path)
        }
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let status = p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus
        return (status, String(decoding: data, as: UTF8.self))
    }

    @Test("README.md contains the Swift example verbatim")
    func readmeHasSwiftExample() throws {
        let readme = try Self.read(Self.readme)
        let example = try Self.read(Self.swiftExample)
        #expect(readme.contains(example), "paste Examples/SwiftUsage/main.swift into README.md (```swift block)")
    }

    @Test("README.md contains the C example verbatim")
    func readmeHasCExample() throws {
        let readme = try Self.read(Self.readme)
        let example = try Self.read(Self.cExample)
        #expect(readme.contains(example), "paste Examples/c/example.c into README.md (```c block)")
    }

    @Test("the Swift example runs: one request, one callback with the same cookie")
    func swiftExampleRuns() throws {
        let exe = try Self.buildDirectory().appendingPathComponent("SwiftUsageExample")
        let (status, output) = try Self.run(exe, [])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(output)")
        let requested = try #require(lines[0].hasPrefix("requested ") ? Cookie(String(lines[0].dropFirst(10))) : nil)
        let parts = lines[1].split(separator: " ")
        try #require(parts.count == 4 && parts[0] == "cookie" && parts[2] == "frames", "\(lines[1])")
        #expect(Cookie(String(parts[1])) == requested)
        #expect((Int(parts[3]) ?? 0) > 0)
        #expect(lines[2] == "callbacks 1")
    }

    @Test("the C example compiles against the header and the built library, and exits 0")
    func cExampleRuns() throws {
        let build = try Self.buildDirectory()
        let library = build.appendingPathComponent("libCDeferredUnwindShared.so")
        guard FileManager.default.fileExists(atPath: library.path) else {
            throw SwiftAPIToolMissing(
                what: "\(library.path): run `swift build --product CDeferredUnwindShared` with the same flags first")
        }
        let include = Self.root.appendingPathComponent("Sources/CDeferredUnwind/include")
        let (compiler, sanitizerFlags) = try Self.cCompiler()
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("du-c-example-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }
        let binary = out.appendingPathComponent("example")
        var args = ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g"]
        args += [
            "-I", include.path, Self.cExample.path,
            "-L", build.path, "-lCDeferredUnwindShared", "-lurcu-bp", "-lurcu-common", "-lpthread",
            "-Wl,-rpath," + build.path, "-o", binary.path,
        ] + sanitizerFlags
        let (ccStatus, ccOutput) = try Self.run(compiler, args)
        try #require(ccStatus == 0, "\(compiler.path) \(args.joined(separator: " "))\n\(ccOutput)")

        let (status, output) = try Self.run(binary, [])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(output)")
        var cookies: [Cookie] = []
        for line in lines {
            let parts = line.split(separator: " ")
            guard parts.count == 4, parts[0] == "cookie", parts[2] == "frames",
                  let cookie = Cookie(String(parts[1])), (Int(parts[3]) ?? 0) > 0
            else {
                Issue.record("unexpected line: \(line)")
                continue
            }
            cookies.append(cookie)
        }
        #expect(Set(cookies).count == 3, "each sample has its own cookie")
    }
}
