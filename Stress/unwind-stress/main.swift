// unwind-stress: the stress harness of DeferredUnwind (issue 3).
// This file only dispatches the command line (StressCommand.swift parses
// it); the harness itself is C (Stress/CUnwindStress), because everything
// on the signal path must be.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import CUnwindStress

func printErr(_ s: String) {
    let line = s + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

/// Exit status for an error from parsing or validation.  Help (and the
/// parser's other clean exits) print to stdout and exit 0; every other error
/// is a usage error: "unwind-stress: <message>" and the usage on stderr,
/// exit 2 (ArgumentParser's own status would be 64, EX_USAGE).
func exitStatus(reporting error: Error) -> Int32 {
    if UnwindStress.exitCode(for: error) == .success {
        print(UnwindStress.fullMessage(for: error))
        return 0
    }
    printErr("unwind-stress: \(UnwindStress.message(for: error))")
    printErr("Usage: " + UnwindStress.usageString() + "\n  See 'unwind-stress --help' for more information.")
    return 2
}

func main() -> Int32 {
    // A child process of the dlopen-cycle scenario (spawned by the harness
    // itself, with its own arguments): never seen by the parser.
    if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "--lifecycle-child" {
        return hs_lifecycle_child(CommandLine.argc, CommandLine.unsafeArgv)
    }
    // ArgumentParser's own parse, as is (its order: -h/--help wins over an
    // unknown option anywhere, not over a value its transform refuses);
    // only the exit status of its errors is ours (2, see exitStatus).
    let command: UnwindStress
    do {
        command = try UnwindStress.parse()  // CommandLine.arguments.dropFirst()
    } catch {
        return exitStatus(reporting: error)
    }
    return command.execute()
}

exit(main())
