// unwind-profile report: decode, stitch, symbolise, write one format.

import ArgumentParser
import Foundation
import ProfileFormat
import ProfileReport

enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
    case perf, folded, pprof, svg, html
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Turn a record file into perf script text, folded stacks, pprof, or an SVG or HTML flame graph.",
        discussion: """
            perf: `perf script` text (Firefox Profiler, speedscope, FlameGraph, Perfetto read it); \
            folded: one line per stack, thread name then root first (flamegraph.pl, speedscope); pprof: gzipped \
            protobuf (go tool pprof); svg: a flame graph; html: an interactive flame graph in one \
            self-contained page (search, zoom, thread and process filters).  Off-CPU samples end in the blocking \
            call, e.g. [read]; a sample whose stack never arrived shows [stack lost]; on-CPU \
            samples start with [on-cpu].  A summary goes to stderr.  Child processes' files \
            (<file>.<pid>, written next to it) are read too: each process is rooted at "comm (pid)", \
            with one summary line per process.
            """
    )

    @Argument(help: ArgumentHelp("The record file.", valueName: "file"))
    var file: String = "unwind-profile.data"

    @Option(help: ArgumentHelp("The output format.", valueName: "format"))
    var format: OutputFormat = .perf

    @Option(name: .shortAndLong, help: ArgumentHelp("Write here instead of standard output.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Title of the SVG or HTML flame graph (default: the command line).", valueName: "text"))
    var title: String?

    @Flag(help: ArgumentHelp("Split the stacks per thread: a root frame \"name (tid)\" per thread (folded, svg)."))
    var perThread = false

    @Option(help: ArgumentHelp("Only this process (its pid) of a recording with child processes.", valueName: "pid"))
    var pid: UInt32?

    func run() throws {
        let me = "unwind-profile report"
        if format == .pprof && output == nil && isatty(1) != 0 {
            throw fail(me, "pprof output is binary: pass -o <file>")
        }
        let siblings = Processes.siblings(of: file)
        if !siblings.isEmpty || pid != nil {
            return try runProcesses([file] + siblings, me: me)
        }
        // open() first for the system's own words ("No such file or directory").
        let fd = open(file, O_RDONLY)
        guard fd >= 0 else { throw fail(me, "\(file): \(String(cString: strerror(errno)))") }
        close(fd)
        // The mapping lives only while the file is read: it is unmapped
        // before the report is built.
        let decoded: Result<Stitched, ProfileFormatError>
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped)
            decoded = data.withUnsafeBytes { raw in
                Result { () throws(ProfileFormatError) -> Stitched in try decodeAndStitch(raw) }
            }
        } catch {
            throw fail(me, "\(file): cannot read it (\(error.localizedDescription))")
        }
        let stitched: Stitched
        switch decoded {
        case .success(let s): stitched = s
        case .failure(let error): throw fail(me, "\(file): \(error.message)")
        }

        let symbolizer = Symbolizer(maps: stitched.maps, tools: SymbolTools.find())
        // Only perf text prints each sample; the other formats get one per
        // distinct (thread, stack).
        let (profile, warnings) = ReportBuilder.build(stitched, symbolizer: symbolizer, merge: format != .perf)
        for warning in warnings { printError("\(me): warning: \(warning)") }

        try write(profile, folded: nil, perf: [profile], me: me)
        printError("\(me): \(stitched.summary.line)")
    }

    /// Writes `profile` in the format; `folded` replaces the folded text
    /// and `perf` the profiles printed as perf text (one per process).
    private func write(_ profile: ReportProfile, folded: String?, perf: [ReportProfile], me: String) throws {
        let roots: ThreadRoots = perThread ? .byThread : .byName
        // pprof is encoded whole (it is small: one entry per distinct
        // stack) before the output is opened, so a failure leaves no file.
        var pprof: [UInt8] = []
        if format == .pprof {
            do {
                pprof = try PprofWriter.encode(profile)
            } catch {
                throw fail(me, "pprof: \(error)")
            }
        }
        let out: ReportOutput
        do {
            out = try ReportOutput(path: output)
        } catch {
            throw fail(me, "cannot write \(output ?? "standard output"): \(String(cString: strerror(error.errno)))")
        }
        switch format {
        case .perf:
            for (i, p) in perf.enumerated() {
                if i > 0 { out.write("\n") }
                PerfScriptWriter.write(p, to: out.write)
            }
        case .folded: out.write(folded ?? FoldedWriter.render(profile, roots: roots))
        case .svg:
            let text = title ?? "unwind-profile: " + profile.commandLine.joined(separator: " ")
            out.write(FlameGraphSVG.render(profile, title: text, roots: roots))
        case .html:
            let text = title ?? "unwind-profile: " + profile.commandLine.joined(separator: " ")
            out.write(FlameGraphHTML.render(profile, title: text))
        case .pprof: out.write(pprof)
        }
        let status = out.close()
        guard status == 0 else {
            throw fail(me, "cannot write \(output ?? "standard output"): \(String(cString: strerror(status)))")
        }
    }

    /// The root file and its children's files (Processes.swift).
    private func runProcesses(_ paths: [String], me: String) throws {
        var processes: [ProcessProfile] = []
        for path in paths {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw fail(me, "\(path): \(String(cString: strerror(errno)))") }
            close(fd)
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
                do {
                    processes.append(try Processes.load(path, data: data, merge: format != .perf))
                } catch {
                    printError("\(me): warning: \(path): \(error.message) (process skipped)")
                }
            } catch {
                throw fail(me, "\(path): cannot read it (\(error.localizedDescription))")
            }
        }
        let all = processes
        if let pid { processes = processes.filter { $0.pid == pid } }
        guard !processes.isEmpty else { throw fail(me, "no process \(pid.map(String.init) ?? "") in \(file)") }
        for warning in Set(processes.flatMap(\.warnings)).sorted() { printError("\(me): warning: \(warning)") }
        let roots: ThreadRoots = perThread ? .byThread : .byName
        let single = processes.count == 1 ? processes[0].profile : nil
        try write(single ?? Processes.merged(processes),
                  folded: single == nil ? Processes.folded(processes, roots: roots) : nil,
                  perf: processes.map(\.profile), me: me)
        for line in Processes.summaryLines(processes, all: all) { printError("\(me): \(line)") }
    }
}
