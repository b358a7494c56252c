// The command line of unwind-stress (swift-argument-parser): options, their
// validation, --list, and the hs_config handed to the C harness.  main.swift
// dispatches the hidden --lifecycle-child mode before this parser runs and
// maps every parse error to exit status 2.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import ArgumentParser
import CUnwindStress

/// Why a value was refused; ArgumentParser prints it after
/// "The value '<v>' is invalid for '<option> <name>': ".
struct InvalidValue: Error, CustomStringConvertible {
    let description: String
}

struct UnwindStress: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unwind-stress",
        abstract: "The stress harness of DeferredUnwind: races under load, checked against the invariants.",
        discussion: """
            Exit status: 0 no violation, 1 violation, 2 usage or environment error.
            A violation report ends with its replay command line; the seed of a run is printed.
            """)

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("Seconds of stress, all slices together (default 60).", valueName: "seconds"),
            transform: UnwindStress.seconds)
    var duration: Double?

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("Seed of every random choice (default: from the clock; printed).", valueName: "n"),
            transform: UnwindStress.seedValue)
    var seed: UInt64?

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("Worker threads, 1...64 (default 2 x online CPUs).", valueName: "n"),
            transform: UnwindStress.threadCount)
    var threads: Int?

    @Option(name: .customLong("scenario"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("""
                Run this scenario (repeatable; name or number 1-\(hs_scenario_numbered()); default all, \
                or the variant's own set when --variant is given).
                """, valueName: "name"),
            transform: UnwindStress.scenarioIndex)
    var scenarios: [Int32] = []

    @Option(name: .long, parsing: .unconditional,
            help: ArgumentHelp("Run the duv_ library with this historical design (default: the release du_ library).",
                               valueName: "name"),
            transform: UnwindStress.variantName)
    var variant: String?

    @Option(name: .customLong("json"), parsing: .unconditional,
            help: ArgumentHelp("Write counts per scenario, throughput and violations as JSON.", valueName: "path"))
    var jsonPath: String?

    @Flag(name: .long, help: "Print scenarios and variants, one per line, name first.")
    var list = false

    // ---- values: each refusal names what the option needs ----

    static func seconds(_ s: String) throws -> Double {
        guard let d = Double(s), d > 0, d.isFinite else {
            throw InvalidValue(description: "needs a positive, finite number of seconds")
        }
        return d
    }

    static func seedValue(_ s: String) throws -> UInt64 {
        guard let v = UInt64(s) else { throw InvalidValue(description: "needs an unsigned 64-bit integer") }
        return v
    }

    static func threadCount(_ s: String) throws -> Int {
        guard let t = Int(s), (1...64).contains(t) else {
            throw InvalidValue(description: "needs an integer in 1...64")
        }
        return t
    }

    static func scenarioIndex(_ s: String) throws -> Int32 {
        let idx = hs_scenario_find(s)
        guard idx >= 0 else { throw InvalidValue(description: "unknown scenario (see --list)") }
        return idx
    }

    static func variantName(_ s: String) throws -> String {
        guard hs_variant_valid(s) != 0 else { throw InvalidValue(description: "unknown variant (see --list)") }
        return s
    }

    /// The selected scenarios, each once, in the order first given.
    var selectedScenarios: [Int32] {
        var seen: [Int32] = []
        for s in scenarios where !seen.contains(s) { seen.append(s) }
        return seen
    }

    func validate() throws {
        guard selectedScenarios.count <= Int(HS_MAX_SCENARIOS) else {
            throw ValidationError("too many --scenario options (at most \(HS_MAX_SCENARIOS))")
        }
    }

    /// Exit status of the run: 0 pass, 1 violation, 2 environment error.
    func execute() -> Int32 {
        list ? Self.printList() : runHarness()
    }

    mutating func run() throws {
        let status = execute()
        if status != 0 { throw ExitCode(status) }
    }

    /// --list: "<name>\tscenario\t<description>", then "<name>\tvariant\t<description>".
    static func printList() -> Int32 {
        for k in 0..<hs_scenario_count() {
            print("\(String(cString: hs_scenario_name(k)))\tscenario\t\(String(cString: hs_scenario_desc(k)))")
        }
        var p = hs_variant_names()!
        while let name = p.pointee {
            let n = String(cString: name)
            print("\(n)\tvariant\t\(String(cString: hs_variant_desc(name)))")
            p += 1
        }
        return 0
    }

    /// The configuration with the defaults filled in, then the C harness.
    /// The strings are duplicated for the process's life (hs_run keeps them).
    func runHarness() -> Int32 {
        var cfg = hs_config()
        cfg.duration = duration ?? 60
        if let s = seed {
            cfg.seed = s
            cfg.seed_given = 1
        } else {
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            cfg.seed = (UInt64(ts.tv_sec) &* 1_000_003 ^ UInt64(ts.tv_nsec)) % 1_000_000_000
        }
        cfg.threads = Int32(threads ?? 2 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let chosen = selectedScenarios
        cfg.nscenarios = Int32(chosen.count)
        withUnsafeMutableBytes(of: &cfg.scenarios) { raw in
            let p = raw.bindMemory(to: Int32.self)
            for (k, s) in chosen.enumerated() { p[k] = s }
        }
        cfg.variant = variant.map { UnsafePointer(strdup($0)!) }
        cfg.json_path = jsonPath.map { UnsafePointer(strdup($0)!) }
        cfg.argv0 = UnsafePointer(strdup(CommandLine.arguments[0])!)
        return hs_run(&cfg)
    }
}
