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
            samples start with [on-cpu].  A summary goes to stderr.
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

    func run() throws {
        let me = "unwind-profile report"
        if format == .pprof && output == nil && isatty(1) != 0 {
            throw fail(me, "pprof output is binary: pass -o <file>")
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
        if let output {
            do {
                try bytes.write(to: URL(fileURLWithPath: output))
            } catch {
                throw fail(me, "cannot write \(output): \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardOutput.write(bytes)
        }
        printError("\(me): \(stitched.summary.line)")
    }
}
