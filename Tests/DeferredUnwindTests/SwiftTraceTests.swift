import CDeferredUnwind
import DeferredUnwind
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What the probe saw: its own backtrace() right before and right after the
/// safe point, and the trace the tracer received.
struct SwiftAPIProbeResult: Sendable {
    var before: [UInt] = []
    var after: [UInt] = []
    var delivered: [SwiftAPIDelivery] = []
    var requested: Cookie?
    var ran = -1
}

/// glibc's backtrace() and dladdr(), looked up with dlsym: the Swift Glibc
/// module does not export <execinfo.h> nor the GNU Dl_info.
enum SwiftAPILibc {
    typealias BacktraceFn = @convention(c) (UnsafeMutablePointer<UnsafeMutableRawPointer?>?, Int32) -> Int32
    /// struct Dl_info { const char *dli_fname; void *dli_fbase; const char *dli_sname; void *dli_saddr; }
    typealias DlInfo = (UnsafeRawPointer?, UnsafeRawPointer?, UnsafeRawPointer?, UnsafeRawPointer?)
    typealias DladdrFn = @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?) -> Int32

    static func symbol<F>(_ name: String, as type: F.Type) throws -> F {
        // RTLD_DEFAULT is ((void *)0).
        guard let p = dlsym(nil, name) else {
            throw SwiftAPIToolMissing(what: "libc symbol \(name)")
        }
        return unsafeBitCast(p, to: type)
    }

    /// dladdr(): the containing object's load base, and the nearest
    /// exported symbol's name and start (the test target links with
    /// --export-dynamic, so test functions are named).
    static func lookUp(_ address: UInt) throws -> (base: UInt, symbol: String?, start: UInt)? {
        let fn = try symbol("dladdr", as: DladdrFn.self)
        var info: DlInfo = (nil, nil, nil, nil)
        let ok = withUnsafeMutablePointer(to: &info) { fn(UnsafeRawPointer(bitPattern: address), $0) }
        guard ok != 0, let base = info.1 else { return nil }
        let name = info.2.map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
        return (UInt(bitPattern: base), name, UInt(bitPattern: info.3))
    }
}

/// Copies the first `n` entries of a backtrace() buffer.
func swiftAPIFrames(_ buffer: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ n: Int32) -> [UInt] {
    (0..<Int(max(n, 0))).map { UInt(bitPattern: buffer[$0]) }
}

/// The function whose frame must be first in the delivered trace.  Not
/// inlined, so its code has its own address range: the return address of
/// the safe point's call must lie between the two backtrace() calls around it.
@inline(never)
func swiftAPITraceProbe(_ tracer: Tracer, _ recorder: SwiftAPIRecorder<SwiftAPIDelivery>) throws
    -> SwiftAPIProbeResult
{
    let backtrace = try SwiftAPILibc.symbol("backtrace", as: SwiftAPILibc.BacktraceFn.self)
    let buffer = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 256)
    defer { buffer.deallocate() }
    var r = SwiftAPIProbeResult()
    r.requested = try tracer.request().cookie
    // backtrace() is called directly from this function (not from a closure
    // or helper), so its [0] is an address inside this function.
    let nBefore = backtrace(buffer, 256)
    r.before = swiftAPIFrames(buffer, nBefore)
    r.ran = try DeferredUnwinding.safePoint()
    let nAfter = backtrace(buffer, 256)
    r.after = swiftAPIFrames(buffer, nAfter)
    r.delivered = recorder.all
    return r
}

/// Recurses `depth` frames, then calls the safe point.
@inline(never)
func swiftAPIDeep(_ depth: Int, _ tracer: Tracer) throws -> Int {
    if depth == 0 {
        _ = try tracer.request()
        return try DeferredUnwinding.safePoint()
    }
    let r = try swiftAPIDeep(depth - 1, tracer)
    return r + 0 * depth // work after the call: no tail call
}

// Process-wide library state: nested under LibraryStateTests, which runs
// its suites one at a time (LibraryStateTests.swift).
extension LibraryStateTests {
    @Suite("Swift API: traces", .timeLimit(.minutes(1)))
    struct SwiftTraceTests {}
}

extension LibraryStateTests.SwiftTraceTests {
    @Test("the trace starts in the function that called safePoint(); outer frames match backtrace()")
    func realTrace() throws {
        let recorder = SwiftAPIRecorder<SwiftAPIDelivery>()
        let tracer = try swiftAPITracer("probe") { trace, cookie in
            recorder.append(SwiftAPIDelivery(trace: trace, cookie: cookie, thread: swiftAPIThreadID()))
        }
        let r = try SwiftAPIThread.attached { try swiftAPITraceProbe(tracer, recorder) }
        #expect(r.ran == 1)
        try #require(r.delivered.count == 1)
        let d = r.delivered[0]
        #expect(d.cookie == r.requested)
        #expect(!d.trace.isThreadExiting && !d.trace.isUnavailable && !d.trace.isTruncated)
        try #require(d.trace.frames.count >= 2)
        try #require(r.before.count >= 2 && r.after.count >= 2)
        let first = d.trace.frames[0]
        // The probe's own frame in each backtrace(): [0] normally, [1] under
        // ThreadSanitizer, whose backtrace() interceptor adds a frame.
        func probeIndex(_ frames: [UInt]) throws -> Int? {
            try frames.prefix(4).firstIndex { try SwiftAPILibc.lookUp($0)?.symbol?.contains("swiftAPITraceProbe") == true }
        }
        let kb = try #require(try probeIndex(r.before), "no probe frame in backtrace()")
        let ka = try #require(try probeIndex(r.after), "no probe frame in backtrace()")
        // Inside swiftAPITraceProbe, between the two backtrace() calls that
        // surround the safe point (fails if the wrapper was not inlined:
        // frames[0] would then be inside DeferredUnwinding.safePoint()).
        #expect(r.before[kb] < first && first < r.after[ka],
                "frames[0] \(hex(first)) not in probe [\(hex(r.before[kb])), \(hex(r.after[ka]))]")
        // dladdr: the same symbol as the probe's own address, and it is the probe.
        let got = try #require(try SwiftAPILibc.lookUp(first))
        let probe = try #require(try SwiftAPILibc.lookUp(r.before[kb]))
        #expect(got.base == probe.base)
        #expect(got.start == probe.start && got.start != 0)
        #expect(got.symbol?.contains("swiftAPITraceProbe") == true, "frames[0] is in \(got.symbol ?? "?")")
        // Every outer frame is the probe's caller chain, exactly.
        #expect(Array(d.trace.frames.dropFirst()) == Array(r.before.dropFirst(kb + 1)))
        #expect(Array(r.after.dropFirst(ka + 1)) == Array(r.before.dropFirst(kb + 1)))
    }

    @Test("a stack deeper than the cache is truncated at capacity")
    func truncated() throws {
        let recorder = SwiftAPIRecorder<StackTrace>()
        let tracer = try swiftAPITracer("deep") { trace, _ in recorder.append(trace) }
        let depth = DeferredUnwinding.traceCapacity + 50
        let ran = try SwiftAPIThread.attached { try swiftAPIDeep(depth, tracer) }
        #expect(ran == 1)
        let traces = recorder.all
        try #require(traces.count == 1)
        #expect(traces[0].isTruncated)
        #expect(traces[0].frames.count == DeferredUnwinding.traceCapacity)
        #expect(!traces[0].isThreadExiting && !traces[0].isUnavailable)
    }

    @Test("a shallow stack is not truncated")
    func notTruncated() throws {
        let recorder = SwiftAPIRecorder<StackTrace>()
        let tracer = try swiftAPITracer("shallow") { trace, _ in recorder.append(trace) }
        _ = try SwiftAPIThread.attached { try swiftAPIDeep(3, tracer) }
        let traces = recorder.all
        try #require(traces.count == 1)
        #expect(!traces[0].isTruncated)
        #expect(traces[0].frames.count > 4 && traces[0].frames.count < DeferredUnwinding.traceCapacity)
    }

    @Test("allocation failure of the trace cache gives an unavailable, empty trace",
          .enabled(if: du_debug_step_points_built() != 0, "needs a debug build (step points)"))
    func unavailable() throws {
        let recorder = SwiftAPIRecorder<StackTrace>()
        let tracer = try swiftAPITracer("nomem") { trace, _ in recorder.append(trace) }
        let ran = try SwiftAPIThread.attached { () throws -> [Int] in
            du_debug_fail_next_cache_alloc()
            _ = try tracer.request()
            let first = try DeferredUnwinding.safePoint()
            _ = try tracer.request() // the next unwind allocates again
            return [first, try DeferredUnwinding.safePoint()]
        }
        #expect(ran == [1, 1])
        let traces = recorder.all
        try #require(traces.count == 2)
        #expect(traces[0].isUnavailable && traces[0].frames.isEmpty && !traces[0].isThreadExiting)
        #expect(!traces[1].isUnavailable && !traces[1].frames.isEmpty)
    }
}

func hex(_ v: UInt) -> String { "0x" + String(v, radix: 16) }
