// Runtime addresses to ReportFrames, through the MAP records: find the
// mapping, ELF address = address - bias (minus one for a return address, so
// the lookup lands in the call instruction, not after it), then one
// llvm-symbolizer batch per object and one swift-demangle batch for the Swift
// names; an address without a symbol is named by the function (FDE range,
// FunctionRanges.swift) it is in.  An object that is missing, rebuilt (build id differs) or that no
// tool can read gets "module+0xoffset" frames and one warning.

import Foundation
import ProfileFormat

/// One address to symbolise.
public struct AddressRequest: Hashable, Sendable {
    public var address: UInt64
    /// Every STACK address is a return address (looked up at address - 1);
    /// a sample's pc is not.
    public var isReturnAddress: Bool
    public init(address: UInt64, isReturnAddress: Bool) {
        self.address = address
        self.isReturnAddress = isReturnAddress
    }
}

public struct Symbolizer {
    public let maps: [MapRecord]
    public let tools: SymbolTools
    /// Maps sorted by start, for the lookup.
    private let sorted: [MapRecord]

    public init(maps: [MapRecord], tools: SymbolTools) {
        self.maps = maps
        self.tools = tools
        self.sorted = maps.filter { $0.start < $0.end }.sorted { $0.start < $1.start }
    }

    /// The mapping that contains `address` (the latest-starting one if
    /// several do).
    public func mapping(containing address: UInt64) -> MapRecord? {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if sorted[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        while i >= 0 {
            if address < sorted[i].end { return sorted[i] }
            i -= 1
        }
        return nil
    }

    /// Frames for each request, innermost first (an address inside inlined
    /// code gives the inlined functions, then the function they are in), and
    /// the warnings to print (one per object that could not be used).
    public func symbolize(_ requests: Set<AddressRequest>) -> (frames: [AddressRequest: [ReportFrame]], warnings: [String]) {
        var frames: [AddressRequest: [ReportFrame]] = [:]
        var warnings: [String] = []
        // Group by object: path and build id (the same path may have been
        // two different files in one run).
        struct Object: Hashable { var path: String; var buildID: [UInt8] }
        var byObject: [Object: [(AddressRequest, MapRecord)]] = [:]
        for request in requests {
            guard let map = mapping(containing: request.address) else {
                frames[request] = [unmapped(request.address)]
                continue
            }
            byObject[Object(path: map.path, buildID: map.buildID), default: []].append((request, map))
        }
        let objects = byObject.sorted {
            ($0.key.path, ELFBuildID.hex($0.key.buildID)) < ($1.key.path, ELFBuildID.hex($1.key.buildID))
        }
        for (object, items) in objects {
            var resolved: [[ReportFrame]]?
            switch check(path: object.path, buildID: object.buildID) {
            case .silent:
                break
            case .warn(let why):
                warnings.append("\(object.path): \(why); its frames are shown as module+offset")
            case .ok:
                do throws(ToolFailure) {
                    var note: String?
                    resolved = try resolve(items, path: object.path, note: &note)
                    if let note { warnings.append("\(object.path): \(note)") }
                } catch {
                    warnings.append("\(object.path): \(error); its frames are shown as module+offset")
                }
            }
            for (i, (request, map)) in items.enumerated() {
                frames[request] = resolved?[i] ?? [fallback(request.address, map)]
            }
        }
        return (frames, warnings)
    }

    private enum ObjectCheck { case ok, silent, warn(String) }

    /// Can this object be symbolised: there, the same build, a tool?
    private func check(path: String, buildID: [UInt8]) -> ObjectCheck {
        // The vDSO and anonymous code have no file to read.
        guard path.hasPrefix("/") else { return .silent }
        guard FileManager.default.fileExists(atPath: path) else { return .warn("file not found") }
        if !buildID.isEmpty {
            let onDisk = ELFBuildID.read(path: path)
            guard onDisk == buildID else {
                let found = onDisk.map { "build id \(ELFBuildID.hex($0))" } ?? "no build id"
                return .warn("the file on disk has \(found), the recording has \(ELFBuildID.hex(buildID)) (rebuilt since?)")
            }
        }
        guard tools.symbolizer != nil else {
            return .warn("llvm-symbolizer not found (looked next to swift, in PATH and in /opt/swift/usr/bin)")
        }
        return .ok
    }

    /// One llvm-symbolizer run for one object; then the Swift names demangled.
    /// `note`: why addresses without a symbol stay module+offset, if so.
    private func resolve(_ items: [(AddressRequest, MapRecord)], path: String,
                         note: inout String?) throws(ToolFailure) -> [[ReportFrame]] {
        guard let symbolizer = tools.symbolizer else { throw ToolFailure(description: "no llvm-symbolizer") }
        let lookups = items.map { (request, map) in
            (request.address &- map.bias) &- (request.isReturnAddress ? 1 : 0)
        }
        let input = lookups.map { "0x" + String($0, radix: 16) + "\n" }.joined()
        let output = try runTool(symbolizer, arguments: ["--obj=\(path)", "--output-style=JSON",
                                                         "--functions=linkage", "--inlines", "--demangle"],
                                 input: input)
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count == items.count else {
            throw ToolFailure(description: "llvm-symbolizer answered \(lines.count) lines for \(items.count) addresses")
        }
        var symbols: [[LLVMSymbol]] = []
        for line in lines { symbols.append(LLVMSymbol.parse(line)) }
        let names = demangle(Set(symbols.joined().map(\.name)))

        // Addresses without a symbol (a stripped object): by FDE range,
        // read only when some address needs it.
        var functions: FunctionRanges?
        if symbols.contains(where: \.isEmpty) {
            if let objdump = tools.objdump {
                do throws(ToolFailure) {
                    functions = try FunctionRanges.load(path: path, objdump: objdump)
                } catch {
                    note = "\(error); addresses without a symbol are shown as module+offset"
                }
            } else {
                note = "llvm-objdump not found; addresses without a symbol are shown as module+offset, "
                    + "not grouped by function"
            }
        }
        var result: [[ReportFrame]] = []
        for (i, (request, map)) in items.enumerated() {
            let found = symbols[i]
            guard !found.isEmpty else {
                if let start = functions?.start(containing: lookups[i]) {
                    result.append([function(start, request.address, map)])
                } else {
                    result.append([fallback(request.address, map)])
                }
                continue
            }
            let moduleOffset = request.address &- map.bias
            var chain: [ReportFrame] = []
            for (j, symbol) in found.enumerated() {
                // The function offset is known for the real function (the
                // last entry), not for code inlined into it.
                var offset: UInt64?
                if j == found.count - 1, let start = symbol.start, start <= lookups[i] {
                    offset = (lookups[i] - start) &+ (request.isReturnAddress ? 1 : 0)
                }
                chain.append(ReportFrame(kind: .code, address: request.address,
                                         name: names[symbol.name] ?? symbol.name,
                                         module: map.path, moduleOffset: moduleOffset, symbolOffset: offset))
            }
            result.append(chain)
        }
        return result
    }

    /// Swift names through `swift-demangle --simplified`, one per line; other
    /// names (C, demangled C++) unchanged.  Without the tool, names stay.
    private func demangle(_ names: Set<String>) -> [String: String] {
        let swiftNames = names.filter { n in
            ["$s", "$S", "$e", "_$s", "_T0"].contains { n.hasPrefix($0) }
        }.sorted()
        guard !swiftNames.isEmpty, let demangler = tools.demangler else { return [:] }
        let input = swiftNames.map { $0 + "\n" }.joined()
        guard let output = try? runTool(demangler, arguments: ["--simplified"], input: input) else { return [:] }
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= swiftNames.count else { return [:] }
        var map: [String: String] = [:]
        for (i, name) in swiftNames.enumerated() where !lines[i].isEmpty { map[name] = lines[i] }
        return map
    }

    /// "libfoo.so+0x1234": the object and the ELF address.
    func fallback(_ address: UInt64, _ map: MapRecord) -> ReportFrame {
        let offset = address &- map.bias
        let base = map.path.isEmpty ? "[unknown]" : (map.path as NSString).lastPathComponent
        return ReportFrame(kind: .code, address: address, name: "\(base)+0x\(String(offset, radix: 16))",
                           module: map.path, moduleOffset: offset)
    }

    /// "gzip+func@0x3020": an address without a symbol inside the function
    /// (FDE range) that starts at ELF address `start`.
    func function(_ start: UInt64, _ address: UInt64, _ map: MapRecord) -> ReportFrame {
        let base = map.path.isEmpty ? "[unknown]" : (map.path as NSString).lastPathComponent
        return ReportFrame(kind: .code, address: address, name: "\(base)+func@0x\(String(start, radix: 16))",
                           module: map.path, moduleOffset: address &- map.bias)
    }

    /// An address no MAP contains.
    func unmapped(_ address: UInt64) -> ReportFrame {
        ReportFrame(kind: .code, address: address, name: "[unknown]+0x\(String(address, radix: 16))",
                    module: "[unknown]", moduleOffset: 0)
    }
}

/// One entry of llvm-symbolizer's JSON "Symbol" array.
struct LLVMSymbol {
    var name: String
    var start: UInt64?

    /// The symbols of one output line (innermost first); empty when the
    /// address has no symbol ("??", "", or an "Error" object).
    static func parse(_ line: Substring) -> [LLVMSymbol] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let list = object["Symbol"] as? [[String: Any]] else { return [] }
        var result: [LLVMSymbol] = []
        for entry in list {
            guard let name = entry["FunctionName"] as? String, !name.isEmpty, name != "??" else { continue }
            var start: UInt64?
            if let text = entry["StartAddress"] as? String, text.hasPrefix("0x") {
                start = UInt64(text.dropFirst(2), radix: 16)
            }
            result.append(LLVMSymbol(name: name, start: start))
        }
        return result
    }
}
