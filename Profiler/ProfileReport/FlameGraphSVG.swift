// `unwind-profile report --format svg`: a self-contained flame graph in the
// manner of Brendan Gregg's flamegraph.pl, without its script: root ("all")
// at the bottom, callees above callers, siblings in alphabetical order,
// widths proportional to wall time, a <title> per frame for the browser's
// hover tooltip, names cut to fit their box.

public enum FlameGraphSVG {
    static let imageWidth = 1200
    static let frameHeight = 16
    static let fontSize = 12.0
    static let sidePadding = 10
    /// Above the frames: title and subtitle; below: a margin.
    static let topPadding = 60
    static let bottomPadding = 10
    /// Frames narrower than this many pixels are left out (flamegraph.pl's minwidth).
    static let minimumWidth = 0.1

    public static func render(_ profile: ReportProfile, title: String, roots: ThreadRoots = .byName) -> String {
        let tree = FlameGraphTree(profile, roots: roots)
        let frameArea = (imageWidth - 2 * sidePadding) * 100
        let boxes = tree.layout(left: sidePadding * 100, width: frameArea,
                                minimumWidth: minimumWidth * 100)
        let depth = (boxes.map(\.depth).max() ?? 0) + 1
        let height = topPadding + depth * frameHeight + bottomPadding

        var svg = """
        <?xml version="1.0" encoding="UTF-8" standalone="no"?>
        <svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="\(imageWidth)" \
        height="\(height)" viewBox="0 0 \(imageWidth) \(height)">
        <defs><linearGradient id="background" x1="0" y1="0" x2="0" y2="1">\
        <stop offset="5%" stop-color="#eeeeee"/><stop offset="95%" stop-color="#eeeeb0"/>\
        </linearGradient></defs>
        <rect x="0" y="0" width="\(imageWidth)" height="\(height)" fill="url(#background)"/>
        <text x="\(imageWidth / 2)" y="24" text-anchor="middle" font-family="Verdana, sans-serif" \
        font-size="17">\(FlameGraphStyle.escape(title))</text>
        <text x="\(imageWidth / 2)" y="44" text-anchor="middle" font-family="Verdana, sans-serif" \
        font-size="12" fill="#555555">\(FlameGraphStyle.escape(subtitle(profile)))</text>

        """
        if boxes.isEmpty {
            svg += "<text x=\"\(imageWidth / 2)\" y=\"\(topPadding + 12)\" text-anchor=\"middle\" "
                + "font-family=\"Verdana, sans-serif\" font-size=\"12\">No samples</text>\n"
        }
        svg += "<g font-family=\"Verdana, sans-serif\" font-size=\"\(Int(fontSize))\">\n"
        let root = tree.nodes[0]
        for box in boxes {
            svg += frame(box, tree: tree, rootTime: root.nanoseconds, rootSamples: root.samples,
                         height: height)
        }
        svg += "</g>\n</svg>\n"
        return svg
    }

    /// "command: N samples in X.XX s at F Hz (pid P)"; N counts sampling
    /// periods, as the frames' tooltips do (a sample whose timer overran
    /// stands for several; merged samples for all they merge).
    static func subtitle(_ profile: ReportProfile) -> String {
        let count = profile.samples.reduce(0) { $0 + Int($1.periods) }
        let seconds = Double(profile.durationNanoseconds) / 1e9
        return "\(profile.command): \(count) sample\(count == 1 ? "" : "s") in "
            + "\(FlameGraphStyle.fixed(seconds, digits: 2)) s at \(profile.frequencyHz) Hz "
            + "(pid \(profile.pid)), wall clock"
    }

    /// One frame: <g><title/><rect/><text/></g>, root at the bottom.
    private static func frame(_ box: FlameGraphBox, tree: FlameGraphTree, rootTime: UInt64,
                              rootSamples: Int, height: Int) -> String {
        let node = tree.nodes[box.node]
        let name = node.key.name
        let y = height - bottomPadding - (box.depth + 1) * frameHeight
        // Share of the time (of the samples when no sample has a period).
        let share = rootTime > 0 ? Double(node.nanoseconds) / Double(rootTime)
                                 : Double(node.samples) / Double(max(rootSamples, 1))
        let milliseconds = Double(node.nanoseconds) / 1e6
        let tooltip = "\(name) (\(node.samples) sample\(node.samples == 1 ? "" : "s"), "
            + "\(FlameGraphStyle.fixed(share * 100, digits: 2))%, "
            + "\(FlameGraphStyle.fixed(milliseconds, digits: 2)) ms)"
        let fill = FlameGraphStyle.fill(name: name, kind: node.key.kind)
        let x = FlameGraphStyle.pixels(box.left)
        var text = "<g><title>\(FlameGraphStyle.escape(tooltip))</title>"
            + "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(FlameGraphStyle.pixels(box.right - box.left))\" "
            + "height=\"\(frameHeight - 1)\" fill=\"\(fill)\" rx=\"2\" ry=\"2\"/>"
        let width = Double(box.right - box.left) / 100
        if let label = FlameGraphStyle.fitted(name, pixels: width - 6, fontSize: fontSize) {
            text += "<text x=\"\(FlameGraphStyle.pixels(box.left + 300))\" y=\"\(y + 12)\">"
                + "\(FlameGraphStyle.escape(label))</text>"
        }
        return text + "</g>\n"
    }
}
