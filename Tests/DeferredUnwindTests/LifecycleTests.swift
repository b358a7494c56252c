import CDeferredUnwind
import CTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs one C lifecycle check (Tests/C/lifecycle/lc_*.c) and reports its
/// message.  Each check bounds its own children (DU_LC_CHILD_BOUND_S).
func lifecycleCheck(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) {
    var buffer = [CChar](repeating: 0, count: 512)
    let rc = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
    let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    #expect(rc == 0, "\(message)")
}

/// fork, exit, dlopen/dlclose, siglongjmp out of du_request, concurrent
/// cancel/destroy (Docs/Lifecycle.md).  The fork checks run
/// C-only children that leave with _exit(); a child that hangs is killed
/// after DU_LC_CHILD_BOUND_S seconds and the check fails saying so.
// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    @Suite("Process lifecycle", .timeLimit(.minutes(2)))
    struct LifecycleTests {}
}

extension LibraryStateTests.LifecycleTests {
    static var stepPoints: Bool { du_debug_step_points_built() != 0 }

    @Test("fork while another thread sleeps in a callback: the child registers, requests, cancels at once")
    func forkDuringCallback() {
        lifecycleCheck { du_lc_fork_during_callback($0, $1) }
    }

    // Not under AddressSanitizer: its runtime is not fork-safe here.  The
    // other threads' attaches call backtrace() (the unwinder's warm-up),
    // whose ASan interceptor takes the runtime's internal allocator lock; a
    // fork while one holds it leaves the child spinning in that lock at its
    // own first backtrace() (seen: 4 of 15 runs, the child's stack is
    // LockSlow <- InternalAlloc <- backtrace interceptor <- du_unwind_warm_up
    // <- du_thread_attach).  Plain and TSan builds run it.
    @Test("fork 40 times while other threads attach, detach, register, cancel: no child hangs",
          .enabled(if: !ExampleTests.underAddressSanitizer,
                   "ASan's backtrace() interceptor deadlocks fork children of busy threads"))
    func forkDuringChurn() {
        lifecycleCheck { du_lc_fork_during_churn(40, $0, $1) }
    }

    @Test("fork while another thread is inside du_request: the child's cancel does not wait for it",
          .enabled(if: stepPoints, "needs step points (debug build)"))
    func forkInsideRequest() {
        lifecycleCheck { du_lc_fork_inside_request($0, $1) }
    }

    @Test("fork while another thread is inside du_tracer_cancel: the child finishes it, the bit is reused",
          .enabled(if: stepPoints, "needs step points (debug build)"))
    func forkMidCancel() {
        lifecycleCheck { du_lc_fork_mid_cancel($0, $1) }
    }

    @Test("fork from inside a callback while another thread cancels its tracer: no deadlock; the child reuses the bit")
    func forkInCallbackDuringCancel() {
        // Under TSan the child cannot start a thread (TSan exits 66 on
        // pthread_create after a multi-threaded fork): it then checks the
        // bit's reuse from the forking thread only.
        let childThreads: Int32 = ExampleTests.underThreadSanitizer ? 0 : 1
        lifecycleCheck { du_lc_fork_in_callback_during_cancel(childThreads, $0, $1) }
    }

    @Test("a request pending at fork is delivered once, by the parent; the child starts a fresh context")
    func forkWithPending() {
        lifecycleCheck { du_lc_fork_with_pending($0, $1) }
    }

    @Test("fork from inside a callback: the child never calls the parent's other pending tracer")
    func forkFromCallback() {
        lifecycleCheck { du_lc_fork_from_callback($0, $1) }
    }

    @Test("8 threads cancel and destroy one tracer at once: documented codes, all after its callback; stale handles")
    func cancelDestroyRace() {
        lifecycleCheck { du_lc_cancel_destroy_race(8, $0, $1) }
    }

    @Test("a handler leaves du_request with siglongjmp: EDEADLK there, others wait lock-free, the safe point repairs",
          .enabled(if: stepPoints, "needs step points (debug build)"))
    func longjmpLeakRepair() {
        lifecycleCheck { du_lc_longjmp_leak_repair($0, $1) }
    }

    @Test("a handler leaves du_request with siglongjmp while its thread cancels: the cancel does not wait for itself",
          .enabled(if: stepPoints, "needs step points (debug build)"))
    func longjmpInsideCancel() {
        lifecycleCheck { du_lc_longjmp_inside_cancel($0, $1) }
    }

    @Test("exit() and return from main deliver the exiting thread's accepted requests, flagged exiting",
          arguments: ["exit", "return"])
    func exitDelivers(how: String) throws {
        let binary = try CProgram.build("exit_delivery.c", linkLibrary: true)
        let (status, output) = try ExampleTests.run(binary, [how])
        #expect(status == 0, "\(output)")
        let lines = output.split(separator: "\n").map(String.init)
        let requested = lines.filter { $0.hasPrefix("requested ") }.map { $0.dropFirst(10) }
        let delivered = lines.filter { $0.hasPrefix("delivered ") }
        #expect(requested.count == 1, "\(output)")
        #expect(delivered == ["delivered \(requested.first ?? "?") exiting=1"], "\(output)")
    }

    @Test("dlopen, use, dlclose with a thread still attached, 20 times; exit attached")
    func dlopenCycles() throws {
        let binary = try CProgram.build("dlopen_cycles.c", linkLibrary: false)
        let library = try ExampleTests.buildDirectory().appendingPathComponent("libCDeferredUnwindShared.so")
        let (status, output) = try ExampleTests.run(binary, [library.path, "20"])
        #expect(status == 0, "\(output)")
        #expect(output.contains("cycles 20 callbacks 40"), "\(output)")
    }
}

/// Builds a test program from Tests/C/programs/core with the C compiler, against
/// the header and (optionally) the SwiftPM-built libCDeferredUnwindShared.so.
enum CProgram {
    static func build(_ source: String, linkLibrary: Bool) throws -> URL {
        let build = try ExampleTests.buildDirectory()
        let library = build.appendingPathComponent("libCDeferredUnwindShared.so")
        guard FileManager.default.fileExists(atPath: library.path) else {
            throw SwiftAPIToolMissing(
                what: "\(library.path): run `swift build --product CDeferredUnwindShared` with the same flags first")
        }
        let (compiler, sanitizerFlags) = try ExampleTests.cCompiler()
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("du-prog-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let binary = out.appendingPathComponent(String(source.dropLast(2)))
        let include = ExampleTests.root.appendingPathComponent("Sources/CDeferredUnwind/include")
        let file = ExampleTests.root.appendingPathComponent("Tests/C/programs/core/\(source)")
        var args = ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-g", "-pthread"]
        args += ["-I", include.path, file.path, "-o", binary.path, "-ldl"]
        if linkLibrary {
            args += ["-L", build.path, "-lCDeferredUnwindShared", "-Wl,-rpath," + build.path]
        }
        args += sanitizerFlags
        let (status, output) = try ExampleTests.run(compiler, args)
        try #require(status == 0, "\(compiler.path) \(args.joined(separator: " "))\n\(output)")
        return binary
    }
}
