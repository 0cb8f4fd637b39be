public import FixpointDocuments
import Foundation

/// An AWS API error, parsed from whichever shape the protocol answers with (EC2's
/// `<Response><Errors>`, the query protocol's `<ErrorResponse>`, S3's `<Error>`, JSON's `__type`
/// or the `X-Amzn-ErrorType` header), or made up for transport failures and HTML pages.
public struct AWSError: Error, Sendable, Equatable, CustomStringConvertible {
  public enum Kind: String, Sendable {
    /// Slow down and retry.
    case throttling
    /// The credentials are not allowed to do this.
    case accessDenied
    /// The credentials themselves are wrong, unknown or expired.
    case authentication
    case notFound
    /// The request was refused as invalid.
    case validation
    /// The service failed (5xx) or could not be reached; worth retrying.
    case service
    /// The response could not be understood.
    case protocolError
    /// Any other client error.
    case client
  }

  public var kind: Kind
  public var code: String
  public var message: String
  /// HTTP status; 0 when no response arrived.
  public var status: Int
  public var operation: String = ""

  public init(kind: Kind, code: String, message: String, status: Int, operation: String = "") {
    self.kind = kind
    self.code = code
    self.message = message
    self.status = status
    self.operation = operation
  }

  public var description: String {
    "\(self.operation.isEmpty ? "" : self.operation + ": ")\(self.code) (\(self.kind.rawValue), HTTP \(self.status)): \(self.message)"
  }

  /// Whether trying again later can succeed.
  public var isRetryable: Bool { self.kind == .throttling || self.kind == .service }

  static let throttlingCodes: Set<String> = [
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
    "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException",
  ]
  static let authenticationCodes: Set<String> = [
    "AuthFailure", "SignatureDoesNotMatch", "InvalidClientTokenId", "UnrecognizedClientException", "ExpiredToken",
    "ExpiredTokenException", "InvalidAccessKeyId", "InvalidToken", "MissingAuthenticationToken", "IncompleteSignature",
  ]
  static let accessDeniedCodes: Set<String> = ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"]

  /// Classifies an error code and status.
  static func kind(code: String, status: Int) -> Kind {
    if Self.throttlingCodes.contains(code) || status == 429 { return .throttling }
    if Self.authenticationCodes.contains(code) { return .authentication }
    if Self.accessDeniedCodes.contains(code) { return .accessDenied }
    if code.hasSuffix("NotFound") || code.hasSuffix("NotFoundException") || code.hasSuffix("NotFoundFault")
      || code.hasPrefix("NoSuch") || code.contains(".NotFound") || code.hasSuffix("NotFoundError") || code == "NoSuchEntity"
      || (status == 404 && code != "UnknownOperation")
    {
      return .notFound
    }
    if status >= 500 { return .service }
    if code.hasPrefix("Invalid") || code.hasPrefix("Validation") || code.hasPrefix("Malformed") || code.hasPrefix("Missing")
      || code == "BadRequestException" || code == "InvalidParameterCombination"
    {
      return .validation
    }
    return status == 401 || status == 403 ? .accessDenied : .client
  }

  /// Parses an error response of any AWS protocol.
  static func parse(status: Int, headers: [(String, String)], body: [UInt8]) -> AWSError {
    var code = ""
    var message = ""
    let text = String(decoding: body.prefix(4096), as: UTF8.self)
    let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if trimmed.hasPrefix("<") && !trimmed.lowercased().hasPrefix("<!doctype html") && !trimmed.lowercased().hasPrefix("<html"),
      let tree = try? XMLTree.parse(body)
    {
      code = tree.find("Code")?.text ?? ""
      message = tree.find("Message")?.text ?? ""
    } else if trimmed.hasPrefix("{"), let json = try? JSONValue.parse(body) {
      code = json["__type"]?.stringValue ?? json["code"]?.stringValue ?? json["Code"]?.stringValue ?? ""
      message = json["message"]?.stringValue ?? json["Message"]?.stringValue ?? ""
    } else if !trimmed.isEmpty {
      // An HTML page (an emulator's or a proxy's): keep its title as the message.
      if let start = text.range(of: "<title>"), let end = text.range(of: "</title>"), start.upperBound < end.lowerBound {
        message = String(text[start.upperBound..<end.lowerBound])
      } else {
        message = String(trimmed.prefix(200))
      }
    }
    if code.isEmpty, let header = headers.first(where: { $0.0.lowercased() == "x-amzn-errortype" })?.1 {
      code = header
    }
    // "aws.protocoltests#ThrottlingException" / "ThrottlingException:http://…"
    if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
    if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
    if code.isEmpty { code = status >= 500 ? "InternalFailure" : "HTTP\(status)" }
    return AWSError(kind: Self.kind(code: code, status: status), code: code, message: message, status: status)
  }
}
