// Samples stand for every tick they waited through: a thread that gets
// its SIGPROF late (waiting for a CPU, or its process stopped) takes one
// signal whose si_overrun counts the others, and the SAMPLE's flags carry
// that count (bits 3..15, Docs/ProfileFormat.md).  Checked on a process
// stopped for 0.8 s of 2 s, from the record file, against the program's
// own wall-time measurement, for a computing thread and for a thread
// sleeping in an interposed call (whose sample also carries the request's
// answer in bits 0..2: both must survive).
import Foundation
import Testing

extension AgentTests {
    @Suite("Agent: samples weighted by the ticks they stand for", .timeLimit(.minutes(1)))
    struct Weights {
        @Test("a stopped process: on-CPU and in-call samples count the ticks it missed")
        func stoppedProcess() throws {
            let frequency = 499.0
            let run = try Agent.profile("agent_stopped", frequency: "499")
            try #require(run.status == 0, "\(run.summary)")
            let line = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("STOPPED ") },
                                    "\(run.summary)")
            var fields: [String: Substring] = [:]
            for field in line.split(separator: " ").dropFirst() {
                let kv = field.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = kv[1] }
            }
            let sleeper = try #require(fields["sleeper"].flatMap { UInt32($0) }, "\(line)")
            let spinner = try #require(fields["spinner"].flatMap { UInt32($0) }, "\(line)")
            let sleep = try #require(fields["sleep"].flatMap { Double($0) }, "\(line)")
            let spin = try #require(fields["spin"].flatMap { Double($0) }, "\(line)")
            #expect(fields["child"] == "0", "the child that stops the process: \(line)")

            let file = try AgentRecordFile(try #require(run.file, "no record file"))
            let samples = file.all(AgentRecordType.sample)
            func weight(_ r: AgentRecord) -> Double { Double(1 + Int(r.flags >> 3)) }
            // The sleeper's samples inside its nanosleep; the spinner's all
            // (its loop is its whole life but for a few microseconds).
            let slept = samples.filter { $0.u32(8) == sleeper && $0.u32(12) != 0 }
            let spun = samples.filter { $0.u32(8) == spinner }
            let sleptTicks = slept.map(weight).reduce(0, +)
            let spunTicks = spun.map(weight).reduce(0, +)
            let largest = samples.map { Int($0.flags >> 3) }.max() ?? 0
            let note = """
                sleeper: \(slept.count) samples, \(Int(sleptTicks)) ticks for \(sleep) s; \
                spinner: \(spun.count) samples, \(Int(spunTicks)) ticks for \(spin) s; \
                largest overrun \(largest) at \(Int(frequency)) Hz
                """
            print("weights: " + note)
            // The stop happened: some sample stands for at least half of
            // the 0.8 s stop's ticks (else this test proves nothing).
            #expect(Double(largest) >= 0.5 * 0.8 * frequency, "no sample waited through the stop: \(note)")
            // Each thread's ticks match its measured time within 10 %; a
            // sample whose overruns were dropped loses the stop's 40 %.
            #expect(abs(sleptTicks - sleep * frequency) <= 0.10 * sleep * frequency, "sleeper: \(note)")
            #expect(abs(spunTicks - spin * frequency) <= 0.10 * spin * frequency, "spinner: \(note)")
            // In-call samples keep the request's answer beside the count.
            #expect(slept.allSatisfy { $0.flags & 7 != 0 }, "an in-call sample lost its request answer: \(note)")
        }
    }
}
