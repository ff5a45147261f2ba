// swift-tools-version:6.0
import PackageDescription

// Numeric targets are optimised in every configuration: a debug build of a training loop
// runs 10-50x slower, and `swift test` / `swift run` would otherwise meet that. On x86-64
// they target Haswell (AVX2, 2013 on), so elementwise loops vectorise 8 floats wide.
#if arch(x86_64)
let optimised: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", "haswell"])]
#else
let optimised: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"])]
#endif

let package = Package(
    name: "evolve",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "evolve", targets: ["evolve"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .target(name: "Tensor", dependencies: ["CBLAS"], swiftSettings: optimised),
        .target(name: "Program", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(
            name: "Training",
            dependencies: ["Tensor", .product(name: "Yams", package: "Yams")],
            swiftSettings: optimised),
        .target(name: "Store", dependencies: ["Program", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "Compiler", dependencies: ["Program", "Tensor", "Training"], swiftSettings: optimised),
        .target(name: "Search", dependencies: ["Program", "Compiler", "Training", "Store", "Tensor",
                                               .product(name: "Yams", package: "Yams")]),
        .target(name: "Report", dependencies: ["Store"]),
        .target(name: "Experiments", dependencies: ["Compiler", "Program", "Tensor", "Training"]),
        .executableTarget(
            name: "evolve",
            dependencies: [
                "Tensor", "Training", "Program", "Compiler", "Search", "Store", "Report", "Experiments",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .target(name: "TestSupport", dependencies: ["Tensor", "Training"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Tensor", "TestSupport"]),
        .testTarget(name: "ProgramTests", dependencies: ["Program", "Tensor", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Store"]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Training", "TestSupport"]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Store", "Program", "Training", "TestSupport"]),
        .testTarget(name: "CompilerTests", dependencies: ["Compiler", "Program", "Training", "Tensor", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
