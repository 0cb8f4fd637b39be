import FixpointProtocol
import Foundation
import GRDB
import GRPCCore
import GRPCNIOTransportHTTP2Posix
public import Logging
import Metrics
public import ServiceLifecycle

/// Pushes outbox events to each downstream service's `EventSink`, oldest first, in batches.
///
/// A destination that fails (down, refusing, slow) is retried after a full-jitter exponential
/// backoff, without holding up the others. Rows are marked delivered only after the receiver has
/// acknowledged them (accepted or duplicate), so a crash anywhere delivers again, never loses;
/// the receiver's inbox makes the repeat harmless.
public struct OutboxRelay: Service {
  let store: Store
  let settings: ServiceSettings
  let token: TokenFile
  let logger: Logger

  public init(store: Store, settings: ServiceSettings, token: TokenFile, logger: Logger) {
    self.store = store
    self.settings = settings
    self.token = token
    self.logger = logger
  }

  public func run() async throws {
    let destinations = self.settings.service.downstream
    guard !destinations.isEmpty else {
      try? await gracefulShutdown()
      return
    }
    var clients: [ServiceName: GRPCClient<HTTP2ClientTransport.Posix>] = [:]
    for destination in destinations {
      guard let address = self.settings.peers[destination].flatMap(PeerAddress.init) else { continue }
      clients[destination] = try ClientFactory.makeClient(
        address: address, tls: self.settings.tls, credentials: ClientCredentialsInterceptor(tokenFile: self.token))
    }
    let connected = clients
    try await withThrowingDiscardingTaskGroup { group in
      for client in connected.values { group.addTask { try await client.runConnections() } }
      await self.loop(clients: connected)
      for client in connected.values { client.beginGracefulShutdown() }
    }
  }

  private func loop(clients: [ServiceName: GRPCClient<HTTP2ClientTransport.Posix>]) async {
    var failures: [ServiceName: Int] = [:]
    var retryAt: [ServiceName: ContinuousClock.Instant] = [:]
    let clock = ContinuousClock()
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      for (destination, client) in clients {
        if let at = retryAt[destination], clock.now < at { continue }
        do {
          while try await self.deliverBatch(to: destination, client: client) {}
          failures[destination] = nil
          retryAt[destination] = nil
        } catch {
          let n = (failures[destination] ?? 0) + 1
          failures[destination] = n
          let delay = Self.backoff(attempt: n, maxMilliseconds: self.settings.relayMaxBackoffMilliseconds)
          retryAt[destination] = clock.now + delay
          self.logger.warning(
            "event delivery failed; will retry",
            metadata: [
              "destination": "\(destination.rawValue)", "attempt": "\(n)",
              "retry.in.ms": "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)",
              "error": "\(Self.describe(error))",
            ])
          try? await self.recordFailure(destination: destination, error: Self.describe(error))
        }
      }
      await self.reportBacklog()
      try? await Task.sleep(for: .milliseconds(self.settings.relayIntervalMilliseconds))
    }
  }

  /// Delivers one batch; returns true when a full batch went out (there may be more).
  private func deliverBatch(
    to destination: ServiceName, client: GRPCClient<HTTP2ClientTransport.Posix>
  ) async throws -> Bool {
    let limit = self.settings.relayBatchSize
    let rows = try await self.store.read { db in
      try Row.fetchAll(
        db,
        sql: "SELECT seq, payload FROM outbox WHERE destination = ? AND delivered_at IS NULL ORDER BY seq LIMIT ?",
        arguments: [destination.rawValue, limit]
      ).map { row -> (seq: Int64, payload: Data) in (row["seq"], row["payload"]) }
    }
    guard !rows.isEmpty else { return false }
    var request = Fixpoint_V1_DeliverEventsRequest()
    request.events = try rows.map { try Fixpoint_V1_Event(serializedBytes: $0.payload) }
    var options = CallOptions.defaults
    options.timeout = .seconds(10)
    let response = try await Fixpoint_V1_EventSink.Client(wrapping: client).deliverEvents(request, options: options)
    for r in response.rejected {
      // Malformed by the receiver's rules: a bug in this service, not the network. Acknowledged
      // (a retry would be refused the same way), and said loudly.
      self.logger.error("event rejected by receiver", metadata: [
        "destination": "\(destination.rawValue)", "event.id": "\(r.id)", "reason": "\(r.reason)",
      ])
    }
    let acknowledged = Set(response.acceptedIds + response.duplicateIds + response.rejected.map(\.id))
    let sequences: [Int64] = zip(rows, request.events).compactMap { row, event in acknowledged.contains(event.id) ? row.seq : nil }
    let now = Date().timeIntervalSince1970
    try await self.store.write { db in
      for seq in sequences {
        try db.execute(
          sql: "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE seq = ?",
          arguments: [now, seq])
      }
    }
    self.logger.debug("events delivered", metadata: ["destination": "\(destination.rawValue)", "count": "\(sequences.count)"])
    if sequences.count < rows.count {
      throw RPCError(code: .internalError, message: "receiver acknowledged \(sequences.count) of \(rows.count) events")
    }
    return rows.count == limit
  }

  private func recordFailure(destination: ServiceName, error: String) async throws {
    try await self.store.write { db in
      try db.execute(
        sql: """
          UPDATE outbox SET attempts = attempts + 1, last_error = ?
          WHERE seq = (SELECT MIN(seq) FROM outbox WHERE destination = ? AND delivered_at IS NULL)
          """,
        arguments: [String(error.prefix(500)), destination.rawValue])
    }
  }

  private func reportBacklog() async {
    guard let backlog = try? await self.store.read({ try Outbox.backlog(in: $0) }) else { return }
    for destination in self.settings.service.downstream {
      Gauge(label: "fixpoint_outbox_backlog", dimensions: [("destination", destination.rawValue)])
        .record(backlog[destination.rawValue] ?? 0)
    }
  }

  /// Full-jitter exponential backoff: uniform in [0, min(max, 100 ms × 2^attempt)], at least 50 ms.
  static func backoff(attempt: Int, maxMilliseconds: Int) -> Duration {
    let cap = min(Double(maxMilliseconds), 100 * pow(2, Double(min(attempt, 20))))
    return .milliseconds(max(50, Int(Double.random(in: 0...cap))))
  }

  private static func describe(_ error: any Error) -> String {
    if let rpc = error as? RPCError { return "\(rpc.code): \(rpc.message)" }
    return "\(error)"
  }
}
