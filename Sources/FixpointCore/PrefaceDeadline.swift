import NIOCore

/// Closes a connection that has not sent the 24-byte HTTP/2 client preface within a limit: a
/// silent socket, or one that stops halfway through it, holds a descriptor for ever otherwise
/// (grpc-swift's idle timer starts with the connection's first RPC). Installed in front of the
/// pipeline of every accepted connection (`grpc.handshake.timeout.seconds`).
final class PrefaceDeadline: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  /// The client connection preface, `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n` (RFC 9113 §3.4); under TLS
  /// the first bytes are the handshake's, which are longer still.
  static let prefaceLength = 24
  private(set) var received = 0

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    self.received += self.unwrapInboundIn(data).readableBytes
    context.fireChannelRead(data)
  }

  /// Installs the deadline on an accepted connection.
  static func install(on channel: any Channel, limit: TimeAmount) -> EventLoopFuture<Void> {
    let handler = PrefaceDeadline()
    return channel.pipeline.addHandler(handler, position: .first).map {
      let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
      channel.eventLoop.scheduleTask(in: limit) {
        if bound.value.received < Self.prefaceLength { channel.close(promise: nil) }
      }
    }
  }
}
