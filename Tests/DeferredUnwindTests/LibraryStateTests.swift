import Testing

/// The one parent of every suite that touches process-wide library state.
///
/// The C core has state shared by the whole process: the tracer registry (61
/// bits, `DU_MAX_TRACERS`; tests count bits, fill the registry, expect a
/// freed bit to be handed out again), the cookie counters
/// (`du_cookie_seed_serials`), the handlers of SIGUSR1/SIGUSR2, the RCU
/// grace periods a cancel waits for, and the attached-thread list a cancel
/// scrubs.  Swift Testing runs top-level suites in parallel (plain
/// `swift test`), and `.serialized` on a suite only orders what is inside it.
/// So every such suite is nested here: `.serialized` is recursive, and the
/// nested suites and their tests run one at a time, never alongside each
/// other.  Suites that never call the library (the cookie text form, the
/// errno mapping, the README examples, which run in child processes) stay
/// top-level and run in parallel with this one.
///
/// A new suite that registers tracers, attaches threads, sets step hooks or
/// signal handlers, or otherwise touches process-wide state must be declared
/// nested, e.g. (the pattern the existing files use, which keeps the bodies
/// unindented):
///
///     extension LibraryStateTests {
///         @Suite("Life cycle", .timeLimit(.minutes(2))) struct LifecycleTests {}
///     }
///     extension LibraryStateTests.LifecycleTests {
///         @Test func something() { ... }
///     }
///
/// A test that needs the process to itself (another registry, a fork, an
/// exit) can instead run its body in a child process with
/// `#expect(processExitsWith:)`, as `registryFull` in SwiftTracerTests does.
@Suite("Process-wide library state", .serialized)
enum LibraryStateTests {}
