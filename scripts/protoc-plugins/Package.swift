// swift-tools-version:6.1
// Builds the two protoc plugins at the versions the project pins; used by scripts/generate-protos.
import PackageDescription

let package = Package(
  name: "protoc-plugins",
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
  ],
  targets: [.target(name: "Dummy", path: "Sources/Dummy")]
)
