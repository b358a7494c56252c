// The frames of a sample's on-CPU and off-CPU parts (Docs/Profiler.md, "On-CPU
// and off-CPU"; the split itself is ProfileFormat's CPUSplit.swift), root first:
//   on-CPU, outside calls:  "[on-cpu]", the pc's frames
//   on-CPU, in a call:      "[on-cpu]", the call's stack (or "[stack lost]"), "[<call>]"
//   off-CPU, in a call:     the call's stack (or "[stack lost]"), "[<call>]"
//   off-CPU, asleep outside interposed calls (or at such a call's return,
//   short of CPU time):     the pc's frames, "[blocked: write (not interposed)]"
//   off-CPU, running at the tick but short of CPU time:
//                           the frames of its on-CPU part, "[waiting for CPU]"

import ProfileFormat

/// What ends a part's frames: its side of the split and why.
enum PartLeaf: Hashable {
    /// On-CPU: "[on-cpu]" first, the call's marker last when in a call.
    case onCPU
    /// Off-CPU, running at the tick but short of CPU time.
    case waitingForCPU
    /// Off-CPU, asleep outside interposed calls (the syscall when known).
    case notInterposed(UInt16?)
    /// Off-CPU in a call (its marker), or "[off-cpu]" with nothing known.
    case offCPU
}

extension ReportBuilder {
    /// The leaf and periods of each part of `sample`: on-CPU first, either
    /// may be absent.
    static func splitParts(_ sample: StitchedSample) -> [(leaf: PartLeaf, periods: UInt32)] {
        let on = min(sample.onCPUPeriods, sample.periods), off = sample.periods - on
        var parts: [(leaf: PartLeaf, periods: UInt32)] = []
        if on > 0 { parts.append((.onCPU, on)) }
        if off > 0 {
            switch sample.state {
            case .running:
                parts.append((.waitingForCPU, off))
            case .blocked(let nr) where sample.call == 0, .returning(let nr) where sample.call == 0:
                parts.append((.notInterposed(nr), off))
            case .blocked, .returning, .unknown:
                parts.append((.offCPU, off))
            }
        }
        return parts
    }

    /// A part's frames, root first.  `stackFrames` is the sample's stack
    /// without any marker: the pc's frames or the call's.
    static func partFrames(_ leaf: PartLeaf, stackFrames: [ReportFrame], call: UInt32,
                           calls: [UInt32: String]) -> [ReportFrame] {
        let callLeaf: [ReportFrame] = call == 0 ? [] : [blocked(call, calls)]
        switch leaf {
        case .onCPU:
            return [synthetic(.onCPU, "[on-cpu]")] + stackFrames + callLeaf
        case .waitingForCPU:
            return stackFrames + callLeaf + [synthetic(.blockedIn, "[waiting for CPU]")]
        case .notInterposed(let nr):
            let name = nr.map { SyscallNames.x86_64[$0] ?? "syscall \($0)" } ?? "a system call"
            return stackFrames + [synthetic(.blockedIn, "[blocked: \(name) (not interposed)]")]
        case .offCPU:
            return stackFrames + (callLeaf.isEmpty ? [synthetic(.blockedIn, "[off-cpu]")] : callLeaf)
        }
    }
}
