// The issue's proof on a real program: `unwind-profile record` of the
// example workload (Examples/OffCPUWorkload), then `report --format folded`:
// every call path's share of the profile's wall time is within ±10 % of the
// share the workload measured itself (CLOCK_MONOTONIC around each call), and
// each path's samples end in the call it blocks in.  The workload measures
// its own times, so a loaded machine moves both sides together.

import Foundation
import Testing

extension AgentTests {
    @Suite("Profiler: the example workload's shares of wall time", .timeLimit(.minutes(2)))
    struct WorkloadShareTests {
        /// path function -> the frame that must end (or, on-CPU, start) its stacks.
        static let expectedCall: [String: String] = [
            "wait_run_time": "[nanosleep]", "pace_feeder": "[nanosleep]", "read_pipe_message": "[read]",
            "wait_for_signal": "[pthread_cond_wait]", "sleep_holding_lock": "[usleep]",
            "sleep_without_lock": "[usleep]", "take_contended_lock": "[pthread_mutex_lock]",
            "contender_pause": "[poll]", "crunch_numbers": "[on-cpu]",
        ]

        /// The workload compiled with cc like a user's program (not with the
        /// test build's sanitizers: the agent interposes libc beneath it).
        static func workload(in dir: TempDir) throws -> String {
            let source = Agent.root.appendingPathComponent("Examples/OffCPUWorkload/main.c").path
            let binary = dir.path("offcpu-workload")
            let run = try Agent.runBounded(try Agent.which("cc"),
                                           ["-O2", "-g", "-pthread", source, "-o", binary],
                                           environment: nil, bound: 120)
            try #require(run.status == 0, "cc failed: \(run.summary)")
            return binary
        }

        /// A frame of `function`, also a compiler's clone ("wait_for_workers.constprop.0").
        static func frame(_ frame: Substring, is function: String) -> Bool {
            frame == function || frame.hasPrefix(function + ".")
        }

        @Test("each path's share of wall time is within ±10 % of the workload's own measurement")
        func sharesMatchTheWorkload() throws {
            let agent = try Agent.library.get()
            let dir = try TempDir()
            let program = try Self.workload(in: dir)
            let data = dir.path("workload.data")
            let loadBefore = loadAverage()
            let record = try CLI.run(["record", "-F", "499", "-o", data, "--agent", agent.path, "--", program, "3"],
                                     environment: CLI.cleanEnvironment, in: dir.url, seconds: 60)
            try #require(record.status == 0, "record: \(record.stderr)")

            // The workload's own measurement: WORKLOAD path=<f> thread=<t> seconds=<s>
            var measured: [String: Double] = [:]
            for line in record.stdout.split(separator: "\n") where line.hasPrefix("WORKLOAD path=") {
                var fields: [String: String] = [:]
                for field in line.split(separator: " ") {
                    let kv = field.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
                }
                if let path = fields["path"], let seconds = fields["seconds"].flatMap(Double.init) {
                    measured[path] = seconds
                }
            }
            let load = "load average \(loadBefore) -> \(loadAverage()) during the recording"
            try #require(measured.count == 10, "workload output: \(record.stdout)")
            let measuredTotal = measured.values.reduce(0, +)

            let report = try CLI.run(["report", data, "--format", "folded"], environment: CLI.cleanEnvironment,
                                     seconds: 60)
            try #require(report.status == 0, "report: \(report.stderr)")
            var stacks: [([Substring], Int)] = []
            for line in report.stdout.split(separator: "\n") {
                guard let space = line.lastIndex(of: " "), let count = Int(line[line.index(after: space)...]) else {
                    Issue.record("not a folded line: \(line)")
                    continue
                }
                stacks.append((line[..<space].split(separator: ";"), count))
            }
            let total = stacks.map(\.1).reduce(0, +)
            try #require(total > 5000, "too few samples: \(total); \(report.stderr)")

            var table = ["path share: profile vs measured (samples)"]
            for (path, seconds) in measured.sorted(by: { $0.key < $1.key }) {
                let share = seconds / measuredTotal
                let mine = stacks.filter { $0.0.contains { Self.frame($0, is: path) } }
                let samples = mine.map(\.1).reduce(0, +)
                let profiled = Double(samples) / Double(total)
                table.append(String(format: "  %-20@ %6.2f%% vs %6.2f%% (%d)", path as NSString,
                                    profiled * 100, share * 100, samples))
                // wait_for_workers lasts at most one 40 ms cycle (< 0.5 %):
                // too few samples for a relative bound; only its presence.
                guard share >= 0.02 else { continue }
                #expect(abs(profiled - share) <= 0.10 * share,
                        "\(path): \(profiled * 100)% of the profile, measured \(share * 100)%; \(load); report: \(report.stderr)")
                let call = try #require(Self.expectedCall[path])
                // A computing thread's periods without CPU time (it waited
                // for a CPU on a loaded machine) are "[waiting for CPU]"
                // on the same stack (Docs/Profiler.md, "On-CPU and off-CPU").
                let inCall = mine.filter {
                    $0.0.contains(Substring(call)) || (call == "[on-cpu]" && $0.0.last == "[waiting for CPU]")
                }.map(\.1).reduce(0, +)
                #expect(Double(inCall) >= 0.95 * Double(samples),
                        "\(path): only \(inCall) of \(samples) samples in \(call)")
            }
            let unattributed = stacks.filter { stack in !measured.keys.contains { path in stack.0.contains { Self.frame($0, is: path) } } }
            table.append("  samples on no path: \(unattributed.map(\.1).reduce(0, +)), most:")
            for (stack, count) in unattributed.sorted(by: { $0.1 > $1.1 }).prefix(5) {
                table.append("    \(stack.joined(separator: ";")) \(count)")
            }
            table.append("  " + load)
            table.append("  report: " + report.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
            print(table.joined(separator: "\n"))
            #expect(report.stderr.contains("0 stacks lost"), "\(report.stderr)")
        }
    }
}
