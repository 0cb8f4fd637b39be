public import FixpointControls
public import FixpointDocuments
public import FixpointProtocol
public import SwiftProtobuf

// The one bridge between the shared types (configuration documents, severities) and protobuf:
// every service converts here, at its RPC edge, and works on `JSONValue` and `Severity` inside.
// Protobuf's Value and Struct have exactly JSON's shape, so the conversion walks the structure
// (it went through JSON text, written and parsed again, once: the largest part of each
// conversion's cost, and there is one per document an RPC carries).

extension JSONValue {
  /// A Value as JSON; one without a kind (not JSON), or a number JSON cannot hold (NaN, ±∞), throws.
  public init(_ value: Google_Protobuf_Value) throws {
    switch value.kind {
    case .nullValue: self = .null
    case .boolValue(let b): self = .bool(b)
    case .numberValue(let n):
      guard n.isFinite else { throw DocumentBridgeError.notJSON("the number \(n)") }
      self = .number(n)
    case .stringValue(let s): self = .string(s)
    case .listValue(let list): self = .array(try list.values.map(JSONValue.init))
    case .structValue(let object): self = try JSONValue(object)
    case nil: throw DocumentBridgeError.notJSON("a Value with no kind")
    }
  }

  /// A Struct as an object document.
  public init(_ value: Google_Protobuf_Struct) throws { self = .object(try value.fields.mapValues(JSONValue.init)) }

  /// As a protobuf Value (any JSON value has one).
  public var protoValue: Google_Protobuf_Value {
    switch self {
    case .null: Google_Protobuf_Value(nilLiteral: ())
    case .bool(let b): Google_Protobuf_Value(boolValue: b)
    case .number(let n): Google_Protobuf_Value(numberValue: n)
    case .string(let s): Google_Protobuf_Value(stringValue: s)
    case .array(let items): Google_Protobuf_Value(listValue: Google_Protobuf_ListValue(values: items.map(\.protoValue)))
    case .object(let fields): Google_Protobuf_Value(structValue: Google_Protobuf_Struct(fields: fields.mapValues(\.protoValue)))
    }
  }

  /// As a protobuf Struct; a value that is not an object gives an empty Struct.
  public var protoStruct: Google_Protobuf_Struct {
    guard case .object(let fields) = self else { return Google_Protobuf_Struct() }
    return Google_Protobuf_Struct(fields: fields.mapValues(\.protoValue))
  }
}

extension Severity {
  /// From the protocol's severity; nil for UNSPECIFIED or a code this version does not know.
  public init?(_ proto: Fixpoint_V1_Severity) {
    switch proto {
    case .info: self = .informational
    case .low: self = .low
    case .medium: self = .medium
    case .high: self = .high
    case .critical: self = .critical
    default: return nil
    }
  }

  /// As the protocol's severity.
  public var proto: Fixpoint_V1_Severity {
    switch self {
    case .informational: .info
    case .low: .low
    case .medium: .medium
    case .high: .high
    case .critical: .critical
    }
  }
}

/// A protobuf Value that has no JSON form.
public enum DocumentBridgeError: Error, CustomStringConvertible {
  case notJSON(String)
  public var description: String {
    switch self {
    case .notJSON(let what): "\(what) is not JSON"
    }
  }
}

extension Fixpoint_V1_ResourceRef {
  /// A reference from the columns every service stores a resource under.
  public init(resourceID: String, externalID: String, type: String, providerID: String, region: String) {
    self.init()
    (self.resourceID, self.externalID, self.type, self.providerID, self.region) = (resourceID, externalID, type, providerID, region)
  }
}
