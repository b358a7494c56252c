// swift-tools-version:6.1
// The benchmark suite (issue 4).  A package of its own so that users of
// DeferredUnwind never resolve package-benchmark.  Run from the repo root:
//   Benchmarks/run.sh            (or: swift package --package-path Benchmarks benchmark)
import PackageDescription
import class Foundation.ProcessInfo

// The repo root, for the duv_ wrapper target below (the root package has no
// product for CDeferredUnwindVariants, so the suite compiles those sources
// itself, exactly as the root target does: same files, same DU_VARIANTS).
let root = String(#filePath.dropLast("/Benchmarks/Package.swift".count))

let package = Package(
    name: "DeferredUnwindBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1",
                 traits: ["MallocInterposer"]),
        .package(name: "DeferredUnwind", path: ".."),
    ],
    targets: [
        // The core under the duv_ prefix (historical designs, duv_select()).
        .target(
            name: "CDUVBench",
            dependencies: [.product(name: "CDeferredUnwindShared", package: "DeferredUnwind")],
            cSettings: [
                .define("DU_VARIANTS"),
                .unsafeFlags(["-I\(root)/Sources/CDeferredUnwindVariants/include", "-w"]),
            ],
            linkerSettings: [.linkedLibrary("urcu-bp"), .linkedLibrary("urcu-common")]
        ),
        // Kernels in C: the measured loops, the lower-bound kernel, signal
        // handlers, worker threads.  Shared by the Swift suite and the driver.
        .target(
            name: "CBenchSupport",
            dependencies: [
                "CDUVBench",
                .product(name: "CDeferredUnwindShared", package: "DeferredUnwind"),
            ],
            cSettings: [
                .unsafeFlags([
                    "-I\(root)/Sources/CDeferredUnwindVariants/include",
                    "-I\(root)/Sources/CDeferredUnwind",
                    "-I\(root)/Sources/CDeferredUnwindVariants",
                    "-DDU_VARIANTS",
                    "-Wall", "-Wextra", "-Wno-unused-parameter",
                ]),
            ],
            linkerSettings: [.linkedLibrary("urcu-bp"), .linkedLibrary("urcu-common")]
        ),
        // The shipped request path (root request.c + cookie.c, no variants)
        // under the dus_ prefix, with a hand-made thread state: the timed
        // first request of the exact shipped source (row 1s).
        .target(
            name: "CDUSBench",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Wno-unused-parameter"])]
        ),
        // Cancel rows 7a/7b: public API of the shipped library only, so the
        // same source builds against an older core (cancel-ab.sh).
        .target(
            name: "CCancelBench",
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
            dependencies: ["CBenchSupport", "CURCUFlavors", "CDUSBench", "CCancelBench"],
            cSettings: [.unsafeFlags(["-I\(root)/Sources/CDeferredUnwindVariants/include"])]
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
