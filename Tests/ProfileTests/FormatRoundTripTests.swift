// The encoder writes what Docs/ProfileFormat.md says, and the decoder reads
// it back: round trips, and one file built byte by byte from the doc.

import ProfileFormat
import Testing

@Suite("ProfileFormat: encode and decode", .timeLimit(.minutes(1)))
struct FormatRoundTripTests {
    @Test("every record type round-trips")
    func everyType() throws {
        let records = Fixture.everyType
        let decoded = try decodeProfile(Fixture.file(records))
        #expect(decoded.major == 1)
        #expect(decoded.minor == ProfileFormat.minorVersion)
        #expect(decoded.records == records)
        #expect(decoded.skippedRecords == 0)
    }

    @Test("edge values round-trip: empty and non-ASCII strings, empty and long stacks, all-ones integers")
    func edges() throws {
        let records: [ProfileRecord] = [
            .meta(MetaRecord(flags: MetaRecord.flagUnwindPerSample, pid: .max, frequencyHz: 10_000,
                             startNanoseconds: .max, startRealtimeNanoseconds: 0, signal: 64, commandLine: [])),
            .call(CallRecord(id: .max, name: "")),
            .thread(ThreadRecord(tid: 1, name: "wörker-🧵")),
            .thread(ThreadRecord(tid: 2, name: "")),
            .map(MapRecord(start: 0, end: .max, bias: .max, fileOffset: .max, buildID: [], path: "")),
            .map(MapRecord(start: 1, end: 2, bias: 3, fileOffset: 4, buildID: Array(0..<20), path: "/a/b c/lib.so")),
            .stack(StackRecord(tid: 1, flags: StackRecord.flagExiting, cookie: .max, ips: [])),
            .stack(StackRecord(tid: 1, cookie: 1, ips: (0..<511).map { UInt64($0) << 32 | 0xfff })),
            .sample(SampleRecord(flags: 7, tid: .max, call: .max, timeNanoseconds: .max, cookie: .max, pc: .max)),
            .lost(LostRecord(tid: 0, kind: 99, count: .max)),
        ]
        let decoded = try decodeProfile(Fixture.file(records))
        #expect(decoded.records == records)
    }

    @Test("record sizes follow the doc: fixed sizes, and variable records padded to 8")
    func sizes() {
        func size(_ r: ProfileRecord) -> Int {
            let bytes = Fixture.file([r])
            return Int(bytes[20]) | Int(bytes[21]) << 8 | Int(bytes[22]) << 16 | Int(bytes[23]) << 24
        }
        #expect(size(.meta(MetaRecord(pid: 1, frequencyHz: 1, startNanoseconds: 0, startRealtimeNanoseconds: 0,
                                      signal: 0, commandLine: []))) == 40)
        // "ab\0" + "c\0" = 5 bytes -> 45 -> 48.
        #expect(size(.meta(MetaRecord(pid: 1, frequencyHz: 1, startNanoseconds: 0, startRealtimeNanoseconds: 0,
                                      signal: 0, commandLine: ["ab", "c"]))) == 48)
        #expect(size(.sample(SampleRecord(tid: 1, call: 0, timeNanoseconds: 0, cookie: 0, pc: 0))) == 40)
        #expect(size(.stack(StackRecord(tid: 1, cookie: 1, ips: [1, 2, 3]))) == 56)
        #expect(size(.thread(ThreadRecord(tid: 1, name: "abc"))) == 24)
        #expect(size(.thread(ThreadRecord(tid: 1, name: "12345678"))) == 24)
        #expect(size(.map(MapRecord(start: 0, end: 0, bias: 0, fileOffset: 0, buildID: [1, 2], path: "/x")))
                == 56)
        #expect(size(.lost(LostRecord(tid: 1, kind: 0, count: 1))) == 24)
        #expect(size(.call(CallRecord(id: 1, name: "read"))) == 24)
        #expect(size(.end(EndRecord(timeNanoseconds: 0, samples: 0, stacks: 0, lost: 0))) == 40)
    }

    @Test("a file written byte by byte from the doc decodes to the expected records")
    func handMade() throws {
        var b: [UInt8] = Array("DUPROFIL".utf8) + Fixture.le16(1) + Fixture.le16(3) + Fixture.le32(0)
        // META, flags 1, size 48: pid 7, 99 Hz, start 10, realtime 20, signal 27, "ls\0-l\0", pad 2.
        b += Fixture.le16(1) + Fixture.le16(1) + Fixture.le32(48)
        b += Fixture.le32(7) + Fixture.le32(99) + Fixture.le64(10) + Fixture.le64(20) + Fixture.le32(27) + Fixture.le32(6)
        b += Array("ls\0-l\0".utf8) + [0, 0]
        // CALL 3 "poll": size 24.
        b += Fixture.le16(7) + Fixture.le16(0) + Fixture.le32(24) + Fixture.le32(3) + Fixture.le32(4)
        b += Array("poll".utf8) + [0, 0, 0, 0]
        // SAMPLE flags 1: tid 8, call 3, time 30, cookie 0x55, pc 0x1234.
        b += Fixture.le16(2) + Fixture.le16(1) + Fixture.le32(40)
        b += Fixture.le32(8) + Fixture.le32(3) + Fixture.le64(30) + Fixture.le64(0x55) + Fixture.le64(0x1234)
        // STACK tid 8, flags 0x101, cookie 0x55, nr 2.
        b += Fixture.le16(3) + Fixture.le16(0) + Fixture.le32(48)
        b += Fixture.le32(8) + Fixture.le32(0x101) + Fixture.le64(0x55) + Fixture.le32(2) + Fixture.le32(0)
        b += Fixture.le64(0xaaa) + Fixture.le64(0xbbb)
        // MAP 0x1000-0x2000 bias 0x800 off 0x400, build id [9, 8], path "/l".
        b += Fixture.le16(5) + Fixture.le16(0) + Fixture.le32(56)
        b += Fixture.le64(0x1000) + Fixture.le64(0x2000) + Fixture.le64(0x800) + Fixture.le64(0x400)
        b += Fixture.le16(2) + Fixture.le16(2) + Fixture.le32(0) + [9, 8] + Array("/l".utf8) + [0, 0, 0, 0]
        // LOST tid 8, kind 1, count 5; END.
        b += Fixture.le16(6) + Fixture.le16(0) + Fixture.le32(24) + Fixture.le32(8) + Fixture.le32(1) + Fixture.le64(5)
        b += Fixture.le16(8) + Fixture.le16(0) + Fixture.le32(40)
        b += Fixture.le64(40) + Fixture.le64(1) + Fixture.le64(1) + Fixture.le64(5)

        let decoded = try decodeProfile(b)
        #expect(decoded.minor == 3)
        #expect(decoded.records == [
            .meta(MetaRecord(flags: 1, pid: 7, frequencyHz: 99, startNanoseconds: 10, startRealtimeNanoseconds: 20,
                             signal: 27, commandLine: ["ls", "-l"])),
            .call(CallRecord(id: 3, name: "poll")),
            .sample(SampleRecord(flags: 1, tid: 8, call: 3, timeNanoseconds: 30, cookie: 0x55, pc: 0x1234)),
            .stack(StackRecord(tid: 8, flags: 0x101, cookie: 0x55, ips: [0xaaa, 0xbbb])),
            .map(MapRecord(start: 0x1000, end: 0x2000, bias: 0x800, fileOffset: 0x400, buildID: [9, 8], path: "/l")),
            .lost(LostRecord(tid: 8, kind: 1, count: 5)),
            .end(EndRecord(timeNanoseconds: 40, samples: 1, stacks: 1, lost: 5)),
        ])
        // And the encoder writes exactly these bytes (minor aside).
        var encoder = ProfileEncoder(minor: 3)
        for r in decoded.records { encoder.append(r) }
        #expect(encoder.bytes == b)
    }

    @Test("records of unknown types are skipped by their size, anywhere after META")
    func unknownTypesSkipped() throws {
        var e = ProfileEncoder(minor: 9)
        e.append(.meta(Fixture.meta))
        e.appendRaw(type: 99, flags: 0xffff, body: Array(repeating: 0xee, count: 21))
        e.append(.call(Fixture.read))
        e.appendRaw(type: 0, body: [])
        e.appendRaw(type: 0xffff, body: Array(repeating: 1, count: 64))
        e.append(.thread(ThreadRecord(tid: 1, name: "t")))
        let decoded = try decodeProfile(e.bytes)
        #expect(decoded.minor == 9)
        #expect(decoded.skippedRecords == 3)
        #expect(decoded.records == [.meta(Fixture.meta), .call(Fixture.read), .thread(ThreadRecord(tid: 1, name: "t"))])
        let stitched = try decodeAndStitch(e.bytes)
        #expect(stitched.summary.line.contains("3 records of unknown type skipped"))
    }

    @Test("the cmdline keeps empty arguments and tolerates a missing final NUL")
    func commandLine() throws {
        var e = ProfileEncoder()
        // cmdline "a\0\0b" (4 bytes, no final NUL): size 40 + 4 -> 48.
        e.appendRaw(type: 1, body: Fixture.le32(1) + Fixture.le32(1) + Fixture.le64(0) + Fixture.le64(0)
                        + Fixture.le32(0) + Fixture.le32(4) + Array("a\0\0b".utf8))
        let decoded = try decodeProfile(e.bytes)
        guard case .meta(let m) = decoded.records.first else { Issue.record("no META"); return }
        #expect(m.commandLine == ["a", "", "b"])
    }
}
