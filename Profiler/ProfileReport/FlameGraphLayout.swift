// The flame graph's geometry: samples merged into a call tree (root "all"),
// children in alphabetical order (x is not time), each frame as wide as the
// time its samples stand for.

/// One frame of the merged call tree.
struct FlameGraphNode {
    struct Key: Hashable {
        var name: String
        var kind: ReportFrame.Kind
    }
    var key: Key
    var samples: Int = 0
    /// Summed `periodNanoseconds` (saturating).
    var nanoseconds: UInt64 = 0
    var children: [Int] = []
    var childIndex: [Key: Int] = [:]
}

/// Every sample merged by stack, root first: node 0 is "all".
struct FlameGraphTree {
    private(set) var nodes: [FlameGraphNode]

    /// Per-thread roots put a "name (tid)" frame under each thread's stacks.
    init(_ profile: ReportProfile, roots: ThreadRoots = .byName) {
        nodes = [FlameGraphNode(key: .init(name: "all", kind: .code))]
        for stack in StackCounts.merge(profile, roots: roots, nameRoot: false) {
            var current = 0
            add(stack, to: current)
            if !stack.root.isEmpty { current = child(of: current, .init(name: stack.root, kind: .thread), stack) }
            for frame in stack.frames {
                current = child(of: current, .init(name: frame.name, kind: frame.kind), stack)
            }
        }
    }

    /// The child of `parent` with `key` (made if new), with `stack` added.
    private mutating func child(of parent: Int, _ key: FlameGraphNode.Key, _ stack: StackCount) -> Int {
        let node: Int
        if let known = nodes[parent].childIndex[key] {
            node = known
        } else {
            nodes.append(FlameGraphNode(key: key))
            node = nodes.count - 1
            nodes[parent].children.append(node)
            nodes[parent].childIndex[key] = node
        }
        add(stack, to: node)
        return node
    }

    private mutating func add(_ stack: StackCount, to node: Int) {
        nodes[node].samples += stack.periods
        let (sum, overflow) = nodes[node].nanoseconds.addingReportingOverflow(stack.nanoseconds)
        nodes[node].nanoseconds = overflow ? .max : sum
    }

    /// A node's children, alphabetical (then by kind: a code frame and a
    /// synthetic one of the same text stay apart, in a fixed order).
    func sortedChildren(of node: Int) -> [Int] {
        nodes[node].children.sorted {
            let a = nodes[$0].key, b = nodes[$1].key
            return (a.name, a.kind.code) < (b.name, b.kind.code)
        }
    }
}

/// A frame to draw.  x in hundredths of a pixel: edges are rounded, never
/// widths, so children never stick out of their parent.
struct FlameGraphBox {
    var node: Int
    var depth: Int
    var left: Int
    var right: Int
}

extension FlameGraphTree {
    /// Boxes parent before children.  `left`/`width` are the frame area in
    /// hundredths of a pixel; frames narrower than `minimumWidth` hundredths
    /// are left out with everything above them.
    func layout(left: Int, width: Int, minimumWidth: Double) -> [FlameGraphBox] {
        let total = nodes[0].nanoseconds
        guard nodes[0].samples > 0 else { return [] }
        // Weights: time; by sample count when no sample has a period.
        let weight: (Int) -> UInt64 = total > 0 ? { nodes[$0].nanoseconds } : { UInt64(nodes[$0].samples) }
        let all = Double(weight(0))
        func edge(_ offset: UInt64) -> Int {
            left + Int((Double(offset) / all * Double(width)).rounded())
        }
        var boxes: [FlameGraphBox] = []
        // (node, depth, time offset of its left edge from the graph's start)
        var pending: [(Int, Int, UInt64)] = [(0, 0, 0)]
        while let (node, depth, offset) = pending.popLast() {
            let nodeWeight = weight(node)
            guard Double(nodeWeight) / all * Double(width) >= minimumWidth else { continue }
            boxes.append(FlameGraphBox(node: node, depth: depth, left: edge(offset),
                                       right: edge(offset &+ nodeWeight)))
            var childOffset = offset
            var children: [(Int, Int, UInt64)] = []
            for child in sortedChildren(of: node) {
                children.append((child, depth + 1, childOffset))
                childOffset &+= weight(child)
            }
            pending.append(contentsOf: children.reversed())
        }
        return boxes
    }
}
