import NIOCore
import NIOHPACK
import NIOHTTP2

/// Refuses a request message over the service's limit with RESOURCE_EXHAUSTED naming the limit.
///
/// grpc-swift's transport enforces `maxRequestPayloadSize` by resetting the stream
/// (`RST_STREAM CANCEL`), so a client saw CANCELLED or "stream unexpectedly closed" and never
/// learnt why. This handler sits in front of the transport's on every HTTP/2 stream, reads the
/// 5-byte gRPC length prefix of each message as it arrives, and at the first one over the limit
/// answers with a trailers-only response (`grpc-status: 8`) and ends the stream; the
/// oversized bytes never reach the transport, so nothing is buffered for them.
final class RequestSizeLimit: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTP2Frame.FramePayload
  typealias InboundOut = HTTP2Frame.FramePayload
  typealias OutboundIn = HTTP2Frame.FramePayload
  typealias OutboundOut = HTTP2Frame.FramePayload

  let limit: Int
  /// Bytes of a message prefix read so far (the prefix may span DATA frames).
  private var prefix: [UInt8] = []
  /// Bytes of the current message's body still to pass.
  private var remaining = 0
  private var refused = false

  init(limit: Int) { self.limit = limit }

  static func install(on channel: any Channel, limit: Int) -> EventLoopFuture<Void> {
    channel.pipeline.addHandler(RequestSizeLimit(limit: limit), position: .first)
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !self.refused else { return }
    guard case .data(let frame) = self.unwrapInboundIn(data), case .byteBuffer(let buffer) = frame.data else {
      context.fireChannelRead(data)
      return
    }
    if let length = self.oversized(buffer) {
      self.refuse(context: context, length: length)
    } else {
      context.fireChannelRead(data)
    }
  }

  /// Follows the message framing through `buffer`; the length of the first message over the limit.
  private func oversized(_ buffer: ByteBuffer) -> Int? {
    var view = buffer.readableBytesView[...]
    while !view.isEmpty {
      if self.remaining > 0 {
        let skip = min(self.remaining, view.count)
        view = view.dropFirst(skip)
        self.remaining -= skip
        continue
      }
      let take = min(5 - self.prefix.count, view.count)
      self.prefix += view.prefix(take)
      view = view.dropFirst(take)
      if self.prefix.count == 5 {
        let length = self.prefix[1...4].reduce(0) { $0 << 8 | Int($1) }
        self.prefix = []
        if length > self.limit { return length }
        self.remaining = length
      }
    }
    return nil
  }

  private func refuse(context: ChannelHandlerContext, length: Int) {
    self.refused = true
    let message = "request message of \(length) bytes is over this service's limit of \(self.limit) bytes (\(self.limit >> 20) MiB)"
    let headers: HPACKHeaders = [
      ":status": "200", "content-type": "application/grpc",
      "grpc-status": "8", "grpc-message": message,
    ]
    // Trailers, then RST_STREAM NO_ERROR so the client stops sending its remaining bytes (the
    // gRPC HTTP/2 protocol's way of finishing before the client has): a CANCEL there made
    // grpcio report CANCELLED instead of the status it had just received, now and then.
    context.write(self.wrapOutboundOut(.headers(.init(headers: headers, endStream: true))), promise: nil)
    context.writeAndFlush(self.wrapOutboundOut(.rstStream(.noError))).whenComplete { _ in
      context.close(promise: nil)
    }
  }

  /// After the refusal the transport's own answer (it sees the stream close) goes nowhere.
  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    guard !self.refused else {
      promise?.succeed()
      return
    }
    context.write(data, promise: promise)
  }
}
