// The decoder fuzzer's named seeds: files made with ProfileEncoder covering
// every record type, stitched and lost stacks, and a few damaged files.
// Built with ProfileFormat's sources (no Foundation) and run by
//   FUZZ_SEEDS=1 Scripts/fuzz-decoder.sh
// which writes them into Tests/ProfileTests/Fuzz/corpus/ (same bytes every
// time: no clocks, no randomness).  The fuzzer adds its own inputs beside
// them (hex names) when merged back.

#if canImport(Glibc)
import Glibc
#endif

@main
struct SeedCorpus {
    static func main() {
        guard CommandLine.arguments.count == 2 else {
            writeError("usage: seed-corpus OUTPUT-DIRECTORY\n")
            exit(2)
        }
        let dir = CommandLine.arguments[1]
        for (name, bytes) in Seeds.all {
            write(bytes, to: dir + "/" + name)
        }
        print("seed-corpus: \(Seeds.all.count) seeds in \(dir)")
    }

    static func write(_ bytes: [UInt8], to path: String) {
        guard let f = fopen(path, "wb") else {
            writeError("seed-corpus: cannot create \(path): errno \(errno)\n")
            exit(1)
        }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        if fclose(f) != 0 || written != bytes.count {
            writeError("seed-corpus: cannot write \(path)\n")
            exit(1)
        }
    }

    static func writeError(_ s: String) { fputs(s, stderr) }
}

enum Seeds {
    static let meta = MetaRecord(pid: 4242, frequencyHz: 100, startNanoseconds: 5_000_000_000,
                                 startRealtimeNanoseconds: 1_700_000_000_000_000_000, signal: 27,
                                 commandLine: ["/usr/bin/prog", "-x", "", "a b"])
    static let read = ProfileRecord.call(CallRecord(id: 1, name: "read"))
    static let futex = ProfileRecord.call(CallRecord(id: 2, name: "futex"))
    static let map = ProfileRecord.map(MapRecord(start: 0x40_0000, end: 0x50_0000, bias: 0x3f_0000,
                                                 fileOffset: 0x1000, buildID: [0xde, 0xad, 0xbe, 0xef],
                                                 path: "/usr/lib/libprog.so"))

    static func sample(_ tid: UInt32, call: UInt32, cookie: UInt64, flags: UInt16 = SampleRecord.flagQueued,
                       at t: UInt64 = 5_010_000_000) -> ProfileRecord {
        .sample(SampleRecord(flags: flags, tid: tid, call: call, timeNanoseconds: t, cookie: cookie, pc: 0x40_1234))
    }

    static func stack(_ tid: UInt32, cookie: UInt64, flags: UInt32 = StackRecord.flagFramePointerWalk,
                      ips: [UInt64] = [0x40_1111, 0x40_2222, 0x40_3333]) -> ProfileRecord {
        .stack(StackRecord(tid: tid, flags: flags, cookie: cookie, ips: ips))
    }

    static func end(samples: UInt64, stacks: UInt64, lost: UInt64 = 0) -> ProfileRecord {
        .end(EndRecord(timeNanoseconds: 6_000_000_000, samples: samples, stacks: stacks, lost: lost))
    }

    static func file(_ records: [ProfileRecord], minor: UInt16 = 0) -> [UInt8] {
        var e = ProfileEncoder(minor: minor)
        for r in records { e.append(r) }
        return e.bytes
    }

    /// Every type once, in the agent's order.
    static let everyType: [ProfileRecord] = [
        .meta(meta), read, futex, map, .thread(ThreadRecord(tid: 11, name: "main thread")),
        sample(11, call: 1, cookie: 0x1_0000_0001),
        sample(11, call: 0, cookie: 0, flags: 0, at: 5_020_000_000),
        stack(11, cookie: 0x1_0000_0001, flags: StackRecord.flagDWARFUnwinder),
        .lost(LostRecord(tid: 11, kind: LostRecord.kindSamples, count: 3)),
        end(samples: 2, stacks: 1, lost: 3),
    ]

    static var all: [(String, [UInt8])] { good + damaged }

    static var good: [(String, [UInt8])] {
        let c1: UInt64 = 0x1_0000_0001, c2: UInt64 = 0x1_0000_0002
        var perSample = meta
        perSample.flags = MetaRecord.flagUnwindPerSample
        perSample.commandLine = []
        var unknownType = ProfileEncoder(minor: 3)
        for r in everyType.prefix(3) { unknownType.append(r) }
        unknownType.appendRaw(type: 99, flags: 5, body: Array("a future record".utf8))
        for r in everyType.dropFirst(3) { unknownType.append(r) }
        return [
            ("ok-every-type", file(everyType)),
            ("ok-meta-only", file([.meta(meta)])),
            ("ok-meta-per-sample-no-cmdline", file([.meta(perSample), read, sample(7, call: 1, cookie: c1),
                                                    stack(7, cookie: c1), end(samples: 1, stacks: 1)])),
            ("ok-stitched-stack-after", file([.meta(meta), read, futex,
                                              sample(11, call: 1, cookie: c1),
                                              sample(11, call: 1, cookie: c1, flags: SampleRecord.flagAlreadyQueued),
                                              sample(12, call: 2, cookie: c2),
                                              stack(11, cookie: c1), stack(12, cookie: c2, ips: [0x40_0010]),
                                              end(samples: 3, stacks: 2)])),
            ("ok-stitched-stack-before", file([.meta(meta), read, stack(11, cookie: c1),
                                               sample(11, call: 1, cookie: c1), sample(11, call: 0, cookie: 0, flags: 0)])),
            ("ok-lost-request-failed", file([.meta(meta), read,
                                             sample(11, call: 1, cookie: 0, flags: SampleRecord.flagRequestFailed),
                                             sample(11, call: 1, cookie: c1, flags: SampleRecord.flagRequestFailed),
                                             stack(11, cookie: c1)])),
            ("ok-lost-never-arrived", file([.meta(meta), read, sample(11, call: 1, cookie: c1),
                                            stack(12, cookie: c1), stack(11, cookie: c2)])),
            ("ok-lost-exiting-nomem-empty", file([.meta(meta), read,
                                                  sample(1, call: 1, cookie: c1), stack(1, cookie: c1, flags: StackRecord.flagExiting),
                                                  sample(2, call: 1, cookie: c1), stack(2, cookie: c1, flags: StackRecord.flagNoMemory),
                                                  sample(3, call: 1, cookie: c1), stack(3, cookie: c1, ips: []),
                                                  stack(4, cookie: c1, flags: StackRecord.flagTruncated)])),
            ("ok-duplicate-stacks-and-maps", file([.meta(meta), read, map, stack(11, cookie: c1),
                                                   stack(11, cookie: c1, ips: [1]), sample(11, call: 1, cookie: c1), map])),
            ("ok-lost-records-saturating", file([.meta(meta),
                                                 .lost(LostRecord(tid: 1, kind: LostRecord.kindSamples, count: .max)),
                                                 .lost(LostRecord(tid: 1, kind: LostRecord.kindSamples, count: 2)),
                                                 .lost(LostRecord(tid: 1, kind: LostRecord.kindStacks, count: 5)),
                                                 .lost(LostRecord(tid: 1, kind: 7, count: 1)),
                                                 end(samples: 0, stacks: 0, lost: .max)])),
            ("ok-thread-rename-and-odd-names", file([.meta(meta), .thread(ThreadRecord(tid: 5, name: "a")),
                                                     .thread(ThreadRecord(tid: 5, name: "renamed é")),
                                                     .thread(ThreadRecord(tid: 6, name: "")),
                                                     .call(CallRecord(id: 9, name: "")),
                                                     .map(MapRecord(start: 0, end: 0, bias: 0, fileOffset: 0,
                                                                    buildID: [], path: ""))])),
            ("ok-unknown-type-skipped-minor-3", unknownType.bytes),
            ("ok-cut-short-no-end", Array(file(everyType).dropLast(40))),
        ]
    }

    static var damaged: [(String, [UInt8])] {
        let good = file(everyType)
        let metaSize = 40 + 24  // the command line "/usr/bin/prog\0-x\0\0a b\0" is 21 bytes, padded
        let second = 16 + metaSize  // the first CALL
        // `good` with the u32 at `at` replaced.
        func patched(_ at: Int, _ v: UInt32) -> [UInt8] {
            var b = good
            for i in 0..<4 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) }
            return b
        }
        var badUTF8 = ProfileEncoder()
        badUTF8.append(.meta(meta))
        badUTF8.appendRaw(type: 4, body: [5, 0, 0, 0, 4, 0, 0, 0, 0xff, 0xc3, 0x28, 0xe2])
        var unknownFirst = ProfileEncoder()
        unknownFirst.appendRaw(type: 42, body: [1, 2, 3])
        unknownFirst.append(.meta(meta))
        return [
            ("bad-empty", []),
            ("bad-magic", Array("DUPROFIX".utf8) + good.dropFirst(8)),
            ("bad-truncated-header", Array(good.prefix(10))),
            ("bad-major-2", patched(8, 0x0000_0002)),
            ("bad-header-only", Array(good.prefix(16))),
            ("bad-truncated-record-header", Array(good.prefix(16 + 5))),
            ("bad-truncated-record-body", Array(good.prefix(second + 12))),
            ("bad-size-zero", patched(second + 4, 0)),
            ("bad-size-not-multiple-of-8", patched(second + 4, 20)),
            ("bad-size-past-end", patched(second + 4, 0x1000_0000)),
            ("bad-cmdline-len-mismatch", patched(16 + 36, 200)),
            ("bad-call-id-0", patched(second + 8, 0)),
            ("bad-sample-too-short", file([.meta(meta)]) + [2, 0, 0, 0, 16, 0, 0, 0] + [UInt8](repeating: 0, count: 8)),
            ("bad-stack-nr-mismatch", file([.meta(meta), stack(1, cookie: 1)]).enumerated().map { i, b in
                i == 16 + metaSize + 24 ? 9 : b }),
            ("bad-meta-not-first", file([read, .meta(meta)])),
            ("bad-second-meta", file([.meta(meta), read, .meta(meta)])),
            ("bad-unknown-call", file([.meta(meta), sample(1, call: 3, cookie: 1)])),
            ("bad-unknown-type-before-meta", unknownFirst.bytes),
            ("ok-ill-formed-utf8-name", badUTF8.bytes),
        ]
    }
}
