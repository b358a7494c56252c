// A stripped object's addresses are grouped into functions by their FDE
// ranges (`prog+func@0x…`), one frame per function (issue 18, item 6).
// The program (Tests/C/programs/report/stripped.c) is compiled now; nm on
// the unstripped binary says where its functions are, `strip` makes the
// copy the addresses are looked up in.

import Foundation
import ProfileFormat
@testable import ProfileReport
import Testing

@Suite("ProfileReport: stripped objects", .timeLimit(.minutes(2)))
struct StrippedSymbolTests {
    let tools = SymbolTools.find()

    /// [function name: (start, size)] of the unstripped binary, and the stripped copy.
    static func build(in dir: TempDir) throws -> (functions: [String: (UInt64, UInt64)], stripped: String) {
        let source = Agent.root.appendingPathComponent("Tests/C/programs/report/stripped.c").path
        let binary = dir.path("prog"), stripped = dir.path("prog.stripped")
        let cc = try Agent.runBounded(try Agent.which("cc"), ["-O1", "-g0", source, "-o", binary],
                                      environment: nil, bound: 120)
        try #require(cc.status == 0, "cc: \(cc.summary)")
        try FileManager.default.copyItem(atPath: binary, toPath: stripped)
        let strip = try Agent.runBounded(try Agent.which("strip"), ["--strip-all", stripped], environment: nil, bound: 60)
        try #require(strip.status == 0, "strip: \(strip.summary)")
        let nm = try Agent.runBounded(try Agent.which("nm"), ["-S", "--defined-only", binary], environment: nil, bound: 60)
        try #require(nm.status == 0, "nm: \(nm.summary)")
        var functions: [String: (UInt64, UInt64)] = [:]
        for line in nm.stdout.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count == 4, f[2].lowercased() == "t", let start = UInt64(f[0], radix: 16),
                  let size = UInt64(f[1], radix: 16) else { continue }
            functions[String(f[3])] = (start, size)
        }
        return (functions, stripped)
    }

    @Test("addresses of a stripped binary: one frame per function (FDE range), none per address",
          .enabled(if: SymbolTools.find().objdump != nil, "llvm-objdump not found next to swift"))
    func groupedByFunction() throws {
        let dir = try TempDir()
        let (functions, stripped) = try Self.build(in: dir)
        let alpha = try #require(functions["alpha"], "nm found no alpha: \(functions.keys.sorted())")
        let beta = try #require(functions["beta"], "nm found no beta: \(functions.keys.sorted())")
        try #require(alpha.1 >= 8 && beta.1 >= 8, "functions too small: \(alpha), \(beta)")
        let bias: UInt64 = 0x5555_0000_0000
        let map = MapRecord(start: bias, end: bias + 0x10_0000, bias: bias, fileOffset: 0, buildID: [],
                            path: stripped)
        // Return addresses (looked up at - 1): three inside alpha, two inside beta.
        let inAlpha = [alpha.0 + 2, alpha.0 + alpha.1 / 2, alpha.0 + alpha.1 - 1].map { $0 + bias }
        let inBeta = [beta.0 + 3, beta.0 + beta.1 - 2].map { $0 + bias }
        var requests = Set<AddressRequest>()
        for a in inAlpha + inBeta { requests.insert(AddressRequest(address: a, isReturnAddress: true)) }
        let (frames, warnings) = Symbolizer(maps: [map], tools: tools).symbolize(requests)
        #expect(warnings.isEmpty, "\(warnings)")
        func name(_ a: UInt64) -> String? { frames[AddressRequest(address: a, isReturnAddress: true)]?.first?.name }
        let alphaName = "prog.stripped+func@0x" + String(alpha.0, radix: 16)
        let betaName = "prog.stripped+func@0x" + String(beta.0, radix: 16)
        #expect(inAlpha.map(name) == [alphaName, alphaName, alphaName])
        #expect(inBeta.map(name) == [betaName, betaName])
        // The unstripped binary still gets the symbols' names.
        let named = MapRecord(start: bias, end: bias + 0x10_0000, bias: bias, fileOffset: 0, buildID: [],
                              path: dir.path("prog"))
        let (symbolised, _) = Symbolizer(maps: [named], tools: tools).symbolize(requests)
        #expect(symbolised[AddressRequest(address: inAlpha[1], isReturnAddress: true)]?.first?.name == "alpha")
    }

    @Test("FDE lines of llvm-objdump's output; lookups at range edges")
    func parse() {
        let text = """
            00000000 00000014 00000000 CIE
              Format:                DWARF32
            00000018 00000014 0000001c FDE cie=00000000 pc=00003df0...00003e1b
              DW_CFA_nop:
            00000048 00000024 0000001c FDE cie=00000030 pc=00003020...000034e0
            """
        let ranges = FunctionRanges(objdumpFrames: text)
        #expect(ranges.ranges.map(\.start) == [0x3020, 0x3df0])
        #expect(ranges.start(containing: 0x3020) == 0x3020)
        #expect(ranges.start(containing: 0x34df) == 0x3020)
        #expect(ranges.start(containing: 0x34e0) == nil)
        #expect(ranges.start(containing: 0x3e1a) == 0x3df0)
        #expect(ranges.start(containing: 0x301f) == nil)
        // Fed in pieces of any size (a pipe's reads), lines across pieces.
        let bytes = Array(text.utf8)
        for size in [1, 2, 3, 7, 64] {
            var parser = FDELines()
            var at = 0
            while at < bytes.count {
                let piece = Array(bytes[at..<min(at + size, bytes.count)])
                piece.withUnsafeBytes { parser.feed($0) }
                at += size
            }
            #expect(parser.finish().map(\.start) == [0x3df0, 0x3020], "pieces of \(size)")
        }
    }
}
