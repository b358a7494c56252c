// The one error a record file can give: what is wrong and at which byte.

/// The first problem of a record file (Docs/ProfileFormat.md, Errors).
/// `offset` is the file offset of the record the problem is in (for the
/// file header: of the bad field); `description` says what and where.
public struct ProfileFormatError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// Fewer than 16 bytes: no complete file header.
        case truncatedHeader
        case badMagic
        case unsupportedMajorVersion(UInt16)
        /// A record header or record body runs past the end of the file.
        case truncatedRecord
        /// size below 8 or not a multiple of 8.
        case badRecordSize
        /// Shorter than its type's fixed fields.
        case recordTooShort(RecordType)
        /// `nr` or a length field disagrees with the record size.
        case lengthMismatch(RecordType)
        /// The first record is not META.
        case metaMissing
        /// A second META.
        case metaNotFirst
        /// A SAMPLE names a call id no earlier CALL record defined.
        case unknownCall(UInt32)
        /// A CALL record defines id 0 (reserved: on-CPU).
        case reservedCallID
    }

    public var kind: Kind
    public var offset: Int
    public var message: String

    public init(_ kind: Kind, at offset: Int, _ message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    public var description: String { message }
}
