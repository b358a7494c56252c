// Shared synthetic records and helpers of the ProfileTests.

import ProfileFormat

enum Fixture {
    static let pid: UInt32 = 4242
    static let meta = MetaRecord(pid: pid, frequencyHz: 100, startNanoseconds: 5_000_000_000,
                                 startRealtimeNanoseconds: 1_700_000_000_000_000_000, signal: 27,
                                 commandLine: ["/usr/bin/prog", "-x", "", "a b"])
    static let read = CallRecord(id: 1, name: "read")
    static let futex = CallRecord(id: 2, name: "futex")
    static let gone = MapRecord(start: 0x40_0000, end: 0x50_0000, bias: 0x3f_0000, fileOffset: 0x1000,
                                buildID: [0xde, 0xad, 0xbe, 0xef], path: "/nonexistent/unwind-profile-tests/libgone.so")

    /// One of each record type, in the order the agent writes them.
    static var everyType: [ProfileRecord] {
        [
            .meta(meta),
            .call(read),
            .call(futex),
            .map(gone),
            .thread(ThreadRecord(tid: 11, name: "main thread")),
            .sample(SampleRecord(flags: SampleRecord.flagQueued, tid: 11, call: 1, timeNanoseconds: 5_010_000_000,
                                 cookie: 0x1_0000_0001, pc: 0x40_1234)),
            .sample(SampleRecord(tid: 11, call: 0, timeNanoseconds: 5_020_000_000, cookie: 0, pc: 0x40_2000)),
            .stack(StackRecord(tid: 11, flags: StackRecord.flagDWARFUnwinder, cookie: 0x1_0000_0001,
                               ips: [0x40_1111, 0x40_2222, 0x40_3333])),
            .lost(LostRecord(tid: 11, kind: LostRecord.kindSamples, count: 3)),
            .end(EndRecord(timeNanoseconds: 6_000_000_000, samples: 2, stacks: 1, lost: 3)),
        ]
    }

    static func file(_ records: [ProfileRecord]) -> [UInt8] { ProfileEncoder.file(records) }

    /// The file offset of each record of an encoded file (after the header).
    static func recordOffsets(_ bytes: [UInt8]) -> [Int] {
        var offsets: [Int] = []
        var at = 16
        while at + 8 <= bytes.count {
            offsets.append(at)
            let size = Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            guard size >= 8 else { break }
            at += size
        }
        return offsets
    }

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}

/// The error of decoding and stitching `bytes`, nil if they decode.
func decodeError(_ bytes: [UInt8]) -> ProfileFormatError? {
    do {
        _ = try decodeAndStitch(bytes)
        return nil
    } catch {
        return error
    }
}
