internal import Crypto
import Foundation
public import GRDB
public import SwiftProtobuf

/// Makes mutations safe to retry (AIP-155): the answer to a mutation carrying a `request_id` is
/// stored in the same transaction as its effect, and a repeat of the same method and request id
/// gets that answer back without doing anything again. Reusing a request id for a different
/// request is refused rather than silently answered with the first one's result.
public enum RequestLog {
  /// Runs `body` in a write transaction unless `requestID` was seen before for `method`, in which
  /// case the stored response is returned. An empty `requestID` disables the check.
  public static func once<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message & Sendable>(
    _ store: Store, method: String, request: Request, requestID: String,
    _ body: @escaping @Sendable (Database) throws -> Response
  ) async throws -> Response {
    guard !requestID.isEmpty else { return try await store.write(body) }
    try Validate.text(requestID, field: "request_id", max: 128)
    let fingerprint = try Self.fingerprint(request)
    return try await store.write { db in
      if let previous: Response = try Self.lookup(db, method: method, requestID: requestID, fingerprint: fingerprint) { return previous }
      let response = try body(db)
      try db.execute(
        sql: """
          INSERT INTO request_log (method, request_id, request_hash, response, created_at) VALUES (?, ?, ?, ?, ?)
          """,
        arguments: [method, requestID, fingerprint, try response.serializedData(), Date().timeIntervalSince1970])
      return response
    }
  }

  /// The answer already given to this request, if any: for mutations whose effect happens outside
  /// the store (a cloud API call) and must not be repeated before `once` records the answer.
  public static func previous<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message & Sendable>(
    _ store: Store, method: String, request: Request, requestID: String, as: Response.Type
  ) async throws -> Response? {
    guard !requestID.isEmpty else { return nil }
    try Validate.text(requestID, field: "request_id", max: 128)
    let fingerprint = try Self.fingerprint(request)
    return try await store.read { db in try Self.lookup(db, method: method, requestID: requestID, fingerprint: fingerprint) }
  }

  static func fingerprint(_ request: some SwiftProtobuf.Message) throws -> Data {
    var options = BinaryEncodingOptions()
    options.useDeterministicOrdering = true
    return Data(SHA256.hash(data: try request.serializedBytes(options: options) as [UInt8]))
  }

  static func lookup<Response: SwiftProtobuf.Message>(_ db: Database, method: String, requestID: String, fingerprint: Data) throws -> Response? {
    guard let row = try Row.fetchOne(
      db, sql: "SELECT request_hash, response FROM request_log WHERE method = ? AND request_id = ?", arguments: [method, requestID])
    else { return nil }
    guard row["request_hash"] as Data == fingerprint else {
      throw ServiceError.invalidArgument(field: "request_id", reason: "was already used for a different \(method) request")
    }
    return try Response(serializedBytes: row["response"] as Data)
  }
}
