// swift-tools-version:6.0
// sealbatch — bulk electronic official seals (电子公章) for PDF documents.
// Module map: ../shared/DESIGN.md. Only the C* shim targets see C.
import PackageDescription

let package = Package(
    name: "sealbatch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sealbatch", targets: ["sealbatch"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // ---- C shims (thin; pkg-config names from ../shared/PLATFORM.md) ----
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CPoppler", pkgConfig: "poppler-glib", providers: [.apt(["libpoppler-glib-dev", "libcairo2-dev"])]),
        .systemLibrary(name: "CPCSC", pkgConfig: "libpcsclite", providers: [.apt(["libpcsclite-dev"])]),
        .target(name: "CPKCS11", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("crypto")]),
        .target(name: "COpenSSL", linkerSettings: [.linkedLibrary("crypto")]),

        // ---- Swift modules ----
        .target(name: "CSubprocess"),
        .target(name: "Subprocess", dependencies: ["CSubprocess"]),
        .target(name: "PDF", dependencies: ["CZlib"]),
        .target(name: "Signing", dependencies: [
            "PDF", "COpenSSL",
            .product(name: "SwiftASN1", package: "swift-asn1"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Token", dependencies: [
            "CPKCS11", "CPCSC", "Subprocess",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SealModel"),
        .target(name: "Render", dependencies: ["CPoppler", "PDF", "SealModel"]),
        .target(name: "Governance", dependencies: [
            "Signing", "SealModel",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Pipeline", dependencies: [
            "COpenSSL", "CSubprocess",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        .target(name: "Stages", dependencies: [
            "PDF", "Signing", "Token", "Render", "Governance", "Pipeline",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Console", dependencies: [
            "Governance", "Stages", "Pipeline", "Signing", "Render", "PDF",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Mustache", package: "swift-mustache"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "sealbatch", dependencies: [
            "PDF", "Signing", "Token", "Render", "Governance", "Stages", "Pipeline", "Console",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // ---- Tests (Swift Testing, one target per module) ----
        .target(name: "TestSupport", dependencies: ["Subprocess"], path: "Tests/TestSupport"),
        .testTarget(name: "PDFTests", dependencies: ["TestSupport", "PDF"], exclude: ["Fixtures"]),
        .testTarget(name: "SigningTests", dependencies: ["TestSupport", "Signing", "PDF", "Token"]),
        .testTarget(name: "TokenTests", dependencies: ["TestSupport", "Token"]),
        .testTarget(name: "RenderTests", dependencies: ["TestSupport", "Render", "PDF", "Signing"]),
        .testTarget(name: "GovernanceTests", dependencies: ["TestSupport", "Governance", "Signing", "SealModel"]),
        .testTarget(name: "PipelineTests", dependencies: ["TestSupport", "Pipeline", "PipelineTestStages", "pipeline-testbed"]),
        .target(name: "PipelineTestStages", dependencies: ["Pipeline"], path: "Tests/PipelineTestStages"),
        .executableTarget(name: "pipeline-testbed", dependencies: ["Pipeline", "PipelineTestStages", .product(name: "Logging", package: "swift-log")], path: "Tests/PipelineTestbed"),
        .testTarget(name: "StagesTests", dependencies: ["TestSupport", "Stages", "Pipeline", "PDF", "Signing", "Token", "Render", "Governance"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "ConsoleTests", dependencies: ["TestSupport", "Subprocess", "Governance", "Signing", "SealModel"], exclude: ["browser"]),
    ],
    swiftLanguageModes: [.v6]
)
