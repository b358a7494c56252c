// Every error of Docs/ProfileFormat.md's Errors section, with its offset;
// and arbitrary damage never traps.

import ProfileFormat
import Testing

@Suite("ProfileFormat: bad input", .timeLimit(.minutes(1)))
struct FormatErrorTests {
    /// A small valid file and its record offsets.
    static let good = Fixture.file(Fixture.everyType)

    /// The file with one record (given by index) replaced by raw bytes.
    static func replacing(_ index: Int, with raw: (inout ProfileEncoder) -> Void) -> (bytes: [UInt8], offset: Int) {
        var e = ProfileEncoder()
        var offset = 0
        for (i, r) in Fixture.everyType.enumerated() {
            if i == index {
                offset = e.bytes.count
                raw(&e)
            } else {
                e.append(r)
            }
        }
        return (e.bytes, offset)
    }

    @Test("a file cut at every byte gives an error or a valid prefix, never a crash")
    func truncatedEverywhere() throws {
        let offsets = Fixture.recordOffsets(Self.good)
        #expect(offsets.count == Fixture.everyType.count)
        for n in 0..<Self.good.count {
            let prefix = Array(Self.good[0..<n])
            let boundary = offsets.firstIndex(of: n)
            if let index = boundary, index >= 1 {
                // Cut between records: the records before the cut.
                let decoded = try decodeProfile(prefix)
                #expect(decoded.records == Array(Fixture.everyType[0..<index]), "cut at \(n)")
                let stitched = try decodeAndStitch(prefix)
                #expect(!stitched.summary.hasEnd)
                #expect(stitched.summary.line.hasSuffix("no END record: the recording was cut short"))
                continue
            }
            guard let error = decodeError(prefix) else {
                Issue.record("a file cut at byte \(n) decoded")
                continue
            }
            if n < 16 {
                #expect(error.kind == .truncatedHeader && error.offset == 0, "cut at \(n): \(error)")
            } else if n == 16 {
                #expect(error.kind == .metaMissing && error.offset == 16, "cut at \(n): \(error)")
            } else {
                // Inside a record: that record is truncated.
                let record = offsets.last { $0 < n } ?? -1
                #expect(error.kind == .truncatedRecord && error.offset == record, "cut at \(n): \(error)")
                #expect(error.message.hasPrefix("truncated record at offset \(record): "))
            }
        }
    }

    @Test("a record's size past the end says how much is left")
    func truncatedMessage() {
        let offsets = Fixture.recordOffsets(Self.good)
        let sample = offsets[5]
        let cut = Array(Self.good[0..<(sample + 16)])
        #expect(decodeError(cut)?.message == "truncated record at offset \(sample): size 40 but only 16 bytes left")
        let header = Array(Self.good[0..<(sample + 5)])
        #expect(decodeError(header)?.message
                == "truncated record at offset \(sample): a record header needs 8 bytes but only 5 are left")
    }

    @Test("bad magic and unsupported major versions, at their offsets")
    func header() {
        var bad = Self.good
        bad[3] = UInt8(ascii: "X")
        #expect(decodeError(bad) == ProfileFormatError(.badMagic, at: 0,
            "bad magic at offset 0: not an unwind-profile record file (expected \"DUPROFIL\")"))
        // Even a file too short for a header says it is not ours.
        #expect(decodeError(Array("ELF".utf8))?.kind == .badMagic)
        #expect(decodeError(Array("DUPRO".utf8))?.kind == .truncatedHeader)
        #expect(decodeError([])?.message == "truncated file header at offset 0: 16 bytes needed but the file has 0")

        var major2 = Self.good
        major2[8] = 2
        let error = decodeError(major2)
        #expect(error?.kind == .unsupportedMajorVersion(2))
        #expect(error?.offset == 8)
        #expect(error?.message == "unsupported major version 2 at offset 8 (this reader knows version 1)")
        var major0 = Self.good
        major0[8] = 0
        #expect(decodeError(major0)?.kind == .unsupportedMajorVersion(0))
        var minor = Self.good
        minor[10] = 0xff
        minor[11] = 0xff
        #expect(decodeError(minor) == nil)
    }

    @Test("record sizes 0, 7 and 12 are rejected at the record's offset", arguments: [0, 7, 12, 4])
    func badSizes(size: UInt32) {
        let offsets = Fixture.recordOffsets(Self.good)
        var bytes = Self.good
        for (i, b) in Fixture.le32(size).enumerated() { bytes[offsets[3] + 4 + i] = b }
        let error = decodeError(bytes)
        #expect(error?.kind == .badRecordSize)
        #expect(error?.offset == offsets[3])
        let why = size < 8 ? "size \(size) is below the 8-byte record header" : "size \(size) is not a multiple of 8"
        #expect(error?.message == "bad record size at offset \(offsets[3]): \(why)")
    }

    @Test("a record shorter than its type's fixed fields", arguments: RecordType.allCases)
    func tooShort(type: RecordType) {
        // The record header only (size 8): too short for every type.
        var e = ProfileEncoder()
        if type != .meta { e.append(.meta(Fixture.meta)) }
        let offset = e.bytes.count
        e.appendRaw(type: type.rawValue, body: [])
        let error = decodeError(e.bytes)
        #expect(error?.kind == .recordTooShort(type))
        #expect(error?.offset == offset)
        #expect(error?.message == "\(type) record at offset \(offset) is too short: size 8, its fixed fields need \(type.fixedSize)")
    }

    @Test("STACK nr must agree with the size, before anything is allocated")
    func nrMismatch() {
        for nr: UInt32 in [5, 1, .max] {
            let (bytes, offset) = Self.replacing(7) { e in
                e.appendRaw(type: 3, body: Fixture.le32(11) + Fixture.le32(0) + Fixture.le64(0x1_0000_0001)
                                + Fixture.le32(nr) + Fixture.le32(0) + Fixture.le64(1) + Fixture.le64(2))
            }
            let error = decodeError(bytes)
            #expect(error?.kind == .lengthMismatch(.stack))
            #expect(error?.offset == offset)
            #expect(error?.message == "STACK record at offset \(offset): nr \(nr) disagrees with size 48 (which holds 2 addresses)")
        }
    }

    @Test("string lengths must agree with the size (META, THREAD, MAP, CALL)")
    func lengthMismatch() {
        // THREAD name_len 9 in a 24-byte record (room for 8).
        let thread = Self.replacing(4) { e in
            e.appendRaw(type: 4, body: Fixture.le32(11) + Fixture.le32(9) + Array("12345678".utf8))
        }
        #expect(decodeError(thread.bytes) == ProfileFormatError(.lengthMismatch(.thread), at: thread.offset,
            "THREAD record at offset \(thread.offset): name_len 9 disagrees with size 24 (expected size 32)"))
        // CALL name_len 0xffffffff.
        let call = Self.replacing(1) { e in
            e.appendRaw(type: 7, body: Fixture.le32(1) + Fixture.le32(.max) + Array("read".utf8))
        }
        #expect(decodeError(call.bytes)?.kind == .lengthMismatch(.call))
        #expect(decodeError(call.bytes)?.offset == call.offset)
        // MAP lengths 65535 + 65535.
        let map = Self.replacing(3) { e in
            e.appendRaw(type: 5, body: Array(repeating: 0, count: 32) + Fixture.le16(.max) + Fixture.le16(.max)
                            + Fixture.le32(0))
        }
        #expect(decodeError(map.bytes)?.kind == .lengthMismatch(.map))
        #expect(decodeError(map.bytes)?.offset == map.offset)
        // META cmdline_len 100 with 8 bytes of command line.
        var meta = ProfileEncoder()
        meta.appendRaw(type: 1, body: Array(repeating: 0, count: 28) + Fixture.le32(100) + Array("prog\0\0\0\0".utf8))
        #expect(decodeError(meta.bytes)?.kind == .lengthMismatch(.meta))
        #expect(decodeError(meta.bytes)?.offset == 16)
        // A string with 8 bytes of padding too many (size 32 for "abc").
        let padded = Self.replacing(4) { e in
            e.appendRaw(type: 4, body: Fixture.le32(11) + Fixture.le32(3) + Array("abc".utf8) + Array(repeating: 0, count: 13))
        }
        #expect(decodeError(padded.bytes)?.kind == .lengthMismatch(.thread))
    }

    @Test("fixed-size records are exactly their size")
    func fixedSize() {
        let (bytes, offset) = Self.replacing(8) { e in
            e.appendRaw(type: 6, body: Fixture.le32(11) + Fixture.le32(0) + Fixture.le64(1) + Fixture.le64(0))
        }
        #expect(decodeError(bytes) == ProfileFormatError(.lengthMismatch(.lost), at: offset,
            "LOST record at offset \(offset): size 32 disagrees with the type's size 24"))
    }

    @Test("META must be the first record, and the only one")
    func metaPlace() {
        #expect(decodeError(Fixture.file([])) == ProfileFormatError(.metaMissing, at: 16,
            "META missing at offset 16: the file has no records after its header"))
        let noMeta = Fixture.file(Array(Fixture.everyType.dropFirst()))
        #expect(decodeError(noMeta) == ProfileFormatError(.metaMissing, at: 16,
            "META missing: the first record (offset 16) is a CALL record"))
        var unknownFirst = ProfileEncoder()
        unknownFirst.appendRaw(type: 77, body: [])
        unknownFirst.append(.meta(Fixture.meta))
        #expect(decodeError(unknownFirst.bytes)?.message
                == "META missing: the first record (offset 16) is a record of unknown type 77")
        let twice = Fixture.file(Fixture.everyType + [.meta(Fixture.meta)])
        let offset = Fixture.recordOffsets(twice).last ?? 0
        #expect(decodeError(twice) == ProfileFormatError(.metaNotFirst, at: offset,
            "META record at offset \(offset) is not the first record (a file has exactly one META)"))
    }

    @Test("a SAMPLE naming a call id no earlier CALL defined; call id 0 reserved")
    func unknownCall() {
        let sample = SampleRecord(tid: 1, call: 9, timeNanoseconds: 0, cookie: 1, pc: 0)
        let bytes = Fixture.file([.meta(Fixture.meta), .call(Fixture.read), .sample(sample)])
        let at = Fixture.recordOffsets(bytes)[2]
        #expect(decodeError(bytes) == ProfileFormatError(.unknownCall(9), at: at,
            "SAMPLE record at offset \(at) names unknown call id 9 (no CALL record before it)"))
        // Defined only after the sample: still unknown where it is used.
        let late = Fixture.file([.meta(Fixture.meta), .sample(sample), .call(CallRecord(id: 9, name: "poll"))])
        #expect(decodeError(late)?.kind == .unknownCall(9))
        let zero = Fixture.file([.meta(Fixture.meta), .call(CallRecord(id: 0, name: "x"))])
        #expect(decodeError(zero)?.kind == .reservedCallID)
        #expect(decodeError(zero)?.offset == Fixture.recordOffsets(zero)[1])
    }

    @Test("random damage to a valid file gives errors or results, never a trap")
    func randomDamage() {
        var rng = SplitMix(seed: 0x5eed)
        var errors = 0
        for round in 0..<3000 {
            var bytes = Self.good
            for _ in 0...(round % 4) {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: bytes[at] ^= 1 << (rng.next() % 8)
                default: bytes.removeSubrange(at..<min(bytes.count, at + Int(rng.next() % 9)))
                }
                if bytes.isEmpty { break }
            }
            if decodeError(bytes) != nil { errors += 1 }
        }
        // Most damage is caught; the rest decoded (a changed tid or time is valid).
        #expect(errors > 0)
    }
}

/// A small deterministic generator (the tests must not depend on luck).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
