public import FixpointDocuments
public import AsyncHTTPClient
public import Foundation
public import Logging
import Crypto
import NIOCore
import NIOHTTP1
import Synchronization

/// An AWS API: its signing name and how its endpoint is named.
public struct AWSService: Sendable, Hashable {
  public var signingName: String
  public var endpointPrefix: String
  /// Global services are served from one endpoint and signed for us-east-1.
  public var global: Bool

  public static let ec2 = AWSService(signingName: "ec2", endpointPrefix: "ec2", global: false)
  public static let iam = AWSService(signingName: "iam", endpointPrefix: "iam", global: true)
  public static let sts = AWSService(signingName: "sts", endpointPrefix: "sts", global: false)
  public static let rds = AWSService(signingName: "rds", endpointPrefix: "rds", global: false)
  public static let s3 = AWSService(signingName: "s3", endpointPrefix: "s3", global: false)
  public static let s3control = AWSService(signingName: "s3", endpointPrefix: "s3-control", global: false)
  public static let kms = AWSService(signingName: "kms", endpointPrefix: "kms", global: false)
  public static let cloudtrail = AWSService(signingName: "cloudtrail", endpointPrefix: "cloudtrail", global: false)
  public static let guardduty = AWSService(signingName: "guardduty", endpointPrefix: "guardduty", global: false)
  public static let lambda = AWSService(signingName: "lambda", endpointPrefix: "lambda", global: false)
  public static let secretsmanager = AWSService(signingName: "secretsmanager", endpointPrefix: "secretsmanager", global: false)
}

/// Where credentials come from; asked before every call, so temporary ones can be refreshed.
public protocol CredentialProvider: Sendable {
  func credentials() async throws -> AWSCredentials
}

public struct StaticCredentials: CredentialProvider {
  let value: AWSCredentials
  public init(_ value: AWSCredentials) { self.value = value }
  public func credentials() async throws -> AWSCredentials { self.value }
}

/// Exponential backoff with full jitter: attempt n sleeps a uniform time in [0, min(cap, base·2ⁿ)].
public struct RetryPolicy: Sendable {
  public var maxAttempts: Int
  public var base: Duration
  public var cap: Duration

  public init(maxAttempts: Int = 8, base: Duration = .milliseconds(50), cap: Duration = .seconds(5)) {
    self.maxAttempts = maxAttempts
    self.base = base
    self.cap = cap
  }

  public func delay(afterAttempt attempt: Int) -> Duration {
    let ceiling = min(Double(self.cap.components.seconds) + Double(self.cap.components.attoseconds) / 1e18,
                      (Double(self.base.components.seconds) + Double(self.base.components.attoseconds) / 1e18) * pow(2, Double(attempt)))
    return .nanoseconds(Int64(Double.random(in: 0...ceiling) * 1e9))
  }
}

/// A token bucket: `rate` calls a second on average, bursts up to `burst`. One per account, shared
/// by every caller (sync workers, snapshots, changes), so together they stay within the budget.
public final class TokenBucket: Sendable {
  private struct State {
    var tokens: Double
    var last: ContinuousClock.Instant
  }
  private let state: Mutex<State>
  public let rate: Double
  public let burst: Double

  public init(rate: Double, burst: Double) {
    self.rate = rate
    self.burst = burst
    self.state = Mutex(State(tokens: burst, last: .now))
  }

  /// Takes a token, waiting for one if the bucket is empty. Callers queue in arrival order.
  public func acquire() async {
    let wait: Double = self.state.withLock { s in
      let now = ContinuousClock.now
      let elapsed = now - s.last
      s.last = now
      let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
      s.tokens = min(self.burst, s.tokens + seconds * self.rate)
      s.tokens -= 1
      return s.tokens >= 0 ? 0 : -s.tokens / self.rate
    }
    if wait > 0 { try? await Task.sleep(for: .nanoseconds(Int64(wait * 1e9))) }
  }

  private static let registry = Mutex<[String: TokenBucket]>([:])

  /// The bucket for `key` (an account), made on first use.
  public static func shared(for key: String, rate: Double, burst: Double) -> TokenBucket {
    self.registry.withLock { buckets in
      if let b = buckets[key] { return b }
      let b = TokenBucket(rate: rate, burst: burst)
      buckets[key] = b
      return b
    }
  }
}

/// A response: status, headers and the whole body.
public struct AWSResponse: Sendable {
  public var status: Int
  public var headers: [(String, String)]
  public var body: [UInt8]
}

/// Sends signed requests to AWS APIs (or an endpoint override such as a VPC endpoint or a local
/// emulator), retrying throttling and server errors with full-jitter backoff inside the account's
/// rate budget. Every protocol's errors come back as `AWSError`.
public final class AWSClient: Sendable {
  public let credentials: any CredentialProvider
  /// scheme://host:port every service is sent to instead of its AWS endpoint.
  public let endpoint: (scheme: String, host: String, port: Int)?
  public let limiter: TokenBucket
  public let retry: RetryPolicy
  public let timeout: Duration
  let http: HTTPClient
  let logger: Logger

  public init(
    credentials: any CredentialProvider, endpoint: String? = nil, limiter: TokenBucket = TokenBucket(rate: 50, burst: 100),
    retry: RetryPolicy = RetryPolicy(), timeout: Duration = .seconds(30), http: HTTPClient = .shared,
    logger: Logger = Logger(label: "fixpoint.aws")
  ) throws {
    self.credentials = credentials
    if let endpoint, !endpoint.isEmpty {
      guard let parsed = Self.parseEndpoint(endpoint) else {
        throw AWSError(kind: .validation, code: "InvalidEndpoint", message: "endpoint must be http(s)://host[:port]", status: 0)
      }
      self.endpoint = parsed
    } else {
      self.endpoint = nil
    }
    self.limiter = limiter
    self.retry = retry
    self.timeout = timeout
    self.http = http
    self.logger = logger
  }

  /// `http(s)://host[:port]` with nothing after the authority but an optional `/`.
  public static func parseEndpoint(_ text: String) -> (scheme: String, host: String, port: Int)? {
    guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
      let host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil
    else { return nil }
    return (scheme, host.lowercased(), url.port ?? (scheme == "https" ? 443 : 80))
  }

  /// The region a call to `service` is signed for.
  func signingRegion(_ service: AWSService, _ region: String) -> String { service.global ? "us-east-1" : region }

  /// Fills in scheme, host and port for `service` in `region`.
  func target(_ request: inout AWSRequest, service: AWSService, region: String, accountID: String?) {
    if let endpoint = self.endpoint {
      (request.scheme, request.host, request.port) = (endpoint.scheme, endpoint.host, endpoint.port)
      return
    }
    request.scheme = "https"
    request.port = nil
    switch service {
    case .iam: request.host = "iam.amazonaws.com"
    case .s3control: request.host = "\(accountID ?? "").s3-control.\(region).amazonaws.com"
    default: request.host = "\(service.endpointPrefix).\(region).amazonaws.com"
    }
  }

  /// Sends `request` (method, path, query, headers, body) to `service` in `region`.
  public func send(
    _ request: AWSRequest, service: AWSService, region: String, operation: String, accountID: String? = nil
  ) async throws -> AWSResponse {
    var attempt = 0
    while true {
      do {
        return try await self.sendOnce(request, service: service, region: region, operation: operation, accountID: accountID)
      } catch var error as AWSError {
        error.operation = operation
        attempt += 1
        guard error.isRetryable, attempt < self.retry.maxAttempts else { throw error }
        let delay = self.retry.delay(afterAttempt: attempt)
        self.logger.debug("aws retry", metadata: [
          "aws.operation": "\(operation)", "aws.code": "\(error.code)", "attempt": "\(attempt)", "delay": "\(delay)",
        ])
        try await Task.sleep(for: delay)
      }
    }
  }

  private func sendOnce(
    _ template: AWSRequest, service: AWSService, region: String, operation: String, accountID: String?
  ) async throws -> AWSResponse {
    await self.limiter.acquire()
    var request = template
    self.target(&request, service: service, region: region, accountID: accountID)
    SigV4.sign(
      &request, credentials: try await self.credentials.credentials(), region: self.signingRegion(service, region),
      service: service.signingName, date: Date())
    var http = HTTPClientRequest(url: request.url)
    http.method = HTTPMethod(rawValue: request.method)
    for (name, value) in request.headers { http.headers.add(name: name, value: value) }
    if !request.body.isEmpty { http.body = .bytes(ByteBuffer(bytes: request.body)) }
    let response: HTTPClientResponse
    let body: ByteBuffer
    do {
      response = try await self.http.execute(http, timeout: TimeAmount.seconds(self.timeout.components.seconds))
      body = try await response.body.collect(upTo: 64 << 20)
    } catch let error as AWSError {
      throw error
    } catch {
      throw AWSError(kind: .service, code: "TransportError", message: "\(error)", status: 0)
    }
    let status = Int(response.status.code)
    let headers = response.headers.map { ($0.name, $0.value) }
    let bytes = Array(body.readableBytesView)
    self.logger.trace("aws call", metadata: ["aws.operation": "\(operation)", "aws.region": "\(region)", "http.status": "\(status)"])
    guard (200..<300).contains(status) else { throw AWSError.parse(status: status, headers: headers, body: bytes) }
    return AWSResponse(status: status, headers: headers, body: bytes)
  }
}

// MARK: - Wire protocols

extension AWSClient {
  /// The EC2 and AWS query protocols (EC2, IAM, RDS, STS): a form POST, an XML answer.
  public func query(
    _ service: AWSService, region: String, action: String, version: String, _ parameters: [(String, String)] = []
  ) async throws -> XMLTree {
    let form = ([("Action", action), ("Version", version)] + parameters)
      .map { SigV4.encode($0.0) + "=" + SigV4.encode($0.1) }.joined(separator: "&")
    let request = AWSRequest(
      method: "POST", host: "", path: "/",
      headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: Array(form.utf8))
    let response = try await self.send(request, service: service, region: region, operation: action)
    return try XMLTree.parse(response.body)
  }

  /// REST-XML (S3, s3control): the XML answer, or nil for an empty body.
  public func restXML(
    _ service: AWSService, region: String, operation: String, method: String, path: String,
    query: [(String, String)] = [], headers: [(String, String)] = [], body: String? = nil, accountID: String? = nil
  ) async throws -> XMLTree? {
    var request = AWSRequest(method: method, host: "", path: path, query: query, headers: headers)
    if let body {
      request.body = Array(body.utf8)
      request.setHeader("Content-Type", "application/xml")
      request.setHeader("Content-MD5", Data(Insecure.MD5.hash(data: request.body)).base64EncodedString())
    }
    let response = try await self.send(request, service: service, region: region, operation: operation, accountID: accountID)
    guard !response.body.isEmpty else { return nil }
    return try XMLTree.parse(response.body)
  }

  /// JSON 1.1 (KMS, CloudTrail): POST with `X-Amz-Target`.
  public func json(_ service: AWSService, region: String, target: String, _ body: JSONValue = [:]) async throws -> JSONValue {
    let request = AWSRequest(
      method: "POST", host: "", path: "/",
      headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", target)],
      body: Array(body.canonicalData))
    let operation = target.split(separator: ".").last.map(String.init) ?? target
    let response = try await self.send(request, service: service, region: region, operation: operation)
    return response.body.isEmpty ? [:] : try JSONValue.parse(response.body)
  }

  /// REST-JSON (GuardDuty, Lambda).
  public func restJSON(
    _ service: AWSService, region: String, operation: String, method: String, path: String,
    query: [(String, String)] = [], _ body: JSONValue? = nil
  ) async throws -> JSONValue {
    var request = AWSRequest(method: method, host: "", path: path, query: query)
    if let body {
      request.body = Array(body.canonicalData)
      request.setHeader("Content-Type", "application/json")
    }
    let response = try await self.send(request, service: service, region: region, operation: operation)
    return response.body.isEmpty ? [:] : try JSONValue.parse(response.body)
  }
}
