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
            samples start with [on-cpu].  A summary goes to stderr.
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

    func run() throws {
        let me = "unwind-profile report"
        if format == .pprof && output == nil && isatty(1) != 0 {
            throw fail(me, "pprof output is binary: pass -o <file>")
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
        case .perf: PerfScriptWriter.write(profile, to: out.write)
        case .folded: out.write(FoldedWriter.render(profile, roots: roots))
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
        printError("\(me): \(stitched.summary.line)")
    }
}
