// Folded stacks: "root;...;leaf count", one line per distinct stack, sorted.

import ProfileReport
import Testing

@Suite("ProfileReport: folded stacks", .timeLimit(.minutes(1)))
struct FoldedTests {
    static var line: Regex<(Substring, Substring, Substring)> { #/^(.*) (\d+)$/# }

    @Test("one sorted line per distinct stack, thread name at the root, counts summed")
    func lines() throws {
        let text = FoldedWriter.render(ReportFixture.profile)
        #expect(text.hasSuffix("\n"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines == [
            "main thread;[on-cpu];main;odd:name with breaks 1",
            "main thread;main;closure #1 in Worker.run();[read] 2",
            "prog;[stack lost];[read] 1",
        ])
        var total = 0
        for line in lines {
            let match = try #require(line.wholeMatch(of: Self.line), "\(line)")
            total += Int(match.2) ?? 0
            #expect(!match.1.split(separator: ";").contains { $0.isEmpty })
        }
        #expect(total == ReportFixture.profile.samples.count)
        #expect(lines == lines.sorted())
    }

    @Test("an empty name cannot make an empty frame")
    func emptyName() {
        var profile = ReportFixture.profile
        profile.samples = [ReportSample(tid: 1, threadName: "t", timeNanoseconds: 0, periodNanoseconds: 1,
                                        frames: [ReportFixture.code("", 1)])]
        #expect(FoldedWriter.render(profile) == "t;[unknown] 1\n")
    }
}
