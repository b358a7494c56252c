// Functions of a stripped object: the address ranges of its .eh_frame (and
// .debug_frame) FDEs, one per function the compiler emitted unwind tables
// for, as `llvm-objdump --dwarf=frames` prints them
// ("... FDE cie=00000030 pc=00003020...000034e0").  An address no symbol
// names is shown as its function, "gzip+func@0x3020", so every address of
// one function is one frame, never one per address.

import Foundation

struct FunctionRanges {
    /// [start, end) ELF addresses, sorted by start.
    private(set) var ranges: [(start: UInt64, end: UInt64)]

    init(ranges: [(start: UInt64, end: UInt64)]) {
        self.ranges = ranges.filter { $0.start < $0.end }.sorted { $0.start < $1.start }
    }

    /// The ranges of `llvm-objdump --dwarf=frames` output; lines that are
    /// not FDEs (CIEs, instructions) are ignored.
    init(objdumpFrames text: String) {
        var parser = FDELines()
        parser.feed(Array(text.utf8))
        self.init(ranges: parser.finish())
    }

    /// Runs `llvm-objdump --dwarf=frames` on `path`, its output parsed as it
    /// arrives (it is about 30 bytes per instruction of every FDE: 10 MB for
    /// python3.11, never held).
    static func load(path: String, objdump: String) throws(ToolFailure) -> FunctionRanges {
        var parser = FDELines()
        try runTool(objdump, arguments: ["--dwarf=frames", path], input: "") { parser.feed($0) }
        return FunctionRanges(ranges: parser.finish())
    }

    /// The start of the function whose range holds `address`, nil when none
    /// (FDE ranges do not overlap: the last range starting at or before
    /// the address is the only candidate).
    func start(containing address: UInt64) -> UInt64? {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if ranges[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0, address < ranges[lo - 1].end else { return nil }
        return ranges[lo - 1].start
    }
}

/// The FDE lines of llvm-objdump's frame dump, from bytes fed in pieces:
/// "<offset> <length> <cie> FDE cie=<x> pc=<start>...<end>" (unindented;
/// the CFA instructions under it are indented).
struct FDELines {
    private var line: [UInt8] = []
    /// The current line is indented: ignored to its end.
    private var skipping = false
    private var ranges: [(start: UInt64, end: UInt64)] = []

    /// Bytes of the output, in order; lines may span pieces.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var at = 0
        while at < bytes.count {
            // The end of the current line in this piece (or of the piece).
            var end = bytes.count
            if let newline = memchr(base + at, 0x0a, bytes.count - at) {
                end = UnsafeRawPointer(newline) - base
            }
            if !skipping {
                // Indented lines (CFA instructions, most of the output)
                // are never copied: their first byte decides.
                if line.isEmpty && at < end && (bytes[at] == 0x20 || bytes[at] == 0x09) {
                    skipping = true
                } else if line.count < 512 {
                    line.append(contentsOf: bytes[at..<min(end, at + 512 - line.count)])
                }
            }
            guard end < bytes.count else { return }
            if !skipping { parse() }
            line.removeAll(keepingCapacity: true)
            skipping = false
            at = end + 1
        }
    }

    mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    mutating func finish() -> [(start: UInt64, end: UInt64)] {
        if !skipping { parse() }
        line = []
        return ranges
    }

    private mutating func parse() {
        // Instruction lines are indented: skip them at the first byte.
        guard let first = line.first, first != 0x20, first != 0x09 else { return }
        guard let fde = find(Array(" FDE ".utf8), from: 0), let pc = find(Array("pc=".utf8), from: fde) else { return }
        var at = pc + 3
        guard let start = hex(&at) else { return }
        while at < line.count && line[at] == 0x2e { at += 1 } // "..." (or "..")
        guard let end = hex(&at) else { return }
        ranges.append((start, end))
    }

    private func find(_ needle: [UInt8], from: Int) -> Int? {
        guard line.count >= needle.count, from <= line.count - needle.count else { return nil }
        for i in from...(line.count - needle.count) where line[i] == needle[0] {
            if line[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    /// Hex digits at `at` (at most 16), advancing past them.
    private func hex(_ at: inout Int) -> UInt64? {
        var value: UInt64 = 0, digits = 0
        while at < line.count, digits < 16 {
            let b = line[at]
            let d: UInt8
            switch b {
            case 0x30...0x39: d = b - 0x30
            case 0x61...0x66: d = b - 0x61 + 10
            case 0x41...0x46: d = b - 0x41 + 10
            default: return digits > 0 ? value : nil
            }
            value = value << 4 | UInt64(d)
            digits += 1
            at += 1
        }
        return digits > 0 ? value : nil
    }
}
