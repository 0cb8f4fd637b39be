public import Foundation
internal import Crypto

/// AWS credentials: an access key pair, with a session token and expiry for temporary ones.
/// `description` never shows the secret or the token.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
  public var accessKeyID: String
  public var secretAccessKey: String
  public var sessionToken: String?
  public var expiration: Date?

  public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
    self.accessKeyID = accessKeyID
    self.secretAccessKey = secretAccessKey
    self.sessionToken = sessionToken
    self.expiration = expiration
  }

  public var description: String { "AWSCredentials(\(self.accessKeyID), secret: <redacted>)" }
}

/// An HTTP request to an AWS API, before and after signing. The path is already URI-encoded; the
/// query holds raw (unencoded) names and values, encoded once by `url` and the signer alike.
public struct AWSRequest: Sendable {
  public var method: String
  public var scheme: String
  public var host: String
  public var port: Int?
  public var path: String
  public var query: [(String, String)]
  public var headers: [(String, String)]
  public var body: [UInt8]

  public init(
    method: String, scheme: String = "https", host: String, port: Int? = nil, path: String = "/",
    query: [(String, String)] = [], headers: [(String, String)] = [], body: [UInt8] = []
  ) {
    self.method = method
    self.scheme = scheme
    self.host = host
    self.port = port
    self.path = path
    self.query = query
    self.headers = headers
    self.body = body
  }

  /// The Host header value: the port only when it is not the scheme's default.
  public var hostHeader: String {
    guard let port, port != (self.scheme == "https" ? 443 : 80) else { return self.host }
    return "\(self.host):\(port)"
  }

  public var url: String {
    let query = self.query.map { SigV4.encode($0.0) + "=" + SigV4.encode($0.1) }.joined(separator: "&")
    return "\(self.scheme)://\(self.hostHeader)\(self.path.isEmpty ? "/" : self.path)\(query.isEmpty ? "" : "?" + query)"
  }

  public func header(_ name: String) -> String? {
    self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
  }

  public mutating func setHeader(_ name: String, _ value: String) {
    self.headers.removeAll { $0.0.lowercased() == name.lowercased() }
    self.headers.append((name, value))
  }
}

/// Signature Version 4, as botocore computes it (`SigV4Auth`, and `S3SigV4Auth` for S3: no path
/// normalization, and the payload hash sent as `x-amz-content-sha256`).
public enum SigV4 {
  /// Headers never signed: proxies and clients may change them (botocore's list).
  static let unsignedHeaders: Set<String> = ["expect", "transfer-encoding", "user-agent", "x-amzn-trace-id"]

  /// Signs `request` in place: adds Host, X-Amz-Date, X-Amz-Security-Token (for temporary
  /// credentials), X-Amz-Content-SHA256 (for S3) and Authorization.
  public static func sign(
    _ request: inout AWSRequest, credentials: AWSCredentials, region: String, service: String, date: Date
  ) {
    let timestamp = Self.timestamp(date)
    request.headers.removeAll { ["authorization", "x-amz-date"].contains($0.0.lowercased()) }
    if request.header("host") == nil { request.headers.append(("Host", request.hostHeader)) }
    request.headers.append(("X-Amz-Date", timestamp))
    if let token = credentials.sessionToken, !token.isEmpty { request.setHeader("X-Amz-Security-Token", token) }
    let isS3 = service == "s3"
    if isS3 && request.header("x-amz-content-sha256") == nil {
      request.headers.append(("X-Amz-Content-SHA256", Self.hexSHA256(request.body)))
    }
    let (canonical, signedHeaders) = Self.canonicalRequest(request, normalizePath: !isS3)
    let scope = "\(timestamp.prefix(8))/\(region)/\(service)/aws4_request"
    let stringToSign = "AWS4-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(Self.hexSHA256(Array(canonical.utf8)))"
    let key = Self.signingKey(secret: credentials.secretAccessKey, day: String(timestamp.prefix(8)), region: region, service: service)
    let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    request.headers.append((
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    ))
  }

  /// The canonical request and the signed-headers list. `normalizePath` is false only for S3.
  public static func canonicalRequest(_ request: AWSRequest, normalizePath: Bool) -> (String, signedHeaders: String) {
    var grouped: [String: [String]] = [:]
    for (name, value) in request.headers {
      let lower = name.lowercased()
      guard !Self.unsignedHeaders.contains(lower), lower != "authorization" else { continue }
      grouped[lower, default: []].append(value.split(whereSeparator: { $0.isWhitespace }).joined(separator: " "))
    }
    let names = grouped.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
    let signedHeaders = names.joined(separator: ";")
    let path: String
    if normalizePath {
      path = Self.encode(Self.removeDotSegments(request.path), keepSlash: true)
    } else {
      path = request.path.isEmpty ? "/" : request.path
    }
    let query = request.query.map { (Self.encode($0.0), Self.encode($0.1)) }
      .sorted { a, b in a.0 == b.0 ? a.1.utf8.lexicographicallyPrecedes(b.1.utf8) : a.0.utf8.lexicographicallyPrecedes(b.0.utf8) }
      .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    let payload = request.header("x-amz-content-sha256") ?? Self.hexSHA256(request.body)
    return ("\(request.method.uppercased())\n\(path)\n\(query)\n\(canonicalHeaders)\n\(signedHeaders)\n\(payload)", signedHeaders)
  }

  /// RFC 3986 §5.2.4 dot-segment removal, also collapsing empty segments (as AWS requires).
  static func removeDotSegments(_ path: String) -> String {
    guard !path.isEmpty else { return "/" }
    var output: [Substring] = []
    for segment in path.split(separator: "/", omittingEmptySubsequences: true) where segment != "." {
      if segment == ".." {
        if !output.isEmpty { output.removeLast() }
      } else {
        output.append(segment)
      }
    }
    let first = path.hasPrefix("/") ? "/" : ""
    let last = path.hasSuffix("/") && !output.isEmpty ? "/" : ""
    return first + output.joined(separator: "/") + last
  }

  /// AWS URI encoding: everything but A–Z a–z 0–9 - _ . ~ (and / in paths) as %XX.
  public static func encode(_ text: String, keepSlash: Bool = false) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
        UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
        out.unicodeScalars.append(Unicode.Scalar(byte))
      case UInt8(ascii: "/") where keepSlash:
        out.append("/")
      default:
        out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
      }
    }
    return out
  }

  static func signingKey(secret: String, day: String, region: String, service: String) -> SymmetricKey {
    var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
    for part in [day, region, service, "aws4_request"] {
      key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
    }
    return key
  }

  /// `YYYYMMDDTHHMMSSZ` in UTC.
  public static func timestamp(_ date: Date) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    func two(_ n: Int?) -> String { String(n ?? 0).leftPadded(to: 2) }
    return "\(String(c.year ?? 0).leftPadded(to: 4))\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
  }

  public static func hexSHA256(_ bytes: [UInt8]) -> String { Self.hex(SHA256.hash(data: bytes)) }

  static func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 0xf)])
    }
    return String(decoding: out, as: UTF8.self)
  }
}

extension String {
  func leftPadded(to width: Int) -> String {
    self.count >= width ? self : String(repeating: "0", count: width - self.count) + self
  }
}
