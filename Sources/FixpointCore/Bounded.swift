public import GRPCCore

/// Bounds on what leaves a service: error messages and log fields quote at most a short prefix of
/// whatever a caller sent, so a 1 MiB type name cannot become a 1 MiB status message (which a
/// gRPC client refuses as oversized metadata, hiding the real error) or a 5 MB log line.
public enum Bounded {
  /// The longest status message an RPC answers with.
  public static let errorMessage = 1_024
  /// The longest log message or metadata value.
  public static let logField = 4_096

  /// `text` itself when it fits in `max` UTF-8 bytes, else its head (whole characters) and how
  /// much was cut. Bytes, not characters: metadata and log limits are in bytes, and 976
  /// characters of "ä" had made a 1,971-byte error.
  public static func text(_ text: String, max: Int) -> String {
    guard text.utf8.count > max else { return text }
    var bytes = 0
    var characters = 0
    for character in text {
      bytes += character.utf8.count
      if bytes > max - 48 { break }
      characters += 1
    }
    let head = text.prefix(characters)
    return "\(head)… (\(text.utf8.count - head.utf8.count) more bytes)"
  }
}

/// Outermost on every server: an RPC's error goes out with its code and a bounded message.
public struct BoundedErrorInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next: @Sendable (StreamingServerRequest<Input>, ServerContext) async throws -> StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    do {
      var response = try await next(request, context)
      if case .failure(let error) = response.accepted { response.accepted = .failure(Self.bounded(error)) }
      return response
    } catch let error as RPCError {
      throw Self.bounded(error)
    } catch let error as any Error & RPCErrorConvertible {
      throw Self.bounded(RPCError(code: error.rpcErrorCode, message: error.rpcErrorMessage, metadata: error.rpcErrorMetadata))
    }
  }

  static func bounded(_ error: RPCError) -> RPCError {
    guard error.message.utf8.count > Bounded.errorMessage else { return error }
    return RPCError(code: error.code, message: Bounded.text(error.message, max: Bounded.errorMessage), metadata: error.metadata)
  }
}
