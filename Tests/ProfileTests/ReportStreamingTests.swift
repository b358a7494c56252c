// The report's streaming reader and stitcher, the names threads had at each
// sample, the summary's counts, per-thread roots (issue 18, item 7).

import Foundation
import ProfileFormat
@testable import ProfileReport
import Testing

@Suite("ProfileReport: streaming, names at each sample, per-thread roots", .timeLimit(.minutes(1)))
struct ReportStreamingTests {
    static func sample(_ tid: UInt32, _ time: UInt64, call: UInt32 = 1, cookie: UInt64 = 0,
                       flags: UInt16 = SampleRecord.flagQueued) -> ProfileRecord {
        .sample(SampleRecord(flags: flags, tid: tid, call: call, timeNanoseconds: time, cookie: cookie, pc: 0x40_0000))
    }

    /// Stacks before and after their samples, a duplicate, a lost stack, a
    /// failed request, on-CPU samples, overruns, renames and LOST records.
    static var mixed: [ProfileRecord] {
        [
            .meta(Fixture.meta), .call(Fixture.read), .call(Fixture.futex),
            .stack(StackRecord(tid: 1, cookie: 10, ips: [0x40_1000, 0x40_2000])),
            sample(1, 5_100, cookie: 10),
            sample(1, 5_200, cookie: 10, flags: SampleRecord.flagAlreadyQueued | 2 << SampleRecord.overrunShift),
            .thread(ThreadRecord(tid: 1, name: "first")),
            sample(2, 5_150, call: 0),
            sample(2, 5_160, call: 2, cookie: 20),
            .thread(ThreadRecord(tid: 2, name: "two")),
            .thread(ThreadRecord(tid: 1, name: "second")),
            sample(1, 5_300, cookie: 11),
            sample(1, 5_400, cookie: 12),
            sample(2, 5_500, cookie: 0, flags: SampleRecord.flagRequestFailed),
            .stack(StackRecord(tid: 1, cookie: 11, ips: [0x40_1000, 0x40_2000])),
            .stack(StackRecord(tid: 1, cookie: 11, ips: [0x40_3000])),
            .stack(StackRecord(tid: 2, cookie: 20, ips: [0x40_3000])),
            .stack(StackRecord(tid: 2, cookie: 99, ips: [0x40_4000])),
            .lost(LostRecord(tid: 1, kind: LostRecord.kindStacks, count: 4)),
            .end(EndRecord(timeNanoseconds: 6_000, samples: 7, stacks: 5, lost: 4)),
        ]
    }

    @Test("the streaming reader visits decodeProfile's records in order; streamed stitching equals the array's")
    func streamingEqualsArray() throws {
        let bytes = Fixture.file(Self.mixed)
        let decoded = try decodeProfile(bytes)
        var visited: [ProfileRecord] = []
        let info = try bytes.withUnsafeBytes { raw in
            try forEachProfileRecord(raw) { visited.append($0) }
        }
        #expect(visited == decoded.records)
        #expect(info.major == decoded.major && info.minor == decoded.minor && info.skippedRecords == 0)
        let streamed = try bytes.withUnsafeBytes { raw in try decodeAndStitch(raw) }
        #expect(streamed == stitch(decoded))
        // Equal address lists share one array (one per distinct stack).
        var bases = Set<UInt>()
        for case .frames(let ips) in streamed.samples.map(\.stack) where ips == [0x40_1000, 0x40_2000] {
            _ = ips.withUnsafeBufferPointer { bases.insert(UInt(bitPattern: $0.baseAddress)) }
        }
        #expect(bases.count == 1)
    }

    @Test("an error stops the walk: the records before it were visited, none after")
    func errorStopsWalk() throws {
        var bytes = Fixture.file(Self.mixed)
        let offsets = Fixture.recordOffsets(bytes)
        // Record 5 (a SAMPLE) gets a size that is not a multiple of 8.
        bytes[offsets[5] + 4] = 41
        var visited = 0
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ProfileFormatError) -> ProfileFileInfo in try forEachProfileRecord(raw) { _ in visited += 1 } }
        }
        guard case .failure(let error) = result else {
            Issue.record("a bad size decoded")
            return
        }
        #expect(error.kind == .badRecordSize && error.offset == offsets[5])
        #expect(visited == 5)
    }

    @Test("the summary counts samples, periods, stacks and losses of a file with known counts")
    func summaryCounts() throws {
        let s = try decodeAndStitch(Fixture.file(Self.mixed))
        // 7 samples: 1 on-CPU, 6 off-CPU; of those 4 stitched (cookie 10 twice, 11, 20),
        // 2 lost (cookie 12 never arrived, a failed request); the second sample stands
        // for 3 periods (2 overruns): 9 periods.  STACKs: 5 records, 1 duplicate
        // (cookie 11), 4 distinct keys of which 3 used and stitched, 1 unused (99).
        let m = s.summary
        #expect(m.samples == 7 && m.onCPUSamples == 1 && m.offCPUSamples == 6)
        #expect(m.stitchedSamples == 4 && m.samplesWithLostStack == 2 && m.periods == 9)
        #expect(m.stacks == 5 && m.duplicateStacks == 1 && m.stacksUsed == 3 && m.stacksStitched == 3)
        #expect(m.stacksUnused == 1 && m.lostStacks == 4)
        #expect(m.line == "7 samples (6 in interposed calls, 1 outside; on-CPU 11.1 % of 9 periods), "
            + "2 stacks lost, 3 stacks for 4 samples in calls (1.33 samples per unwind), 1 stacks never used, "
            + "4 lost records, 1 duplicate stacks ignored")
    }

    @Test("each sample has its thread's name when it was written; before the first THREAD, the first name")
    func namesAtEachSample() throws {
        let s = try decodeAndStitch(Fixture.file(Self.mixed))
        #expect(s.samples.map(\.threadName) == ["first", "first", "two", "two", "second", "second", "two"])
        #expect(s.threads == [1: "second", 2: "two"])
        let (profile, _) = ReportBuilder.build(s, symbolizer: Symbolizer(maps: [], tools: SymbolTools(symbolizer: nil, demangler: nil)))
        let perf = PerfScriptWriter.render(profile)
        let comms = perf.split(separator: "\n").filter { $0.hasSuffix("wall-clock:") }.map { $0.prefix { $0 != " " } }
        // Time order; the 3-period sample prints three events.
        #expect(comms == ["first", "two", "two", "first", "first", "first", "second", "second", "two"])
        #expect(FoldedWriter.render(profile).contains("first;"))
        #expect(FoldedWriter.render(profile).contains("second;"))
    }

    @Test("samples of one stack share one frames array and stack id; different stacks get different ids")
    func sharedFrames() throws {
        let s = try decodeAndStitch(Fixture.file(Self.mixed))
        let (profile, _) = ReportBuilder.build(s, symbolizer: Symbolizer(maps: [], tools: SymbolTools(symbolizer: nil, demangler: nil)))
        var storage: [Int: Set<UInt>] = [:]
        var frames: [Int: [ReportFrame]] = [:]
        for sample in profile.samples {
            _ = sample.frames.withUnsafeBufferPointer { storage[sample.stackID, default: []].insert(UInt(bitPattern: $0.baseAddress)) }
            #expect(frames[sample.stackID].map { $0 == sample.frames } ?? true)
            frames[sample.stackID] = sample.frames
        }
        // [1000, 2000] in read (3 samples), [3000] in futex, on-CPU, [stack lost] in read (2).
        #expect(storage.count == 4 && storage.values.allSatisfy { $0.count == 1 }, "\(storage)")
        #expect(Set(frames.values.map { $0.map(\.name) }).count == 4)
    }

    @Test("merged samples (one per thread and stack) give the same folded, SVG, HTML and pprof output")
    func mergedSamples() throws {
        let s = try decodeAndStitch(Fixture.file(Self.mixed))
        let symbolizer = Symbolizer(maps: [], tools: SymbolTools(symbolizer: nil, demangler: nil))
        let (each, _) = ReportBuilder.build(s, symbolizer: symbolizer)
        let (merged, _) = ReportBuilder.build(s, symbolizer: symbolizer, merge: true)
        // (1, first, [1000, 2000]) x2, (2, two, on-CPU), (2, two, [3000]), (1, second, [1000, 2000]),
        // (1, second, lost), (2, two, lost).
        #expect(each.samples.count == 7 && merged.samples.count == 6)
        #expect(merged.samples.reduce(0) { $0 + Int($1.periods) } == 9)
        for roots in [ThreadRoots.byName, .byThread] {
            #expect(FoldedWriter.render(merged, roots: roots) == FoldedWriter.render(each, roots: roots))
            #expect(FlameGraphSVG.render(merged, title: "t", roots: roots) == FlameGraphSVG.render(each, title: "t", roots: roots))
        }
        #expect(FlameGraphHTML.render(merged, title: "t") == FlameGraphHTML.render(each, title: "t"))
        #expect(try PprofWriter.encode(merged) == PprofWriter.encode(each))
        #expect(FlameGraphSVG.subtitle(each).contains(": 9 samples in"))
    }

    static func profile(_ samples: [(UInt32, String, [String])]) -> ReportProfile {
        var profile = ReportFixture.profile
        profile.samples = samples.map { tid, name, frames in
            ReportSample(tid: tid, threadName: name, timeNanoseconds: 0, periodNanoseconds: 10,
                         frames: frames.map { ReportFixture.code($0, 1) })
        }
        return profile
    }

    @Test("per-thread roots: \"name (tid)\" splits threads of one name in folded stacks and the SVG")
    func perThread() throws {
        let profile = Self.profile([
            (21, "bio", ["start", "wait"]), (22, "bio", ["start", "wait"]), (23, "bio", ["start", "wait"]),
            (22, "bio", ["start", "wait"]),
        ])
        #expect(FoldedWriter.render(profile) == "bio;start;wait 4\n")
        #expect(FoldedWriter.render(profile, roots: .byThread)
            == "bio (21);start;wait 1\nbio (22);start;wait 2\nbio (23);start;wait 1\n")
        let (_, merged) = try drawnFrames(FlameGraphSVG.render(profile, title: "t"))
        #expect(merged.filter { $0.name == "wait" }.count == 1)
        let (_, split) = try drawnFrames(FlameGraphSVG.render(profile, title: "t", roots: .byThread))
        #expect(split.filter { $0.name == "wait" }.count == 3)
        #expect(split.map(\.name).filter { $0.hasPrefix("bio (") }.sorted() == ["bio (21)", "bio (22)", "bio (23)"])
        let tower22 = try #require(split.first { $0.name == "bio (22)" })
        let tower21 = try #require(split.first { $0.name == "bio (21)" })
        #expect(abs(tower22.width - 2 * tower21.width) < 0.05)
    }

    @Test("perf text written in pieces equals the whole; a stack shared by samples prints per sample")
    func perfPieces() {
        let profile = ReportFixture.profile
        var pieces: [String] = []
        PerfScriptWriter.write(profile) { pieces.append($0) }
        #expect(pieces.count > 1)
        #expect(pieces.joined() == PerfScriptWriter.render(profile))
    }

    @Test("the CLI: --per-thread roots folded stacks at \"name (tid)\"; --format html writes the page")
    func cli() throws {
        let dir = try TempDir()
        try Data(Fixture.file(Self.mixed)).write(to: dir.url.appendingPathComponent("p.data"))
        let folded = try CLI.run(["report", "p.data", "--format", "folded", "--per-thread"],
                                 environment: CLI.cleanEnvironment, in: dir.url)
        #expect(folded.status == 0, "\(folded.stderr)")
        let roots = Set(folded.stdout.split(separator: "\n").map { $0.prefix { $0 != ";" } })
        #expect(roots == ["first (1)", "second (1)", "two (2)"], "\(folded.stdout)")
        let html = try CLI.run(["report", "p.data", "--format", "html", "-o", "p.html", "--title", "T"],
                               environment: CLI.cleanEnvironment, in: dir.url)
        #expect(html.status == 0 && html.stdout.isEmpty, "\(html.stderr)")
        let page = try readText(dir.path("p.html"))
        #expect(page.hasPrefix("<!DOCTYPE html>") && page.contains("<title>T</title>"))
        #expect(html.stderr.contains("7 samples (6 in interposed calls, 1 outside;"))
    }
}
