// Text helpers of the writers: replacing characters that would break a
// format's syntax.  Names are nearly always ASCII without them, so a byte
// scan answers first and the Character walk runs only when needed.

enum ReportText {
    /// `s` with every character `isBad` selects replaced by `replacement`.
    /// `asciiBad` must select exactly the ASCII characters `isBad` selects.
    static func replacing(_ s: String, asciiBad: (UInt8) -> Bool, isBad: (Character) -> Bool,
                          with replacement: Character) -> String {
        guard s.utf8.contains(where: { $0 >= 0x80 || asciiBad($0) }) else { return s }
        return String(s.map { isBad($0) ? replacement : $0 })
    }

    /// ASCII white space: space, \t, \n, \v, \f, \r.
    static func isASCIIWhitespace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0d) }
    /// ASCII line breaks (\n, \v, \f, \r) and tab.
    static func isASCIIBreakOrTab(_ b: UInt8) -> Bool { b >= 0x09 && b <= 0x0d }
}
