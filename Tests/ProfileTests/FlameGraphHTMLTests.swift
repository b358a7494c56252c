// `report --format html`: the page is self-contained (no network), and its
// script, run by a headless Chromium, draws the frames, searches, zooms and
// filters by thread.  The browser tests skip when chromium is not installed
// (Debian: apt-get install chromium; .ci/run installs it).

import Foundation
@testable import ProfileReport
import Testing

enum Chromium {
    /// chromium (Debian) or chromium-browser on PATH.
    static let path: URL? = ["chromium", "chromium-browser"].lazy.compactMap { try? Agent.which($0) }.first

    /// The page's DOM after its script ran (`--dump-dom`), the location's
    /// hash set to `hash`; a screenshot too when `screenshot` is given.
    static func dom(of html: String, hash: String, screenshot: URL? = nil) throws -> String {
        let exe = try #require(path)
        let dir = try TempDir()
        let page = dir.url.appendingPathComponent("flame.html")
        try Data(html.utf8).write(to: page)
        var args = ["--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
                    "--user-data-dir=" + dir.path("profile"), "--window-size=1200,500"]
        if let screenshot { args.append("--screenshot=" + screenshot.path) } else { args.append("--dump-dom") }
        args.append(page.absoluteString + "#" + hash)
        // Chromium starts in ~3 s here; a loaded machine gets a generous bound.
        let run = try Agent.runBounded(exe, args, environment: nil, bound: 120)
        try #require(run.status == 0, "chromium failed: \(run.summary)")
        return run.stdout
    }
}

@Suite("ProfileReport: HTML flame graph", .timeLimit(.minutes(3)))
struct FlameGraphHTMLTests {
    /// Three threads, two named "bio": 4 samples, 3 of them in "wait".
    static var profile: ReportProfile {
        ReportStreamingTests.profile([
            (21, "bio", ["start", "wait"]), (22, "bio", ["start", "wait"]), (22, "bio", ["start", "wait"]),
            (23, "main", ["main", "compute", "read </script>"]),
        ])
    }

    static func count(_ needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    /// The text of the element with `id` in the dumped DOM.
    static func element(_ id: String, in dom: String) -> String? {
        guard let start = dom.range(of: "id=\"\(id)\"") else { return nil }
        let rest = dom[start.upperBound...]
        guard let open = rest.firstIndex(of: ">"), let close = rest[open...].firstIndex(of: "<") else { return nil }
        return String(rest[rest.index(after: open)..<close])
    }

    @Test("self-contained: inline script and style, no URL to fetch, the data cannot close its script")
    func selfContained() {
        let html = FlameGraphHTML.render(Self.profile, title: "t <&>")
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("src="))
        #expect(!html.contains("<link"))
        #expect(Self.count("</script>", in: html) == 2)
        #expect(html.contains("<title>t &lt;&amp;&gt;</title>"))
    }

    @Test("in Chromium: one frame per node, per-thread towers, search share, thread filter, zoom",
          .enabled(if: Chromium.path != nil, "chromium is not installed (apt-get install chromium): HTML not checked in a browser"))
    func inBrowser() throws {
        let html = FlameGraphHTML.render(Self.profile, title: "t")
        // all + 3 threads + start,wait twice + main,compute,read.
        // "wait|start": a match above a match counts once.
        let all = try Chromium.dom(of: html, hash: "search=wait%7Cstart")
        #expect(Self.count("class=\"frame", in: all) == 11, "\(all)")
        #expect(Self.count("class=\"frame match\"", in: all) == 4)
        #expect(Self.element("matched", in: all) == "Matched: 75.00%")
        #expect(all.contains("data-name=\"read &lt;/script&gt;\""))
        // Threads merged: all + start, wait + main, compute, read.
        let merged = try Chromium.dom(of: html, hash: "split=0")
        #expect(Self.count("class=\"frame", in: merged) == 6)
        // One thread: all + "bio (22)" + start + wait; the share is of its samples.
        let one = try Chromium.dom(of: html, hash: "thread=22&search=start")
        #expect(Self.count("class=\"frame", in: one) == 4)
        #expect(Self.element("matched", in: one) == "Matched: 100.00%")
        #expect(one.contains("data-total=\"2\""))
        // Zoomed into "compute": its ancestors dimmed, it and its child drawn, the rest hidden.
        let zoomed = try Chromium.dom(of: html, hash: "zoom=compute")
        #expect(Self.count("class=\"frame outside\"", in: zoomed) == 3)
        #expect(Self.count("class=\"frame\"", in: zoomed) == 2)
    }

    @Test("in Chromium: a screenshot of the page (a PNG)",
          .enabled(if: Chromium.path != nil, "chromium is not installed (apt-get install chromium): no screenshot"))
    func screenshot() throws {
        let dir = try TempDir()
        let png = dir.url.appendingPathComponent("flame.png")
        _ = try Chromium.dom(of: FlameGraphHTML.render(Self.profile, title: "t"), hash: "search=wait", screenshot: png)
        let bytes = try Data(contentsOf: png)
        #expect(bytes.starts(with: [0x89, 0x50, 0x4e, 0x47]) && bytes.count > 1000)
    }
}
