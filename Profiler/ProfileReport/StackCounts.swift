// Samples merged by stack for the writers that do not print time (folded,
// flame graphs): one entry per distinct (thread root, stack), weights
// summed, so each distinct stack is formatted once however many samples
// share it.  Memory and time beyond the sample walk are O(distinct stacks).

/// How the stacks are split below their frames.
public enum ThreadRoots: Sendable {
    /// Folded: the thread's name is the root (stackcollapse-perf.pl does
    /// so); flame graphs: no thread frame.
    case byName
    /// A root frame "name (tid)" per thread, in every format: each thread
    /// is its own tower.
    case byThread
}

struct StackCount {
    /// The thread frame's text ("" when the format draws none).
    var root: String
    /// The thread of the first sample merged in (every sample's, by thread).
    var tid: UInt32
    /// Its process (ReportSample.pid: 0 for the profile's own).
    var pid: UInt32 = 0
    var frames: [ReportFrame]
    /// Sampling periods (ReportSample.periods summed).
    var periods: Int = 0
    /// ReportSample.periodNanoseconds summed, saturating.
    var nanoseconds: UInt64 = 0
}

enum StackCounts {
    private struct Key: Hashable {
        var root: String
        var stackID: Int
        /// Only for samples without a stack id.
        var frames: [ReportFrame]
    }

    /// The distinct stacks in first-seen order.  `nameRoot` is the root by
    /// name (byName), nil for none.
    static func merge(_ profile: ReportProfile, roots: ThreadRoots, nameRoot: Bool) -> [StackCount] {
        var index: [Key: Int] = [:]
        var counts: [StackCount] = []
        for sample in profile.samples {
            let root: String
            switch roots {
            case .byThread: root = threadFrameName(sample, profile)
            case .byName: root = nameRoot ? threadName(sample, profile) : ""
            }
            let key = Key(root: root, stackID: sample.stackID, frames: sample.stackID >= 0 ? [] : sample.frames)
            let at: Int
            if let known = index[key] {
                at = known
            } else {
                at = counts.count
                index[key] = at
                counts.append(StackCount(root: root, tid: sample.tid, pid: sample.pid, frames: sample.frames))
            }
            counts[at].periods += Int(sample.periods)
            let (sum, overflow) = counts[at].nanoseconds.addingReportingOverflow(sample.periodNanoseconds)
            counts[at].nanoseconds = overflow ? .max : sum
        }
        return counts
    }

    /// The sample's thread name, the command's when it has none.
    static func threadName(_ sample: ReportSample, _ profile: ReportProfile) -> String {
        sample.threadName.isEmpty ? profile.command : sample.threadName
    }

    /// "name (tid)".
    static func threadFrameName(_ sample: ReportSample, _ profile: ReportProfile) -> String {
        "\(threadName(sample, profile)) (\(sample.tid))"
    }
}
