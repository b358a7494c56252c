// swift-tools-version:6.0
// A Swift program with a C signal handler, built the way Docs/SwiftAPI.md
// says: the C target (its SIGPROF handler calls du_request) and the Swift
// target both on this repository's package, by local path.  Built and run
// by Tests/DeferredUnwindTests/OneCoreTests.swift (in a temporary copy whose
// path below is replaced by the repository's absolute path), which checks
// that the process holds one copy of the core and forks while attached.
import PackageDescription

let package = Package(
    name: "OneCoreFixture",
    dependencies: [
        .package(name: "DeferredUnwind", path: "../../.."),
    ],
    targets: [
        .target(
            name: "CSampler",
            dependencies: [.product(name: "CDeferredUnwind", package: "DeferredUnwind")]
        ),
        // A C target on the Swift product alone: the C module comes with it.
        .target(
            name: "CProbe",
            dependencies: [.product(name: "DeferredUnwind", package: "DeferredUnwind")]
        ),
        .executableTarget(
            name: "onecore-fork",
            dependencies: ["CSampler", "CProbe", .product(name: "DeferredUnwind", package: "DeferredUnwind")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
