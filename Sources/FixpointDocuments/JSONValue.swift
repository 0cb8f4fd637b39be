public import Foundation

/// A JSON value: configuration documents, AWS JSON bodies. Encodes with sorted keys, so equal
/// documents have equal bytes (and equal content hashes).
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  public init(from decoder: any Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let n = try? c.decode(Double.self) {
      self = .number(n)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    switch self {
    case .null: try c.encodeNil()
    case .bool(let b): try c.encode(b)
    case .number(let n):
      if n.rounded() == n, abs(n) < 9e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
    case .string(let s): try c.encode(s)
    case .array(let a): try c.encode(a)
    case .object(let o): try c.encode(o)
    }
  }

  /// Parses JSON text (`JSONParser`); a malformed text throws `JSONParseError`.
  public static func parse(_ bytes: some Collection<UInt8>) throws -> JSONValue {
    if let value = try bytes.withContiguousStorageIfAvailable({ try JSONParser.parse($0) }) { return value }
    return try Array(bytes).withUnsafeBufferPointer { try JSONParser.parse($0) }
  }

  /// Canonical bytes: sorted keys, no whitespace.
  public var canonicalData: Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(self)) ?? Data()
  }

  public var description: String { String(decoding: self.canonicalData, as: UTF8.self) }

  public subscript(key: String) -> JSONValue? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
  public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
  public var numberValue: Double? { if case .number(let n) = self { n } else { nil } }
  public var intValue: Int? { self.numberValue.map { Int($0) } }
  public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
  public var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(integerLiteral value: Int) { self = .number(Double(value)) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
  }
}

extension JSONValue {
  /// `.string` of an optional, or null.
  public static func from(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
  public static func from(_ b: Bool?) -> JSONValue { b.map(JSONValue.bool) ?? .null }
  public static func from(_ n: Int?) -> JSONValue { n.map { .number(Double($0)) } ?? .null }
}
