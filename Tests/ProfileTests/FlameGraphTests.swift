// The SVG flame graph: valid XML without scripts, one tooltip per frame,
// widths proportional to time, nesting, escaping, colours, determinism.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import ProfileReport

/// Stacks with distinct (depth, name) pairs, so a drawn frame names its node.
/// Times: all 110 ms + 1 ns; main 90 ms + 1 ns; a 60 ([read] 40, c 20); b 30
/// (half of a); "operator<<" 10 (an on-CPU sample); [stack lost] 10; "tiny" 1 ns.
func flameFixture() -> ReportProfile {
    func code(_ name: String) -> ReportFrame {
        ReportFrame(kind: .code, address: 0x1000, name: name, module: "/bin/app", moduleOffset: 0x1000,
                    symbolOffset: 0)
    }
    let read = ReportFrame(kind: .blockedIn, address: 0, name: "[read]", module: "", moduleOffset: 0)
    let lost = ReportFrame(kind: .stackLost, address: 0, name: "[stack lost]", module: "", moduleOffset: 0)
    let onCPU = ReportFrame(kind: .onCPU, address: 0, name: "[on-cpu]", module: "", moduleOffset: 0)
    let weird = code("operator<<(std::ostream&, \"quoted\" 'x') \u{1}")
    let long = code("a_very_long_function_name_that_cannot_fit_in_a_narrow_box_of_the_graph")
    let stacks: [(UInt64, [ReportFrame])] = [
        (10_000_000, [code("main"), code("a"), read]),
        (20_000_000, [code("main"), code("a"), read]),
        (10_000_000, [code("main"), code("a"), read]),
        (10_000_000, [code("main"), code("b")]),
        (10_000_000, [code("main"), code("a"), code("c"), long]),
        (20_000_000, [code("main"), code("b")]),
        (10_000_000, [code("main"), code("a"), code("c")]),
        (10_000_000, [onCPU, weird]),
        (10_000_000, [lost]),
        (1, [code("main"), code("tiny")]),
    ]
    return ReportProfile(
        pid: 7, command: "app<&>", commandLine: ["app<&>"], frequencyHz: 100, startNanoseconds: 0,
        startRealtimeNanoseconds: 0, durationNanoseconds: 1_500_000_000, mappings: [],
        samples: stacks.map {
            ReportSample(tid: 1, threadName: "app", timeNanoseconds: 0, periodNanoseconds: $0.0, frames: $0.1)
        })
}

/// A drawn frame, read back from the SVG.
struct DrawnFrame {
    var name: String, title: String, x: Double, y: Double, width: Double, fill: String, text: String?
    var titles: Int, rects: Int
}

/// An element read back from the SVG.  Built with XMLParser's callbacks
/// (libxml2 SAX, strict) rather than XMLDocument, whose nodes(forXPath:)
/// leaks in corelibs Foundation (LeakSanitizer in the ASan test run).
final class SVGNode {
    let name: String
    let attributes: [String: String]
    var children: [SVGNode] = []
    var text = ""
    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }
    /// This node and all below it, depth first.
    var all: [SVGNode] { [self] + children.flatMap(\.all) }
    func child(_ name: String) -> SVGNode? { children.first { $0.name == name } }
}

private final class SVGTreeBuilder: NSObject, XMLParserDelegate {
    var stack: [SVGNode] = []
    var root: SVGNode?
    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String]) {
        let node = SVGNode(name: elementName, attributes: attributes)
        if let parent = stack.last { parent.children.append(node) } else { root = node }
        stack.append(node)
    }
    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                qualifiedName: String?) {
        _ = stack.popLast()
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }
}

/// The parsed SVG, or the parser's error when it is not well-formed XML
/// (parse() can return true with an error set, so both are checked).
func parseSVG(_ svg: String) -> Result<SVGNode, ParseFailure> {
    let parser = XMLParser(data: Data(svg.utf8))
    let builder = SVGTreeBuilder()
    parser.delegate = builder
    let parsed = parser.parse()
    if parsed, parser.parserError == nil, let root = builder.root { return .success(root) }
    return .failure(ParseFailure(text: parser.parserError.map { "\($0) at line \(parser.lineNumber)" }
                                 ?? "parse failed"))
}

struct ParseFailure: Error { var text: String }

/// Nil when `svg` is well-formed XML, else the parser's error.
func xmlError(_ svg: String) -> String? {
    if case .failure(let f) = parseSVG(svg) { return f.text }
    return nil
}

/// Checks `svg` is well-formed, then returns its root and its frames: the
/// <g> elements that hold a <rect>.
func drawnFrames(_ svg: String) throws -> (SVGNode, [DrawnFrame]) {
    let root: SVGNode
    switch parseSVG(svg) {
    case .success(let r): root = r
    case .failure(let f): throw f
    }
    let groups = root.all.filter { $0.name == "g" && $0.child("rect") != nil }
    let frames = try groups.map { g -> DrawnFrame in
        let rect = try #require(g.child("rect"))
        let title = try #require(g.child("title")?.text)
        func number(_ attribute: String) throws -> Double {
            try #require(rect.attributes[attribute].flatMap(Double.init))
        }
        let nameEnd = try #require(title.range(of: " (", options: .backwards))
        return DrawnFrame(name: String(title[..<nameEnd.lowerBound]), title: title, x: try number("x"),
                          y: try number("y"), width: try number("width"),
                          fill: rect.attributes["fill"] ?? "",
                          text: g.child("text")?.text,
                          titles: g.children.filter { $0.name == "title" }.count,
                          rects: g.children.filter { $0.name == "rect" }.count)
    }
    return (root, frames)
}

@Suite("flame graph SVG", .timeLimit(.minutes(1)))
struct FlameGraphTests {
    let svg = FlameGraphSVG.render(flameFixture(), title: "Off-CPU <&> \"title\"")

    func frame(_ frames: [DrawnFrame], _ name: String) throws -> DrawnFrame {
        try #require(frames.first { $0.name == name }, "no frame \(name)")
    }

    @Test func validXMLWithoutScripts() throws {
        let (document, frames) = try drawnFrames(svg)
        #expect(document.name == "svg")
        #expect(document.attributes["width"] == "1200")
        #expect(!document.all.contains { $0.name == "script" })
        #expect(!document.all.contains { $0.attributes.keys.contains { $0.hasPrefix("on") } })
        #expect(!svg.contains("<script") && !svg.contains("javascript:"))
        #expect(frames.count == 10)
    }

    @Test func oneTitlePerDrawnFrame() throws {
        let (document, frames) = try drawnFrames(svg)
        #expect(frames.allSatisfy { $0.titles == 1 && $0.rects == 1 })
        #expect(document.all.filter { $0.name == "title" }.count == frames.count)
        let (all, main) = (try frame(frames, "all"), try frame(frames, "main"))
        #expect(all.title == "all (10 samples, 100.00%, 110.00 ms)")
        #expect(main.title == "main (8 samples, 81.82%, 90.00 ms)")
    }

    @Test func widthsAreProportionalToTime() throws {
        let (_, frames) = try drawnFrames(svg)
        let all = try frame(frames, "all")
        #expect(all.width == 1180 && all.y == frames.map(\.y).max(), "root spans the graph at the bottom")
        let total = 110_000_001.0
        let times = ["main": 90e6, "a": 60e6, "b": 30e6, "c": 20e6, "[read]": 40e6, "[stack lost]": 10e6]
        for (name, time) in times {
            let drawn = try frame(frames, name).width
            #expect(abs(drawn - time / total * 1180) <= 0.5, "\(name): \(drawn)")
        }
        // b stands for half of a's time (but for 2 samples to a's 5).
        #expect(abs(try frame(frames, "b").width * 2 - frame(frames, "a").width) <= 0.5)
        // Children sit inside their parent and never add up to more than it.
        for parent in frames {
            let children = frames.filter {
                $0.y == parent.y - 16 && $0.x >= parent.x && $0.x < parent.x + parent.width
            }
            let sum = children.reduce(0) { $0 + $1.width }
            #expect(sum <= parent.width + 1e-9, "\(parent.name): children \(sum) > \(parent.width)")
            for child in children { #expect(child.x + child.width <= parent.x + parent.width + 1e-9) }
        }
        // Siblings in alphabetical order, not time order; "tiny" (1 ns) is not drawn.
        let main = try frame(frames, "main")
        let mainChildren = frames.filter { $0.y == main.y - 16 && $0.x >= main.x }
        #expect(mainChildren.sorted { $0.x < $1.x }.map(\.name) == ["a", "b"])
        #expect(!frames.contains { $0.name == "tiny" })
        #expect(try frame(frames, "[on-cpu]").x < frame(frames, "[stack lost]").x)
    }

    @Test func escapesNamesAndTitles() throws {
        let (document, frames) = try drawnFrames(svg)
        let weird = try #require(frames.first { $0.name.hasPrefix("operator<<") })
        #expect(weird.name == "operator<<(std::ostream&, \"quoted\" 'x') \u{FFFD}")
        #expect(svg.contains("operator&lt;&lt;(std::ostream&amp;, &quot;quoted&quot; &apos;x&apos;)"))
        let texts = document.all.filter { $0.name == "text" }.map(\.text)
        #expect(texts.contains("Off-CPU <&> \"title\""))
        #expect(texts.contains { $0.hasPrefix("app<&>: 10 samples in 1.50 s at 100 Hz") })
    }

    @Test func labelsAreCutToTheirBox() throws {
        let (_, frames) = try drawnFrames(svg)
        #expect(try frame(frames, "main").text == "main")
        let long = try #require(frames.first { $0.name.hasPrefix("a_very_long") })
        let text = try #require(long.text)
        #expect(text.hasSuffix("..") && long.name.hasPrefix(text.dropLast(2)))
        #expect(Double(text.count) * 12 * 0.59 <= long.width)
        for drawn in frames where drawn.width < 3 * 12 * 0.59 + 6 { #expect(drawn.text == nil) }
    }

    @Test func coloursByKind() throws {
        let (_, frames) = try drawnFrames(svg)
        func rgb(_ name: String) throws -> [Int] {
            let fill = try frame(frames, name).fill
            #expect(fill.hasPrefix("rgb("))
            return fill.dropFirst(4).dropLast().split(separator: ",").compactMap { Int($0) }
        }
        let read = try rgb("[read]"), lost = try rgb("[stack lost]"), cpu = try rgb("[on-cpu]")
        #expect(read[2] > read[0] + 80, "[read] is blue: \(read)")
        #expect(lost[0] == lost[1] && lost[1] == lost[2], "[stack lost] is grey: \(lost)")
        #expect(cpu[0] > cpu[1] + 100 && cpu[0] > cpu[2] + 100, "[on-cpu] is red: \(cpu)")
        for name in ["main", "a", "b", "c"] {
            let warm = try rgb(name)
            #expect(warm[0] >= 205 && warm[2] <= 55, "\(name) is warm: \(warm)")
        }
        #expect(FlameGraphStyle.fill(name: "main", kind: .code) == FlameGraphStyle.fill(name: "main", kind: .code))
    }

    @Test func deterministicWhateverTheSampleOrder() {
        var shuffled = flameFixture()
        shuffled.samples.reverse()
        #expect(FlameGraphSVG.render(flameFixture(), title: "t") == FlameGraphSVG.render(flameFixture(), title: "t"))
        #expect(FlameGraphSVG.render(shuffled, title: "t") == FlameGraphSVG.render(flameFixture(), title: "t"))
    }

    @Test func emptyProfile() throws {
        var profile = flameFixture()
        profile.samples = []
        let empty = FlameGraphSVG.render(profile, title: "nothing")
        let (_, frames) = try drawnFrames(empty)
        #expect(frames.isEmpty && empty.contains(">No samples</text>"))
    }
}
