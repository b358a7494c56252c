import CDeferredUnwind

/// The 64-bit cookie that joins a sample (taken when the request was made)
/// with the stack trace delivered later at the safe point.
///
/// Layout (from the C core): the high 32 bits (``threadHalf``) are the
/// requesting thread's serial, assigned when it attached, never 0; the low
/// 32 bits (``contextHalf``) are that thread's context counter, always odd,
/// advanced by 2 per entry context.  Cookies are unique within a process.
/// A raw value of 0 means "no cookie" and is never a `Cookie`.
///
/// Text form (stable, part of the API): `"t<threadHalf in decimal>:<contextHalf
/// as exactly 8 lowercase hexadecimal digits>"`, for example `"t3:0000002f"`.
/// The C API spells the same form with `printf("t%u:%08x", thread, context)`.
/// ``init(_:)`` accepts exactly the strings ``description`` produces (no
/// sign, no leading zeros in the decimal part, no whitespace, lowercase hex),
/// so `Cookie(c.description) == c` for every cookie and text round trips are
/// one-to-one.
///
/// Context: any (a plain value).
public struct Cookie: Sendable, Hashable, RawRepresentable, CustomStringConvertible, LosslessStringConvertible {
    /// The cookie as the C API hands it out.
    public let rawValue: UInt64

    /// Wraps a raw cookie; `nil` for 0 (`DU_COOKIE_NONE`).
    @inlinable
    public init?(rawValue: UInt64) {
        guard rawValue != 0 else { return nil }
        self.rawValue = rawValue
    }

    /// Builds a cookie from its halves; `nil` when both are 0.
    @inlinable
    public init?(threadHalf: UInt32, contextHalf: UInt32) {
        self.init(rawValue: UInt64(threadHalf) << 32 | UInt64(contextHalf))
    }

    /// The high half: the serial of the thread that requested.
    @inlinable
    public var threadHalf: UInt32 { UInt32(truncatingIfNeeded: rawValue >> 32) }

    /// The low half: that thread's context counter (odd).
    @inlinable
    public var contextHalf: UInt32 { UInt32(truncatingIfNeeded: rawValue) }

    /// `"t<threadHalf>:<contextHalf, 8 lowercase hex digits>"`, e.g. `"t3:0000002f"`.
    public var description: String {
        let hex = String(contextHalf, radix: 16, uppercase: false)
        return "t\(threadHalf):" + String(repeating: "0", count: 8 - hex.utf8.count) + hex
    }

    /// Parses the text form produced by ``description``; `nil` for anything
    /// else, including the all-zero "no cookie" value.
    public init?(_ description: String) {
        let bytes = Array(description.utf8)
        guard bytes.first == UInt8(ascii: "t"),
              let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let decimal = bytes[1..<colon]
        let hex = bytes[(colon + 1)...]
        guard (1...10).contains(decimal.count), hex.count == 8 else { return nil }
        if decimal.count > 1 && decimal.first == UInt8(ascii: "0") { return nil }
        var thread: UInt64 = 0
        for b in decimal {
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { return nil }
            thread = thread * 10 + UInt64(b - UInt8(ascii: "0"))
        }
        guard thread <= UInt64(UInt32.max) else { return nil }
        var counter: UInt32 = 0
        for b in hex {
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            default: return nil
            }
            counter = counter << 4 | UInt32(digit)
        }
        self.init(threadHalf: UInt32(thread), contextHalf: counter)
    }

    /// A cookie the C core delivered to a callback (never 0 there).
    init(delivered rawValue: UInt64) {
        self.rawValue = rawValue
    }
}
