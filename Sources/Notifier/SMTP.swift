import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// An SMTP reply: the code and its lines.
struct SMTPReply: Sendable, Equatable {
  var code: Int
  var lines: [String]
  var text: String { self.lines.joined(separator: " / ") }
  var isPositive: Bool { (200..<400).contains(self.code) }
}

/// What a send came to: the reply code that decided it (0 when none came), the text, the outcome.
struct SMTPResult: Sendable {
  var code: Int
  var text: String
  var outcome: SendOutcome
}

/// Email over SMTP on swift-nio and swift-nio-ssl (RFC 5321): EHLO, STARTTLS and EHLO again, or
/// TLS from the first byte; AUTH PLAIN or LOGIN; MAIL, RCPT for each recipient, DATA with the
/// message dot-stuffed; done only on the 250 after the final dot. 4yz and lost connections are
/// retried, 5yz is permanent.
struct SMTPSender: Sendable {
  let egress: EgressPolicy
  let timeout: TimeAmount
  /// The name this side gives in EHLO.
  let helo: String
  let tls: NIOSSLContext

  init(egress: EgressPolicy, timeout: TimeAmount, helo: String, caFile: String?) throws {
    self.egress = egress
    self.timeout = timeout
    self.helo = helo
    var configuration = TLSConfiguration.makeClientConfiguration()
    if let caFile, !caFile.isEmpty {
      do { configuration.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caFile))] } catch {
        throw SMTPError.permanent(code: 0, text: "notifier.smtp.ca.file: cannot read PEM certificates from \(caFile): \(error)")
      }
    }
    self.tls = try NIOSSLContext(configuration: configuration)
  }

  func send(_ content: NotificationContent, messageID: String, settings: ChannelSettings, password: String?) async -> SMTPResult {
    guard let host = settings.smtpHost, let port = settings.smtpPort, let from = settings.from, let to = settings.recipients, !to.isEmpty else {
      return SMTPResult(code: 0, text: "the channel's SMTP settings are incomplete", outcome: .dead(disable: false))
    }
    let addresses: [IPAddress]
    do { addresses = try await self.egress.resolve(host, port: port) } catch {
      return SMTPResult(code: 0, text: error.description, outcome: .dead(disable: false))
    }
    let message = MailMessage.render(content, from: from, to: to, messageID: "<\(messageID)@fixpoint>", date: Date())
    let session = SMTPSession(timeout: self.timeout)
    do {
      defer { session.close() }
      let sni = IPAddress(host) == nil ? host : nil
      try await session.connect(address: addresses[0], port: port, implicitTLS: settings.security == .tls ? self.tls : nil, sni: sni)
      try session.expect(try await session.read(), 220, "greeting")
      var capabilities = try session.expect(try await session.command("EHLO \(self.helo)"), 250, "EHLO").lines
      if settings.security == .starttls {
        guard capabilities.dropFirst().contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
          throw SMTPError.permanent(code: 0, text: "the server does not offer STARTTLS, which this channel requires")
        }
        try session.expect(try await session.startTLS(self.tls, sni: sni), 220, "STARTTLS")
        // RFC 3207 §4.2: forget what was learned before TLS, and ask again.
        capabilities = try session.expect(try await session.command("EHLO \(self.helo)"), 250, "EHLO after STARTTLS").lines
      }
      if let username = settings.username {
        let offered = capabilities.dropFirst().first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ").map(String.init) ?? []
        if offered.contains("PLAIN") {
          let token = Data("\u{0}\(username)\u{0}\(password ?? "")".utf8).base64EncodedString()
          try session.expect(try await session.command("AUTH PLAIN \(token)", secret: true), 235, "AUTH PLAIN")
        } else if offered.contains("LOGIN") {
          try session.expect(try await session.command("AUTH LOGIN"), 334, "AUTH LOGIN")
          try session.expect(try await session.command(Data(username.utf8).base64EncodedString(), secret: true), 334, "AUTH LOGIN user")
          try session.expect(try await session.command(Data((password ?? "").utf8).base64EncodedString(), secret: true), 235, "AUTH LOGIN password")
        } else {
          throw SMTPError.permanent(code: 0, text: "the server offers neither AUTH PLAIN nor AUTH LOGIN")
        }
      }
      try session.expect(try await session.command("MAIL FROM:<\(from)>"), 250, "MAIL FROM")
      var accepted = 0
      var refused: [String] = []
      for address in to {
        let reply = try await session.command("RCPT TO:<\(address)>")
        switch reply.code {
        case 250, 251: accepted += 1
        case 400..<500: throw SMTPError.transient(code: reply.code, text: "RCPT \(address): \(reply.text)")
        default: refused.append("\(address): \(reply.code) \(reply.text)")
        }
      }
      guard accepted > 0 else { throw SMTPError.permanent(code: 550, text: "every recipient refused: " + refused.joined(separator: "; ")) }
      try session.expect(try await session.command("DATA"), 354, "DATA")
      let final = try session.expect(try await session.data(MailMessage.dotStuffed(message)), 250, "end of data")
      _ = try? await session.command("QUIT")
      let note = refused.isEmpty ? "" : " (refused: \(refused.joined(separator: "; ")))"
      return SMTPResult(code: final.code, text: final.text + note, outcome: .delivered)
    } catch let error as SMTPError {
      switch error {
      case .permanent(let code, let text): return SMTPResult(code: code, text: text, outcome: .dead(disable: false))
      case .transient(let code, let text): return SMTPResult(code: code, text: text, outcome: .retry(after: nil))
      }
    } catch {
      return SMTPResult(code: 0, text: "\(error)", outcome: .retry(after: nil))
    }
  }
}

enum SMTPError: Error, CustomStringConvertible {
  case permanent(code: Int, text: String)
  case transient(code: Int, text: String)

  var description: String {
    switch self {
    case .permanent(_, let text), .transient(_, let text): text
    }
  }
}

/// One connection to an SMTP server, driven one command at a time.
final class SMTPSession: Sendable {
  let timeout: TimeAmount
  private let state = Mutex<(any Channel)?>(nil)

  init(timeout: TimeAmount) { self.timeout = timeout }

  var channel: any Channel {
    get throws { guard let c = self.state.withLock({ $0 }) else { throw SMTPError.transient(code: 0, text: "not connected") }; return c }
  }

  func connect(address: IPAddress, port: Int, implicitTLS: NIOSSLContext?, sni: String?) async throws {
    let socket = try SocketAddress(ipAddress: address.description, port: port)
    do {
      let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connectTimeout(self.timeout)
        .channelInitializer { channel in
          channel.eventLoop.makeCompletedFuture {
            if let implicitTLS { try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: implicitTLS, serverHostname: sni)) }
            try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
          }
        }
        .connect(to: socket).get()
      self.state.withLock { $0 = channel }
    } catch {
      throw SMTPError.transient(code: 0, text: "connect to \(address):\(port) failed: \(error)")
    }
  }

  func close() { self.state.withLock { $0 }?.close(promise: nil) }

  /// The next reply (the greeting, or an answer already asked for).
  func read() async throws -> SMTPReply { try await self.exchange(nil) }

  /// Sends one command line and reads its reply. `secret` lines are never put in an error.
  func command(_ line: String, secret: Bool = false) async throws -> SMTPReply {
    guard line.utf8.count <= 510, !line.contains("\r"), !line.contains("\n") else {
      throw SMTPError.permanent(code: 0, text: "a command line is too long or holds a line break")
    }
    var buffer = ByteBuffer()
    buffer.writeString(line + "\r\n")
    return try await self.exchange(buffer)
  }

  /// Sends the dot-stuffed message and the final dot, and reads the reply.
  func data(_ stuffed: String) async throws -> SMTPReply {
    var buffer = ByteBuffer()
    buffer.writeString(stuffed)
    buffer.writeString(".\r\n")
    return try await self.exchange(buffer)
  }

  /// STARTTLS: on its 220 the TLS handler goes in below the reply reader, in the same read that
  /// brought the 220; any byte the server sent after it in plain text fails the session.
  func startTLS(_ context: NIOSSLContext, sni: String?) async throws -> SMTPReply {
    let channel = try self.channel
    try await channel.eventLoop.submit {
      try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self).upgrade = try NIOSSLClientHandler(context: context, serverHostname: sni)
    }.get()
    var buffer = ByteBuffer()
    buffer.writeString("STARTTLS\r\n")
    return try await self.exchange(buffer)
  }

  private func exchange(_ bytes: ByteBuffer?) async throws -> SMTPReply {
    let channel = try self.channel
    let timeout = self.timeout
    let future: EventLoopFuture<SMTPReply> = channel.eventLoop.flatSubmit {
      let promise = channel.eventLoop.makePromise(of: SMTPReply.self)
      do {
        try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self).await(promise)
      } catch {
        promise.fail(error)
        return promise.futureResult
      }
      let deadline = channel.eventLoop.scheduleTask(in: timeout) {
        promise.fail(SMTPError.transient(code: 0, text: "no reply within \(timeout.nanoseconds / 1_000_000_000) s"))
        channel.close(promise: nil)
      }
      promise.futureResult.whenComplete { _ in deadline.cancel() }
      if let bytes { channel.writeAndFlush(bytes).whenFailure { promise.fail($0) } }
      return promise.futureResult
    }
    return try await future.get()
  }

  /// Checks a reply's code (`expected`'s first digit class): 4yz is transient, anything else permanent.
  @discardableResult
  func expect(_ reply: SMTPReply, _ expected: Int, _ step: String) throws -> SMTPReply {
    guard reply.code != expected else { return reply }
    let text = "\(step): \(reply.code) \(reply.text.prefix(300))"
    if (400..<500).contains(reply.code) { throw SMTPError.transient(code: reply.code, text: text) }
    throw SMTPError.permanent(code: reply.code, text: text)
  }
}

/// Reads CRLF lines into replies (`250-…` continues, `250 …` ends) and hands each to the waiting
/// command. Lines over 2,048 bytes or replies over 100 lines end the session.
final class SMTPReplyHandler: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer

  private var pending = ByteBuffer()
  private var lines: [String] = []
  private var ready: [SMTPReply] = []
  private var waiter: EventLoopPromise<SMTPReply>?
  private var failure: (any Error)?
  /// Set by STARTTLS: added below this handler on the next 220.
  var upgrade: NIOSSLClientHandler?

  func await(_ promise: EventLoopPromise<SMTPReply>) {
    if let failure { promise.fail(failure); return }
    if !self.ready.isEmpty { promise.succeed(self.ready.removeFirst()); return }
    self.waiter = promise
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var buffer = self.unwrapInboundIn(data)
    self.pending.writeBuffer(&buffer)
    while let end = self.pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
      let length = end - self.pending.readerIndex + 1
      guard let raw = self.pending.readString(length: length) else { break }
      let line = raw.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
      let chars = Array(line.utf8)
      guard line.utf8.count <= 2048, chars.count >= 3, let code = Int(String(decoding: chars[0..<3], as: UTF8.self)) else {
        return self.fail(context, SMTPError.transient(code: 0, text: "not an SMTP reply line"))
      }
      self.lines.append(chars.count > 4 ? String(decoding: chars[4...], as: UTF8.self) : "")
      guard self.lines.count <= 100 else { return self.fail(context, SMTPError.transient(code: 0, text: "a reply over 100 lines")) }
      if chars.count > 3 && chars[3] == UInt8(ascii: "-") { continue }
      let reply = SMTPReply(code: code, lines: self.lines)
      self.lines = []
      if let tls = self.upgrade, reply.code == 220 {
        self.upgrade = nil
        // GHSA-vxj7-4xrp-5vr4: what arrives with the 220 was sent in clear and must not be read after the switch.
        guard self.pending.readableBytes == 0, self.ready.isEmpty else {
          return self.fail(context, SMTPError.permanent(code: 0, text: "the server sent bytes after its STARTTLS reply, before TLS"))
        }
        do { try context.pipeline.syncOperations.addHandler(tls, position: .before(self)) } catch {
          return self.fail(context, error)
        }
      }
      self.deliver(reply)
    }
    guard self.pending.readableBytes <= 4096 else { return self.fail(context, SMTPError.transient(code: 0, text: "a reply line over 4 KiB")) }
    self.pending.discardReadBytes()
  }

  private func deliver(_ reply: SMTPReply) {
    if let waiter = self.waiter {
      self.waiter = nil
      waiter.succeed(reply)
    } else {
      self.ready.append(reply)
    }
  }

  private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
    self.failure = error
    self.waiter?.fail(error)
    self.waiter = nil
    context.close(promise: nil)
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) { self.fail(context, SMTPError.transient(code: 0, text: "\(error)")) }

  func channelInactive(context: ChannelHandlerContext) {
    if self.failure == nil { self.failure = SMTPError.transient(code: 0, text: "the server closed the connection") }
    self.waiter?.fail(self.failure!)
    self.waiter = nil
    context.fireChannelInactive()
  }
}

/// The RFC 5322 message: headers, then multipart/alternative with the text part first and HTML
/// last, both quoted-printable so no line passes 76 characters.
enum MailMessage {
  static func render(_ content: NotificationContent, from: String, to: [String], messageID: String, date: Date) -> String {
    let boundary = "fixpoint-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    let headers = [
      "Date: \(Self.date(date))",
      "From: \(from)",
      "To: \(to.joined(separator: ", "))",
      "Subject: \(Self.encodedWord(EmailMessage.subject(content)))",
      "Message-ID: \(messageID)",
      "MIME-Version: 1.0",
      "Content-Type: multipart/alternative; boundary=\"\(boundary)\"",
      "X-Fixpoint-Type: \(content.type)",
    ]
    var body = headers.joined(separator: "\r\n") + "\r\n\r\n"
    for (type, text) in [("text/plain", EmailMessage.text(content)), ("text/html", EmailMessage.html(content))] {
      body += "--\(boundary)\r\nContent-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
      body += Self.quotedPrintable(text) + "\r\n"
    }
    return body + "--\(boundary)--\r\n"
  }

  /// RFC 5322 date in UTC: `Thu, 03 Dec 2026 14:00:00 +0000`.
  static func date(_ date: Date) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
    return formatter.string(from: date)
  }

  /// A header value as is when it is plain ASCII, else as an RFC 2047 encoded word.
  static func encodedWord(_ text: String) -> String {
    let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
    if clean.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 }) { return clean }
    return "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
  }

  /// Quoted-printable (RFC 2045 §6.7): lines of at most 76 characters, CRLF hard breaks.
  static func quotedPrintable(_ text: String) -> String {
    var out: [String] = []
    for line in text.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
      var current = ""
      let bytes = Array(line.utf8)
      for (i, byte) in bytes.enumerated() {
        let last = i == bytes.count - 1
        let piece: String
        if (byte == 0x20 || byte == 0x09) && !last {
          piece = String(UnicodeScalar(byte))
        } else if byte >= 33 && byte <= 126 && byte != 61 {
          piece = String(UnicodeScalar(byte))
        } else {
          piece = String(format: "=%02X", byte)
        }
        if current.count + piece.count > 75 {
          out.append(current + "=")
          current = ""
        }
        current += piece
      }
      out.append(current)
    }
    return out.joined(separator: "\r\n")
  }

  /// RFC 5321 §4.5.2: a line that starts with a dot gets another. Lines end in CRLF.
  static func dotStuffed(_ message: String) -> String {
    let lines = message.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
    var out = lines.map { $0.hasPrefix(".") ? "." + $0 : String($0) }
    if out.last == "" { out.removeLast() }
    return out.joined(separator: "\r\n") + "\r\n"
  }
}
