// A tiny record-file reader for the agent tests, written from
// Docs/ProfileFormat.md alone (independent of the ProfileFormat decoder, so
// the two check each other).  It checks the byte-level framing and the
// fixed sizes of every record type, and reports the first problem with its
// byte offset.

struct AgentRecord {
    let type: UInt16
    let flags: UInt16
    /// Offset of the record in the file.
    let offset: Int
    /// The whole record, header included.
    let bytes: ArraySlice<UInt8>

    var size: Int { bytes.count }

    func u16(_ at: Int) -> UInt16 {
        let b = bytes.startIndex + at
        return UInt16(bytes[b]) | UInt16(bytes[b + 1]) << 8
    }

    func u32(_ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[bytes.startIndex + at + $1]) << (8 * UInt32($1)) }
    }

    func u64(_ at: Int) -> UInt64 {
        (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[bytes.startIndex + at + $1]) << (8 * UInt64($1)) }
    }

    func string(_ at: Int, _ count: Int) -> String {
        String(decoding: bytes[(bytes.startIndex + at)..<(bytes.startIndex + at + count)], as: UTF8.self)
    }
}

enum AgentRecordType {
    static let meta: UInt16 = 1, sample: UInt16 = 2, stack: UInt16 = 3, thread: UInt16 = 4
    static let map: UInt16 = 5, lost: UInt16 = 6, call: UInt16 = 7, end: UInt16 = 8
    static let process: UInt16 = 9
}

struct AgentRecordFile {
    let records: [AgentRecord]
    let minor: UInt16

    /// Parses and checks framing: header, sizes (>= 8, multiple of 8, within
    /// the file), each type's fixed part and the lengths it declares, zero
    /// padding.
    init(_ bytes: [UInt8]) throws {
        guard bytes.count >= 16 else { throw AgentTestError(description: "file of \(bytes.count) bytes: no header") }
        guard Array(bytes[0..<8]) == Array("DUPROFIL".utf8) else {
            throw AgentTestError(description: "bad magic at offset 0")
        }
        let major = UInt16(bytes[8]) | UInt16(bytes[9]) << 8
        let minor = UInt16(bytes[10]) | UInt16(bytes[11]) << 8
        guard major == 1, minor <= 1, bytes[12..<16].allSatisfy({ $0 == 0 }) else {
            throw AgentTestError(description: "header: version \(major).\(minor), reserved not zero")
        }
        self.minor = minor
        var records: [AgentRecord] = []
        var offset = 16
        while offset < bytes.count {
            guard bytes.count - offset >= 8 else {
                throw AgentTestError(description: "truncated record header at offset \(offset)")
            }
            let header = AgentRecord(type: 0, flags: 0, offset: offset, bytes: bytes[offset..<(offset + 8)])
            let size = Int(header.u32(4))
            guard size >= 8, size % 8 == 0, size <= bytes.count - offset else {
                throw AgentTestError(description: "record size \(size) at offset \(offset) (file \(bytes.count))")
            }
            let record = AgentRecord(type: header.u16(0), flags: header.u16(2), offset: offset,
                                     bytes: bytes[offset..<(offset + size)])
            try Self.checkSize(record, minor: minor)
            records.append(record)
            offset += size
        }
        self.records = records
    }

    private static func padded(_ n: Int) -> Int { (n + 7) & ~7 }

    /// The size a record of its type must have, from its fixed part and the
    /// lengths it declares; padding must be zero.
    private static func checkSize(_ r: AgentRecord, minor: UInt16) throws {
        func need(_ fixed: Int, _ used: (() -> Int)? = nil) throws {
            guard r.size >= fixed else {
                throw AgentTestError(description: "type \(r.type) record of \(r.size) bytes at offset \(r.offset): below \(fixed)")
            }
            guard let used else { return }
            let content = fixed + used()
            guard r.size == padded(content) else {
                throw AgentTestError(description: "type \(r.type) record at offset \(r.offset): size \(r.size) for \(content) bytes of content")
            }
            guard r.bytes[(r.bytes.startIndex + content)...].allSatisfy({ $0 == 0 }) else {
                throw AgentTestError(description: "type \(r.type) record at offset \(r.offset): padding not zero")
            }
        }
        switch r.type {
        case AgentRecordType.meta: try need(40) { Int(r.u32(36)) }
        case AgentRecordType.sample: try need(minor >= 1 ? 48 : 40) { 0 } // minor 1: CPU time and state
        case AgentRecordType.stack: try need(32) { Int(r.u32(24)) * 8 }
        case AgentRecordType.thread: try need(16) { Int(r.u32(12)) }
        case AgentRecordType.map: try need(48) { Int(r.u16(40)) + Int(r.u16(42)) }
        case AgentRecordType.lost: try need(24) { 0 }
        case AgentRecordType.call: try need(16) { Int(r.u32(12)) }
        case AgentRecordType.end: try need(40) { 0 }
        case AgentRecordType.process: try need(24) { Int(r.u32(20)) }
        default: break // unknown types are skipped by size
        }
    }

    func all(_ type: UInt16) -> [AgentRecord] { records.filter { $0.type == type } }

    /// (tid, cookie) of every STACK record.
    var stackKeys: [StackKey] { all(AgentRecordType.stack).map { StackKey(tid: $0.u32(8), cookie: $0.u64(16)) } }

    struct StackKey: Hashable {
        let tid: UInt32
        let cookie: UInt64
    }
}
