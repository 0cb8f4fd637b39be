import FixpointCore
import FixpointDocuments
import Foundation
import GRDB

/// Actions as stored: the whole `Action` message, with the columns queries need. Every state
/// change goes through `transition`, which checks the lifecycle, appends to the audit chain and
/// queues the `remediation.<state>` event, all in one transaction.
struct ActionStore: Sendable {
  let store: Store
  let outbox = Outbox(source: .dispatcher)

  static let migration = Store.Migration("dispatcher.3-actions") { db in
    try db.execute(sql: """
      CREATE TABLE action (
        id TEXT PRIMARY KEY,
        finding_id TEXT NOT NULL,
        handler TEXT NOT NULL,
        state INTEGER NOT NULL,
        resource_id TEXT NOT NULL,
        tier INTEGER NOT NULL,
        open_key TEXT UNIQUE,
        message BLOB NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
      );
      CREATE INDEX action_state ON action (state, created_at);
      CREATE INDEX action_resource ON action (resource_id);
      """)
  }

  /// The action as the lifecycle needs it (its resource document is in its own column).
  static func load(_ id: String, in db: Database) throws -> Action {
    guard let data = try Data.fetchOne(db, sql: "SELECT message FROM action WHERE id = ?", arguments: [id]) else {
      throw ServiceError.notFound(kind: "action", id: id)
    }
    return try Action(serializedBytes: data)
  }

  /// The open action of a (resource, control) pair, if there is one.
  static func open(_ openKey: String, in db: Database) throws -> Action? {
    try Data.fetchOne(db, sql: "SELECT message FROM action WHERE open_key = ?", arguments: [openKey]).map(Action.init(serializedBytes:))
  }

  /// Stores a new action, with the resource document it was suggested on.
  static func insert(_ action: Action, openKey: String, configuration: JSONValue, in db: Database) throws {
    let now = Date().timeIntervalSince1970
    try db.execute(
      sql: """
        INSERT INTO action (id, finding_id, handler, state, resource_id, tier, open_key, message, configuration, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [
        action.id, action.findingID, action.handler, action.state.rawValue, action.resource.resourceID, action.tier.rawValue,
        Lifecycle.isFinal(action.state) ? nil : openKey, try action.serializedData(), try configuration.protoStruct.serializedData(), now, now,
      ])
  }

  /// Stores `action`'s new state (the resource document never changes).
  static func save(_ action: Action, in db: Database) throws {
    try db.execute(
      sql: "UPDATE action SET state = ?, message = ?, updated_at = ?, open_key = CASE WHEN ? THEN NULL ELSE open_key END WHERE id = ?",
      arguments: [action.state.rawValue, try action.serializedData(), Date().timeIntervalSince1970, Lifecycle.isFinal(action.state), action.id])
  }

  /// Moves `action` to `to` (after `change` edits it), with audit and event, in `db`.
  func transition(
    _ action: inout Action, to: ActionState, actor: Principal, comment: String, reason: String = "",
    in db: Database, change: (inout Action) -> Void = { _ in }
  ) throws {
    let from = action.state
    try Lifecycle.check(from: from, to: to)
    action.state = to
    change(&action)
    try Self.save(action, in: db)
    try self.record(action, from: from.description, actor: actor, comment: comment, reason: reason, in: db)
  }

  /// The audit entry and the event for a move to `action.state`.
  func record(_ action: Action, from: String, actor: Principal, comment: String, reason: String, in db: Database) throws {
    let to = action.state.description
    var details = ["handler": action.handler, "resource_id": action.resource.resourceID]
    if !reason.isEmpty { details["reason"] = reason }
    if !action.snapshotID.isEmpty { details["snapshot_id"] = action.snapshotID }
    try AuditChain.append(actionID: action.id, from: from, to: to, actor: actor, comment: comment, details: details, in: db)
    try self.outbox.enqueue(action.event(from: from, actor: actor, comment: comment, reason: reason, outbox: self.outbox), in: db)
  }
}
