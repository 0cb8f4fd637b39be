import FixpointCore
import FixpointDocuments
import FixpointProtocol
import Foundation
import SwiftProtobuf
import Testing

/// Configuration documents cross every RPC as protobuf Struct/Value; the bridge walks them
/// directly, and must give exactly what going through JSON text gives.
@Suite("Document bridge")
struct DocumentBridgeTests {
  static let documents: [JSONValue] = [
    [:],
    ["name": "b", "versioning": "Disabled", "count": 3, "ratio": .number(0.1), "big": .number(1e300), "negative": .number(-42.5), "none": .null, "on": true, "off": false],
    ["ingress": ["tcp 22-22 0.0.0.0/0": ["protocol": "tcp", "from_port": 22, "cidr_ipv4": "0.0.0.0/0"]], "tags": ["env": "prod", "ünï": "çødé ✓ \"q\" \\ \n"]],
    ["list": [1, "two", [3, [4, [:]]], .null, ["deep": ["deeper": ["deepest": [true]]]]], "empty": []],
  ]

  @Test("documents convert both ways exactly as through JSON text, and round-trip")
  func sameAsThroughText() throws {
    for document in Self.documents {
      let viaText = try Google_Protobuf_Struct(jsonString: document.description)
      #expect(document.protoStruct == viaText, "\(document)")
      #expect(try JSONValue(viaText) == JSONValue.parse(Array(try viaText.jsonString().utf8)), "\(document)")
      #expect(try JSONValue(document.protoStruct) == document)
      for (_, value) in document.objectValue ?? [:] {
        #expect(value.protoValue == (try Google_Protobuf_Value(jsonString: value.description)), "\(value)")
        #expect(try JSONValue(value.protoValue) == value)
      }
    }
    #expect(JSONValue.string("x").protoStruct == Google_Protobuf_Struct(), "a value that is not an object gives an empty Struct")
  }

  @Test("a Value with no kind, or a number JSON cannot hold, is refused")
  func notJSON() {
    #expect(throws: DocumentBridgeError.self) { try JSONValue(Google_Protobuf_Value()) }
    #expect(throws: DocumentBridgeError.self) { try JSONValue(Google_Protobuf_Value(numberValue: .nan)) }
    #expect(throws: DocumentBridgeError.self) { try JSONValue(Google_Protobuf_Struct(fields: ["x": Google_Protobuf_Value(listValue: [Google_Protobuf_Value(numberValue: .infinity)])])) }
  }
}
