// unwind-profile report: decode, stitch, symbolise, write one format.

import ArgumentParser
import Foundation
import ProfileFormat
import ProfileReport

enum OutputFormat: String, CaseIterable, ExpressibleByArgument {
    case perf, folded, pprof, svg
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Turn a record file into perf script text, folded stacks, pprof or an SVG flame graph.",
        discussion: """
            perf: `perf script` text (Firefox Profiler, speedscope, FlameGraph, Perfetto read it); \
            folded: one line per stack, thread name then root first (flamegraph.pl, speedscope); pprof: gzipped \
            protobuf (go tool pprof); svg: a flame graph.  Off-CPU samples end in the blocking \
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

    @Option(help: ArgumentHelp("Title of the SVG flame graph (default: the command line).", valueName: "text"))
    var title: String?

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
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: file), options: .alwaysMapped)
        } catch {
            throw fail(me, "\(file): cannot read it (\(error.localizedDescription))")
        }
        let decoded = data.withUnsafeBytes { raw in
            Result { () throws(ProfileFormatError) -> Stitched in try decodeAndStitch(raw) }
        }
        let stitched: Stitched
        switch decoded {
        case .success(let s): stitched = s
        case .failure(let error): throw fail(me, "\(file): \(error.message)")
        }

        let symbolizer = Symbolizer(maps: stitched.maps, tools: SymbolTools.find())
        let (profile, warnings) = ReportBuilder.build(stitched, symbolizer: symbolizer)
        for warning in warnings { printError("\(me): warning: \(warning)") }

        let bytes: Data
        switch format {
        case .perf: bytes = Data(PerfScriptWriter.render(profile).utf8)
        case .folded: bytes = Data(FoldedWriter.render(profile).utf8)
        case .svg:
            let text = title ?? "unwind-profile: " + profile.commandLine.joined(separator: " ")
            bytes = Data(FlameGraphSVG.render(profile, title: text).utf8)
        case .pprof:
            do {
                bytes = Data(try PprofWriter.encode(profile))
            } catch {
                throw fail(me, "pprof: \(error)")
            }
        }
        try emit(bytes, me: me)
        printError("\(me): \(stitched.summary.line)")
    }

    private func emit(_ bytes: Data, me: String) throws {
        if let output {
            do {
                try bytes.write(to: URL(fileURLWithPath: output))
            } catch {
                throw fail(me, "cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardOutput.write(bytes)
        }
    }

    /// The root file and its children's files (Processes.swift).
    private func runProcesses(_ paths: [String], me: String) throws {
        var processes: [ProcessProfile] = []
        for path in paths {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
                throw fail(me, "\(path): \(String(cString: strerror(errno)))")
            }
            do {
                processes.append(try Processes.load(path, data: data))
            } catch {
                printError("\(me): warning: \(path): \(error.message) (process skipped)")
            }
        }
        let all = processes
        if let pid { processes = processes.filter { $0.pid == pid } }
        guard !processes.isEmpty else { throw fail(me, "no process \(pid.map(String.init) ?? "") in \(file)") }
        for warning in Set(processes.flatMap(\.warnings)).sorted() { printError("\(me): warning: \(warning)") }
        let single = processes.count == 1 ? processes[0].profile : nil
        let bytes: Data
        switch format {
        case .perf: bytes = Data(Processes.perfScript(processes).utf8)
        case .folded: bytes = Data((single.map(FoldedWriter.render) ?? Processes.folded(processes)).utf8)
        case .svg:
            let profile = single ?? Processes.merged(processes)
            let text = title ?? "unwind-profile: " + profile.commandLine.joined(separator: " ")
            bytes = Data(FlameGraphSVG.render(profile, title: text).utf8)
        case .pprof:
            do {
                bytes = Data(try PprofWriter.encode(single ?? Processes.merged(processes)))
            } catch {
                throw fail(me, "pprof: \(error)")
            }
        }
        try emit(bytes, me: me)
        for line in Processes.summaryLines(processes, all: all) { printError("\(me): \(line)") }
    }
}
