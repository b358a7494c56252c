// `unwind-profile report --format html`: an interactive flame graph in one
// self-contained page (no network: the script and style are inline).  The
// page carries the distinct stacks per thread (StackCounts, "name (tid)"
// roots) as JSON and its script (FlameGraphScript.swift) merges the stacks
// of the selected threads into a tree and draws it: root at the bottom,
// siblings alphabetical, widths by wall time; search highlights the
// matching frames and says the share they cover; a click zooms into a
// frame, Reset (or Escape) zooms out; the thread and process menus filter.
// The location's hash sets the initial state (#search=read&thread=12&
// pid=34&zoom=main), which is how a headless browser test drives it.

import Foundation

public enum FlameGraphHTML {
    struct Page: Encodable {
        var title: String
        var subtitle: String
        /// Distinct frames: name, kind (0 code, 1 blocked, 2 lost, 3 on-CPU),
        /// fill colour (FlameGraphStyle's, as in the SVG).
        var names: [String]
        var kinds: [Int]
        var colors: [String]
        var threads: [Thread]
        var stacks: [Stack]
    }
    struct Thread: Encodable {
        var pid: UInt32
        var tid: UInt32
        /// "name (tid)", the thread's root frame.
        var name: String
        var color: String
    }
    struct Stack: Encodable {
        /// Index in `threads`.
        var t: Int
        /// Indices in `names`, root first.
        var f: [Int]
        /// Sampling periods.
        var n: Int
        /// Wall-clock nanoseconds.
        var w: UInt64
    }

    public static func render(_ profile: ReportProfile, title: String) -> String {
        let page = data(profile, title: title)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // JSONEncoder escapes "/" (so "</script>" cannot close the script);
        // a failure is impossible for these types, and gives an empty graph.
        var json = (try? encoder.encode(page)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        json = json.replacingOccurrences(of: "<", with: "\\u003c")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(FlameGraphStyle.escape(title))</title>
        <style>\(FlameGraphScript.css)</style>
        </head><body>
        <h1 id="title">\(FlameGraphStyle.escape(title))</h1>
        <p id="subtitle">\(FlameGraphStyle.escape(page.subtitle))</p>
        <div id="controls">
        <label>Process <select id="pid"></select></label>
        <label>Thread <select id="thread"></select></label>
        <label><input id="split" type="checkbox" checked> Per thread</label>
        <label>Search <input id="search" type="search" placeholder="regular expression"></label>
        <button id="reset" type="button">Reset zoom</button>
        <span id="matched"></span>
        </div>
        <div id="graph"></div>
        <p id="details">&nbsp;</p>
        <script id="profile-data" type="application/json">\(json)</script>
        <script>\(FlameGraphScript.js)</script>
        </body></html>

        """
    }

    /// The page's data: each distinct (thread, stack) once.
    static func data(_ profile: ReportProfile, title: String) -> Page {
        var names: [String] = [], kinds: [Int] = [], colors: [String] = []
        var nameIndex: [FlameGraphNode.Key: Int] = [:]
        var threads: [Thread] = []
        var threadIndex: [String: Int] = [:]
        var stacks: [Stack] = []
        for stack in StackCounts.merge(profile, roots: .byThread, nameRoot: false) {
            let t: Int
            if let known = threadIndex[stack.root] {
                t = known
            } else {
                t = threads.count
                threadIndex[stack.root] = t
                threads.append(Thread(pid: stack.pid == 0 ? profile.pid : stack.pid, tid: stack.tid, name: stack.root,
                                      color: FlameGraphStyle.fill(name: stack.root, kind: .thread)))
            }
            var ids: [Int] = []
            ids.reserveCapacity(stack.frames.count)
            for frame in stack.frames {
                let key = FlameGraphNode.Key(name: frame.name, kind: frame.kind)
                if let id = nameIndex[key] {
                    ids.append(id)
                } else {
                    nameIndex[key] = names.count
                    ids.append(names.count)
                    names.append(frame.name)
                    kinds.append(frame.kind.code)
                    colors.append(FlameGraphStyle.fill(name: frame.name, kind: frame.kind))
                }
            }
            stacks.append(Stack(t: t, f: ids, n: stack.periods, w: stack.nanoseconds))
        }
        return Page(title: title, subtitle: FlameGraphSVG.subtitle(profile), names: names, kinds: kinds,
                    colors: colors, threads: threads, stacks: stacks)
    }
}
