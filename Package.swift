// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "DeferredUnwind",
    products: [
        // Swift API.
        .library(name: "DeferredUnwind", targets: ["DeferredUnwind"]),
        // The C core alone, for tracers written in C: link this and liburcu-memb.
        .library(name: "CDeferredUnwind", type: .dynamic, targets: ["CDeferredUnwind"]),
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
        .target(
            name: "DeferredUnwind",
            dependencies: ["CDeferredUnwind"]
        ),
        .testTarget(
            name: "DeferredUnwindTests",
            dependencies: ["DeferredUnwind", "CDeferredUnwind"]
        ),
    ],
    swiftLanguageModes: [.v6],
    cLanguageStandard: .gnu11
)
