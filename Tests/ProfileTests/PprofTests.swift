// The pprof writer, checked through an independent decoder
// (PprofTestDecoder.swift) against pprof's validity rules and the model.

import CZlib
import Testing
@testable import ProfileReport

/// A small profile: two mappings (one fully symbolised, one not), an
/// address outside every mapping, off-CPU stacks ending in [read], a lost
/// stack, an on-CPU sample, two threads, repeated stacks, and addresses
/// that need 9- and 10-byte varints.
func pprofFixture() -> ReportProfile {
    let exe = "/usr/bin/server"
    let lib = "/lib/x86_64-linux-gnu/libc.so.6"
    func code(_ name: String, _ address: UInt64, _ module: String, symbolised: Bool = true) -> ReportFrame {
        ReportFrame(kind: .code, address: address, name: name, module: module,
                    moduleOffset: address & 0xFFFFF, symbolOffset: symbolised ? 4 : nil)
    }
    let main = code("main", 0x40_1000, exe)
    let serve = code("serve(Request&)", 0x40_2000, exe)
    let log = code("log<\"x\">", 0x40_3000, exe)
    let libcRead = code("libc.so.6+0x1234", 0x7F00_0000_1234, lib, symbolised: false)
    let libcWrite = code("__write", 0x7F00_0000_5678, lib)
    let jit = code("[unknown]+0xfeed", 0x1_0000_0000, "[unknown]", symbolised: false)
    let high = code("vsyscall", 0xFFFF_FFFF_FF60_0000, "[vsyscall]")
    let read = ReportFrame(kind: .blockedIn, address: 0, name: "[read]", module: "", moduleOffset: 0)
    let write = ReportFrame(kind: .blockedIn, address: 0, name: "[write]", module: "", moduleOffset: 0)
    let lost = ReportFrame(kind: .stackLost, address: 0, name: "[stack lost]", module: "", moduleOffset: 0)
    let onCPU = ReportFrame(kind: .onCPU, address: 0, name: "[on-cpu]", module: "", moduleOffset: 0)
    let stacks: [(UInt32, String, UInt64, [ReportFrame])] = [
        (101, "main", 10_000_000, [main, serve, libcRead, read]),
        (101, "main", 10_000_000, [main, serve, libcRead, read]),
        (101, "main", 10_000_000, [main, serve, log, libcWrite, write]),
        (102, "worker \"1\"", 10_000_000, [main, serve, libcRead, read]),
        (102, "worker \"1\"", 20_000_000, [lost]),
        (102, "worker \"1\"", 10_000_000, [onCPU, main, jit]),
        (0, "", 10_000_000, [main, high]),
    ]
    let samples = stacks.enumerated().map { index, stack in
        ReportSample(tid: stack.0, threadName: stack.1, timeNanoseconds: 5_000 + UInt64(index) * 10_000_000,
                     periodNanoseconds: stack.2, frames: stack.3)
    }
    return ReportProfile(
        pid: 100, command: "server", commandLine: ["/usr/bin/server", "--port", "80"], frequencyHz: 99,
        startNanoseconds: 1_000, startRealtimeNanoseconds: 1_700_000_000_123_456_789,
        durationNanoseconds: 2_500_000_000,
        mappings: [
            ReportMapping(start: 0x40_0000, end: 0x50_0000, fileOffset: 0, path: exe, buildID: "abcdef0123"),
            ReportMapping(start: 0x7F00_0000_0000, end: 0x7F00_0020_0000, fileOffset: 0x2_8000,
                          path: lib, buildID: ""),
            ReportMapping(start: 0xFFFF_FFFF_FF60_0000, end: 0xFFFF_FFFF_FF60_1000, fileOffset: 0,
                          path: "[vsyscall]", buildID: ""),
        ],
        samples: samples)
}

/// What `go tool pprof` would reject (profile.go CheckValid and the string
/// lookups of its decoder), one message per problem.
func pprofProblems(_ p: DecodedProfile) -> [String] {
    var problems: [String] = []
    if p.strings.first != "" { problems.append("string_table[0] is not \"\"") }
    if p.sampleTypes.isEmpty && !p.samples.isEmpty { problems.append("samples without sample_type") }
    func checkString(_ index: Int64, _ what: String) {
        if p.string(index) == nil { problems.append("\(what): string index \(index) out of range") }
    }
    for t in p.sampleTypes + [p.periodType] { checkString(t.type, "value type"); checkString(t.unit, "value unit") }
    p.comments.forEach { checkString($0, "comment") }
    checkString(p.defaultSampleType, "default_sample_type")
    func uniqueIDs(_ ids: [UInt64], _ what: String) -> Set<UInt64> {
        if ids.contains(0) { problems.append("\(what) with id 0") }
        let set = Set(ids)
        if set.count != ids.count { problems.append("duplicate \(what) ids") }
        return set
    }
    let mappingIDs = uniqueIDs(p.mappings.map(\.id), "mapping")
    let functionIDs = uniqueIDs(p.functions.map(\.id), "function")
    let locationIDs = uniqueIDs(p.locations.map(\.id), "location")
    for m in p.mappings { checkString(m.filename, "mapping \(m.id) filename"); checkString(m.buildID, "mapping build id") }
    for f in p.functions {
        checkString(f.name, "function \(f.id) name")
        checkString(f.systemName, "function system name")
        checkString(f.filename, "function filename")
    }
    for l in p.locations {
        if l.mappingID != 0 && !mappingIDs.contains(l.mappingID) {
            problems.append("location \(l.id): unknown mapping \(l.mappingID)")
        }
        for f in l.functionIDs where !functionIDs.contains(f) {
            problems.append("location \(l.id): unknown function \(f)")
        }
    }
    for (index, s) in p.samples.enumerated() {
        if s.values.count != p.sampleTypes.count {
            problems.append("sample \(index): \(s.values.count) values for \(p.sampleTypes.count) types")
        }
        for id in s.locationIDs where !locationIDs.contains(id) {
            problems.append("sample \(index): unknown location \(id)")
        }
        for label in s.labels {
            checkString(label.key, "label key")
            checkString(label.str, "label str")
            // pprof takes a label whose str is 0 for a numeric one.
            if p.string(label.key) == "thread" && label.str == 0 {
                problems.append("sample \(index): thread label without a name")
            }
        }
    }
    return problems
}

/// Decoded samples as (thread, tid, function names leaf first) -> [count, wall].
func pprofStacks(_ p: DecodedProfile) -> [String: [Int64]] {
    let locations = Dictionary(p.locations.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    let functions = Dictionary(p.functions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
    var stacks: [String: [Int64]] = [:]
    for s in p.samples {
        var thread = "", tid: Int64 = -1
        for label in s.labels {
            if p.string(label.key) == "thread" { thread = p.string(label.str) ?? "?" }
            if p.string(label.key) == "tid" { tid = label.num }
        }
        let names = s.locationIDs.map { id in
            locations[id].flatMap { $0.functionIDs.first }.flatMap { functions[$0] }
                .flatMap { p.string($0.name) } ?? "?"
        }
        let key = "\(thread)|\(tid)|" + names.joined(separator: ";")
        stacks[key] = zip(stacks[key] ?? [0, 0], s.values).map { $0 + $1 }
    }
    return stacks
}

@Suite("pprof writer", .timeLimit(.minutes(1)))
struct PprofWriterTests {
    func decode(_ profile: ReportProfile) throws -> DecodedProfile {
        let gz = try PprofWriter.encode(profile)
        #expect(gz.starts(with: [0x1F, 0x8B]), "not gzip")
        return try DecodedProfile(protobuf: gunzip(gz))
    }

    @Test func passesPprofValidityRules() throws {
        let decoded = try decode(pprofFixture())
        let problems = pprofProblems(decoded)
        #expect(problems.isEmpty, "\(problems)")
        #expect(!decoded.samples.isEmpty && !decoded.locations.isEmpty && !decoded.functions.isEmpty)
    }

    @Test func samplesAreLeafFirstWithLabelsAndTotals() throws {
        let profile = pprofFixture()
        let decoded = try decode(profile)
        var expected: [String: [Int64]] = [:]
        for s in profile.samples {
            let key = "\(s.threadName)|\(s.tid)|" + s.frames.reversed().map(\.name).joined(separator: ";")
            expected[key] = zip(expected[key] ?? [0, 0], [1, Int64(s.periodNanoseconds)]).map { $0 + $1 }
        }
        #expect(pprofStacks(decoded) == expected)
        // Identical stacks of one thread are one sample.
        #expect(decoded.samples.count == expected.count)
        let totals = decoded.samples.reduce([Int64(0), 0]) { zip($0, $1.values).map { $0 + $1 } }
        #expect(totals == [Int64(profile.samples.count),
                           Int64(profile.samples.reduce(0) { $0 + $1.periodNanoseconds })])
    }

    @Test func headerFields() throws {
        let decoded = try decode(pprofFixture())
        let types = decoded.sampleTypes.map { "\(decoded.string($0.type) ?? "?")/\(decoded.string($0.unit) ?? "?")" }
        #expect(types == ["samples/count", "wall/nanoseconds"])
        #expect(decoded.string(decoded.periodType.type) == "wall")
        #expect(decoded.string(decoded.periodType.unit) == "nanoseconds")
        #expect(decoded.period == 1_000_000_000 / 99)
        #expect(decoded.timeNanos == 1_700_000_000_123_456_789)
        #expect(decoded.durationNanos == 2_500_000_000)
        #expect(decoded.string(decoded.defaultSampleType) == "wall")
        #expect(decoded.comments.compactMap(decoded.string).contains { $0.contains("/usr/bin/server --port 80") })
    }

    @Test func mappingsLocationsAndFunctions() throws {
        let profile = pprofFixture()
        let decoded = try decode(profile)
        #expect(decoded.mappings.map(\.id) == [1, 2, 3])
        for (m, model) in zip(decoded.mappings, profile.mappings) {
            #expect(m.start == model.start && m.limit == model.end && m.offset == model.fileOffset)
            #expect(decoded.string(m.filename) == model.path && decoded.string(m.buildID) == model.buildID)
        }
        // The executable's and vsyscall's frames are all named; libc has one that is not.
        #expect(decoded.mappings.map(\.hasFunctions) == [true, false, true])
        let functions = Dictionary(decoded.functions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var byName: [String: DecodedLocation] = [:]
        for l in decoded.locations {
            #expect(l.functionIDs.count == 1)
            let f = try #require(functions[l.functionIDs[0]])
            #expect(f.systemName == f.name)
            byName[decoded.string(f.name) ?? "?"] = l
        }
        // One location per distinct frame.
        let distinct = Set(profile.samples.flatMap { $0.frames.map(\.name) })
        #expect(Set(byName.keys) == distinct && decoded.locations.count == distinct.count)
        for name in ["[read]", "[write]", "[stack lost]", "[on-cpu]"] {
            #expect(byName[name]?.address == 0 && byName[name]?.mappingID == 0, "\(name)")
        }
        #expect(byName["main"]?.mappingID == 1 && byName["main"]?.address == 0x40_1000)
        #expect(byName["__write"]?.mappingID == 2)
        #expect(byName["[unknown]+0xfeed"]?.mappingID == 0)
        #expect(byName["vsyscall"]?.address == 0xFFFF_FFFF_FF60_0000 && byName["vsyscall"]?.mappingID == 3)
        let libcFunction = decoded.functions.first { decoded.string($0.name) == "__write" }
        #expect(libcFunction.flatMap { decoded.string($0.filename) } == "/lib/x86_64-linux-gnu/libc.so.6")
    }

    @Test func emptyAndDegenerateProfiles() throws {
        var profile = pprofFixture()
        profile.samples = []
        profile.mappings = []
        profile.frequencyHz = 0
        let decoded = try decode(profile)
        #expect(pprofProblems(decoded).isEmpty)
        #expect(decoded.samples.isEmpty && decoded.strings.first == "" && decoded.period == 0)
        // Periods past Int64 clamp instead of trapping.
        var huge = pprofFixture()
        huge.samples[0].periodNanoseconds = .max
        huge.startRealtimeNanoseconds = .max
        let hugeDecoded = try decode(huge)
        #expect(pprofProblems(hugeDecoded).isEmpty)
        #expect(hugeDecoded.samples.contains { $0.values.last == .max })
    }

    @Test func deterministicBytes() throws {
        #expect(try PprofWriter.encode(pprofFixture()) == PprofWriter.encode(pprofFixture()))
    }

    @Test func zlibFailureIsATypedError() {
        #expect(throws: PprofError.zlib(call: "deflateInit2", code: Z_STREAM_ERROR, message: "")) {
            _ = try PprofGzip.compress([1, 2, 3], level: 42)
        }
        let message = PprofError.zlib(call: "deflate", code: -2, message: "stream error").description
        #expect(message.contains("deflate returned -2: stream error"))
    }
}
