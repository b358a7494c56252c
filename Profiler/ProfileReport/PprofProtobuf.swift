// Protocol-buffer wire encoding, only what profile.proto needs: varint
// fields (wire type 0) and length-delimited fields (wire type 2: strings,
// nested messages, packed repeated varints).  proto3 rules: a scalar equal to
// its default (0, false) is not written; readers treat it as unset.

/// Appends protobuf fields to a byte buffer.
struct ProtobufEncoder {
    private(set) var bytes: [UInt8] = []

    /// Base-128 varint, low group first, high bit set on all but the last byte.
    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private mutating func key(_ field: Int, wireType: UInt64) {
        varint(UInt64(field) << 3 | wireType)
    }

    /// uint64 field; omitted when 0.
    mutating func uint64(_ field: Int, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, wireType: 0)
        varint(value)
    }

    /// int64 field (two's complement as a 10-byte varint when negative);
    /// omitted when 0.
    mutating func int64(_ field: Int, _ value: Int64) {
        uint64(field, UInt64(bitPattern: value))
    }

    /// bool field; omitted when false.
    mutating func bool(_ field: Int, _ value: Bool) {
        uint64(field, value ? 1 : 0)
    }

    /// Length-delimited field, written even when empty (an element of a
    /// repeated string or message field must be).
    mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        key(field, wireType: 2)
        varint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    /// String field as UTF-8; always written (the string table's "" at 0).
    mutating func string(_ field: Int, _ value: String) {
        lengthDelimited(field, Array(value.utf8))
    }

    /// Nested message: `build` writes its fields into a fresh encoder.
    mutating func message(_ field: Int, _ build: (inout ProtobufEncoder) -> Void) {
        var nested = ProtobufEncoder()
        build(&nested)
        lengthDelimited(field, nested.bytes)
    }

    /// Packed repeated varints (uint64, or int64 by bit pattern); omitted when empty.
    mutating func packed(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        var payload = ProtobufEncoder()
        for value in values { payload.varint(value) }
        lengthDelimited(field, payload.bytes)
    }
}
