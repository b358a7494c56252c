import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One copy of the core per process (Docs/Lifecycle.md, "One copy of the
/// core").  Both tests run their program in a child process under a bound
/// and SIGKILL it there: a fork that deadlocks in liburcu-bp's fork hook
/// blocks every signal, so nothing inside the program could end it.
@Suite("One core per process", .serialized, .timeLimit(.minutes(20)))
struct OneCoreTests {
    static let fixture = ExampleTests.root.appendingPathComponent("Tests/Fixtures/OneCore")
    static let twoCoresSource = ExampleTests.root.appendingPathComponent("Tests/Fixtures/TwoCores/two_cores.c")

    /// Status, output (stdout and stderr) and whether the bound killed it.
    struct Outcome {
        let status: Int32
        let output: String
        let killedAtBound: Bool
        let seconds: Double
    }

    /// Runs a program with stdout and stderr to a file (no pipe to fill),
    /// SIGKILLs it after `bound` seconds.  Prints what it awaits.
    static func runBounded(_ exe: URL, _ args: [String], bound: Double, what: String) throws -> Outcome {
        guard FileManager.default.isExecutableFile(atPath: exe.path) else {
            throw SwiftAPIToolMissing(what: exe.path)
        }
        let log = FileManager.default.temporaryDirectory
            .appendingPathComponent("du-onecore-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw SwiftAPIToolMissing(what: "writable \(log.path)")
        }
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let p = Process()
        p.executableURL = exe
        p.arguments = args
        p.standardOutput = handle
        p.standardError = handle
        print("OneCoreTests: awaiting \(what), at most \(Int(bound)) s: \(exe.path) \(args.joined(separator: " "))")
        let start = Date()
        try p.run()
        var killed = false
        while p.isRunning {
            if Date().timeIntervalSince(start) > bound {
                kill(p.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(50_000)
        }
        p.waitUntilExit()
        try? handle.close()
        let seconds = Date().timeIntervalSince(start)
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let status = p.terminationReason == .exit ? p.terminationStatus : 128 + p.terminationStatus
        print("OneCoreTests: \(what) ended after \(Int(seconds)) s, status \(status)\(killed ? " (killed at the bound)" : "")")
        return Outcome(status: status, output: output, killedAtBound: killed, seconds: seconds)
    }

    /// Whether an ELF file defines the core (du_thread_attach as code), in
    /// its symbol table or its dynamic one.
    static func definesCore(_ path: String) throws -> Bool {
        let nm = try ExampleTests.which("nm")
        for args in [["--defined-only", path], ["-D", "--defined-only", path]] {
            let (_, output) = try ExampleTests.run(nm, args)
            if output.split(separator: "\n").contains(where: { $0.hasSuffix(" T du_thread_attach") || $0.hasSuffix(" t du_thread_attach") }) {
                return true
            }
        }
        return false
    }

    /// The fixture package, copied to a stable folder under the repository's
    /// .build (so a second run builds incrementally) with its dependency
    /// path made absolute, and built there.  Returns the executable.
    static func buildFixture() throws -> URL {
        let work = ExampleTests.root.appendingPathComponent(".build/onecore-fixture")
        let source = work.appendingPathComponent("OneCore")
        let scratch = work.appendingPathComponent("scratch")
        try? FileManager.default.removeItem(at: source)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: fixture, to: source)
        try? FileManager.default.removeItem(at: source.appendingPathComponent("Package.resolved"))
        let manifest = source.appendingPathComponent("Package.swift")
        let text = try ExampleTests.read(manifest)
        guard text.contains("path: \"../../..\"") else { throw SwiftAPIToolMissing(what: "path: \"../../..\" in \(manifest.path)") }
        try text.replacingOccurrences(of: "path: \"../../..\"", with: "path: \"\(ExampleTests.root.path)\"")
            .write(to: manifest, atomically: true, encoding: .utf8)

        let swift = try ExampleTests.which("swift")
        let build = try runBounded(swift, ["build", "--package-path", source.path, "--scratch-path", scratch.path],
                                   bound: 900, what: "swift build of the fixture package (first build: about a minute)")
        try #require(build.status == 0, "swift build of \(source.path) failed:\n\(build.output)")
        return scratch.appendingPathComponent("debug/onecore-fork")
    }

    @Test("a Swift package with a C signal handler (C target on CDeferredUnwind, Swift on DeferredUnwind) holds one core and forks while attached")
    func swiftPackageWithCHandler() throws {
        let exe = try Self.buildFixture()

        // The executable exports no du_* function (nothing for another
        // copy's references to bind to, and no second definition to export).
        let nm = try ExampleTests.which("nm")
        let (_, dynamic) = try ExampleTests.run(nm, ["-D", "--defined-only", exe.path])
        let exported = dynamic.split(separator: "\n").filter { $0.split(separator: " ").last?.hasPrefix("du_") == true }
        #expect(exported.isEmpty, "the executable exports \(exported)")

        let run = try Self.runBounded(exe, [], bound: 120, what: "the fixture: attach, request, fork while attached")
        // The output without the mapped-file list, for the messages.
        let steps = run.output.split(separator: "\n").filter { !$0.hasPrefix("object ") }.joined(separator: "\n")
        #expect(!run.killedAtBound, "fork hung (killed at the 120 s bound); output: \(steps)")
        #expect(run.status == 0, "\(steps)")
        #expect(run.output.contains("\nchild 0\n"), "\(steps)")
        #expect(run.output.hasSuffix("ok\n"), "\(steps)")

        // One copy of the core among the mapped files, one liburcu-bp.
        let objects = run.output.split(separator: "\n").filter { $0.hasPrefix("object ") }.map { String($0.dropFirst(7)) }
        try #require(!objects.isEmpty, "no mapped files listed:\n\(run.output)")
        let cores = try objects.filter { try Self.definesCore($0) }
        #expect(cores.count == 1, "copies of the core: \(cores)")
        #expect(objects.filter { $0.contains("liburcu-bp.so") }.count == 1, "\(objects)")
    }

    @Test("two copies of the core (SwiftPM's libCDeferredUnwindShared.so and make's libdeferred_unwind.so, both dlopen'ed RTLD_LOCAL) fork while attached without hanging")
    func twoCopiesForkWithoutHanging() throws {
        let shared = try ExampleTests.buildDirectory().appendingPathComponent("libCDeferredUnwindShared.so")
        guard FileManager.default.fileExists(atPath: shared.path) else {
            throw SwiftAPIToolMissing(
                what: "\(shared.path): run `swift build --product CDeferredUnwindShared` with the same flags first")
        }
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("du-two-cores-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: out) }

        // The plain C library, built by the root Makefile into a scratch folder.
        let make = try ExampleTests.which("make")
        let built = try Self.runBounded(make, ["-s", "-C", ExampleTests.root.path, "BUILD=\(out.path)/c", "all"],
                                        bound: 300, what: "make of the C library")
        try #require(built.status == 0, "\(built.output)")
        let cLibrary = out.appendingPathComponent("c/libdeferred_unwind.so.0")

        let (compiler, sanitizerFlags) = try ExampleTests.cCompiler()
        // ThreadSanitizer cannot start threads in the child of a
        // multi-threaded fork ("starting new threads after multi-threaded
        // fork is not supported"), which is what the children do here; the
        // plain and AddressSanitizer runs of this test cover it.
        if sanitizerFlags.contains(where: { $0.contains("sanitize=thread") }) {
            print("OneCoreTests: two_cores not run under ThreadSanitizer (no new threads after a multi-threaded fork)")
            return
        }
        let binary = out.appendingPathComponent("two_cores")
        let args = ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g", "-pthread",
                    Self.twoCoresSource.path, "-o", binary.path, "-ldl"] + sanitizerFlags
        let (ccStatus, ccOutput) = try ExampleTests.run(compiler, args)
        try #require(ccStatus == 0, "\(compiler.path) \(args.joined(separator: " "))\n\(ccOutput)")

        let run = try Self.runBounded(binary, [shared.path, cLibrary.path, "3"], bound: 120,
                                      what: "two_cores: two copies attached, 3 forks")
        #expect(!run.killedAtBound, "fork hung (killed at the 120 s bound):\n\(run.output)")
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("fork 3 child 0\n") && run.output.hasSuffix("ok\n"), "\(run.output)")
    }
}
