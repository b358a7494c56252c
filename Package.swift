// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "DeferredUnwind",
    products: [
        // Swift API.
        .library(name: "DeferredUnwind", targets: ["DeferredUnwind"]),
        // The C core for C targets of Swift packages (a signal handler that
        // calls du_request).  Automatic (static), like DeferredUnwind, which
        // holds the same target: a package that depends on either product or
        // both links ONE copy of the core into its executable (SwiftPM links
        // each target once).  A dynamic product here would be a second copy
        // next to DeferredUnwind's (Docs/Lifecycle.md, "One copy of the core").
        .library(name: "CDeferredUnwind", targets: ["CDeferredUnwind"]),
        // The core as a shared library (libCDeferredUnwindShared.so) for this
        // repository's own C test programs, the harness's dlopen-cycle
        // scenario and the benchmarks.  Not for packages: next to
        // DeferredUnwind it is a second copy.  C tracers link
        // libdeferred_unwind.so from `make` (Docs/CLibrary.md): SwiftPM links
        // its dynamic products against the Swift runtime.
        .library(name: "CDeferredUnwindShared", type: .dynamic, targets: ["CDeferredUnwind"]),
        // The core with the historical designs (duv_ prefix, duv_select) for
        // this repository's benchmarks (Benchmarks/Package.swift).  Not for
        // packages: a test apparatus, not an API.  It holds only the duv_
        // copy (no du_ symbol), so it can sit next to CDeferredUnwindShared.
        .library(name: "CDeferredUnwindVariants", targets: ["CDeferredUnwindVariants"]),
        // The stress harness: the project's main job.
        .executable(name: "unwind-stress", targets: ["unwind-stress"]),
        // The off-CPU profiler (its preloaded agent is C, built by `make agent`).
        .executable(name: "unwind-profile", targets: ["unwind-profile"]),
    ],
    dependencies: [
        // Command lines of unwind-stress and unwind-profile.
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        // `swift package generate-documentation --target DeferredUnwind`: the
        // DocC catalog Sources/DeferredUnwind/DeferredUnwind.docc (a command
        // plugin only; nothing links it).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", exact: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CURCU",
            path: "Sources/CURCU",
            pkgConfig: "liburcu-bp",
            providers: [.apt(["liburcu-dev"])]
        ),
        .target(
            name: "CDeferredUnwind",
            dependencies: ["CURCU"],
            cSettings: [
                // Step points exist only in debug builds; release never defines this.
                .define("DU_STEP_POINTS", .when(configuration: .debug)),
                // Counter seeding for the tests and the harness: compiled in,
                // but hidden (not exported by libCDeferredUnwind.so); the C
                // library from `make` does not compile it at all.
                .define("DU_TEST_HOOKS"),
                .unsafeFlags(["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]),
            ],
            linkerSettings: [
                // Bind every symbol at load (no lazy PLT resolution inside a
                // signal handler) and stay mapped after dlclose (a thread's
                // exit destructor and the atfork handlers point into us).
                .unsafeFlags(["-Xlinker", "-z", "-Xlinker", "now",
                              "-Xlinker", "-z", "-Xlinker", "nodelete"]),
            ]
        ),
        // The same core sources compiled with the historical designs selectable
        // at run time, under the duv_ prefix: the hooks of
        // Sources/CDeferredUnwind/hooks.h, defined here.  Only the stress
        // harness and the benchmarks link it; the release library above has
        // none of its branches.  No dependency on CDeferredUnwind (only its
        // public header, deferred_unwind.h): linking this product must not
        // link a static du_ copy next to CDeferredUnwindShared.
        .target(
            name: "CDeferredUnwindVariants",
            dependencies: ["CURCU"],
            cSettings: [
                .headerSearchPath("../CDeferredUnwind/include"),
                .define("DU_VARIANTS"),
                .define("DU_TEST_HOOKS"),
                .unsafeFlags(["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]),
            ]
        ),
        .target(
            name: "DeferredUnwind",
            dependencies: ["CDeferredUnwind"]
        ),
        // Signal-side half of the stress harness: handlers, logs (C only).
        .target(
            name: "CUnwindStress",
            dependencies: ["CDeferredUnwind", "CDeferredUnwindVariants"],
            path: "Stress/CUnwindStress",
            cSettings: [
                .define("_GNU_SOURCE"),
                .unsafeFlags(["-Wall", "-Wextra", "-Werror=implicit-function-declaration",
                              "-fno-omit-frame-pointer", "-fno-optimize-sibling-calls"]),
            ],
            linkerSettings: [.linkedLibrary("rt")]
        ),
        .executableTarget(
            name: "unwind-stress",
            dependencies: ["CUnwindStress", "CDeferredUnwind", "CDeferredUnwindVariants",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Stress/unwind-stress"
        ),
        // unwind-profile (Docs/Profiler.md): the record file's decoder and
        // stitcher (pure Swift, no Foundation: the fuzzer builds it alone),
        // the report writers, and the command line.
        .systemLibrary(
            name: "CZlib",
            path: "Profiler/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(name: "ProfileFormat", path: "Profiler/ProfileFormat"),
        .target(name: "ProfileReport", dependencies: ["ProfileFormat", "CZlib"], path: "Profiler/ProfileReport"),
        .executableTarget(
            name: "unwind-profile",
            dependencies: ["ProfileFormat", "ProfileReport",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Profiler/unwind-profile"
        ),
        // The README's Swift usage example, built by the tests and checked
        // against the README text.
        .executableTarget(
            name: "SwiftUsageExample",
            dependencies: ["DeferredUnwind"],
            path: "Examples/SwiftUsage"
        ),
        // The example workload of unwind-profile: threads that wait in known
        // call paths for known times (the ±10 % test profiles it).
        .executableTarget(
            name: "offcpu-workload",
            path: "Examples/OffCPUWorkload",
            cSettings: [.unsafeFlags(["-Wall", "-Wextra", "-Werror=implicit-function-declaration"])]
        ),
        // dladdr for the tests (Glibc's Swift overlay does not export it),
        // and the C halves of the interleaving, lifecycle, model-slip and
        // step-table tests.  Tests/C/programs holds C programs the tests
        // compile with cc at run time (programs/core: the core's lifecycle
        // programs and the C library's link test; programs/agent: the agent
        // tests' programs), not part of this target.
        .target(name: "CTestSupport", dependencies: ["CDeferredUnwind"], path: "Tests/C",
                exclude: ["programs"]),
        .testTarget(
            name: "ProfileTests",
            // CZlib: the pprof tests gunzip the writer's output with zlib's inflate.
            dependencies: ["ProfileFormat", "ProfileReport", "CZlib"],
            // The decoder fuzzer's corpus and crash inputs, read through
            // #filePath by FuzzRegressionTests (not resources).  The C programs
            // the agent tests compile and run under the agent are in
            // Tests/C/programs/agent.
            exclude: ["Fuzz"]
        ),
        .testTarget(
            name: "DeferredUnwindTests",
            dependencies: ["DeferredUnwind", "CDeferredUnwind", "CTestSupport"],
            // dladdr names only exported symbols: export the test functions'
            // so trace tests can check frames by name.
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"])]
        ),
    ],
    swiftLanguageModes: [.v6],
    cLanguageStandard: .gnu11
)
