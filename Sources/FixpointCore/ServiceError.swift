import Foundation
public import GRPCCore
public import SwiftProtobuf

/// Domain errors every service uses; each knows its gRPC status.
public enum ServiceError: Error, Equatable, RPCErrorConvertible, CustomStringConvertible {
  /// Bad input; names the field at fault. Nothing was changed.
  case invalidArgument(field: String, reason: String)
  case notFound(kind: String, id: String)
  case alreadyExists(kind: String, id: String)
  /// A step that is illegal in the current state.
  case failedPrecondition(String)
  /// The caller's role allows the method, but not this use of it (approving one's own action).
  case permissionDenied(String)
  /// Logic that belongs to a later piece of work; never a fake success.
  case unimplemented(String)

  public var rpcErrorCode: RPCError.Code {
    switch self {
    case .invalidArgument: .invalidArgument
    case .notFound: .notFound
    case .alreadyExists: .alreadyExists
    case .failedPrecondition: .failedPrecondition
    case .permissionDenied: .permissionDenied
    case .unimplemented: .unimplemented
    }
  }

  public var rpcErrorMessage: String { self.description }

  public var description: String {
    switch self {
    case .invalidArgument(let field, let reason): "\(field): \(reason)"
    case .notFound(let kind, let id): "\(kind) \(id) not found"
    case .alreadyExists(let kind, let id): "\(kind) \(id) already exists"
    case .failedPrecondition(let why): why
    case .permissionDenied(let why): why
    case .unimplemented(let what): what
    }
  }
}

/// AIP-158 paging: `page_size` (0 → default, capped) and an opaque `page_token`.
public struct Page: Sendable, Equatable {
  public var size: Int
  public var offset: Int

  public static let defaultSize = 50
  public static let maxSize = 1000

  /// Validates the request's paging fields.
  public init(size: Int32, token: String) throws {
    guard size >= 0 else { throw ServiceError.invalidArgument(field: "page_size", reason: "must not be negative") }
    self.size = size == 0 ? Self.defaultSize : min(Int(size), Self.maxSize)
    if token.isEmpty {
      self.offset = 0
    } else {
      guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
        text.hasPrefix("o:"), let offset = Int(text.dropFirst(2)), offset >= 0
      else { throw ServiceError.invalidArgument(field: "page_token", reason: "not a token this service issued") }
      self.offset = offset
    }
  }

  /// The most bytes one page's items may take: 1,000 rows of large documents would otherwise make
  /// one message of tens of megabytes. Below the 4 MiB a default gRPC client accepts.
  public static let maxBytes = 3 << 20

  /// The token for the next page, or "" when `returned` shows this was the last one.
  public func nextToken(returned: Int) -> String {
    returned < self.size ? "" : Self.token(at: self.offset + self.size)
  }

  /// A page's items within `maxBytes` (the first one always), and the token for the next page:
  /// after the last item kept when the bytes cut the page short, else as `nextToken(returned:)`.
  public func fit<Item: SwiftProtobuf.Message>(_ items: [Item], maxBytes: Int = Page.maxBytes) -> ([Item], String) {
    var total = 0
    for (i, item) in items.enumerated() {
      total += ((try? item.serializedBytes() as [UInt8])?.count ?? 0) + 8  // with the field's tag and length
      if total > maxBytes && i > 0 { return (Array(items[..<i]), Self.token(at: self.offset + i)) }
    }
    return (items, self.nextToken(returned: items.count))
  }

  private static func token(at offset: Int) -> String { Data("o:\(offset)".utf8).base64EncodedString() }
}

/// Validation helpers for fields that come from outside.
public enum Validate {
  /// A required, bounded, printable string.
  public static func text(_ value: String, field: String, max: Int = 256, required: Bool = true) throws {
    if required && value.trimmingCharacters(in: .whitespaces).isEmpty {
      throw ServiceError.invalidArgument(field: field, reason: "required")
    }
    if value.count > max { throw ServiceError.invalidArgument(field: field, reason: "at most \(max) characters") }
    if value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" }) {
      throw ServiceError.invalidArgument(field: field, reason: "contains control characters")
    }
  }

  /// An id with the given prefix ("act_…").
  public static func id(_ value: String, field: String, prefix: String) throws {
    guard value.hasPrefix(prefix + "_"), value.count <= 64,
      value.dropFirst(prefix.count + 1).allSatisfy({ $0.isLetter || $0.isNumber })
    else { throw ServiceError.invalidArgument(field: field, reason: "expected an id like \(prefix)_…") }
  }
}

/// The caller of the RPC being served. Handlers run only after `AuthInterceptor` has set it.
public func currentPrincipal() throws -> Principal {
  guard let principal = RequestContext.current?.principal else {
    throw RPCError(code: .unauthenticated, message: "no authenticated caller")
  }
  return principal
}
