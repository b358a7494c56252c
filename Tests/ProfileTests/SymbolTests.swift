// Symbolisation of real addresses (this test binary's own functions, through
// its own mapping from /proc/self/maps), the build-id check, and the
// fallbacks when the object or the tool is missing.

import Foundation
import ProfileFormat
import ProfileReport
import Testing

/// A function with a Swift-mangled name to find again by address.
@inline(never)
func symbolTestMarkerFunction() {
    blackHole(0x5eed)
}

@inline(never)
func blackHole(_ x: Int) {
    withExtendedLifetime(x) {}
}

enum SelfMapping {
    /// The runtime address of symbolTestMarkerFunction, through a C function
    /// pointer (the thunk the compiler emits for it is named after it).
    static var markerAddress: UInt64 {
        let f: @convention(c) () -> Void = symbolTestMarkerFunction
        return UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self)))
    }

    /// The MAP record this process's agent would write for the executable
    /// mapping holding `address`: bias = where the file's offset 0 is mapped
    /// (the first PT_LOAD of a PIE has virtual address 0).
    static func map(containing address: UInt64) throws -> MapRecord {
        let maps = try readText("/proc/self/maps")
        struct Line { var start, end, offset: UInt64; var perms, path: String }
        let lines: [Line] = maps.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard f.count == 6 else { return nil }
            let range = f[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  let offset = UInt64(f[2], radix: 16) else { return nil }
            return Line(start: start, end: end, offset: offset, perms: String(f[1]),
                        path: f[5].trimmingCharacters(in: .whitespaces))
        }
        guard let text = lines.first(where: { $0.start <= address && address < $0.end && $0.perms.contains("x") }),
              let first = lines.first(where: { $0.path == text.path && $0.offset == 0 }) else {
            throw MappingNotFound()
        }
        return MapRecord(start: text.start, end: text.end, bias: first.start, fileOffset: text.offset,
                         buildID: ELFBuildID.read(path: text.path) ?? [], path: text.path)
    }

    struct MappingNotFound: Error {}
}

@Suite("ProfileReport: symbolisation", .timeLimit(.minutes(1)))
struct SymbolTests {
    let tools = SymbolTools.find()

    @Test("the build id read from this test binary is the one readelf shows")
    func buildID() throws {
        let map = try SelfMapping.map(containing: SelfMapping.markerAddress)
        let id = try #require(ELFBuildID.read(path: map.path))
        #expect(id.count >= 8)
        #expect(ELFBuildID.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/readelf") else { return }
        let out = Pipe()
        let readelf = Process()
        readelf.executableURL = URL(fileURLWithPath: "/usr/bin/readelf")
        readelf.arguments = ["-n", map.path]
        readelf.standardOutput = out
        try readelf.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        readelf.waitUntilExit()
        #expect(text.contains("Build ID: \(ELFBuildID.hex(id))"))
        // Not an ELF file, a missing file: no build id, no crash.
        #expect(ELFBuildID.read(path: "/proc/self/maps") == nil)
        #expect(ELFBuildID.read(path: "/nonexistent/unwind-profile-tests") == nil)
    }

    @Test("a function of this binary comes back by name, demangled, with its offset")
    func realAddress() throws {
        try #require(tools.symbolizer != nil, "llvm-symbolizer not found")
        let address = SelfMapping.markerAddress
        let map = try SelfMapping.map(containing: address)
        let symbolizer = Symbolizer(maps: [map], tools: tools)
        let pc = AddressRequest(address: address, isReturnAddress: false)
        // A return address one past the function start: looked up at the start.
        let ret = AddressRequest(address: address + 1, isReturnAddress: true)
        let (frames, warnings) = symbolizer.symbolize([pc, ret])
        #expect(warnings.isEmpty, "\(warnings)")
        let frame = try #require(frames[pc]?.last)
        #expect(frame.name.contains("symbolTestMarkerFunction"), "\(frame.name)")
        #expect(!frame.name.hasPrefix("$s"), "not demangled: \(frame.name)")
        #expect(frame.kind == .code)
        #expect(frame.module == map.path)
        #expect(frame.moduleOffset == address - map.bias)
        #expect(frame.symbolOffset == 0)
        let retFrame = try #require(frames[ret]?.last)
        #expect(retFrame.name == frame.name)
        #expect(retFrame.symbolOffset == 1)
        #expect(retFrame.address == address + 1)
    }

    @Test("a report of a synthetic profile of this binary names the function on- and off-CPU")
    func report() throws {
        try #require(tools.symbolizer != nil, "llvm-symbolizer not found")
        let address = SelfMapping.markerAddress
        let map = try SelfMapping.map(containing: address)
        let stitched = try decodeAndStitch(Fixture.file([
            .meta(Fixture.meta), .call(Fixture.read), .map(map),
            .sample(SampleRecord(tid: 5, call: 0, timeNanoseconds: 5_000_000_100, cookie: 0, pc: address)),
            .sample(SampleRecord(tid: 5, call: 1, timeNanoseconds: 5_000_000_200, cookie: 3, pc: 0)),
            .stack(StackRecord(tid: 5, cookie: 3, ips: [address + 4, 0x10])),
            .sample(SampleRecord(tid: 6, call: 1, timeNanoseconds: 5_000_000_300, cookie: 4, pc: 0)),
            .thread(ThreadRecord(tid: 5, name: "worker")),
        ]))
        let (profile, warnings) = ReportBuilder.build(stitched, symbolizer: Symbolizer(maps: stitched.maps, tools: tools))
        #expect(warnings.isEmpty, "\(warnings)")
        #expect(profile.samples.count == 3)
        #expect(profile.periodNanoseconds == [10_000_000])
        #expect(profile.command == "prog")
        #expect(profile.samples.map(\.threadName) == ["worker", "worker", "prog"])
        let onCPU = profile.samples[0].frames
        #expect(onCPU.first?.kind == .onCPU && onCPU.first?.name == "[on-cpu]")
        #expect(onCPU.last?.name.contains("symbolTestMarkerFunction") == true)
        // Off-CPU: root (the unmapped 0x10) ... leaf (the marker), then [read].
        let offCPU = profile.samples[1].frames
        #expect(offCPU.map(\.kind).first == .code && offCPU.first?.name == "[unknown]+0x10")
        #expect(offCPU.first?.module == "[unknown]")
        #expect(offCPU.dropLast().last?.name.contains("symbolTestMarkerFunction") == true)
        #expect(offCPU.dropLast().last?.symbolOffset == 4)
        #expect(offCPU.last == ReportFrame(kind: .blockedIn, address: 0, name: "[read]", module: "", moduleOffset: 0))
        #expect(profile.samples[2].frames.map(\.name) == ["[stack lost]", "[read]"])
        #expect(profile.samples[2].frames.map(\.kind) == [.stackLost, .blockedIn])
        #expect(profile.mappings == [ReportMapping(start: map.start, end: map.end, fileOffset: map.fileOffset,
                                                   path: map.path, buildID: ELFBuildID.hex(map.buildID))])
        #expect(profile.durationNanoseconds == 300)
    }

    @Test("samples come out in time order whatever order the rings drained them in")
    func timeOrder() throws {
        let stitched = try decodeAndStitch(Fixture.file([
            .meta(Fixture.meta), .call(Fixture.read),
            .sample(SampleRecord(tid: 2, call: 0, timeNanoseconds: 30, cookie: 0, pc: 3)),
            .sample(SampleRecord(tid: 1, call: 0, timeNanoseconds: 10, cookie: 0, pc: 1)),
            .sample(SampleRecord(tid: 2, call: 0, timeNanoseconds: 20, cookie: 0, pc: 2)),
            .sample(SampleRecord(tid: 1, call: 0, timeNanoseconds: 20, cookie: 0, pc: 4)),
        ]))
        let (profile, _) = ReportBuilder.build(stitched, symbolizer: Symbolizer(maps: [], tools: tools))
        #expect(profile.samples.map(\.timeNanoseconds) == [10, 20, 20, 30])
        #expect(profile.samples.map { $0.frames.last?.address } == [1, 2, 4, 3])
    }

    @Test("a missing object falls back to module+offset with one warning; the vDSO without one")
    func missingFile() {
        let vdso = MapRecord(start: 0x7000, end: 0x8000, bias: 0x7000, fileOffset: 0, buildID: [], path: "linux-vdso.so.1")
        let symbolizer = Symbolizer(maps: [Fixture.gone, vdso], tools: tools)
        let a = AddressRequest(address: 0x40_1000, isReturnAddress: true)
        let b = AddressRequest(address: 0x40_2000, isReturnAddress: false)
        let c = AddressRequest(address: 0x7123, isReturnAddress: true)
        let (frames, warnings) = symbolizer.symbolize([a, b, c])
        #expect(frames[a] == [ReportFrame(kind: .code, address: 0x40_1000, name: "libgone.so+0x11000",
                                          module: Fixture.gone.path, moduleOffset: 0x11000)])
        #expect(frames[b]?.first?.name == "libgone.so+0x12000")
        #expect(frames[c]?.first?.name == "linux-vdso.so.1+0x123")
        #expect(warnings == ["\(Fixture.gone.path): file not found; its frames are shown as module+offset"])
    }

    @Test("a rebuilt object (other build id) and a missing tool fall back with a warning")
    func mismatch() throws {
        let address = SelfMapping.markerAddress
        var map = try SelfMapping.map(containing: address)
        let real = map.buildID
        map.buildID = [1, 2, 3, 4]
        let request = AddressRequest(address: address, isReturnAddress: false)
        let name = "\((map.path as NSString).lastPathComponent)+0x\(String(address - map.bias, radix: 16))"

        let rebuilt = Symbolizer(maps: [map], tools: tools).symbolize([request])
        #expect(rebuilt.frames[request]?.map(\.name) == [name])
        #expect(rebuilt.warnings.count == 1)
        #expect(rebuilt.warnings.first?.contains("build id \(ELFBuildID.hex(real))") == true)
        #expect(rebuilt.warnings.first?.contains("the recording has 01020304") == true)

        map.buildID = real
        let noTool = Symbolizer(maps: [map], tools: SymbolTools(symbolizer: nil, demangler: nil)).symbolize([request])
        #expect(noTool.frames[request]?.map(\.name) == [name])
        #expect(noTool.warnings.first?.contains("llvm-symbolizer not found") == true)

        // A symbolizer that fails: a warning, not a crash or a wrong name.
        let broken = Symbolizer(maps: [map], tools: SymbolTools(symbolizer: "/bin/false", demangler: nil))
            .symbolize([request])
        #expect(broken.frames[request]?.map(\.name) == [name])
        #expect(broken.warnings.first?.contains("false failed (status 1)") == true)
    }

    @Test("the mapping lookup: boundaries, gaps and overlaps")
    func lookup() {
        let a = MapRecord(start: 0x1000, end: 0x2000, bias: 0, fileOffset: 0, buildID: [], path: "/a")
        let b = MapRecord(start: 0x3000, end: 0x4000, bias: 0, fileOffset: 0, buildID: [], path: "/b")
        let inner = MapRecord(start: 0x3800, end: 0x3900, bias: 0, fileOffset: 0, buildID: [], path: "/inner")
        let empty = MapRecord(start: 0x5000, end: 0x5000, bias: 0, fileOffset: 0, buildID: [], path: "/empty")
        let s = Symbolizer(maps: [b, inner, a, empty], tools: tools)
        #expect(s.mapping(containing: 0xfff) == nil)
        #expect(s.mapping(containing: 0x1000)?.path == "/a")
        #expect(s.mapping(containing: 0x1fff)?.path == "/a")
        #expect(s.mapping(containing: 0x2000) == nil)
        #expect(s.mapping(containing: 0x3850)?.path == "/inner")
        #expect(s.mapping(containing: 0x3900)?.path == "/b")
        #expect(s.mapping(containing: 0x5000) == nil)
        #expect(s.mapping(containing: .max) == nil)
    }
}

extension ReportProfile {
    /// The distinct sample periods (tests).
    var periodNanoseconds: [UInt64] { Array(Set(samples.map(\.periodNanoseconds))) }
}
