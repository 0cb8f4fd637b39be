// swift-tools-version:6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
  .enableUpcomingFeature("ExistentialAny"),
  .enableUpcomingFeature("InternalImportsByDefault"),
]

let grpc: [Target.Dependency] = [
  .product(name: "GRPCCore", package: "grpc-swift-2"),
  .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
  .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
  .product(name: "SwiftProtobuf", package: "swift-protobuf"),
]

/// A service library: its logic, storage and RPCs. It sees only the shared runtime and the protocol.
func serviceLibrary(_ name: String, extra: [Target.Dependency] = []) -> Target {
  .target(
    name: name,
    dependencies: ["FixpointCore", "FixpointProtocol", "FixpointDocuments", "FixpointControls"] + grpc + [
      .product(name: "GRDB", package: "GRDB.swift"),
      .product(name: "Logging", package: "swift-log"),
      .product(name: "Configuration", package: "swift-configuration"),
    ] + extra,
    swiftSettings: swiftSettings
  )
}

/// A service executable: a thin entry point under services/<name>/.
func serviceExecutable(_ target: String, library: String, path: String) -> Target {
  .executableTarget(
    name: target,
    dependencies: [.target(name: library), "FixpointCore"],
    path: "services/\(path)",
    exclude: ["README.md"],
    swiftSettings: swiftSettings
  )
}

let package = Package(
  name: "fixpoint",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "inventory", targets: ["InventoryMain"]),
    .executable(name: "drift", targets: ["DriftMain"]),
    .executable(name: "compliance", targets: ["ComplianceMain"]),
    .executable(name: "remediation-dispatcher", targets: ["RemediationMain"]),
    .executable(name: "notifier", targets: ["NotifierMain"]),
    .executable(name: "fixpoint", targets: ["FixpointCLI"]),
    .executable(name: "bench-assess", targets: ["BenchAssess"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(
      url: "https://github.com/apple/swift-configuration", from: "1.4.0",
      traits: [.defaults, "CommandLineArguments"]
    ),
  ],
  targets: [
    .target(
      name: "FixpointProtocol",
      dependencies: grpc,
      exclude: ["README.md", "DIGEST"],
      swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
    ),
    .target(
      name: "FixpointCore",
      dependencies: ["FixpointProtocol", "FixpointDocuments", "FixpointControls"] + grpc + [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        .product(name: "NIOHPACK", package: "swift-nio-http2"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "JWTKit", package: "jwt-kit"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
        .product(name: "Configuration", package: "swift-configuration"),
      ],
      swiftSettings: swiftSettings
    ),
    .target(name: "FixpointDocuments", swiftSettings: swiftSettings),
    .target(name: "FixpointControls", dependencies: ["FixpointDocuments"], swiftSettings: swiftSettings),
    .target(name: "FixpointIaC", dependencies: ["FixpointDocuments", .product(name: "Yams", package: "Yams")], swiftSettings: swiftSettings),
    .target(name: "FixpointGate", dependencies: ["FixpointIaC", "FixpointControls", "FixpointDocuments"], swiftSettings: swiftSettings),
    .target(
      name: "CloudAWS",
      dependencies: [
        "FixpointDocuments",
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: swiftSettings
    ),
    serviceLibrary("Remediation", extra: [.product(name: "Crypto", package: "swift-crypto"), .product(name: "Metrics", package: "swift-metrics")]),
    serviceLibrary("Inventory", extra: ["CloudAWS", .product(name: "Crypto", package: "swift-crypto")]),
    serviceLibrary("Drift", extra: ["FixpointIaC", .product(name: "Crypto", package: "swift-crypto")]),
    serviceLibrary("Compliance", extra: ["FixpointGate", .product(name: "Crypto", package: "swift-crypto")]),
    serviceLibrary("Notifier", extra: [
      .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
      .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOSSL", package: "swift-nio-ssl"),
      .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    ]),
    serviceExecutable("InventoryMain", library: "Inventory", path: "inventory"),
    serviceExecutable("DriftMain", library: "Drift", path: "drift"),
    serviceExecutable("ComplianceMain", library: "Compliance", path: "compliance"),
    serviceExecutable("RemediationMain", library: "Remediation", path: "remediation-dispatcher"),
    serviceExecutable("NotifierMain", library: "Notifier", path: "notifier"),
    .executableTarget(
      name: "FixpointCLI",
      dependencies: [
        "FixpointCore", "FixpointProtocol", "FixpointDocuments", "FixpointControls", "FixpointGate",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Crypto", package: "swift-crypto"),
      ] + grpc,
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "FixpointCoreTests",
      dependencies: ["FixpointCore", "FixpointProtocol", "FixpointDocuments", "FixpointControls", "CloudAWS", "Inventory", "Drift", "Compliance", "Remediation", "Notifier"] + grpc + [
        .product(name: "GRPCInProcessTransport", package: "grpc-swift-2"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Configuration", package: "swift-configuration"),
      ],
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: "BenchAssess", dependencies: ["FixpointControls", "FixpointDocuments", "FixpointIaC"], path: "scripts/bench/assess", swiftSettings: swiftSettings),
    .testTarget(name: "FixpointDocumentsTests", dependencies: ["FixpointDocuments", "TestSupport"], swiftSettings: swiftSettings),
    .testTarget(name: "FixpointControlsTests", dependencies: ["FixpointControls", "FixpointDocuments"], swiftSettings: swiftSettings),
    .testTarget(name: "FixpointIaCTests", dependencies: ["FixpointIaC", "FixpointDocuments"], swiftSettings: swiftSettings),
    .testTarget(
      name: "FixpointGateTests", dependencies: ["FixpointGate", "FixpointIaC", "FixpointControls", "FixpointDocuments"], exclude: ["fixtures"],
      swiftSettings: swiftSettings),
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .testTarget(
      name: "CloudAWSTests",
      dependencies: ["CloudAWS", "FixpointDocuments", "TestSupport"],
      exclude: ["python"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "IntegrationTests",
      dependencies: ["FixpointCore", "FixpointProtocol", "TestSupport"] + grpc + [
        .product(name: "GRDB", package: "GRDB.swift"),
      ],
      exclude: ["python", "schemas"],
      swiftSettings: swiftSettings
    ),
  ]
)
