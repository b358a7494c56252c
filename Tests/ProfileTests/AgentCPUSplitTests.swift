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

        /// Periods of the folded lines that `match`.
        static func periods(_ folded: String, _ match: (Substring) -> Bool) -> Int {
            var sum = 0
            for l in folded.split(separator: "\n") {
                guard let space = l.lastIndex(of: " "), let n = Int(l[l.index(after: space)...]) else { continue }
                if match(l[..<space]) { sum += n }
            }
            return sum
        }

        @Test("CPU-heavy: one computing thread; its on-CPU stacks reach main (unwound from copies by the writer)")
        func cpuHeavy() throws {
            let o = try Self.run("cpu")
            Self.check(o)
            // Item 4: the on-CPU samples' stacks come from the writer's
            // unwind of the handler's stack copy, not the pc alone.
            let on = Self.periods(o.folded) { $0.contains(";[on-cpu];") }
            let deep = Self.periods(o.folded) { $0.contains(";[on-cpu];") && $0.contains(";main;spin_us") }
            #expect(deep * 10 >= on * 9, "\(deep) of \(on) on-CPU periods have main;spin_us: \(o.note)")
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
            // Their stacks (copies) go up to main's fwrite.
            let withCaller = Self.periods(o.folded) {
                $0.hasSuffix(";[blocked: write (not interposed)]") && $0.contains(";main;fwrite;")
            }
            #expect(withCaller * 10 >= blocked * 9, "\(withCaller) of \(blocked) blocked periods show main;fwrite")
        }

        @Test("mixed: half-busy computing, copying through a pipe (kernel time in interposed calls), waiting")
        func mixed() throws {
            let o = try Self.run("mixed")
            Self.check(o)
        }
    }
}

/// The SAMPLE fields of minor 1 and the per-thread budget, from files built
/// with the encoder (no agent).
@Suite("CPU split: the SAMPLE's CPU fields and the report's budget", .timeLimit(.minutes(1)))
struct CPUSplitFormatTests {
    static let meta = MetaRecord(pid: 1, frequencyHz: 1000, startNanoseconds: 0, startRealtimeNanoseconds: 0,
                                 signal: 27, commandLine: ["prog"])
    static let read = CallRecord(id: 1, name: "read")
    static let measured = SampleRecord.cpuMeasured | SampleRecord.stateKnown

    static func sample(tid: UInt32 = 7, call: UInt32 = 0, overruns: UInt16 = 0, cpu: UInt32, state: UInt16,
                       syscall: UInt16 = 0, time: UInt64 = 1) -> ProfileRecord {
        .sample(SampleRecord(flags: overruns << SampleRecord.overrunShift, tid: tid, call: call, timeNanoseconds: time,
                             cookie: 0, pc: 0x1000, cpuMicroseconds: cpu, syscall: syscall, cpuState: state))
    }

    static func report(_ records: [ProfileRecord]) throws -> (Stitched, [ReportSample]) {
        let stitched = try decodeAndStitch(ProfileEncoder.file([.meta(meta), .call(read)] + records))
        let tools = SymbolTools(symbolizer: nil, demangler: nil)
        return (stitched, ReportBuilder.build(stitched, symbolizer: Symbolizer(maps: [], tools: tools)).profile.samples)
    }

    @Test("a SAMPLE with CPU fields is 48 bytes and round-trips; 40 bytes reads as unknown; other sizes fail")
    func sizes() throws {
        let full = SampleRecord(tid: 1, call: 0, timeNanoseconds: 2, cookie: 0, pc: 3, cpuMicroseconds: 0xdead_beef,
                                syscall: 61, cpuState: 0x1f)
        let bytes = ProfileEncoder.file([.meta(Self.meta), .sample(full)])
        let decoded = try decodeProfile(bytes)
        #expect(decoded.records.last == .sample(full))
        #expect(Fixture.recordOffsets(bytes).last.map { bytes.count - $0 } == 48)
        let old = SampleRecord(tid: 1, call: 0, timeNanoseconds: 2, cookie: 0, pc: 3)
        let oldBytes = ProfileEncoder.file([.meta(Self.meta), .sample(old)])
        #expect(Fixture.recordOffsets(oldBytes).last.map { oldBytes.count - $0 } == 40)
        let stitched = try decodeAndStitch(oldBytes)
        #expect(stitched.samples.map(\.state) == [.unknown] && stitched.samples.map(\.onCPUPeriods) == [1])
        var wrong = ProfileEncoder.file([.meta(Self.meta)])
        wrong += Fixture.le16(2) + Fixture.le16(0) + Fixture.le32(56) + [UInt8](repeating: 0, count: 48)
        #expect(throws: ProfileFormatError.self) { try decodeProfile(wrong) }
    }

    @Test("running with CPU for 1 of 3 periods: 1 on-CPU, 2 waiting; asleep in write: off-CPU, named")
    func budget() throws {
        let (stitched, samples) = try Self.report([
            Self.sample(overruns: 2, cpu: 1000, state: Self.measured),
            Self.sample(cpu: 10, state: Self.measured | SampleRecord.stateBlocked | SampleRecord.stateSyscall,
                        syscall: 1, time: 2),
        ])
        #expect(stitched.samples.map(\.onCPUPeriods) == [1, 0])
        let names = samples.map { ($0.frames.map(\.name).joined(separator: ";"), $0.periods) }
        #expect(names.map(\.1) == [1, 2, 1], "\(names)")
        try #require(names.count == 3, "\(names)")
        #expect(names[0].0.hasPrefix("[on-cpu];") && names[1].0.hasSuffix(";[waiting for CPU]")
                && names[2].0.hasSuffix(";[blocked: write (not interposed)]"), "\(names)")
        #expect(stitched.summary.line.contains("on-CPU 25.0 % of 4 periods, 1 samples blocked outside interposed calls"))
    }

    @Test("CPU time between ticks beyond 2 periods goes on-CPU on blocked samples; a running call's kernel time is on-CPU")
    func carry() throws {
        let blocked = Self.measured | SampleRecord.stateBlocked
        let (stitched, samples) = try Self.report([
            Self.sample(cpu: 1500, state: blocked),
            Self.sample(cpu: 1500, state: blocked, time: 2),
            Self.sample(call: 1, cpu: 1000, state: Self.measured, time: 3),
        ])
        #expect(stitched.samples.map(\.onCPUPeriods) == [0, 1, 1])
        #expect(samples.last?.frames.map(\.name) == ["[on-cpu]", "[stack lost]", "[read]"])
    }
}
