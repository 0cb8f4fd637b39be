import Foundation
import Synchronization
public import GRPCCore
public import SwiftProtobuf
import FixpointProtocol

/// Checks what the schema cannot say about every request, before any handler sees it: enum fields
/// hold values the protos declare (a `min_severity` of -5 was taken as "everything"), and
/// timestamps lie between 1970 and 9999 (a year-292,277,026,596 timestamp was stored). One walk
/// over every field of every message, nested ones included, so a new RPC is covered without a
/// line of its own. Field-specific rules (lengths, id prefixes) stay with each RPC (`Validate`).
public enum RequestShape {
  /// The latest timestamp accepted: 9999-12-31T23:59:59Z.
  public static let latestSeconds: Int64 = 253_402_300_799

  /// INVALID_ARGUMENT naming the field path (`finding.status`) of the first value out of shape.
  /// Returns an upper bound of the message's serialized size, from the same walk: a caller that
  /// limits sizes serializes only when the bound passes its limit.
  @discardableResult
  public static func check<M: SwiftProtobuf.Message>(_ message: M) throws -> Int {
    var visitor = ShapeVisitor<M>(path: { "" })
    try message.traverse(visitor: &visitor)
    return visitor.bound
  }

  /// The raw values each enum type declares, found once per type (a walk meets them per field).
  static let declared = Mutex<[ObjectIdentifier: Set<Int>?]>([:])

  static func declares<E: SwiftProtobuf.Enum>(_ value: E) -> Bool {
    let key = ObjectIdentifier(E.self)
    let known = Self.declared.withLock { $0[key] }
    let values: Set<Int>? = known ?? {
      let values = (E.self as? any CaseIterable.Type).map { Self.rawValues($0, of: E.self) }
      Self.declared.withLock { $0[key] = .some(values) }
      return values
    }()
    return values?.contains(value.rawValue) ?? true
  }

  static func rawValues<C: CaseIterable, E: SwiftProtobuf.Enum>(_: C.Type, of _: E.Type) -> Set<Int> {
    Set(C.allCases.compactMap { ($0 as? E)?.rawValue })
  }

  /// The proto name of field `number` of `M`, read back from the text format of an `M` decoded
  /// from that one field (SwiftProtobuf keeps its name tables internal). Only on a refusal.
  static func fieldName<M: SwiftProtobuf.Message>(_: M.Type, number: Int, lengthDelimited: Bool) -> String {
    var bytes: [UInt8] = []
    var tag = UInt64(number) << 3 | (lengthDelimited ? 2 : 0)
    repeat {
      bytes.append(UInt8(tag & 0x7F) | (tag > 0x7F ? 0x80 : 0))
      tag >>= 7
    } while tag > 0
    bytes.append(lengthDelimited ? 0 : 1)
    guard let one = try? M(serializedBytes: bytes),
      let line = one.textFormatString().split(separator: "\n").first,
      let name = line.split(whereSeparator: { $0 == ":" || $0 == " " }).first
    else { return "field \(number)" }
    return String(name)
  }
}

/// Walks a message of type `M` for `RequestShape`; `path` names where it sits in the request.
struct ShapeVisitor<M: SwiftProtobuf.Message>: SwiftProtobuf.Visitor {
  let path: @Sendable () -> String
  /// At least the serialized size so far: every field counted with 15 bytes of tag and length.
  var bound = 0

  func refuse(_ fieldNumber: Int, message: Bool, _ reason: String) -> RPCError {
    let field = RequestShape.fieldName(M.self, number: fieldNumber, lengthDelimited: message)
    return RPCError(code: .invalidArgument, message: "\(self.path())\(field): \(reason)")
  }

  mutating func visitSingularEnumField<E: SwiftProtobuf.Enum>(value: E, fieldNumber: Int) throws {
    self.bound += 15
    guard !RequestShape.declares(value) else { return }
    throw self.refuse(fieldNumber, message: false, "\(value.rawValue) is not one of the values the protocol declares")
  }

  mutating func visitSingularMessageField<Inner: SwiftProtobuf.Message>(value: Inner, fieldNumber: Int) throws {
    if let time = value as? Google_Protobuf_Timestamp, !(0...RequestShape.latestSeconds).contains(time.seconds) {
      throw self.refuse(fieldNumber, message: true, "timestamps must lie between 1970 and 9999")
    }
    let outer = self.path
    var inner = ShapeVisitor<Inner>(path: { outer() + RequestShape.fieldName(M.self, number: fieldNumber, lengthDelimited: true) + "." })
    try value.traverse(visitor: &inner)
    self.bound += inner.bound + 15
  }

  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type, value: _ProtobufEnumMap<KeyType, ValueType>.BaseType, fieldNumber: Int
  ) throws where ValueType.RawValue == Int {
    for (k, v) in value {
      self.bound += Self.entryBound(k)
      try self.visitSingularEnumField(value: v, fieldNumber: fieldNumber)
    }
  }

  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type, value: _ProtobufMessageMap<KeyType, ValueType>.BaseType, fieldNumber: Int
  ) throws {
    for (k, v) in value {
      self.bound += Self.entryBound(k)
      try self.visitSingularMessageField(value: v, fieldNumber: fieldNumber)
    }
  }

  /// A map entry's own tag and length and its key: strings by their bytes, any other key as a
  /// varint or fixed value (at most 10 bytes).
  static func entryBound(_ key: Any) -> Int { 30 + ((key as? String)?.utf8.count ?? 10) }

  // Scalars, strings, bytes and scalar maps have no shape to check here, only a size.
  mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws { self.bound += 15 }
  mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws { self.bound += 15 }
  mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws { self.bound += 15 }
  mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws { self.bound += 15 }
  mutating func visitSingularStringField(value: String, fieldNumber: Int) throws { self.bound += 15 + value.utf8.count }
  mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws { self.bound += 15 + value.count }
  mutating func visitMapField<KeyType, ValueType: MapValueType>(
    fieldType: _ProtobufMap<KeyType, ValueType>.Type, value: _ProtobufMap<KeyType, ValueType>.BaseType, fieldNumber: Int
  ) throws {
    for (k, v) in value {
      self.bound += Self.entryBound(k) + 15 + ((v as? String)?.utf8.count ?? (v as? Data)?.count ?? 10)
    }
  }
  mutating func visitUnknown(bytes: Data) throws { self.bound += bytes.count }
}

/// Applies `RequestShape` to every request message of every RPC.
public struct RequestShapeInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    // Events are checked one by one by the sink, so that one bad event is refused, not its batch.
    if context.descriptor.service == Fixpoint_V1_EventSink.descriptor { return try await next(request, context) }
    var checked = request
    checked.messages = RPCAsyncSequence(wrapping: request.messages.map { @Sendable message in
      if let message = message as? any SwiftProtobuf.Message { try RequestShape.check(message) }
      return message
    })
    return try await next(checked, context)
  }
}
