public import FixpointDocuments
public import FixpointProtocol
public import SwiftProtobuf

// The one bridge between configuration documents and protobuf: every service converts here, at
// its RPC edge, and works on `JSONValue` inside.

extension JSONValue {
  /// Through JSON text: protobuf's Value and Struct have exactly JSON's shape.
  public init(_ value: Google_Protobuf_Value) throws { self = try JSONValue.parse(Array(try value.jsonString().utf8)) }

  /// A Struct as an object document.
  public init(_ value: Google_Protobuf_Struct) throws { self = try JSONValue.parse(Array(try value.jsonString().utf8)) }

  /// As a protobuf Value (any JSON value has one).
  public var protoValue: Google_Protobuf_Value { (try? Google_Protobuf_Value(jsonString: self.description)) ?? Google_Protobuf_Value() }

  /// As a protobuf Struct; a value that is not an object gives an empty Struct.
  public var protoStruct: Google_Protobuf_Struct { (try? Google_Protobuf_Struct(jsonString: self.description)) ?? Google_Protobuf_Struct() }
}

extension Fixpoint_V1_ResourceRef {
  /// A reference from the columns every service stores a resource under.
  public init(resourceID: String, externalID: String, type: String, providerID: String, region: String) {
    self.init()
    (self.resourceID, self.externalID, self.type, self.providerID, self.region) = (resourceID, externalID, type, providerID, region)
  }
}
