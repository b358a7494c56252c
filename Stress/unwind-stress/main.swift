// unwind-stress: the stress harness of DeferredUnwind (issue 3).
// This file only parses the command line; the harness itself is C
// (Stress/CUnwindStress), because everything on the signal path must be.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CUnwindStress

func usage() -> String {
    """
    usage: unwind-stress [--duration <seconds>] [--seed <n>] [--threads <n>]
                         [--scenario <name>]... [--variant <name>] [--json <path>] [--list]
      --duration <s>    seconds of stress, all slices together (default 60)
      --seed <n>        seed of every random choice (default: from the clock; printed)
      --threads <n>     worker threads (default 2 x online CPUs)
      --scenario <name> run this scenario (repeatable; name or number 1-21; default all,
                        or the variant's own set when --variant is given)
      --variant <name>  run the duv_ library with this historical design (default: the
                        release du_ library)
      --json <path>     write counts per scenario, throughput and violations as JSON
      --list            print scenarios and variants, one per line, name first
    exit status: 0 no violation, 1 violation, 2 usage or environment error
    """
}

func printErr(_ s: String) {
    let line = s + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

func fail(_ msg: String) -> Never {
    printErr("unwind-stress: \(msg)")
    printErr(usage())
    exit(2)
}

func main() -> Int32 {

// A child process of the dlopen-cycle scenario (spawned by the harness itself).
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "--lifecycle-child" {
    return us_lifecycle_child(CommandLine.argc, CommandLine.unsafeArgv)
}

var duration = 60.0
var seed: UInt64? = nil
var threads = 2 * Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
var scenarios: [Int32] = []
var variant: String? = nil
var jsonPath: String? = nil
var list = false

var args = Array(CommandLine.arguments.dropFirst())
var i = 0
func value(_ name: String) -> String {
    i += 1
    guard i < args.count else { fail("\(name) needs a value") }
    return args[i]
}
while i < args.count {
    var a = args[i]
    if a.hasPrefix("--"), let eq = a.firstIndex(of: "=") {
        let v = String(a[a.index(after: eq)...])
        a = String(a[..<eq])
        args.insert(v, at: i + 1)
    }
    switch a {
    case "--duration":
        guard let d = Double(value(a)), d > 0, d.isFinite else { fail("--duration needs a positive number of seconds") }
        duration = d
    case "--seed":
        guard let s = UInt64(value(a)) else { fail("--seed needs an unsigned integer") }
        seed = s
    case "--threads":
        guard let t = Int(value(a)), t >= 1, t <= 64 else { fail("--threads needs an integer in 1...64") }
        threads = t
    case "--scenario":
        let name = value(a)
        let idx = us_scenario_find(name)
        guard idx >= 0 else { fail("unknown scenario '\(name)' (see --list)") }
        guard scenarios.count < Int(US_MAX_SCENARIOS) else { fail("too many --scenario options") }
        if !scenarios.contains(idx) { scenarios.append(idx) }
    case "--variant":
        let v = value(a)
        guard us_variant_valid(v) != 0 else { fail("unknown variant '\(v)' (see --list)") }
        variant = v
    case "--json":
        jsonPath = value(a)
    case "--list":
        list = true
    case "-h", "--help":
        print(usage())
        exit(0)
    default:
        fail("unknown argument '\(a)'")
    }
    i += 1
}

if list {
    for k in 0..<us_scenario_count() {
        print("\(String(cString: us_scenario_name(k)))\tscenario\t\(String(cString: us_scenario_desc(k)))")
    }
    var p = us_variant_names()!
    while let name = p.pointee {
        let n = String(cString: name)
        print("\(n)\tvariant\t\(String(cString: us_variant_desc(name)))")
        p += 1
    }
    return 0
}

var cfg = us_config()
cfg.duration = duration
if let s = seed {
    cfg.seed = s
    cfg.seed_given = 1
} else {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    cfg.seed = (UInt64(ts.tv_sec) &* 1_000_003 ^ UInt64(ts.tv_nsec)) % 1_000_000_000
}
cfg.threads = Int32(threads)
cfg.nscenarios = Int32(scenarios.count)
withUnsafeMutableBytes(of: &cfg.scenarios) { raw in
    let p = raw.bindMemory(to: Int32.self)
    for (k, s) in scenarios.enumerated() { p[k] = s }
}
cfg.variant = variant.map { UnsafePointer(strdup($0)!) }
cfg.json_path = jsonPath.map { UnsafePointer(strdup($0)!) }
cfg.argv0 = UnsafePointer(strdup(CommandLine.arguments[0])!)
return us_run(&cfg)
}

exit(main())
