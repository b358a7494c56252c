// The flame graph's colours and text: a warm palette picked by a hash of the
// frame's name (the same name is the same colour in every graph), other hues
// for the synthetic frames, XML escaping, and number formatting without
// Foundation (locale-free, the same bytes everywhere).

enum FlameGraphStyle {
    /// Fill colour of a frame: warm (red to yellow) for code; blue-ish for the
    /// blocking call an off-CPU stack ends in, grey for a lost stack,
    /// red-ish for on-CPU samples.
    static func fill(name: String, kind: ReportFrame.Kind) -> String {
        let hash = fnv1a(name)
        // Three independent fractions in [0, 1) from the hash's bits.
        let v1 = Double(hash & 0xFFFF) / 65536
        let v2 = Double((hash >> 16) & 0xFFFF) / 65536
        let v3 = Double((hash >> 32) & 0xFFFF) / 65536
        switch kind {
        case .code: return rgb(205 + 50 * v3, 230 * v1, 55 * v2)
        case .blockedIn: return rgb(60 + 40 * v1, 110 + 50 * v1, 200 + 55 * v2)
        case .stackLost: return rgb(165 + 20 * v1, 165 + 20 * v1, 165 + 20 * v1)
        case .onCPU: return rgb(225 + 30 * v1, 50 + 40 * v2, 40 + 20 * v3)
        case .thread: return rgb(120 + 30 * v1, 190 + 40 * v2, 120 + 30 * v3)
        }
    }

    private static func rgb(_ red: Double, _ green: Double, _ blue: Double) -> String {
        "rgb(\(Int(red)),\(Int(green)),\(Int(blue)))"
    }

    /// 64-bit FNV-1a of the UTF-8 bytes: fixed, unlike Swift's seeded Hasher.
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// Text for element content and attribute values: `&<>"'` escaped; code
    /// points XML 1.0 forbids (controls but tab/newline/return, U+FFFE,
    /// U+FFFF) become U+FFFD.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` cut to what fits in `pixels` (0.59 em per character, as
    /// flamegraph.pl estimates), ending in ".." when cut; nil when fewer than
    /// three characters fit.
    static func fitted(_ text: String, pixels: Double, fontSize: Double) -> String? {
        let characters = Int(max(0, pixels / (fontSize * 0.59)).rounded(.down))
        guard characters >= 3 else { return nil }
        if text.count <= characters { return text }
        return String(text.prefix(characters - 2)) + ".."
    }

    /// `value` with `digits` decimals (half away from zero); "0" for NaN.
    static func fixed(_ value: Double, digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (value * scale).rounded()
        guard scaled.isFinite, abs(scaled) < 9e18 else { return value.isFinite ? "\(value)" : "0" }
        let units = Int64(scaled)
        let magnitude = units.magnitude
        let divisor = UInt64(scale)
        var text = (units < 0 ? "-" : "") + String(magnitude / divisor)
        if digits > 0 {
            let fraction = String(magnitude % divisor)
            text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return text
    }

    /// Hundredths of a pixel as an SVG number ("12.05", "12").
    static func pixels(_ hundredths: Int) -> String {
        let whole = hundredths / 100, fraction = hundredths % 100
        if fraction == 0 { return String(whole) }
        return "\(whole)." + (fraction < 10 ? "0" : "") + String(fraction)
    }
}
