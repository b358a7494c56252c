// Functions of a stripped object: the address ranges of its .eh_frame (and
// .debug_frame) FDEs, one per function the compiler emitted unwind tables
// for, as `llvm-objdump --dwarf=frames` prints them
// ("... FDE cie=00000030 pc=00003020...000034e0").  An address no symbol
// names is shown as its function, "gzip+func@0x3020", so every address of
// one function is one frame, never one per address.

struct FunctionRanges {
    /// [start, end) ELF addresses, sorted by start.
    private(set) var ranges: [(start: UInt64, end: UInt64)]

    init(ranges: [(start: UInt64, end: UInt64)]) {
        self.ranges = ranges.filter { $0.start < $0.end }.sorted { $0.start < $1.start }
    }

    /// The ranges of `llvm-objdump --dwarf=frames` output; lines that are
    /// not FDEs (CIEs, instructions) are ignored.
    init(objdumpFrames text: String) {
        var found: [(start: UInt64, end: UInt64)] = []
        for line in text.split(separator: "\n") where line.contains(" FDE ") {
            guard let pc = line.range(of: "pc=") else { continue }
            let bounds = line[pc.upperBound...].prefix { !$0.isWhitespace }.split(separator: ".",
                                                                                  omittingEmptySubsequences: true)
            guard bounds.count == 2, let start = UInt64(bounds[0], radix: 16),
                  let end = UInt64(bounds[1], radix: 16) else { continue }
            found.append((start, end))
        }
        self.init(ranges: found)
    }

    /// Runs `llvm-objdump --dwarf=frames` on `path`.
    static func load(path: String, objdump: String) throws(ToolFailure) -> FunctionRanges {
        FunctionRanges(objdumpFrames: try runTool(objdump, arguments: ["--dwarf=frames", path], input: ""))
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
