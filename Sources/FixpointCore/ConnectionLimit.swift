import Logging
import NIOCore
import Synchronization

/// Caps the connections one server holds at once (`grpc.max.connections`): a connection accepted
/// over the cap is closed at once, so a flood of sockets costs a bounded number of descriptors
/// and buffers instead of the process's whole descriptor table. Reaching the cap is logged once
/// each time it is reached, not once per refused socket.
final class ConnectionLimit: Sendable {
  let limit: Int
  private let open = Atomic<Int>(0)
  private let logger: Logger

  init(limit: Int, logger: Logger) {
    self.limit = limit
    self.logger = logger
  }

  /// Counts `channel` until it closes; false (and the channel closed) when it is one too many.
  func admit(_ channel: any Channel) -> Bool {
    let count = self.open.add(1, ordering: .relaxed).newValue
    channel.closeFuture.whenComplete { _ in self.open.subtract(1, ordering: .relaxed) }
    guard count > self.limit else { return true }
    if count == self.limit + 1 {
      self.logger.warning("connection refused: \(self.limit) open, the most grpc.max.connections allows")
    }
    channel.close(promise: nil)
    return false
  }
}
