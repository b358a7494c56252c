// Folded stacks (brendangregg/FlameGraph): one line per distinct stack,
// frames root first joined by ';', a space, the number of sampling periods
// (a sample whose timer overran stands for several).  As
// stackcollapse-perf.pl does, the root frame is the thread name, so threads
// blocked in different places stay apart; with per-thread roots it is
// "name (tid)", so threads of one name stay apart too.  Lines are sorted
// (stable output); a ';' or line break inside a name would split it, so
// they are replaced.

public enum FoldedWriter {
    public static func render(_ profile: ReportProfile, roots: ThreadRoots = .byName) -> String {
        var counts: [String: Int] = [:]
        for stack in StackCounts.merge(profile, roots: roots, nameRoot: true) {
            var parts: [String] = []
            parts.reserveCapacity(stack.frames.count + 1)
            parts.append(sanitize(stack.root))
            for frame in stack.frames { parts.append(sanitize(frame.name)) }
            counts[parts.joined(separator: ";"), default: 0] += stack.periods
        }
        var out = ""
        for (stack, count) in counts.sorted(by: { $0.key < $1.key }) {
            out += "\(stack) \(count)\n"
        }
        return out
    }

    /// ';' becomes ':', line breaks and tabs spaces; never empty.
    static func sanitize(_ name: String) -> String {
        guard !name.isEmpty else { return "[unknown]" }
        let noBreaks = ReportText.replacing(name, asciiBad: ReportText.isASCIIBreakOrTab,
                                            isBad: { $0.isNewline || $0 == "\t" }, with: " ")
        return ReportText.replacing(noBreaks, asciiBad: { $0 == 0x3b }, isBad: { $0 == ";" }, with: ":")
    }
}
