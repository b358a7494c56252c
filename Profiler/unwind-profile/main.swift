// unwind-profile: an off-CPU (wall-clock) profiler on DeferredUnwind.
//   unwind-profile record [-o file] [-F hz] [--agent lib] -- program [args...]
//   unwind-profile report [file] [--format perf|folded|pprof|svg] [-o out]
// The agent (Profiler/Agent, C, `make agent`) does the sampling inside the
// program; this command line runs the program under it and reads its file.

import ArgumentParser

struct UnwindProfile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unwind-profile",
        abstract: "An off-CPU (wall-clock) profiler built on deferred user-stack unwinding.",
        discussion: """
            `record` runs a program with the preloaded agent, which samples every thread \
            and unwinds the stacks of threads blocked in libc calls once per blocking call; \
            `report` stitches samples and stacks and writes perf script text, folded stacks, \
            pprof or an SVG flame graph.  The file format is Docs/ProfileFormat.md.
            """,
        subcommands: [RecordCommand.self, ReportCommand.self]
    )
}

UnwindProfile.main()
