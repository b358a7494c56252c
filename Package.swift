// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "DeferredUnwind",
    products: [
        // Swift API.
        .library(name: "DeferredUnwind", targets: ["DeferredUnwind"]),
        // The C core alone, for tracers written in C: link this and liburcu-memb.
        .library(name: "CDeferredUnwind", type: .dynamic, targets: ["CDeferredUnwind"]),
        // The stress harness: the project's main job.
        .executable(name: "unwind-stress", targets: ["unwind-stress"]),
    ],
    targets: [
        .systemLibrary(
            name: "CURCU",
            path: "Sources/CURCU",
            pkgConfig: "liburcu-memb",
            providers: [.apt(["liburcu-dev"])]
        ),
        .target(
            name: "CDeferredUnwind",
            dependencies: ["CURCU"],
            cSettings: [
                // Step points exist only in debug builds; release never defines this.
                .define("DU_STEP_POINTS", .when(configuration: .debug)),
                .unsafeFlags(["-Wall", "-Wextra", "-Werror=implicit-function-declaration"]),
            ]
        ),
        // The same core sources compiled with the historical designs selectable
        // at run time, under the duv_ prefix.  Only the stress harness and the
        // benchmarks link it; the release library above has none of its branches.
        .target(
            name: "CDeferredUnwindVariants",
            dependencies: ["CURCU", "CDeferredUnwind"],
            cSettings: [
                .define("DU_VARIANTS"),
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
            dependencies: ["CUnwindStress", "CDeferredUnwind", "CDeferredUnwindVariants"],
            path: "Stress/unwind-stress"
        ),
        // The README's Swift usage example, built by the tests and checked
        // against the README text.
        .executableTarget(
            name: "SwiftUsageExample",
            dependencies: ["DeferredUnwind"],
            path: "Examples/SwiftUsage"
        ),
        // dladdr for the tests (Glibc's Swift overlay does not export it).
        .target(name: "CTestSupport", dependencies: ["CDeferredUnwind"], path: "Tests/CTestSupport"),
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
