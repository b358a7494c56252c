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

extension ReportBuilder {
    /// The frames (root first) and periods of each part of `sample`: on-CPU
    /// first, either may be absent.  `stackFrames` is the sample's stack
    /// without any marker: the pc's frames or the call's.
    static func splitParts(_ sample: StitchedSample, stackFrames: [ReportFrame],
                           calls: [UInt32: String]) -> [(frames: [ReportFrame], periods: UInt32)] {
        let on = min(sample.onCPUPeriods, sample.periods), off = sample.periods - on
        var parts: [(frames: [ReportFrame], periods: UInt32)] = []
        let callLeaf: [ReportFrame] = sample.call == 0 ? [] : [blocked(sample.call, calls)]
        if on > 0 {
            parts.append(([synthetic(.onCPU, "[on-cpu]")] + stackFrames + callLeaf, on))
        }
        if off > 0 {
            let leaf: [ReportFrame]
            switch sample.state {
            case .running:
                leaf = callLeaf + [synthetic(.blockedIn, "[waiting for CPU]")]
            case .blocked(let nr) where sample.call == 0, .returning(let nr) where sample.call == 0:
                let name = nr.map { SyscallNames.x86_64[$0] ?? "syscall \($0)" } ?? "a system call"
                leaf = [synthetic(.blockedIn, "[blocked: \(name) (not interposed)]")]
            case .blocked, .returning, .unknown:
                leaf = callLeaf.isEmpty ? [synthetic(.blockedIn, "[off-cpu]")] : callLeaf
            }
            parts.append((stackFrames + leaf, off))
        }
        return parts
    }
}
