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
        return us_lifecycle_child(CommandLine.argc, CommandLine.unsafeArgv)
    }
    // Left to right, as the hand-written parser did: a bad argument before
    // -h/--help is a usage error (exit 2); help wins only when everything
    // before it parses.  (ArgumentParser alone answers help wherever it is.)
    let arguments = Array(CommandLine.arguments.dropFirst())
    if let help = arguments.firstIndex(where: { $0 == "-h" || $0 == "--help" }), help > 0 {
        do {
            _ = try UnwindStress.parse(Array(arguments[..<help]))
        } catch {
            return exitStatus(reporting: error)
        }
    }
    let command: UnwindStress
    do {
        command = try UnwindStress.parse(arguments)
    } catch {
        return exitStatus(reporting: error)
    }
    return command.execute()
}

exit(main())
