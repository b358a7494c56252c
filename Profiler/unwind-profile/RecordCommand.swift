// unwind-profile record: run a program with the agent preloaded.

import ArgumentParser
import Foundation
import ProfileReport

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run a program under the profiler and write a record file.",
        usage: "unwind-profile record [-o <file>] [-F <Hz>] [--no-inherit] [--agent <path>] -- <program> [<args> ...]",
        discussion: """
            The agent (\(AgentLocator.libraryName)) is preloaded into the program: --agent, \
            else $UNWIND_PROFILE_AGENT, else next to this executable, else .build-c/ of this \
            checkout (`make agent`).  Child processes (fork, exec) are profiled too, each into \
            <file>.<pid> next to <file> (`report <file>` reads them all); --no-inherit profiles \
            the started process alone.  An existing output file is renamed to <file>.old (its \
            children's files to <file>.old.<pid>).  \
            The exit status is the program's (128 + signal if a signal killed it; 127 if it \
            was not found).
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The record file to write.", valueName: "file"))
    var output: String = "unwind-profile.data"

    @Option(name: [.customShort("F"), .long],
            help: ArgumentHelp("Samples per second per thread (1...10000).", valueName: "Hz"))
    var frequency: Int = 99

    @Flag(name: .customLong("no-inherit"), help: "Do not profile child processes (fork, exec): they run unprofiled.")
    var noInherit = false

    @Option(help: ArgumentHelp("The agent library to preload.", valueName: "path"))
    var agent: String?

    @Argument(parsing: .captureForPassthrough,
              help: ArgumentHelp("The program to profile and its arguments (after --).", valueName: "program"))
    var command: [String] = []

    /// The program and its arguments, without the "--" that ends our options.
    var program: [String] {
        command.first == "--" ? Array(command.dropFirst()) : command
    }

    func validate() throws {
        // Passthrough capture starts at the first argument that is not one
        // of our options: before a "--", an option-looking one is a mistake
        // (or a request for help), not the program.
        if let first = command.first, first.hasPrefix("-"), first != "--" {
            if first == "-h" || first == "--help" { throw CleanExit.helpRequest(self) }
            throw ValidationError("unknown option '\(first)' (the program goes after --: "
                                  + "unwind-profile record [options] -- <program> [args...])")
        }
        guard (1...10000).contains(frequency) else {
            throw ValidationError("--frequency must be in 1...10000 samples per second (got \(frequency))")
        }
        guard let first = program.first, !first.isEmpty else {
            throw ValidationError("missing the program to run: unwind-profile record [options] -- <program> [args...]")
        }
        guard !output.isEmpty else { throw ValidationError("--output needs a file name") }
    }

    func run() throws {
        let me = "unwind-profile record"
        let environment = ProcessInfo.processInfo.environment
        let agentPath: String
        do throws(AgentLocator.Failure) {
            agentPath = try AgentLocator.locate(option: agent, environment: environment,
                                                executable: AgentLocator.currentExecutable())
        } catch {
            throw fail(me, error.message)
        }

        // The output: absolute for the agent (the program may chdir), in a
        // directory we can write, an old file kept as <file>.old.
        let outputPath = AgentLocator.absolute(output)
        let directory = (outputPath as NSString).deletingLastPathComponent
        guard FileManager.default.isWritableFile(atPath: directory) else {
            throw fail(me, "cannot write the record file \(output): directory \(directory) is not writable")
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: outputPath, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else { throw fail(me, "\(output) is a directory") }
            guard rename(outputPath, outputPath + ".old") == 0 else {
                throw fail(me, "cannot rename \(output) to \(output).old: \(String(cString: strerror(errno)))")
            }
        }
        // The previous recording's children go with its root file.
        for old in Processes.siblings(of: outputPath + ".old") { unlink(old) }
        for child in Processes.siblings(of: outputPath) {
            let suffix = String(child.dropFirst(outputPath.count))
            guard rename(child, outputPath + ".old" + suffix) == 0 else {
                throw fail(me, "cannot rename \(child) to \(output).old\(suffix): \(String(cString: strerror(errno)))")
            }
        }

        var env = environment
        let preload = env["LD_PRELOAD"].flatMap { $0.isEmpty ? nil : $0 }
        env["LD_PRELOAD"] = preload.map { "\(agentPath):\($0)" } ?? agentPath
        env["UNWIND_PROFILE_OUTPUT"] = outputPath
        env["UNWIND_PROFILE_FREQUENCY"] = String(frequency)
        env["UNWIND_PROFILE_INHERIT"] = noInherit ? "0" : nil
        env["UNWIND_PROFILE_PROCESS"] = nil // the started program is the root
        // The agent's messages go here, never to the program's streams;
        // printed below once the program has finished.
        let logPath = outputPath + ".log"
        unlink(logPath)
        env["UNWIND_PROFILE_LOG"] = logPath

        let status: Int32
        do throws(ChildProcess.SpawnFailure) {
            status = try ChildProcess.run(program, environment: env.map { "\($0.key)=\($0.value)" })
        } catch {
            switch error {
            case .spawn(let name, let code):
                let why = code == ENOENT ? "command not found" : String(cString: strerror(code))
                throw fail(me, "\(name): \(why)", status: code == ENOENT ? 127 : 126)
            }
        }

        if let log = try? String(contentsOfFile: logPath, encoding: .utf8) {
            for line in log.split(separator: "\n") { printError("[ \(line) ]") }
            unlink(logPath)
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: outputPath),
           let size = attributes[.size] as? NSNumber {
            let children = Processes.siblings(of: outputPath).count
            let more = children == 0 ? "" : " and \(children) child process files (\(output).<pid>)"
            printError("[ unwind-profile record: wrote \(size.uint64Value) bytes to \(output)\(more) ]")
        } else {
            printError("[ unwind-profile record: no record file was written to \(output): the agent did not "
                       + "load or could not write (a static or setuid program ignores LD_PRELOAD) ]")
        }
        if status != 0 { throw ExitCode(status) }
    }
}
