// swift-tools-version:6.1
// The benchmark suite (issue 4).  A package of its own so that users of
// DeferredUnwind never resolve package-benchmark.  Run from the repo root:
//   Scripts/bench/run.sh            (or: swift package --package-path Benchmarks benchmark)
import PackageDescription
import class Foundation.ProcessInfo

let package = Package(
    name: "DeferredUnwindBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1",
                 traits: ["MallocInterposer"]),
        .package(name: "DeferredUnwind", path: ".."),
    ],
    targets: [
        // Kernels in C: the measured loops, the lower-bound kernel, signal
        // handlers, worker threads.  Shared by the Swift suite and the driver.
        // duv_: the root package's variants product (the core with the
        // historical designs, duv_select(); its test hooks are linkable).
        .target(
            name: "CBenchSupport",
            dependencies: [
                .product(name: "CDeferredUnwindVariants", package: "DeferredUnwind"),
                .product(name: "CDeferredUnwindShared", package: "DeferredUnwind"),
            ],
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Wno-unused-parameter"])]
        ),
        // The shipped core (root Sources/CDeferredUnwind, unchanged, no
        // variants, with its test hooks) under the dus_ prefix: the timed
        // first request of the exact shipped source (row 1s), its context
        // ended by the du_debug_reset_context test hook.
        .target(
            name: "CDUSBench",
            dependencies: [.product(name: "CDeferredUnwindShared", package: "DeferredUnwind")],
            cSettings: [
                .define("DU_TEST_HOOKS"),
                .unsafeFlags(["-Wall", "-Wextra", "-Wno-unused-parameter"]),
            ],
            linkerSettings: [.linkedLibrary("urcu-bp"), .linkedLibrary("urcu-common")]
        ),
        // Cancel rows 7a/7b: public API of the shipped library only, so the
        // same source builds against an older core (cancel-ab.sh).
        .target(
            name: "CCancelBench",
            dependencies: [.product(name: "CDeferredUnwindShared", package: "DeferredUnwind")],
            cSettings: [.unsafeFlags(["-Wall", "-Wextra"])]
        ),
        // Frozen regions and proxy safe points (row 9): public API only.
        .target(
            name: "CProxyBench",
            dependencies: [.product(name: "CDeferredUnwindShared", package: "DeferredUnwind")],
            cSettings: [.unsafeFlags(["-Wall", "-Wextra"])]
        ),
        .executableTarget(
            name: "du-cancel-bench",
            dependencies: ["CCancelBench", .product(name: "CDeferredUnwindShared", package: "DeferredUnwind")]
        ),
        // liburcu memb and bp side by side (the registry's move to bp, which
        // alone has fork hooks).  Links what `pkg-config --libs liburcu-memb
        // liburcu-bp` prints; the flavors' symbols are prefixed urcu_memb_* /
        // urcu_bp_*, so both live in one binary.
        .target(
            name: "CURCUFlavors",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra"])],
            linkerSettings: [
                .linkedLibrary("urcu-memb"), .linkedLibrary("urcu-common"),
                .linkedLibrary("urcu-bp"),
            ]
        ),
        // Plain C driver: instruction counts under valgrind --tool=callgrind and
        // interleaved A/B timing ratios.  No Swift runtime in the measured path.
        .executableTarget(
            name: "du-bench-driver",
            dependencies: ["CBenchSupport", "CURCUFlavors", "CDUSBench", "CCancelBench", "CProxyBench"]
        ),
        .executableTarget(
            name: "DeferredUnwindBenchmarks",
            dependencies: [
                "CBenchSupport",
                "CCancelBench",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DeferredUnwindBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6],
    cLanguageStandard: .gnu11
)
