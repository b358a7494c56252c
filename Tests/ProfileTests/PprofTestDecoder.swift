// An independent reader for the pprof writer's output: gunzip with zlib's
// inflate, a minimal protobuf wire decoder (written from the wire-format
// rules, sharing nothing with the encoder), and the profile.proto messages
// the tests look at.  Unknown fields are skipped, repeated varints are read
// packed or not, as any protobuf reader must.

import CZlib

enum PprofDecodeError: Error, CustomStringConvertible {
    case gzip(String)
    case truncated(at: Int)
    case badWireType(UInt64, field: UInt64)
    case badUTF8

    var description: String {
        switch self {
        case .gzip(let why): "gunzip: \(why)"
        case .truncated(let at): "protobuf truncated at byte \(at)"
        case .badWireType(let type, let field): "wire type \(type) on field \(field)"
        case .badUTF8: "string is not UTF-8"
        }
    }
}

/// gzip-wrapped deflate to bytes, with zlib's inflate.
func gunzip(_ data: [UInt8]) throws -> [UInt8] {
    var stream = z_stream()
    // 15 + 16: gzip wrapper only (a bare zlib stream is an error here).
    guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw PprofDecodeError.gzip("inflateInit2 failed")
    }
    defer { inflateEnd(&stream) }
    var input = data
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    try input.withUnsafeMutableBufferPointer { source in
        stream.next_in = source.baseAddress
        stream.avail_in = UInt32(source.count)
        while true {
            let (status, produced) = chunk.withUnsafeMutableBufferPointer { out in
                stream.next_out = out.baseAddress
                stream.avail_out = UInt32(out.count)
                let status = inflate(&stream, Z_NO_FLUSH)
                return (status, out.count - Int(stream.avail_out))
            }
            output += chunk[0..<produced]
            if status == Z_STREAM_END { break }
            guard status == Z_OK, produced > 0 || stream.avail_in > 0 else {
                throw PprofDecodeError.gzip("inflate returned \(status)")
            }
        }
        guard stream.avail_in == 0 else { throw PprofDecodeError.gzip("bytes after the gzip member") }
    }
    return output
}

/// One field's payload: a varint, or the bytes of a length-delimited field
/// (fixed32/fixed64 are skipped: profile.proto has none).
enum WireValue {
    case varint(UInt64)
    case bytes([UInt8])
}

/// Every field of one message, in order.
func wireFields(_ bytes: [UInt8]) throws -> [(field: UInt64, value: WireValue)] {
    var position = 0
    func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count, shift < 64 else { throw PprofDecodeError.truncated(at: position) }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }
    func skip(_ count: Int) throws {
        guard count <= bytes.count - position else { throw PprofDecodeError.truncated(at: position) }
        position += count
    }
    var fields: [(field: UInt64, value: WireValue)] = []
    while position < bytes.count {
        let key = try readVarint()
        let field = key >> 3
        switch key & 7 {
        case 0: fields.append((field, .varint(try readVarint())))
        case 1: try skip(8)
        case 2:
            let length = try readVarint()
            guard length <= UInt64(bytes.count - position) else { throw PprofDecodeError.truncated(at: position) }
            fields.append((field, .bytes(Array(bytes[position..<position + Int(length)]))))
            position += Int(length)
        case 5: try skip(4)
        default: throw PprofDecodeError.badWireType(key & 7, field: field)
        }
    }
    return fields
}

/// A repeated varint field's values, packed (one length-delimited run) or not.
func varints(_ value: WireValue) throws -> [UInt64] {
    switch value {
    case .varint(let single): return [single]
    case .bytes(let packed):
        var values: [UInt64] = []
        var current: UInt64 = 0, shift: UInt64 = 0
        for byte in packed {
            guard shift < 64 else { throw PprofDecodeError.truncated(at: 0) }
            current |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { values.append(current); current = 0; shift = 0 } else { shift += 7 }
        }
        guard shift == 0 else { throw PprofDecodeError.truncated(at: packed.count) }
        return values
    }
}

private func scalar(_ value: WireValue) throws -> UInt64 {
    guard case .varint(let v) = value else { throw PprofDecodeError.badWireType(2, field: 0) }
    return v
}

private func nested(_ value: WireValue) throws -> [UInt8] {
    guard case .bytes(let b) = value else { throw PprofDecodeError.badWireType(0, field: 0) }
    return b
}

struct DecodedValueType { var type: Int64 = 0, unit: Int64 = 0 }
struct DecodedLabel { var key: Int64 = 0, str: Int64 = 0, num: Int64 = 0 }
struct DecodedSample { var locationIDs: [UInt64] = [], values: [Int64] = [], labels: [DecodedLabel] = [] }
struct DecodedMapping {
    var id: UInt64 = 0, start: UInt64 = 0, limit: UInt64 = 0, offset: UInt64 = 0
    var filename: Int64 = 0, buildID: Int64 = 0, hasFunctions = false
}
struct DecodedLocation { var id: UInt64 = 0, mappingID: UInt64 = 0, address: UInt64 = 0, functionIDs: [UInt64] = [] }
struct DecodedFunction { var id: UInt64 = 0, name: Int64 = 0, systemName: Int64 = 0, filename: Int64 = 0 }

struct DecodedProfile {
    var sampleTypes: [DecodedValueType] = []
    var samples: [DecodedSample] = []
    var mappings: [DecodedMapping] = []
    var locations: [DecodedLocation] = []
    var functions: [DecodedFunction] = []
    var strings: [String] = []
    var timeNanos: Int64 = 0, durationNanos: Int64 = 0, period: Int64 = 0
    var periodType = DecodedValueType()
    var comments: [Int64] = []
    var defaultSampleType: Int64 = 0

    init(protobuf: [UInt8]) throws {
        for (field, value) in try wireFields(protobuf) {
            switch field {
            case 1: sampleTypes.append(try Self.valueType(nested(value)))
            case 2:
                var sample = DecodedSample()
                for (f, v) in try wireFields(nested(value)) {
                    switch f {
                    case 1: sample.locationIDs += try varints(v)
                    case 2: sample.values += try varints(v).map { Int64(bitPattern: $0) }
                    case 3:
                        var label = DecodedLabel()
                        for (lf, lv) in try wireFields(nested(v)) {
                            let n = Int64(bitPattern: try scalar(lv))
                            if lf == 1 { label.key = n } else if lf == 2 { label.str = n } else if lf == 3 { label.num = n }
                        }
                        sample.labels.append(label)
                    default: break
                    }
                }
                samples.append(sample)
            case 3:
                var m = DecodedMapping()
                for (f, v) in try wireFields(nested(value)) {
                    let n = try scalar(v)
                    switch f {
                    case 1: m.id = n
                    case 2: m.start = n
                    case 3: m.limit = n
                    case 4: m.offset = n
                    case 5: m.filename = Int64(bitPattern: n)
                    case 6: m.buildID = Int64(bitPattern: n)
                    case 7: m.hasFunctions = n != 0
                    default: break
                    }
                }
                mappings.append(m)
            case 4:
                var l = DecodedLocation()
                for (f, v) in try wireFields(nested(value)) {
                    switch f {
                    case 1: l.id = try scalar(v)
                    case 2: l.mappingID = try scalar(v)
                    case 3: l.address = try scalar(v)
                    case 4:
                        for (lf, lv) in try wireFields(nested(v)) where lf == 1 { l.functionIDs.append(try scalar(lv)) }
                    default: break
                    }
                }
                locations.append(l)
            case 5:
                var fn = DecodedFunction()
                for (f, v) in try wireFields(nested(value)) {
                    let n = try scalar(v)
                    switch f {
                    case 1: fn.id = n
                    case 2: fn.name = Int64(bitPattern: n)
                    case 3: fn.systemName = Int64(bitPattern: n)
                    case 4: fn.filename = Int64(bitPattern: n)
                    default: break
                    }
                }
                functions.append(fn)
            case 6:
                guard let text = String(validating: try nested(value), as: UTF8.self) else { throw PprofDecodeError.badUTF8 }
                strings.append(text)
            case 9: timeNanos = Int64(bitPattern: try scalar(value))
            case 10: durationNanos = Int64(bitPattern: try scalar(value))
            case 11: periodType = try Self.valueType(nested(value))
            case 12: period = Int64(bitPattern: try scalar(value))
            case 13: comments += try varints(value).map { Int64(bitPattern: $0) }
            case 14: defaultSampleType = Int64(bitPattern: try scalar(value))
            default: break
            }
        }
    }

    private static func valueType(_ bytes: [UInt8]) throws -> DecodedValueType {
        var result = DecodedValueType()
        for (field, value) in try wireFields(bytes) {
            if field == 1 { result.type = Int64(bitPattern: try scalar(value)) }
            if field == 2 { result.unit = Int64(bitPattern: try scalar(value)) }
        }
        return result
    }

    /// String `index`, or nil when out of the table.
    func string(_ index: Int64) -> String? {
        index >= 0 && index < strings.count ? strings[Int(index)] : nil
    }
}
