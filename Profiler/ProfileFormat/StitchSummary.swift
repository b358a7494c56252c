// What stitching found, counted, and the report's one summary line.

public struct StitchSummary: Equatable, Sendable {
    /// SAMPLE records.
    public var samples = 0
    /// Samples outside interposed calls (their stack is their pc) and inside
    /// (a deferred stack).  Which periods were on a CPU: onCPUPeriods.
    public var onCPUSamples = 0
    public var offCPUSamples = 0
    /// Samples outside calls whose stack was unwound from a copy.
    public var copiedSamples = 0
    /// Sampling periods the samples stand for (SampleRecord.periods summed:
    /// more than `samples` when the timer overran); onCPUPeriods +
    /// offCPUPeriods.
    public var periods: UInt64 = 0
    /// Samples in calls that got the frames of a STACK.
    public var stitchedSamples = 0
    /// Samples in calls kept as "[stack lost]".
    public var samplesWithLostStack = 0
    /// The on-/off-CPU split in periods (CPUSplit.swift), as the report's
    /// outputs weight them; samples asleep in a call the agent does not
    /// interpose ("[blocked: write (not interposed)]").
    public var onCPUPeriods: UInt64 = 0
    public var offCPUPeriods: UInt64 = 0
    public var blockedOutsideCalls = 0
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

    mutating func countSplit(periods: UInt32, onCPU: UInt32, blockedOutsideCalls blocked: Bool) {
        onCPUPeriods += UInt64(onCPU)
        offCPUPeriods += UInt64(periods - onCPU)
        if blocked { blockedOutsideCalls += 1 }
    }

    /// e.g. "1234 samples (1000 in interposed calls, 234 outside; on-CPU
    /// 20.1 % of 1300 periods, 12 samples blocked outside interposed
    /// calls), 12 stacks lost, 850 stacks for 988 samples in calls (1.16
    /// samples per unwind), 0 stacks never used, 0 lost records".
    public var line: String {
        var s = "\(samples) samples (\(offCPUSamples) in interposed calls, \(onCPUSamples) outside; "
        let total = onCPUPeriods + offCPUPeriods
        s += "on-CPU \(total == 0 ? "-" : percent(onCPUPeriods, total)) % of \(total) periods"
        if blockedOutsideCalls > 0 { s += ", \(blockedOutsideCalls) samples blocked outside interposed calls" }
        if copiedSamples > 0 { s += ", \(copiedSamples) outside with stacks unwound from copies" }
        s += "), \(samplesWithLostStack) stacks lost, "
        s += "\(stacksStitched) stacks for \(stitchedSamples) samples in calls"
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

/// 100 a / b with one decimal, rounded (0 <= a <= b, b > 0).
func percent(_ a: UInt64, _ b: UInt64) -> String {
    let tenths = Int((Double(a) * 1000 / Double(b)).rounded())
    return "\(tenths / 10).\(tenths % 10)"
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
