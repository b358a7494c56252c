// A small writer of the record file (Docs/ProfileFormat.md): the tests and
// the fuzzer's seed corpus build files with it.  The agent (C) has its own
// writer; this one follows the same layout field by field.

public struct ProfileEncoder: Sendable {
    public private(set) var bytes: [UInt8] = []

    /// Starts a file: the 16-byte header.
    public init(major: UInt16 = ProfileFormat.majorVersion, minor: UInt16 = ProfileFormat.minorVersion) {
        bytes += ProfileFormat.magic
        put16(major)
        put16(minor)
        put32(0)
    }

    /// Appends one record, lengths taken from its contents.  Strings and byte
    /// strings longer than their length field are cut to fit.
    public mutating func append(_ record: ProfileRecord) {
        switch record {
        case .meta(let m):
            var cmdline: [UInt8] = []
            for arg in m.commandLine { cmdline += Array(arg.utf8); cmdline.append(0) }
            cmdline = fit(cmdline, UInt32.self)
            let start = header(.meta, flags: m.flags, variable: cmdline.count)
            put32(m.pid); put32(m.frequencyHz); put64(m.startNanoseconds)
            put64(m.startRealtimeNanoseconds); put32(m.signal); put32(UInt32(cmdline.count))
            bytes += cmdline
            pad(from: start)
        case .sample(let s):
            let extra = s.isExtended ? SampleRecord.extendedSize - RecordType.sample.fixedSize : 0
            _ = header(.sample, flags: s.flags, variable: extra)
            put32(s.tid); put32(s.call); put64(s.timeNanoseconds); put64(s.cookie); put64(s.pc)
            if extra > 0 { put32(s.cpuMicroseconds); put16(s.syscall); put16(s.cpuState) }
        case .stack(let s):
            let ips = s.ips.count <= Int(UInt32.max) / 8 - 4 ? s.ips : Array(s.ips.prefix(Int(UInt32.max) / 8 - 4))
            _ = header(.stack, flags: 0, variable: 8 * ips.count)
            put32(s.tid); put32(s.flags); put64(s.cookie); put32(UInt32(ips.count)); put32(0)
            for ip in ips { put64(ip) }
        case .thread(let t):
            putNamed(.thread, id: t.tid, name: t.name)
        case .map(let m):
            let id = fit(m.buildID, UInt16.self), path = fit(Array(m.path.utf8), UInt16.self)
            let start = header(.map, flags: 0, variable: id.count + path.count)
            put64(m.start); put64(m.end); put64(m.bias); put64(m.fileOffset)
            put16(UInt16(id.count)); put16(UInt16(path.count)); put32(0)
            bytes += id
            bytes += path
            pad(from: start)
        case .lost(let l):
            _ = header(.lost, flags: 0, variable: 0)
            put32(l.tid); put32(l.kind); put64(l.count)
        case .call(let c):
            putNamed(.call, id: c.id, name: c.name)
        case .end(let e):
            _ = header(.end, flags: e.flags, variable: 0)
            put64(e.timeNanoseconds); put64(e.samples); put64(e.stacks); put64(e.lost)
        case .process(let p):
            let path = fit(Array(p.path.utf8), UInt32.self)
            let start = header(.process, flags: p.flags, variable: path.count)
            put32(p.pid); put32(p.ppid); put32(p.kind); put32(UInt32(path.count))
            bytes += path
            pad(from: start)
        }
    }

    /// Appends a record of any type with a raw body (the bytes after the
    /// record header), padded to 8: for unknown types and malformed records.
    public mutating func appendRaw(type: UInt16, flags: UInt16 = 0, body: [UInt8]) {
        let body = fit(body, UInt32.self, reserve: 16)
        put16(type); put16(flags)
        put32(UInt32((8 + body.count + 7) / 8 * 8))
        let start = bytes.count - 8
        bytes += body
        pad(from: start)
    }

    /// Overwrites bytes at `offset` (tests corrupting a field); out-of-range
    /// bytes are ignored.
    public mutating func patch(at offset: Int, _ value: [UInt8]) {
        for (i, b) in value.enumerated() where offset >= 0 && offset + i < bytes.count {
            bytes[offset + i] = b
        }
    }

    public mutating func patch32(at offset: Int, _ value: UInt32) {
        patch(at: offset, (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) })
    }

    // MARK: - Layout

    /// Writes the record header for `variable` bytes past the fixed fields;
    /// returns the record's start.
    private mutating func header(_ type: RecordType, flags: UInt16, variable: Int) -> Int {
        let start = bytes.count
        put16(type.rawValue)
        put16(flags)
        put32(UInt32(truncatingIfNeeded: (type.fixedSize + variable + 7) / 8 * 8))
        return start
    }

    /// THREAD and CALL: a u32 id, the name's u32 length, the name.
    private mutating func putNamed(_ type: RecordType, id: UInt32, name: String) {
        let name = fit(Array(name.utf8), UInt32.self)
        let start = header(type, flags: 0, variable: name.count)
        put32(id); put32(UInt32(name.count))
        bytes += name
        pad(from: start)
    }

    private mutating func pad(from start: Int) {
        while (bytes.count - start) % 8 != 0 { bytes.append(0) }
    }

    private func fit<T: FixedWidthInteger>(_ b: [UInt8], _: T.Type, reserve: Int = 64) -> [UInt8] {
        let limit = Int(min(UInt64(T.max), UInt64(UInt32.max) - UInt64(reserve)))
        return b.count <= limit ? b : Array(b.prefix(limit))
    }

    private mutating func put16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    private mutating func put32(_ v: UInt32) {
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }

    private mutating func put64(_ v: UInt64) {
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
    }
}

extension ProfileEncoder {
    /// A whole file from its records.
    public static func file(_ records: [ProfileRecord]) -> [UInt8] {
        var e = ProfileEncoder()
        for r in records { e.append(r) }
        return e.bytes
    }
}
