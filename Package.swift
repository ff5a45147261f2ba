// swift-tools-version:6.0
import PackageDescription

// Numeric targets are optimised in every configuration: a debug build of a training loop
// runs 10-50x slower, and `swift test` / `swift run` would otherwise meet that. On x86-64
// they target Haswell (AVX2, 2013 on), so elementwise loops vectorise 8 floats wide.
// Only the kernels (Tensor) drop Swift's runtime checks (-Ounchecked): their indices are
// computed from shapes, never read from input. Every other target keeps them (-O): they
// parse files, checkpoints, token files and the store's rows, where a failed check must
// stop the program rather than read out of bounds.
#if arch(x86_64)
let haswell = ["-target-cpu", "haswell"]
#else
let haswell: [String] = []
#endif
let kernels: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"] + haswell)]
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"] + haswell)]

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
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
    ],
    // The arrows point one way (docs/architecture.md draws them): the IR and the engine share
    // only Primitives; Model is what the compiler makes and the trainer trains; Config reads
    // the YAML files evolve is given (a run's config, a search space); Search and the
    // commands sit on top.
    targets: [
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .target(name: "CGemm", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Primitives", swiftSettings: optimised),
        .target(name: "Tensor", dependencies: ["CBLAS", "CGemm", "Primitives"], swiftSettings: kernels),
        .target(name: "Program", dependencies: ["Primitives", .product(name: "Yams", package: "Yams")]),
        .target(name: "Model", dependencies: ["Tensor"], swiftSettings: optimised),
        .target(name: "Compiler", dependencies: ["Program", "Model", "Tensor", "Primitives"],
                resources: [.copy("Resources/runtime.py")], swiftSettings: optimised),
        .target(name: "Training", dependencies: ["Compiler", "Program", "Model", "Tensor", "Primitives", .product(name: "Crypto", package: "swift-crypto")],
                resources: [.copy("Resources/trainer.py")], swiftSettings: optimised),
        .target(name: "Config", dependencies: ["Program", "Training", "Primitives", .product(name: "Yams", package: "Yams")]),
        .target(name: "Store", dependencies: [.product(name: "GRDB", package: "GRDB.swift"),
                                              .product(name: "PostgresNIO", package: "postgres-nio"),
                                              .product(name: "NIOCore", package: "swift-nio"),
                                              .product(name: "NIOPosix", package: "swift-nio"),
                                              .product(name: "Logging", package: "swift-log"), "Primitives"]),
        .target(name: "Search", dependencies: ["Program", "Compiler", "Model", "Training", "Config", "Store", "Primitives", "Tensor"]),
        .target(name: "Report", dependencies: ["Store", "Program"]),
        .target(name: "Serve", dependencies: ["Report", "Store", "Program",
                                              .product(name: "Hummingbird", package: "hummingbird"),
                                              .product(name: "Logging", package: "swift-log")]),
        .target(name: "Experiments", dependencies: ["Compiler", "Program", "Model", "Training", "Tensor", "Primitives"]),
        .executableTarget(
            name: "evolve",
            dependencies: [
                "Primitives", "Tensor", "Model", "Training", "Config", "Program", "Compiler", "Search", "Store", "Report",
                "Experiments", "Serve",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .target(name: "TestSupport", dependencies: ["Primitives", "Program", "Store", "Training", "Compiler", "Model"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "Primitives", "CGemm", "CBLAS"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Config", "Compiler", "Program", "Model", "Tensor", "Primitives", "TestSupport"]),
        .testTarget(name: "ProgramTests", dependencies: ["Program", "Primitives", "TestSupport"]),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Store", "Program", "Primitives", "TestSupport"]),
        .testTarget(name: "ServeTests", dependencies: ["Serve", "Report", "Store", "Program", "TestSupport",
                                                        .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "ExperimentsTests", dependencies: ["Experiments", "Training", "Program", "Primitives", "TestSupport"]),
        .testTarget(name: "SearchTests", dependencies: ["Search", "Store", "Program", "Training", "Config", "Compiler", "Primitives", "TestSupport",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ArchitectureTests", dependencies: ["TestSupport"]),
        .testTarget(name: "CompilerTests", dependencies: ["Compiler", "Program", "Model", "Training", "Config", "Tensor", "Primitives", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
