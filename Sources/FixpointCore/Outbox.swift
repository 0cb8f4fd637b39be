import Foundation
public import FixpointProtocol
public import GRDB
import SwiftProtobuf
public import Logging
public import GRPCCore

/// Builds events and writes them to the outbox, inside the caller's transaction, so an event
/// exists if and only if the state change that caused it was committed.
public struct Outbox: Sendable {
  public let source: ServiceName

  public init(source: ServiceName) { self.source = source }

  /// A new event envelope with a fresh id, this service as source, the current time and the
  /// current request id.
  public func makeEvent(
    type: String, subject: String, severity: Fixpoint_V1_Severity,
    fill: (inout Fixpoint_V1_Event) -> Void = { _ in }
  ) -> Fixpoint_V1_Event {
    var event = Fixpoint_V1_Event()
    event.id = RandomID.make(prefix: "evt")
    event.type = type
    event.source = self.source.rawValue
    event.time = .init(date: Date())
    event.subject = subject
    event.severity = severity
    event.requestID = RequestContext.current?.requestID ?? ""
    fill(&event)
    return event
  }

  /// Queues `event` for every downstream service of this one. Call inside a write transaction.
  public func enqueue(_ event: Fixpoint_V1_Event, in db: Database) throws {
    let payload = try event.serializedData()
    let now = Date().timeIntervalSince1970
    for destination in self.source.downstream {
      try db.execute(
        sql: """
          INSERT INTO outbox (event_id, destination, event_type, payload, created_at)
          VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id, destination) DO NOTHING
          """,
        arguments: [event.id, destination.rawValue, event.type, payload, now])
    }
  }

  /// Events not yet delivered, per destination.
  public static func backlog(in db: Database) throws -> [String: Int] {
    let rows = try Row.fetchAll(
      db, sql: "SELECT destination, COUNT(*) AS n FROM outbox WHERE delivered_at IS NULL GROUP BY destination")
    return Dictionary(uniqueKeysWithValues: rows.map { ($0["destination"] as String, $0["n"] as Int) })
  }
}

/// The receiving side: records every event id it has applied, so a repeat has no second effect.
public enum Inbox {
  /// Records `event` as received. Returns false (and records nothing) when it was received before.
  /// Call in the same transaction as the event's effect.
  public static func accept(_ event: Fixpoint_V1_Event, in db: Database) throws -> Bool {
    // Compiled once per connection: a batch of 1,000 events runs it 1,000 times.
    try db.cachedStatement(sql: "INSERT INTO inbox (event_id, event_type, source, received_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
      .execute(arguments: [event.id, event.type, event.source, Date().timeIntervalSince1970])
    return db.changesCount == 1
  }
}

/// What a service does with an event it receives: the effect, applied inside the transaction that
/// records the event in the inbox. Events a service does not care about are simply recorded.
public typealias EventEffect = @Sendable (Fixpoint_V1_Event, Database) throws -> Void

/// Serves `fixpoint.v1.EventSink` for a service: validates each event, applies new ones exactly
/// once (inbox + effect in one transaction) and acknowledges repeats as duplicates.
public struct EventSinkService: Fixpoint_V1_EventSink.SimpleServiceProtocol {
  let store: Store
  let effect: EventEffect
  let logger: Logger

  public init(store: Store, logger: Logger = Logger(label: "events"), effect: @escaping EventEffect) {
    self.store = store
    self.logger = logger
    self.effect = effect
  }

  /// The largest serialized event accepted.
  static let maxEventBytes = 256 << 10

  /// Why an event is malformed, or nil: validated like a request before anything is stored.
  static func malformed(_ event: Fixpoint_V1_Event) -> String? {
    let idBody = event.id.dropFirst(4).utf8
    guard event.id.hasPrefix("evt_"), (1...124).contains(idBody.count),
      idBody.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x5F || $0 == 0x2D })
    else { return "id: expected evt_ and up to 124 letters, digits, _ or -" }
    guard ServiceName(rawValue: event.source) != nil else { return "source: not a Fixpoint service" }
    let segments = event.type.split(separator: ".", omittingEmptySubsequences: false)
    guard event.type.utf8.count <= 64, (2...4).contains(segments.count),
      segments.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || $0 == UInt8(ascii: "_") } })
    else { return "type: expected dotted lower-case words, e.g. resource.changed, at most 64 characters" }
    guard event.subject.utf8.count <= 256, event.requestID.utf8.count <= 128 else { return "subject or request_id: too long" }
    let bound: Int
    do { bound = try RequestShape.check(event) } catch let error as RPCError { return error.message } catch { return "\(error)" }
    // Serialized again only when the walk's bound passes the limit.
    guard bound <= Self.maxEventBytes || ((try? event.serializedBytes() as [UInt8])?.count ?? Int.max) <= Self.maxEventBytes else {
      return "the event is over \(Self.maxEventBytes) bytes"
    }
    return nil
  }

  public func deliverEvents(
    request: Fixpoint_V1_DeliverEventsRequest, context: ServerContext
  ) async throws -> Fixpoint_V1_DeliverEventsResponse {
    guard request.events.count <= 1000 else {
      throw RPCError(code: .invalidArgument, message: "events: at most 1000 per call")
    }
    var valid: [Fixpoint_V1_Event] = []
    var rejected: [Fixpoint_V1_RejectedEvent] = []
    for (index, event) in request.events.enumerated() {
      if let reason = Self.malformed(event) {
        rejected.append(.with { $0.index = Int32(index); $0.id = String(event.id.prefix(128)); $0.reason = reason })
      } else {
        valid.append(event)
      }
    }
    for r in rejected {
      // By position and a printable prefix of the id only: the event itself may be anything.
      self.logger.warning("event rejected", metadata: [
        "event.index": "\(r.index)", "event.id": "\(r.id.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.prefix(64))",
        "reason": "\(r.reason)",
      ])
    }
    var response = try await self.store.write { [valid] db in
      var response = Fixpoint_V1_DeliverEventsResponse()
      for event in valid {
        if try Inbox.accept(event, in: db) {
          try self.effect(event, db)
          response.acceptedIds.append(event.id)
        } else {
          response.duplicateIds.append(event.id)
        }
      }
      return response
    }
    response.rejected = rejected
    let accepted = Set(response.acceptedIds)
    for event in request.events where accepted.contains(event.id) {
      // origin.request_id ties this line to the logs of the call that caused the event.
      self.logger.info(
        "event applied",
        metadata: [
          "event.id": "\(event.id)", "event.type": "\(event.type)", "event.source": "\(event.source)",
          "origin.request_id": "\(event.requestID)",
        ])
    }
    return response
  }
}
