// The step table against the model's step map: the code's table
// (DU_STEP_TABLE, deferred_unwind_debug.h: each step's name, file and model
// label), the model's side (Model/steps.tsv: each operation's steps in the
// model's order, with their labels) and the order in which one pass of each
// operation reaches the steps in the code must agree; every label must be a
// label of Model/*.pml, and every step's file must hold its DU_STEP().
// A step added, renamed, relabelled or reordered on one side only fails here.
#if DEBUG
import CDeferredUnwind
import CTestSupport
import Foundation
import Testing

// Step hooks and a tracer registration: process-wide state.
extension LibraryStateTests {
    @Suite("Step table: code, table and the model's step map agree", .timeLimit(.minutes(1)))
    struct StepTableTests {}
}

extension LibraryStateTests.StepTableTests {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct MapRow {
        let op: String
        let step: String
        let label: String
        let always: Bool
    }

    struct TableRow {
        let id: String
        let name: String
        let file: String
        let label: String
    }

    static func map() throws -> [MapRow] {
        let text = try String(contentsOf: root.appendingPathComponent("Model/steps.tsv"), encoding: .utf8)
        var rows: [MapRow] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 4, f[3] == "yes" || f[3] == "race" else {
                Issue.record("Model/steps.tsv: bad line \"\(line)\" (op, step, label, yes|race)")
                continue
            }
            rows.append(MapRow(op: f[0], step: f[1], label: f[2], always: f[3] == "yes"))
        }
        return rows
    }

    static func table() -> [TableRow] {
        (0..<Int(st_step_count())).map { i in
            let r = st_step_row(Int32(i))
            return TableRow(id: String(cString: r.id), name: String(cString: r.name),
                            file: String(cString: r.file), label: String(cString: r.label))
        }
    }

    /// Every `label:` at the start of a line of Model/*.pml.
    static func modelLabels() throws -> Set<String> {
        let dir = root.appendingPathComponent("Model")
        var labels = Set<String>()
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".pml") {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            for line in text.split(separator: "\n") {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let word = line[..<colon]
                if !word.isEmpty, word.allSatisfy({ $0 == "_" || $0.isLetter || $0.isNumber }) {
                    labels.insert(String(word))
                }
            }
        }
        return labels
    }

    @Test("every step of the code is in the map with the table's label, and back")
    func tableMatchesTheMap() throws {
        let map = try Self.map()
        let table = Self.table()
        let byName = Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0) })
        #expect(Set(map.map(\.step)) == Set(byName.keys),
                "steps only in the code: \(Set(byName.keys).subtracting(map.map(\.step)).sorted()); only in Model/steps.tsv: \(Set(map.map(\.step)).subtracting(byName.keys).sorted())")
        for row in map {
            guard let code = byName[row.step] else { continue }
            #expect(code.label == row.label,
                    "\(row.op) \(row.step): the table says model label \(code.label), Model/steps.tsv \(row.label)")
        }
        let labels = try Self.modelLabels()
        for row in map {
            #expect(labels.contains(row.label), "Model/steps.tsv: \(row.label) is no label of Model/*.pml")
        }
        for row in table {
            let path = Self.root.appendingPathComponent("Sources/CDeferredUnwind/\(row.file)")
            let text = (try? String(contentsOf: path, encoding: .utf8)) ?? ""
            #expect(text.contains("DU_STEP(DU_STEP_\(row.id))"),
                    "DU_STEP_TABLE: \(row.name) is reached in \(row.file), which has no DU_STEP(DU_STEP_\(row.id))")
        }
    }

    @Test("each operation reaches its steps in the map's order")
    func codeOrderMatchesTheMap() throws {
        let map = try Self.map()
        let table = Self.table()
        var buffer = [Int32](repeating: 0, count: 512)
        let n = st_record_ops(&buffer, Int32(buffer.count))
        try #require(n >= 0, "st_record_ops: \(n)")
        // Split the recording at the -1 after each operation.
        var reached: [[String]] = [[]]
        for v in buffer[0..<Int(n)] {
            if v < 0 { reached.append([]) } else { reached[reached.count - 1].append(table[Int(v)].name) }
        }
        reached.removeLast()
        try #require(reached.count == Int(ST_OPS), "operations recorded: \(reached.count)")
        for (i, steps) in reached.enumerated() {
            let op = String(cString: st_op_name(Int32(i)))
            let rows = map.filter { $0.op == op }
            let known = Set(rows.map(\.step))
            let races = Set(rows.filter { !$0.always }.map(\.step))
            #expect(steps.allSatisfy(known.contains),
                    "\(op) reached \(steps.filter { !known.contains($0) }) (not in Model/steps.tsv for \(op))")
            let expected = rows.filter(\.always).map(\.step)
            let got = steps.filter { !races.contains($0) }
            #expect(got == expected, "\(op): the code reaches \(got), the model's map says \(expected)")
        }
    }
}
#endif
