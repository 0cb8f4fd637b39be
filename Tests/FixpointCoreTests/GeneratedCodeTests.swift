import Crypto
import Foundation
import Testing

/// The committed generated code must be what scripts/generate-protos makes from proto/ today.
@Suite("Generated protocol code")
struct GeneratedCodeTests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  static func digest(of files: [URL]) throws -> String {
    var data = Data()
    for file in files { data.append(try Data(contentsOf: file)) }
    return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
  }

  static func files(under dir: URL, ext: String) -> [URL] {
    let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)!
    return e.compactMap { $0 as? URL }.filter { $0.pathExtension == ext }
      .sorted { $0.path.replacingOccurrences(of: dir.path + "/", with: "") < $1.path.replacingOccurrences(of: dir.path + "/", with: "") }
  }

  @Test("the recorded digests match proto/ and Sources/FixpointProtocol")
  func digestsMatch() throws {
    let recorded = try String(contentsOf: Self.root.appendingPathComponent("Sources/FixpointProtocol/DIGEST"), encoding: .utf8)
    let lines = Dictionary(uniqueKeysWithValues: recorded.split(separator: "\n").map { line in
      let parts = line.split(separator: " ")
      return (String(parts[0]), String(parts[1]))
    })
    let protoDir = Self.root.appendingPathComponent("proto")
    let protos = Self.files(under: protoDir, ext: "proto")
    #expect(protos.count >= 8)
    #expect(try Self.digest(of: protos) == lines["protos"], "proto/ changed: run scripts/generate-protos and commit the result")
    let generated = Self.files(under: Self.root.appendingPathComponent("Sources/FixpointProtocol"), ext: "swift")
    #expect(try Self.digest(of: generated) == lines["generated"], "generated code was edited by hand or is stale: run scripts/generate-protos")
  }
}
