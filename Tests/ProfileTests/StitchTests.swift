// Stitching by (tid, cookie), as Docs/ProfileFormat.md's Stitching says.

import ProfileFormat
import Testing

@Suite("ProfileFormat: stitching", .timeLimit(.minutes(1)))
struct StitchTests {
    static func sample(tid: UInt32 = 1, call: UInt32 = 1, cookie: UInt64, time: UInt64 = 0,
                       flags: UInt16 = SampleRecord.flagQueued, pc: UInt64 = 0x99) -> ProfileRecord {
        .sample(SampleRecord(flags: flags, tid: tid, call: call, timeNanoseconds: time, cookie: cookie, pc: pc))
    }

    static func stack(tid: UInt32 = 1, cookie: UInt64, flags: UInt32 = 0, ips: [UInt64]) -> ProfileRecord {
        .stack(StackRecord(tid: tid, flags: flags, cookie: cookie, ips: ips))
    }

    static func stitched(_ records: [ProfileRecord]) throws -> Stitched {
        try decodeAndStitch(Fixture.file([.meta(Fixture.meta), .call(Fixture.read), .call(Fixture.futex)] + records))
    }

    @Test("a STACK before its sample and one after its sample both stitch")
    func eitherOrder() throws {
        let s = try Self.stitched([
            Self.stack(cookie: 7, ips: [1, 2]),
            Self.sample(cookie: 7),
            Self.sample(cookie: 8),
            Self.stack(cookie: 8, ips: [3]),
        ])
        #expect(s.samples.map(\.stack) == [.frames([1, 2]), .frames([3])])
        #expect(s.summary.stitchedSamples == 2)
        #expect(s.summary.stacksStitched == 2)
        #expect(s.summary.samplesWithLostStack == 0)
        #expect(s.summary.stacksUnused == 0)
    }

    @Test("two samples of one context share one stack: 2 samples per unwind")
    func twoSamplesOneStack() throws {
        let s = try Self.stitched([
            Self.sample(cookie: 7, time: 1),
            Self.sample(cookie: 7, time: 2, flags: SampleRecord.flagAlreadyQueued),
            Self.stack(cookie: 7, ips: [0xa, 0xb]),
        ])
        #expect(s.samples.map(\.stack) == [.frames([0xa, 0xb]), .frames([0xa, 0xb])])
        #expect(s.summary.stacksStitched == 1)
        #expect(s.summary.line.contains("1 stacks for 2 samples in calls (2.00 samples per unwind)"))
    }

    @Test("a sample whose stack never arrives is kept as lost and counted")
    func neverArrived() throws {
        let s = try Self.stitched([Self.sample(cookie: 7), Self.sample(cookie: 8), Self.stack(cookie: 8, ips: [1])])
        #expect(s.samples.map(\.stack) == [.lost(.neverArrived), .frames([1])])
        #expect(s.summary.samplesWithLostStack == 1)
        #expect(s.summary.line.contains("1 stacks lost"))
    }

    @Test("exiting, out-of-memory and empty stacks make their samples lost; truncated ones are used")
    func emptyStacks() throws {
        let s = try Self.stitched([
            Self.stack(cookie: 1, flags: StackRecord.flagExiting, ips: []),
            Self.stack(cookie: 2, flags: StackRecord.flagNoMemory, ips: []),
            Self.stack(cookie: 3, ips: []),
            Self.stack(cookie: 4, flags: StackRecord.flagTruncated | StackRecord.flagFramePointerWalk, ips: [5]),
            Self.sample(cookie: 1), Self.sample(cookie: 2), Self.sample(cookie: 3), Self.sample(cookie: 4),
        ])
        #expect(s.samples.map(\.stack) == [.lost(.exiting), .lost(.noMemory), .lost(.empty), .frames([5])])
        #expect(s.summary.samplesWithLostStack == 3)
        #expect(s.summary.stacksUsed == 4)
        #expect(s.summary.stacksStitched == 1)
        #expect(s.summary.stacksUnused == 0)
    }

    @Test("a failed request (cookie 0 or flag bit 2) is lost even if a stack has the cookie")
    func requestFailed() throws {
        let s = try Self.stitched([
            Self.sample(cookie: 0, flags: SampleRecord.flagRequestFailed),
            Self.sample(cookie: 5, flags: SampleRecord.flagRequestFailed),
            Self.stack(cookie: 5, ips: [1]),
        ])
        #expect(s.samples.map(\.stack) == [.lost(.requestFailed), .lost(.requestFailed)])
        #expect(s.summary.stacksUnused == 1)
    }

    @Test("the same cookie on two threads names two different stacks")
    func cookiePerThread() throws {
        let s = try Self.stitched([
            Self.stack(tid: 1, cookie: 7, ips: [0x111]),
            Self.sample(tid: 2, cookie: 7),
            Self.sample(tid: 1, cookie: 7),
            Self.sample(tid: 3, cookie: 7),
            Self.stack(tid: 2, cookie: 7, ips: [0x222]),
        ])
        #expect(s.samples.map(\.stack) == [.frames([0x222]), .frames([0x111]), .lost(.neverArrived)])
        #expect(s.samples.map(\.tid) == [2, 1, 3])
    }

    @Test("on-CPU samples, unused and duplicate stacks, LOST sums, names and maps")
    func counts() throws {
        let map = Fixture.gone
        let s = try Self.stitched([
            .thread(ThreadRecord(tid: 1, name: "first")),
            .map(map),
            Self.sample(call: 0, cookie: 0, flags: 0, pc: 0x1234),
            Self.stack(cookie: 9, ips: [1]),
            Self.stack(cookie: 9, ips: [2]),
            Self.stack(cookie: 10, ips: [3]),
            Self.sample(call: 2, cookie: 9),
            .lost(LostRecord(tid: 1, kind: 0, count: 4)),
            .lost(LostRecord(tid: 1, kind: 1, count: 2)),
            .lost(LostRecord(tid: 1, kind: 1, count: .max)),
            .thread(ThreadRecord(tid: 1, name: "renamed")),
            .map(map),
        ])
        #expect(s.samples.map(\.stack) == [.onCPU, .frames([1])])
        #expect(s.samples[0].pc == 0x1234)
        #expect(s.samples[1].call == 2)
        #expect(s.calls == [1: "read", 2: "futex"])
        #expect(s.threads == [1: "renamed"])
        #expect(s.maps == [map])
        let sum = s.summary
        #expect((sum.samples, sum.onCPUSamples, sum.offCPUSamples) == (2, 1, 1))
        #expect((sum.stacks, sum.duplicateStacks, sum.stacksUsed, sum.stacksUnused) == (3, 1, 1, 1))
        #expect((sum.lostSamples, sum.lostStacks) == (4, .max))
        #expect(sum.lostRecords == .max)
        #expect(!sum.hasEnd)
        #expect(sum.line == "2 samples (1 in interposed calls, 1 outside; on-CPU 50.0 % of 2 periods), 0 stacks lost, "
                + "1 stacks for 1 samples in calls (1.00 samples per unwind), 1 stacks never used, \(UInt64.max) lost records, "
                + "1 duplicate stacks ignored; no END record: the recording was cut short")
    }

    @Test("the summary of the fixture file")
    func fixtureSummary() throws {
        let s = try decodeAndStitch(Fixture.file(Fixture.everyType))
        #expect(s.end == EndRecord(timeNanoseconds: 6_000_000_000, samples: 2, stacks: 1, lost: 3))
        #expect(s.summary.line == "2 samples (1 in interposed calls, 1 outside; on-CPU 50.0 % of 2 periods), 0 stacks lost, "
                + "1 stacks for 1 samples in calls "
                + "(1.00 samples per unwind), 0 stacks never used, 3 lost records")
    }
}
