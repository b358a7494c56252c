// Where the preloaded agent is: --agent, else $UNWIND_PROFILE_AGENT, else
// next to this executable, else the C build directory of the checkout this
// executable was built in (.build/<config>/unwind-profile ->
// .build-c/libunwind_profile_agent.so, where `make agent` puts it).

import Foundation

enum AgentLocator {
    static let libraryName = "libunwind_profile_agent.so"

    enum Failure: Error {
        /// --agent or $UNWIND_PROFILE_AGENT names a file that is not there.
        case named(String, source: String)
        /// Nothing found in the default places.
        case notFound(looked: [String])

        var message: String {
            switch self {
            case .named(let path, let source):
                return "agent \(path) (from \(source)) not found"
            case .notFound(let looked):
                return "cannot find the agent \(libraryName) (looked for "
                    + looked.joined(separator: ", ")
                    + "); build it with `make agent` (Scripts/profile.sh builds it and unwind-profile), "
                    + "or pass --agent <path> or set UNWIND_PROFILE_AGENT"
            }
        }
    }

    /// The agent's absolute path.
    static func locate(option: String?, environment: [String: String],
                       executable: String?) throws(Failure) -> String {
        if let option {
            guard isFile(option) else { throw .named(option, source: "--agent") }
            return absolute(option)
        }
        if let env = environment["UNWIND_PROFILE_AGENT"], !env.isEmpty {
            guard isFile(env) else { throw .named(env, source: "UNWIND_PROFILE_AGENT") }
            return absolute(env)
        }
        var candidates: [String] = []
        if let executable {
            let dir = URL(fileURLWithPath: executable).deletingLastPathComponent()
            candidates.append(dir.appendingPathComponent(libraryName).path)
            candidates.append(dir.appendingPathComponent("../../.build-c/\(libraryName)").standardizedFileURL.path)
            // .build/debug is a link to .build/<triple>/debug, and a scratch
            // path may be .build-asan: the checkout is the parent of the
            // nearest ".build*" directory.
            var up = dir
            while up.path != "/" && !up.lastPathComponent.hasPrefix(".build") { up.deleteLastPathComponent() }
            if up.path != "/" {
                let checkout = up.deletingLastPathComponent()
                let candidate = checkout.appendingPathComponent(".build-c/\(libraryName)").path
                if !candidates.contains(candidate) { candidates.append(candidate) }
            }
        }
        for candidate in candidates where isFile(candidate) { return candidate }
        throw .notFound(looked: ["--agent", "$UNWIND_PROFILE_AGENT"] + candidates)
    }

    /// This process's executable, symbolic links resolved.
    static func currentExecutable() -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    static func isFile(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
                .appendingPathComponent(path).standardizedFileURL.path
    }
}
