// The on-/off-CPU split (Docs/Profiler.md, "On-CPU and off-CPU") against
// the program's own CPU time: agent_cpu_split computes, writes through
// stdio into a slow pipe, or mixes computing, copying through a pipe and
// waiting; it prints getrusage's CPU time and the sum of its threads'
// lives.  The report's on-CPU share (periods) must be within 5 points of
// cpu / lives of the same run (on a loaded machine both move together), the
// summary line must say the same share as the folded output, and the
// sleeps in libc's own write (fwrite: no interposed call) must be off-CPU,
// labelled with the system call's name.
import Foundation
import ProfileFormat
import ProfileReport
import Testing

extension AgentTests {
    @Suite("Agent: the on-/off-CPU split matches the program's CPU time", .timeLimit(.minutes(2)))
    struct CPUSplit {
        struct Outcome {
            let measured: Double // percent: getrusage CPU / the threads' lives
            let reported: Double // percent of periods on-CPU (folded)
            let summaryLine: String
            let folded: String
            let note: String
        }

        static func run(_ mode: String) throws -> Outcome {
            let run = try Agent.profile("agent_cpu_split", [mode], frequency: "999", bound: 60)
            try #require(run.status == 0, "\(run.summary)")
            let line = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("CPU_SPLIT ") },
                                    "\(run.summary)")
            var fields: [String: Double] = [:]
            for field in line.split(separator: " ").dropFirst() {
                let kv = field.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = Double(kv[1]) }
            }
            let cpu = try #require(fields["cpu_us"], "\(line)")
            let lives = try #require(fields["wall_us"], "\(line)")
            try #require(lives > 0, "\(line)")

            let stitched = try decodeAndStitch(try #require(run.file, "no record file"))
            let (profile, _) = ReportBuilder.build(stitched, symbolizer: Symbolizer(maps: stitched.maps,
                                                                                    tools: SymbolTools.find()))
            let folded = FoldedWriter.render(profile)
            // Folded lines are "<thread root>;<frames> <count>": on-CPU when
            // the frame after the root is the marker.
            var on = 0, all = 0
            for l in folded.split(separator: "\n") {
                guard let space = l.lastIndex(of: " "), let n = Int(l[l.index(after: space)...]) else { continue }
                all += n
                if l.split(separator: ";").dropFirst().first == "[on-cpu]" { on += n }
            }
            try #require(all > 0, "empty folded output")
            let measured = 100 * cpu / lives
            let reported = 100 * Double(on) / Double(all)
            let note = "\(mode): on-CPU \(String(format: "%.1f", reported)) % of \(all) periods; "
                + "measured \(String(format: "%.1f", measured)) % (getrusage \(Int(cpu)) us over "
                + "\(Int(lives)) us of thread lives); \(stitched.summary.line)"
            print("cpu split: " + note)
            return Outcome(measured: measured, reported: reported, summaryLine: stitched.summary.line,
                           folded: folded, note: note)
        }

        static func check(_ o: Outcome) {
            #expect(abs(o.reported - o.measured) <= 5, "\(o.note)")
            // The summary line's share is the folded output's.
            #expect(o.summaryLine.contains("on-CPU \(String(format: "%.1f", o.reported)) % of "), "\(o.note)")
        }

        @Test("CPU-heavy: one computing thread")
        func cpuHeavy() throws {
            let o = try Self.run("cpu")
            Self.check(o)
        }

        @Test("I/O-heavy: fwrite into a slow pipe sleeps in libc's own write, off-CPU, labelled by name")
        func ioHeavy() throws {
            let o = try Self.run("io")
            Self.check(o)
            // The writer sleeps in write most of its 1.5 s: most of the
            // main thread's periods (about half of all) carry the label.
            var blocked = 0, all = 0
            for l in o.folded.split(separator: "\n") {
                guard let space = l.lastIndex(of: " "), let n = Int(l[l.index(after: space)...]) else { continue }
                all += n
                if l.hasSuffix(";[blocked: write (not interposed)] \(n)") { blocked += n }
            }
            #expect(blocked * 4 >= all, "\(blocked) of \(all) periods blocked in write (not interposed): \(o.note)")
        }

        @Test("mixed: half-busy computing, copying through a pipe (kernel time in interposed calls), waiting")
        func mixed() throws {
            let o = try Self.run("mixed")
            Self.check(o)
        }
    }
}
