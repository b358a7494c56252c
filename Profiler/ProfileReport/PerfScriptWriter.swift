// `perf script` text: the one format FlameGraph, speedscope, Firefox
// Profiler and Perfetto all import (../shared/notes/profiler-formats.md).
//
//   <comm> <pid>/<tid> <seconds>.<micros>: <period> wall-clock:
//   \t<addr> <symbol>+0x<offset> (<dso>)        leaf first, one per frame
//   <blank line>
//
// comm is the thread name with white space replaced (the importers split the
// header on it); the dso has no spaces or parentheses (speedscope reads it
// as \S*, Firefox Profiler as [^)]*); time is CLOCK_MONOTONIC like perf's.

public enum PerfScriptWriter {
    /// The event name on every header line (speedscope keeps only the
    /// first event name it sees, so there is one).
    public static let eventName = "wall-clock"

    public static func render(_ profile: ReportProfile) -> String {
        var out = ""
        write(profile) { out += $0 }
        return out
    }

    /// The text in pieces, in order, to `emit` (a buffered file writer):
    /// nothing the size of the output is built.  Each distinct stack's
    /// lines are formatted once.
    public static func write(_ profile: ReportProfile, to emit: (String) -> Void) {
        var stackText: [Int: String] = [:]
        for var sample in profile.samples {
            // One event per sampling period, as perf prints one per
            // sample: tools that count events (stackcollapse-perf.pl)
            // then agree with the folded counts.
            let periods = max(sample.periods, 1)
            sample.periodNanoseconds /= UInt64(periods)
            let frames: String
            if sample.stackID >= 0, let known = stackText[sample.stackID] {
                frames = known
            } else {
                var text = ""
                for frame in sample.frames.reversed() {
                    text += frameLine(frame)
                    text += "\n"
                }
                text += "\n"
                if sample.stackID >= 0 { stackText[sample.stackID] = text }
                frames = text
            }
            let head = header(sample, profile) + "\n"
            for _ in 0..<periods {
                emit(head)
                emit(frames)
            }
        }
    }

    static func header(_ sample: ReportSample, _ profile: ReportProfile) -> String {
        var comm = sanitizeWord(sample.threadName)
        if comm.isEmpty { comm = sanitizeWord(profile.command) }
        if comm.isEmpty { comm = "unknown" }
        let seconds = sample.timeNanoseconds / 1_000_000_000
        let micros = sample.timeNanoseconds % 1_000_000_000 / 1000
        return "\(comm) \(profile.pid)/\(sample.tid) \(seconds).\(padded(micros, 6)): "
            + "\(sample.periodNanoseconds) \(eventName):"
    }

    static func frameLine(_ frame: ReportFrame) -> String {
        var name = sanitizeLine(frame.name)
        if name.isEmpty { name = "[unknown]" }
        if let offset = frame.symbolOffset { name += "+0x" + String(offset, radix: 16) }
        let dso: String
        switch frame.kind {
        case .code: dso = frame.module.isEmpty ? "[unknown]" : sanitizeDSO(frame.module)
        case .blockedIn, .stackLost, .onCPU, .thread: dso = "[unwind-profile]"
        }
        let address = String(frame.address, radix: 16)
        let pad = String(repeating: " ", count: max(0, 16 - address.count))
        return "\t\(pad)\(address) \(name) (\(dso))"
    }

    /// No white space (the header's fields are split on it).
    static func sanitizeWord(_ s: String) -> String {
        ReportText.replacing(s, asciiBad: ReportText.isASCIIWhitespace, isBad: { $0.isWhitespace }, with: "_")
    }

    /// One line: line breaks and tabs become spaces.
    static func sanitizeLine(_ s: String) -> String {
        ReportText.replacing(s, asciiBad: ReportText.isASCIIBreakOrTab, isBad: { $0.isNewline || $0 == "\t" },
                             with: " ")
    }

    /// No white space and no parentheses.
    static func sanitizeDSO(_ s: String) -> String {
        ReportText.replacing(s, asciiBad: { ReportText.isASCIIWhitespace($0) || $0 == 0x28 || $0 == 0x29 },
                             isBad: { $0.isWhitespace || $0 == "(" || $0 == ")" }, with: "_")
    }

    static func padded(_ v: UInt64, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
