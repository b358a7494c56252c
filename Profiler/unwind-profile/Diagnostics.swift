// Messages on stderr, and the exit that follows an error.

import ArgumentParser
import Foundation

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Prints "<prefix>: <message>" and exits with `status` (through
/// ArgumentParser, which exits without printing for an ExitCode).
func fail(_ prefix: String, _ message: String, status: Int32 = 1) -> ExitCode {
    printError("\(prefix): \(message)")
    return ExitCode(status)
}
