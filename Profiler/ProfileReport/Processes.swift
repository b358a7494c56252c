// Every process of a recording: the root's file <output> and one sibling
// file per other process image, <output>.<pid> or <output>.<pid>.<gen>
// (Docs/Agent.md, "Every process").  Each file is a complete record of its
// own; this file loads them, labels each process "comm (pid)", merges them
// for the writers (a root frame per process) and says which children the
// files name but no file profiles (static or setuid programs, environments
// without LD_PRELOAD, children killed before their first write).

import Foundation
import ProfileFormat

/// One process image's file, decoded, stitched and built.
public struct ProcessProfile: Sendable {
    public var path: String
    public var stitched: Stitched
    /// The file's own PROCESS record (nil in files from agents before 1.1:
    /// the root then).
    public var process: ProcessRecord?
    /// PROCESS records of the children and execs this process saw.
    public var events: [ProcessRecord]
    public var profile: ReportProfile
    public var warnings: [String]

    public var pid: UInt32 { process?.pid ?? stitched.meta.pid }
    public var kind: ProcessRecord.Kind? { ProcessRecord.Kind(rawValue: process?.kind ?? 0) }

    /// "comm (pid)": the main thread's name when it has one, else the program's.
    public var label: String {
        let name = stitched.threads[pid] ?? profile.command
        return "\(name) (\(pid))"
    }
}

/// A child or exec a file names, without a file of its own.
public struct UnprofiledProcess: Equatable, Sendable {
    public var pid: UInt32
    public var ppid: UInt32
    public var kind: UInt32
    public var path: String
}

public enum Processes {
    /// The sibling files of `root`: "<root>.<pid>" and "<root>.<pid>.<gen>",
    /// ordered by pid then generation.
    public static func siblings(of root: String) -> [String] {
        let url = URL(fileURLWithPath: root)
        let dir = url.deletingLastPathComponent().path
        let base = url.lastPathComponent
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var found: [(key: [UInt64], path: String)] = []
        for name in names where name.hasPrefix(base + ".") {
            let parts = name.dropFirst(base.count + 1).split(separator: ".", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count) else { continue }
            let numbers = parts.compactMap { $0.allSatisfy(\.isASCII) ? UInt64($0) : nil }
            guard numbers.count == parts.count else { continue }
            found.append((numbers + (numbers.count == 1 ? [0] : []), (dir as NSString).appendingPathComponent(name)))
        }
        return found.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.path)
    }

    /// Decodes (streaming), stitches and builds one file; `merge` as
    /// ReportBuilder.build's.  Throws its decoding error.
    public static func load(_ path: String, data: Data, merge: Bool = false) throws(ProfileFormatError) -> ProcessProfile {
        var own: ProcessRecord?
        var events: [ProcessRecord] = []
        let decoded = data.withUnsafeBytes { raw in
            Result { () throws(ProfileFormatError) -> Stitched in
                var stitcher = Stitcher(sampleCapacity: raw.count / RecordType.sample.fixedSize)
                let file = try forEachProfileRecord(raw) { record in
                    if case .process(let p) = record {
                        if p.isSelf && own == nil { own = p } else if !p.isSelf { events.append(p) }
                    }
                    stitcher.add(record)
                }
                stitcher.setSkippedRecords(file.skippedRecords)
                return stitcher.finish()
            }
        }
        let stitched = try decoded.get()
        let symbolizer = Symbolizer(maps: stitched.maps, tools: SymbolTools.find())
        let (report, warnings) = ReportBuilder.build(stitched, symbolizer: symbolizer, merge: merge)
        return ProcessProfile(path: path, stitched: stitched, process: own, events: events, profile: report,
                              warnings: warnings)
    }

    /// Children and execs named by PROCESS records whose image has no file.
    public static func unprofiled(_ processes: [ProcessProfile]) -> [UnprofiledProcess] {
        var have = Set<[UInt32]>()
        for p in processes { have.insert([p.pid, p.process?.kind ?? 0]) }
        var out: [UnprofiledProcess] = []
        var said = Set<[UInt32]>()
        for p in processes {
            for e in p.events where !have.contains([e.pid, e.kind]) && said.insert([e.pid, e.kind]).inserted {
                out.append(UnprofiledProcess(pid: e.pid, ppid: e.ppid, kind: e.kind, path: e.path))
            }
        }
        return out
    }

    /// One profile of every process: each sample's frames start with its
    /// process's "comm (pid)" (flame graph and pprof roots); mappings of
    /// all processes (pprof matches addresses to them; processes forked
    /// from one image share them).
    public static func merged(_ processes: [ProcessProfile]) -> ReportProfile {
        guard var first = processes.first?.profile else {
            return ReportProfile(pid: 0, command: "unknown", commandLine: [], frequencyHz: 0, startNanoseconds: 0,
                                 startRealtimeNanoseconds: 0, durationNanoseconds: 0, mappings: [], samples: [])
        }
        var seen = Set<ReportMapping>()
        var mappings: [ReportMapping] = []
        var samples: [ReportSample] = []
        var end = first.startNanoseconds + first.durationNanoseconds
        var idBase = 0
        for p in processes {
            let root = ReportFrame(kind: .code, address: 0, name: p.label, module: "", moduleOffset: 0)
            for m in p.profile.mappings where seen.insert(m).inserted { mappings.append(m) }
            // Stack ids stay unique across processes (writers merge by them).
            var top = -1
            var rooted: [Int: [ReportFrame]] = [:]
            for var s in p.profile.samples {
                if s.stackID >= 0, let known = rooted[s.stackID] {
                    s.frames = known
                } else {
                    s.frames.insert(root, at: 0)
                    if s.stackID >= 0 { rooted[s.stackID] = s.frames }
                }
                top = max(top, s.stackID)
                s.stackID = s.stackID >= 0 ? s.stackID + idBase : -1
                s.pid = p.pid
                samples.append(s)
            }
            idBase += top + 1
            end = max(end, p.profile.startNanoseconds + p.profile.durationNanoseconds)
        }
        first.mappings = mappings
        first.samples = samples.sorted { $0.timeNanoseconds < $1.timeNanoseconds }
        first.durationNanoseconds = end >= first.startNanoseconds ? end - first.startNanoseconds : 0
        return first
    }

    /// Folded stacks of every process, each line rooted at "comm (pid)".
    public static func folded(_ processes: [ProcessProfile], roots: ThreadRoots = .byName) -> String {
        var out = ""
        for p in processes {
            let prefix = FoldedWriter.sanitize(p.label) + ";"
            for line in FoldedWriter.render(p.profile, roots: roots).split(separator: "\n") { out += prefix + line + "\n" }
        }
        return out
    }

    /// perf script text of every process (each sample with its own pid).
    public static func perfScript(_ processes: [ProcessProfile]) -> String {
        processes.map { PerfScriptWriter.render($0.profile) }.joined(separator: "\n")
    }

    /// One line per process, then the children no file profiles (of `all`,
    /// the unfiltered set, so a --pid filter does not call its siblings
    /// unprofiled).
    public static func summaryLines(_ processes: [ProcessProfile], all: [ProcessProfile]) -> [String] {
        var lines: [String] = []
        for p in processes {
            var how = p.kind?.label ?? "kind \(p.process?.kind ?? 0)"
            if let own = p.process, own.kind != ProcessRecord.Kind.root.rawValue { how += " of \(own.ppid)" }
            lines.append("process \(p.label) [\(how)]: \(p.stitched.summary.line)")
        }
        let shown = Set(processes.map(\.pid))
        for u in unprofiled(all) where shown.contains(u.ppid) || shown.contains(u.pid) {
            let kind = ProcessRecord.Kind(rawValue: u.kind)?.label ?? "kind \(u.kind)"
            let what = u.path.isEmpty ? "" : " \(u.path)"
            lines.append("process \(u.pid) [\(kind) of \(u.ppid)]\(what): seen, not profiled (no file: a static or "
                         + "setuid program, an environment without LD_PRELOAD, or it ended before its first write)")
        }
        return lines
    }
}
