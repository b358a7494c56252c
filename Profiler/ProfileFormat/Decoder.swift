// The record-file decoder (Docs/ProfileFormat.md, version 1).  It checks
// every size against the bytes that are really there before reading or
// allocating, so any input gives records or a ProfileFormatError, never a
// trap: no force unwraps, no unchecked arithmetic on file values (sizes are
// u32 and offsets Int, so offset + size cannot overflow), and no allocation
// larger than the record that justifies it.

/// A decoded file: its version and its known records in file order.
public struct DecodedProfile: Equatable, Sendable {
    public var major: UInt16
    public var minor: UInt16
    public var records: [ProfileRecord]
    /// Records of types this reader does not know, skipped by their size.
    public var skippedRecords: Int

    public init(major: UInt16, minor: UInt16, records: [ProfileRecord], skippedRecords: Int) {
        self.major = major
        self.minor = minor
        self.records = records
        self.skippedRecords = skippedRecords
    }
}

/// Decodes a whole record file.
public func decodeProfile(_ bytes: [UInt8]) throws(ProfileFormatError) -> DecodedProfile {
    let result = bytes.withUnsafeBytes { raw in
        Result { () throws(ProfileFormatError) -> DecodedProfile in try decodeProfile(raw) }
    }
    return try result.get()
}

/// Decodes a whole record file from memory it does not keep: the streaming
/// reader's records collected in an array.
public func decodeProfile(_ raw: UnsafeRawBufferPointer) throws(ProfileFormatError) -> DecodedProfile {
    var records: [ProfileRecord] = []
    let file = try forEachProfileRecord(raw) { records.append($0) }
    return DecodedProfile(major: file.major, minor: file.minor, records: records,
                          skippedRecords: file.skippedRecords)
}

/// What the streaming reader found besides the records.
public struct ProfileFileInfo: Equatable, Sendable {
    public var major: UInt16
    public var minor: UInt16
    /// Records of types this reader does not know, skipped by their size.
    public var skippedRecords: Int
}

/// Reads a record file one record at a time (memory O(1) besides the set of
/// call ids): `body` gets each known record in file order, checked as
/// decodeProfile checks it, before the next one is read.  An error stops the
/// walk; the records `body` already got came before the bad one.  `raw` may
/// be a mapping of the file (it is read once, front to back).
@discardableResult
public func forEachProfileRecord(_ raw: UnsafeRawBufferPointer,
                                 _ body: (ProfileRecord) -> Void) throws(ProfileFormatError) -> ProfileFileInfo {
    let r = ByteReader(raw)
    let header = ProfileFormat.fileHeaderSize
    // The magic first, so a short file that is not ours says so.
    let magic = ProfileFormat.magic
    for i in 0..<min(r.count, magic.count) where r.u8(i) != magic[i] {
        throw ProfileFormatError(.badMagic, at: 0,
            "bad magic at offset 0: not an unwind-profile record file (expected \"DUPROFIL\")")
    }
    guard r.count >= header else {
        throw ProfileFormatError(.truncatedHeader, at: 0,
            "truncated file header at offset 0: 16 bytes needed but the file has \(r.count)")
    }
    let major = r.u16(8), minor = r.u16(10)
    guard major == ProfileFormat.majorVersion else {
        throw ProfileFormatError(.unsupportedMajorVersion(major), at: 8,
            "unsupported major version \(major) at offset 8 (this reader knows version 1)")
    }

    var count = 0
    var skipped = 0
    var calls = Set<UInt32>()
    var offset = header
    while offset < r.count {
        let left = r.count - offset
        guard left >= ProfileFormat.recordHeaderSize else {
            throw ProfileFormatError(.truncatedRecord, at: offset,
                "truncated record at offset \(offset): a record header needs 8 bytes but only \(left) are left")
        }
        let typeValue = r.u16(offset), flags = r.u16(offset + 2)
        let size = Int(r.u32(offset + 4))
        guard size >= ProfileFormat.recordHeaderSize else {
            throw ProfileFormatError(.badRecordSize, at: offset,
                "bad record size at offset \(offset): size \(size) is below the 8-byte record header")
        }
        guard size % 8 == 0 else {
            throw ProfileFormatError(.badRecordSize, at: offset,
                "bad record size at offset \(offset): size \(size) is not a multiple of 8")
        }
        guard size <= left else {
            throw ProfileFormatError(.truncatedRecord, at: offset,
                "truncated record at offset \(offset): size \(size) but only \(left) bytes left")
        }
        let type = RecordType(rawValue: typeValue)
        if count == 0 {
            guard type == .meta else {
                let what = type.map { "a \($0) record" } ?? "a record of unknown type \(typeValue)"
                throw ProfileFormatError(.metaMissing, at: offset,
                    "META missing: the first record (offset \(offset)) is \(what)")
            }
        }
        guard let type else {
            skipped += 1
            offset += size
            continue
        }
        let rec = RecordBytes(reader: r, offset: offset, size: size, flags: flags, type: type)
        let record = try rec.decode()
        switch record {
        case .meta where count > 0:
            throw ProfileFormatError(.metaNotFirst, at: offset,
                "META record at offset \(offset) is not the first record (a file has exactly one META)")
        case .call(let call):
            calls.insert(call.id)
        case .sample(let sample) where sample.call != 0 && !calls.contains(sample.call):
            throw ProfileFormatError(.unknownCall(sample.call), at: offset,
                "SAMPLE record at offset \(offset) names unknown call id \(sample.call) (no CALL record before it)")
        default:
            break
        }
        body(record)
        count += 1
        offset += size
    }
    guard count > 0 else {
        throw ProfileFormatError(.metaMissing, at: offset,
            "META missing at offset \(offset): the file has no records after its header")
    }
    return ProfileFileInfo(major: major, minor: minor, skippedRecords: skipped)
}

/// Little-endian loads from memory whose bounds the caller has checked.
struct ByteReader {
    let raw: UnsafeRawBufferPointer
    init(_ raw: UnsafeRawBufferPointer) { self.raw = raw }
    var count: Int { raw.count }
    func u8(_ at: Int) -> UInt8 { raw[at] }
    func u16(_ at: Int) -> UInt16 { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt16.self)) }
    func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
    func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    func bytes(_ at: Int, _ n: Int) -> [UInt8] { Array(raw[at..<(at + n)]) }
    /// UTF-8, ill-formed sequences replaced (never fails).
    func string(_ at: Int, _ n: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)]), as: UTF8.self)
    }
}

/// One record whose header checked out: `size` bytes at `offset`, all inside
/// the file, size >= 8 and a multiple of 8.
struct RecordBytes {
    let reader: ByteReader
    let offset: Int
    let size: Int
    let flags: UInt16
    let type: RecordType

    private func u16(_ field: Int) -> UInt16 { reader.u16(offset + field) }
    private func u32(_ field: Int) -> UInt32 { reader.u32(offset + field) }
    private func u64(_ field: Int) -> UInt64 { reader.u64(offset + field) }

    func decode() throws(ProfileFormatError) -> ProfileRecord {
        guard size >= type.fixedSize else {
            throw ProfileFormatError(.recordTooShort(type), at: offset,
                "\(type) record at offset \(offset) is too short: size \(size), its fixed fields need \(type.fixedSize)")
        }
        switch type {
        case .meta:
            let len = Int(u32(36))
            try expectPadded(length: len, name: "cmdline_len")
            return .meta(MetaRecord(flags: flags, pid: u32(8), frequencyHz: u32(12),
                                    startNanoseconds: u64(16), startRealtimeNanoseconds: u64(24),
                                    signal: u32(32), commandLine: commandLine(at: offset + 40, length: len)))
        case .sample:
            // 40 bytes (minor 0), or 48 with the CPU time and state (minor 1).
            if size == SampleRecord.extendedSize {
                return .sample(SampleRecord(flags: flags, tid: u32(8), call: u32(12), timeNanoseconds: u64(16),
                                            cookie: u64(24), pc: u64(32), cpuMicroseconds: u32(40),
                                            syscall: u16(44), cpuState: u16(46)))
            }
            try expectFixed()
            return .sample(SampleRecord(flags: flags, tid: u32(8), call: u32(12), timeNanoseconds: u64(16),
                                        cookie: u64(24), pc: u64(32)))
        case .stack:
            let nr = Int(u32(24)), room = (size - 32) / 8
            guard nr == room else {
                throw ProfileFormatError(.lengthMismatch(.stack), at: offset,
                    "STACK record at offset \(offset): nr \(nr) disagrees with size \(size) (which holds \(room) addresses)")
            }
            // nr is now bounded by bytes that exist: the allocation is justified.
            var ips: [UInt64] = []
            ips.reserveCapacity(nr)
            for i in 0..<nr { ips.append(u64(32 + 8 * i)) }
            return .stack(StackRecord(tid: u32(8), flags: u32(12), cookie: u64(16), ips: ips))
        case .thread:
            let len = Int(u32(12))
            try expectPadded(length: len, name: "name_len")
            return .thread(ThreadRecord(tid: u32(8), name: reader.string(offset + 16, len)))
        case .map:
            let idLen = Int(u16(40)), pathLen = Int(u16(42))
            try expectPadded(length: idLen + pathLen, name: "build_id_len + path_len")
            return .map(MapRecord(start: u64(8), end: u64(16), bias: u64(24), fileOffset: u64(32),
                                  buildID: reader.bytes(offset + 48, idLen),
                                  path: reader.string(offset + 48 + idLen, pathLen)))
        case .lost:
            try expectFixed()
            return .lost(LostRecord(tid: u32(8), kind: u32(12), count: u64(16)))
        case .call:
            let id = u32(8), len = Int(u32(12))
            try expectPadded(length: len, name: "name_len")
            guard id != 0 else {
                throw ProfileFormatError(.reservedCallID, at: offset,
                    "CALL record at offset \(offset) defines call id 0, which is reserved for on-CPU samples")
            }
            return .call(CallRecord(id: id, name: reader.string(offset + 16, len)))
        case .end:
            try expectFixed()
            return .end(EndRecord(timeNanoseconds: u64(8), samples: u64(16), stacks: u64(24), lost: u64(32),
                                  flags: flags))
        case .process:
            let len = Int(u32(20))
            try expectPadded(length: len, name: "path_len")
            return .process(ProcessRecord(flags: flags, pid: u32(8), ppid: u32(12), kind: u32(16),
                                          path: reader.string(offset + 24, len)))
        }
    }

    /// A fixed-size type is exactly its size.
    private func expectFixed() throws(ProfileFormatError) {
        guard size == type.fixedSize else {
            throw ProfileFormatError(.lengthMismatch(type), at: offset,
                "\(type) record at offset \(offset): size \(size) disagrees with the type's size \(type.fixedSize)")
        }
    }

    /// A variable type is its fixed fields plus `length` bytes, padded to 8.
    /// (length is at most 2^32 + 2^17: no overflow in Int.)
    private func expectPadded(length: Int, name: String) throws(ProfileFormatError) {
        let expected = (type.fixedSize + length + 7) / 8 * 8
        guard size == expected else {
            throw ProfileFormatError(.lengthMismatch(type), at: offset,
                "\(type) record at offset \(offset): \(name) \(length) disagrees with size \(size) (expected size \(expected))")
        }
    }

    /// The arguments: each followed by one NUL (a missing final NUL is tolerated).
    private func commandLine(at start: Int, length: Int) -> [String] {
        var args: [String] = []
        var argStart = start
        let end = start + length
        for i in start..<end where reader.u8(i) == 0 {
            args.append(reader.string(argStart, i - argStart))
            argStart = i + 1
        }
        if argStart < end { args.append(reader.string(argStart, end - argStart)) }
        return args
    }
}
