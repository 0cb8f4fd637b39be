import CloudAWS
import FixpointDocuments
@testable import Inventory
import Testing

@Suite("What a snapshot restores")
struct RestorationTests {
  static func paths(_ texts: [String]) throws -> [DocumentPath] { try texts.map { try DocumentPath($0) } }

  @Test("each recorded path, or its highest ancestor that was absent; nothing twice, nothing under another")
  func restoration() throws {
    let document: JSONValue = [
      "access_keys": ["AKIA1": ["status": "Active"]],
      "ingress": ["tcp 22-22 0.0.0.0/0": ["protocol": "tcp"]],
      "metadata_options": ["http_tokens": "optional"],
    ]
    // An absent block comes back absent (deleted), not as a block of nulls.
    let block = try Self.paths(["public_access_block.block_public_acls", "public_access_block.ignore_public_acls"])
    #expect(ChangeService.restoration(of: block, from: document) == (try Self.paths(["public_access_block"])))
    // A key's status, a removed rule: just those paths.
    let key = try Self.paths(["access_keys[AKIA1].status", "ingress[tcp 22-22 0.0.0.0/0]"])
    #expect(ChangeService.restoration(of: key, from: document) == key)
    // A key that did not exist then is removed; a path under another restored path is not written twice.
    let mixed = try Self.paths(["access_keys[AKIA2].status", "metadata_options.http_tokens", "metadata_options"])
    #expect(ChangeService.restoration(of: mixed, from: document) == (try Self.paths(["access_keys[AKIA2]", "metadata_options"])))
  }
}
