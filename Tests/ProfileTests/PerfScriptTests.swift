// perf script text as the importers read it: Firefox Profiler's detection
// regex on every header, speedscope's event name and frame shape, leaf first,
// one blank line after each sample.

import ProfileReport
import Testing

enum ReportFixture {
    static func code(_ name: String, _ address: UInt64, module: String = "/usr/lib/libc.so.6",
                     offset: UInt64? = 0x10) -> ReportFrame {
        ReportFrame(kind: .code, address: address, name: name, module: module, moduleOffset: address & 0xfffff,
                    symbolOffset: offset)
    }
    static let read = ReportFrame(kind: .blockedIn, address: 0, name: "[read]", module: "", moduleOffset: 0)
    static let lost = ReportFrame(kind: .stackLost, address: 0, name: "[stack lost]", module: "", moduleOffset: 0)
    static let onCPU = ReportFrame(kind: .onCPU, address: 0, name: "[on-cpu]", module: "", moduleOffset: 0)

    /// Three kinds of sample on two threads, names that need sanitising.
    static var profile: ReportProfile {
        let main = code("main", 0x5555_0000_1000, module: "/home/u/my prog (copy)/prog", offset: 0x2a)
        let work = code("closure #1 in Worker.run()", 0x5555_0000_2000, module: "/home/u/prog")
        let odd = code("odd;name\nwith\tbreaks", 0x7f00_0000_3000, offset: nil)
        let samples = [
            ReportSample(tid: 11, threadName: "main thread", timeNanoseconds: 12_345_678_901_234,
                         periodNanoseconds: 10_101_010, frames: [main, work, read]),
            ReportSample(tid: 12, threadName: "", timeNanoseconds: 12_345_688_901_234,
                         periodNanoseconds: 10_101_010, frames: [lost, read]),
            ReportSample(tid: 11, threadName: "main thread", timeNanoseconds: 12_345_698_000_000,
                         periodNanoseconds: 10_101_010, frames: [onCPU, main, odd]),
            ReportSample(tid: 11, threadName: "main thread", timeNanoseconds: 12_345_699_000_000,
                         periodNanoseconds: 10_101_010, frames: [main, work, read]),
        ]
        return ReportProfile(pid: 1234, command: "prog", commandLine: ["/home/u/prog"], frequencyHz: 99,
                             startNanoseconds: 12_345_000_000_000, startRealtimeNanoseconds: 0,
                             durationNanoseconds: 1_000_000_000, mappings: [], samples: samples)
    }
}

@Suite("ProfileReport: perf script text", .timeLimit(.minutes(1)))
struct PerfScriptTests {
    static var firefoxHeader: Regex<Substring> { #/^\S.*?\s+(?:\d+\/)?\d+\s+(?:\[\d+\]\s+)?[\d.]+:/# }
    static var speedscopeEvent: Regex<(Substring, Substring)> { #/(\S+):\s*$/# }
    /// speedscope's and stackcollapse-perf's frame line, with the dso as
    /// both read it (\S* for speedscope, [^)]* for Firefox Profiler).
    static var frame: Regex<(Substring, Substring, Substring, Substring)> { #/^\s*(\w+)\s*(.+) \(([^)\s]*)\)$/# }

    @Test("every header line is detected by Firefox Profiler's regex and names one event")
    func headers() throws {
        let text = PerfScriptWriter.render(ReportFixture.profile)
        let samples = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(samples.count == 4)
        #expect(text.hasSuffix(")\n\n") && !text.hasSuffix("\n\n\n"), "every sample, the last too, ends with a blank line")
        let headers = samples.map { String($0.split(separator: "\n", omittingEmptySubsequences: false)[0]) }
        #expect(headers == [
            "main_thread 1234/11 12345.678901: 10101010 wall-clock:",
            "prog 1234/12 12345.688901: 10101010 wall-clock:",
            "main_thread 1234/11 12345.698000: 10101010 wall-clock:",
            "main_thread 1234/11 12345.699000: 10101010 wall-clock:",
        ])
        for header in headers {
            #expect(header.firstMatch(of: Self.firefoxHeader) != nil, "\(header)")
            #expect(header.firstMatch(of: Self.speedscopeEvent)?.1 == "wall-clock")
        }
        #expect(text.firstMatch(of: Self.firefoxHeader) != nil, "the file's first line is detected")
    }

    @Test("frame lines: tab, hex address, symbol+0xoffset, (dso) without spaces; leaf first")
    func frames() throws {
        let text = PerfScriptWriter.render(ReportFixture.profile)
        let samples = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        let first = samples[0].split(separator: "\n").dropFirst().map(String.init)
        #expect(first == [
            "\t               0 [read] ([unwind-profile])",
            "\t    555500002000 closure #1 in Worker.run()+0x10 (/home/u/prog)",
            "\t    555500001000 main+0x2a (/home/u/my_prog__copy_/prog)",
        ])
        for sample in samples {
            for line in sample.split(separator: "\n").dropFirst() {
                let match = try #require(String(line).wholeMatch(of: Self.frame), "\(line)")
                #expect(UInt64(match.1, radix: 16) != nil)
                #expect(!match.2.isEmpty)
                #expect(line.hasPrefix("\t"))
            }
        }
        let third = samples[2].split(separator: "\n").dropFirst().map(String.init)
        #expect(third == [
            "\t    7f0000003000 odd;name with breaks (/usr/lib/libc.so.6)",
            "\t    555500001000 main+0x2a (/home/u/my_prog__copy_/prog)",
            "\t               0 [on-cpu] ([unwind-profile])",
        ])
        #expect(samples[1].hasSuffix("\t               0 [stack lost] ([unwind-profile])"))
    }

    @Test("an empty profile is empty text")
    func empty() {
        var profile = ReportFixture.profile
        profile.samples = []
        #expect(PerfScriptWriter.render(profile) == "")
    }
}
