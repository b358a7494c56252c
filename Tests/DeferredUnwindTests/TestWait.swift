// Bounded waits, shared by the core and Swift API tests.  No test relies on
// a sleep being long enough: a test that needs another thread to reach a
// point waits for that point, and every such wait has an explicit bound and
// says, when the bound passes, what it waited for and what it saw.
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The bound of a wait for another thread to reach a point it reaches in
/// microseconds when all is well: generous for a loaded 2-core machine under
/// ThreadSanitizer, well below the suites' time limits.
let testWaitBound: Duration = .seconds(30)

/// Polls `condition` every 100 µs until it holds or `bound` has passed.
/// Returns the time waited, or nil on timeout.  Records nothing, so it may
/// run on any thread (callbacks, step hooks, helper pthreads).
func testPoll(bound: Duration = testWaitBound, _ condition: () -> Bool) -> Duration? {
    let clock = ContinuousClock()
    let start = clock.now
    while true {
        if condition() { return start.duration(to: clock.now) }
        if start.duration(to: clock.now) > bound { return nil }
        usleep(100)
    }
}

/// On the test's own thread: `testPoll`, and on timeout an issue naming
/// what was awaited, the bound, and `state()` (what was seen instead).
/// Returns whether the condition held.
@discardableResult
func testExpectEventually(
    _ what: String, bound: Duration = testWaitBound, state: () -> String = { "" },
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool
) -> Bool {
    if testPoll(bound: bound, condition) != nil { return true }
    let seen = state()
    let comment = Comment(rawValue: "timed out after \(bound) waiting for \(what)" + (seen.isEmpty ? "" : "; " + seen)
                          + "; load average \(testLoadAverage())")
    Issue.record(comment, sourceLocation: sourceLocation)
    return false
}

/// /proc/loadavg as read now ("1-min 5-min 15-min running/total last-pid"),
/// for the messages of bounded waits and timing checks: a failure says how
/// loaded the machine was.  "unknown" where /proc cannot be read.
func testLoadAverage() -> String {
    let fd = open("/proc/loadavg", O_RDONLY)
    guard fd >= 0 else { return "unknown" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let n = read(fd, &buffer, buffer.count)
    guard n > 0 else { return "unknown" }
    let text = String(decoding: buffer[..<n], as: UTF8.self)
    return text.hasSuffix("\n") ? String(text.dropLast()) : text
}
