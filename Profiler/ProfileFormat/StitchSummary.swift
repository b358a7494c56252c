// What stitching found, counted, and the report's one summary line.

public struct StitchSummary: Equatable, Sendable {
    /// SAMPLE records.
    public var samples = 0
    public var onCPUSamples = 0
    public var offCPUSamples = 0
    /// Off-CPU samples that got the frames of a STACK.
    public var stitchedSamples = 0
    /// Off-CPU samples kept as "[stack lost]".
    public var samplesWithLostStack = 0
    /// STACK records (duplicates included).
    public var stacks = 0
    /// STACK records whose (tid, cookie) an earlier STACK already had (ignored).
    public var duplicateStacks = 0
    /// Distinct stacks some sample referenced.
    public var stacksUsed = 0
    /// Distinct stacks whose frames went into samples (used and not empty).
    public var stacksStitched = 0
    /// Distinct stacks no sample referenced.
    public var stacksUnused = 0
    /// Sums of LOST counts: samples, stacks, other kinds.
    public var lostSamples: UInt64 = 0
    public var lostStacks: UInt64 = 0
    public var lostOther: UInt64 = 0
    /// Records of unknown types.
    public var skippedRecords = 0
    /// The file ends with a clean finish.
    public var hasEnd = false
    /// The END record's flags (EndRecord.flagExec, .flagForked).
    public var endFlags: UInt16 = 0

    public init() {}

    /// Records the agent dropped (all LOST counts).
    public var lostRecords: UInt64 {
        var sum = lostSamples
        sum.addSaturating(lostStacks)
        sum.addSaturating(lostOther)
        return sum
    }

    /// e.g. "1234 samples (1000 off-CPU, 234 on-CPU), 12 stacks lost, 850
    /// stacks for 988 off-CPU samples (1.16 samples per unwind), 0 stacks
    /// never used, 0 lost records".
    public var line: String {
        var s = "\(samples) samples (\(offCPUSamples) off-CPU, \(onCPUSamples) on-CPU), "
        s += "\(samplesWithLostStack) stacks lost, "
        s += "\(stacksStitched) stacks for \(stitchedSamples) off-CPU samples"
        if stacksStitched > 0 {
            s += " (\(ratio(stitchedSamples, stacksStitched)) samples per unwind)"
        }
        s += ", \(stacksUnused) stacks never used, \(lostRecords) lost records"
        if duplicateStacks > 0 { s += ", \(duplicateStacks) duplicate stacks ignored" }
        if skippedRecords > 0 { s += ", \(skippedRecords) records of unknown type skipped" }
        if !hasEnd { s += "; no END record: the recording was cut short" }
        if endFlags & EndRecord.flagExec != 0 {
            s += "; the program exec'd another program: this recording ends at the exec"
        }
        if endFlags & EndRecord.flagForked != 0 { s += "; it forked child processes: they are not profiled" }
        return s
    }
}

/// a / b with two decimals, rounded (counts are bounded by the file size,
/// far from overflowing when multiplied by 100).
func ratio(_ a: Int, _ b: Int) -> String {
    guard b > 0 else { return "-" }
    let hundredths = (a * 100 + b / 2) / b
    let frac = hundredths % 100
    return "\(hundredths / 100).\(frac < 10 ? "0" : "")\(frac)"
}

extension UInt64 {
    /// Adds, sticking at UInt64.max instead of trapping (LOST counts are
    /// file data).
    mutating func addSaturating(_ x: UInt64) {
        let (sum, overflow) = addingReportingOverflow(x)
        self = overflow ? .max : sum
    }
}
