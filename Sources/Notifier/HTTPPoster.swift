import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An http(s) URL the notifier posts to, checked once when a channel is created.
struct HTTPTarget: Sendable, Equatable {
  var tls: Bool
  var host: String
  var port: Int
  /// Path and query.
  var path: String

  /// Parses and validates: http or https, a host, no user info, no fragment, at most 2,048 characters.
  init(_ text: String, field: String) throws(TargetError) {
    guard text.count <= 2048, let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
      scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
    else { throw TargetError(field: field, reason: "expected an http:// or https:// URL with a host") }
    guard url.user == nil, url.password == nil else { throw TargetError(field: field, reason: "user info in the URL is not accepted") }
    guard url.fragment == nil else { throw TargetError(field: field, reason: "a fragment is not accepted") }
    guard !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f }) else {
      throw TargetError(field: field, reason: "contains spaces or control characters")
    }
    self.tls = scheme == "https"
    self.host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
    self.port = url.port ?? (self.tls ? 443 : 80)
    guard (1...65535).contains(self.port) else { throw TargetError(field: field, reason: "port out of range") }
    let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
    self.path = path + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
  }

  /// `host[:port]` as the Host header carries it.
  var authority: String {
    let host = self.host.contains(":") ? "[\(self.host)]" : self.host
    return (self.tls && self.port == 443) || (!self.tls && self.port == 80) ? host : "\(host):\(self.port)"
  }

  struct TargetError: Error, CustomStringConvertible {
    let field: String
    let reason: String
    var description: String { "\(field): \(reason)" }
  }
}

/// The answer to one POST: the status, the headers that matter and the first bytes of the body.
struct HTTPAnswer: Sendable {
  var status: Int
  var retryAfter: Double?
  var body: String
  var latencyMS: Int
}

/// Why a POST got no answer.
enum HTTPFailure: Error, CustomStringConvertible {
  case egress(EgressError)
  case connect(String)
  case timeout
  case closed(String)

  var description: String {
    switch self {
    case .egress(let e): e.description
    case .connect(let why): "connect failed: \(why)"
    case .timeout: "no answer within the timeout"
    case .closed(let why): "connection closed: \(why)"
    }
  }
}

/// A small HTTP/1.1 client for webhooks and Slack, built so that it can be trusted with URLs
/// that users typed: it resolves the host once, checks every address against the egress
/// policy, dials the checked address itself (the Host header and TLS SNI carry the name), never
/// follows redirects, bounds connect and response time and reads at most 64 KiB of an answer.
/// Connections are kept alive and reused per (address, port, host).
final class HTTPPoster: Sendable {
  let egress: EgressPolicy
  let connectTimeout: TimeAmount
  let requestTimeout: TimeAmount
  let group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
  private let tlsContext: NIOSSLContext
  private let idle = Mutex<[String: [PooledConnection]]>([:])

  static let maxAnswerBytes = 64 << 10
  static let maxIdlePerKey = 64

  init(egress: EgressPolicy, connectTimeout: TimeAmount = .seconds(5), requestTimeout: TimeAmount = .seconds(15)) throws {
    self.egress = egress
    self.connectTimeout = connectTimeout
    self.requestTimeout = requestTimeout
    self.tlsContext = try NIOSSLContext(configuration: .makeClientConfiguration())
  }

  /// POSTs `body` with `headers` (Host, Content-Length and Connection are added).
  func post(_ target: HTTPTarget, headers: [(String, String)], body: [UInt8]) async throws(HTTPFailure) -> HTTPAnswer {
    let addresses: [IPAddress]
    do { addresses = try await self.egress.resolve(target.host, port: target.port) } catch { throw .egress(error) }
    let address = addresses[0]
    let key = "\(address)|\(target.port)|\(target.tls)|\(target.host)"
    var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target.path)
    head.headers.add(name: "Host", value: target.authority)
    for (name, value) in headers { head.headers.add(name: name, value: value) }
    head.headers.add(name: "Content-Length", value: String(body.count))
    head.headers.add(name: "Connection", value: "keep-alive")
    let started = ContinuousClock.now
    // A kept-alive connection the server has since closed fails before any answer: try a new one.
    if let reused = self.takeIdle(key) {
      if let answer = try? await self.exchange(reused, head: head, body: body, started: started, key: key) { return answer }
    }
    let connection = try await self.connect(address: address, target: target)
    return try await self.exchange(connection, head: head, body: body, started: started, key: key)
  }

  private func takeIdle(_ key: String) -> PooledConnection? {
    self.idle.withLock { pool in
      while var list = pool[key], !list.isEmpty {
        let connection = list.removeLast()
        pool[key] = list
        if connection.channel.isActive { return connection }
      }
      return nil
    }
  }

  private func giveBack(_ connection: PooledConnection, key: String) {
    let kept = self.idle.withLock { pool -> Bool in
      guard pool[key, default: []].count < Self.maxIdlePerKey else { return false }
      pool[key, default: []].append(connection)
      return true
    }
    if !kept { connection.channel.close(promise: nil) }
  }

  private func connect(address: IPAddress, target: HTTPTarget) async throws(HTTPFailure) -> PooledConnection {
    let socket: SocketAddress
    do { socket = try SocketAddress(ipAddress: address.description, port: target.port) } catch { throw .connect("\(error)") }
    let tls = target.tls ? self.tlsContext : nil
    let sni = IPAddress(target.host) == nil ? target.host : nil
    do {
      let channel = try await ClientBootstrap(group: self.group)
        .connectTimeout(self.connectTimeout)
        .channelOption(.socketOption(.so_reuseaddr), value: 1)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            if let tls { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: tls, serverHostname: sni)) }
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            try channel.pipeline.syncOperations.addHandler(AnswerHandler())
          }
        }
        .connect(to: socket).get()
      return PooledConnection(channel: channel)
    } catch {
      throw .connect("\(error)")
    }
  }

  private func exchange(
    _ connection: PooledConnection, head: HTTPRequestHead, body: [UInt8], started: ContinuousClock.Instant, key: String
  ) async throws(HTTPFailure) -> HTTPAnswer {
    let channel = connection.channel
    let timeout = self.requestTimeout
    let future: EventLoopFuture<AnswerHandler.Answer> = channel.eventLoop.flatSubmit {
      let promise = channel.eventLoop.makePromise(of: AnswerHandler.Answer.self)
      do {
        let handler = try channel.pipeline.syncOperations.handler(type: AnswerHandler.self)
        handler.expect(promise)
      } catch {
        promise.fail(error)
        return promise.futureResult
      }
      let deadline = channel.eventLoop.scheduleTask(in: timeout) {
        promise.fail(HTTPFailure.timeout)
        channel.close(promise: nil)
      }
      promise.futureResult.whenComplete { _ in deadline.cancel() }
      var buffer = channel.allocator.buffer(capacity: body.count)
      buffer.writeBytes(body)
      channel.write(HTTPClientRequestPart.head(head), promise: nil)
      channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
      channel.writeAndFlush(HTTPClientRequestPart.end(nil)).whenFailure { promise.fail($0) }
      return promise.futureResult
    }
    let answer: AnswerHandler.Answer
    do {
      answer = try await future.get()
    } catch let failure as HTTPFailure {
      throw failure
    } catch {
      channel.close(promise: nil)
      throw .closed("\(error)")
    }
    if answer.keepAlive { self.giveBack(connection, key: key) } else { channel.close(promise: nil) }
    let elapsed = ContinuousClock.now - started
    let ms = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    return HTTPAnswer(
      status: answer.status, retryAfter: answer.retryAfter, body: String(decoding: answer.body, as: UTF8.self), latencyMS: ms)
  }
}

struct PooledConnection: Sendable {
  let channel: any Channel
}

/// Collects one response at a time on a connection.
final class AnswerHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPClientResponsePart

  struct Answer: Sendable {
    var status: Int
    var retryAfter: Double?
    var body: [UInt8]
    var keepAlive: Bool
  }

  private var promise: EventLoopPromise<Answer>?
  private var head: HTTPResponseHead?
  private var body: [UInt8] = []

  func expect(_ promise: EventLoopPromise<Answer>) {
    self.promise = promise
    self.head = nil
    self.body = []
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch self.unwrapInboundIn(data) {
    case .head(let head):
      self.head = head
    case .body(var buffer):
      let room = HTTPPoster.maxAnswerBytes - self.body.count
      if room > 0, let bytes = buffer.readBytes(length: min(room, buffer.readableBytes)) { self.body += bytes }
    case .end:
      guard let head = self.head, let promise = self.promise else { return }
      self.promise = nil
      let retryAfter = head.headers.first(name: "retry-after").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
      promise.succeed(Answer(status: Int(head.status.code), retryAfter: retryAfter, body: self.body, keepAlive: head.isKeepAlive))
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    self.promise?.fail(HTTPFailure.closed("\(error)"))
    self.promise = nil
    context.close(promise: nil)
  }

  func channelInactive(context: ChannelHandlerContext) {
    self.promise?.fail(HTTPFailure.closed("the server closed the connection"))
    self.promise = nil
    context.fireChannelInactive()
  }
}
