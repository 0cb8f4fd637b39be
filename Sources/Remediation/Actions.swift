import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import SwiftProtobuf

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

  /// Each action's `current_configuration` (the resource document it was suggested on) is kept in
  /// its own column, not in the message: only GetAction and ListActions show it, and decoding it
  /// with every load (each state change, each batch selection) was the dispatcher's largest single
  /// cost in bench-loop at N = 1,000 (12 % of its CPU).
  static let configurationMigration = Store.Migration("dispatcher.6-action-configuration") { db in
    try db.execute(sql: "ALTER TABLE action ADD COLUMN configuration BLOB")
    for row in try Row.fetchAll(db, sql: "SELECT id, message FROM action") {
      var action = try Fixpoint_V1_Action(serializedBytes: row["message"] as Data)
      guard action.hasCurrentConfiguration else { continue }
      let configuration = try action.currentConfiguration.serializedData()
      action.clearCurrentConfiguration()
      try db.execute(
        sql: "UPDATE action SET message = ?, configuration = ? WHERE id = ?", arguments: [try action.serializedData(), configuration, row["id"] as String])
    }
  }

  /// The action as the lifecycle needs it: without its `current_configuration` (`withConfiguration` adds it).
  static func load(_ id: String, in db: Database) throws -> Fixpoint_V1_Action {
    guard let data = try Data.fetchOne(db, sql: "SELECT message FROM action WHERE id = ?", arguments: [id]) else {
      throw ServiceError.notFound(kind: "action", id: id)
    }
    return try Fixpoint_V1_Action(serializedBytes: data)
  }

  /// `action` with the resource document it was suggested on, as the RPCs answer it.
  static func withConfiguration(_ action: Fixpoint_V1_Action, in db: Database) throws -> Fixpoint_V1_Action {
    var action = action
    if let data = try Data.fetchOne(db, sql: "SELECT configuration FROM action WHERE id = ?", arguments: [action.id]) {
      action.currentConfiguration = try Google_Protobuf_Struct(serializedBytes: data)
    }
    return action
  }

  /// `action` as an RPC answers it (see `withConfiguration`).
  func answer(_ action: Fixpoint_V1_Action) async throws -> Fixpoint_V1_Action {
    try await self.store.read { db in try Self.withConfiguration(action, in: db) }
  }

  /// An action as the RPCs answer it, from a row of `message, configuration`.
  static func answered(_ row: Row) throws -> Fixpoint_V1_Action {
    var action = try Fixpoint_V1_Action(serializedBytes: row["message"] as Data)
    if let configuration = row["configuration"] as Data? { action.currentConfiguration = try Google_Protobuf_Struct(serializedBytes: configuration) }
    return action
  }

  func get(_ id: String) async throws -> Fixpoint_V1_Action {
    try Validate.id(id, field: "action_id", prefix: "act")
    return try await self.store.read { db in
      guard let row = try Row.fetchOne(db, sql: "SELECT message, configuration FROM action WHERE id = ?", arguments: [id]) else {
        throw ServiceError.notFound(kind: "action", id: id)
      }
      return try Self.answered(row)
    }
  }

  /// Stores `action`; its `current_configuration` only when inserting (it never changes after).
  static func save(_ action: Fixpoint_V1_Action, openKey: String?, in db: Database, insert: Bool = false) throws {
    let now = Date().timeIntervalSince1970
    var message = action
    message.clearCurrentConfiguration()
    let data = try message.serializedData()
    let open = Lifecycle.isFinal(action.state) ? nil : openKey
    if insert {
      let configuration = action.hasCurrentConfiguration ? try action.currentConfiguration.serializedData() : nil
      try db.execute(
        sql: """
          INSERT INTO action (id, finding_id, handler, state, resource_id, tier, open_key, message, configuration, created_at, updated_at)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          action.id, action.findingID, action.handler, action.state.rawValue, action.resource.resourceID, action.tier.rawValue, open, data,
          configuration, now, now,
        ])
    } else {
      try db.execute(
        sql: "UPDATE action SET state = ?, message = ?, updated_at = ?, open_key = CASE WHEN ? THEN NULL ELSE open_key END WHERE id = ?",
        arguments: [action.state.rawValue, data, now, Lifecycle.isFinal(action.state), action.id])
    }
  }

  /// Moves `action` to `to` (after `change` edits it), with audit and event, in `db`.
  func transition(
    _ action: inout Fixpoint_V1_Action, to: Fixpoint_V1_ActionState, actor: Principal, comment: String, reason: String = "",
    in db: Database, change: (inout Fixpoint_V1_Action) -> Void = { _ in }
  ) throws {
    let from = action.state
    try Lifecycle.check(from: from, to: to)
    action.state = to
    change(&action)
    try Self.save(action, openKey: nil, in: db)
    try self.record(action, from: Lifecycle.name(from), actor: actor, comment: comment, reason: reason, in: db)
  }

  /// The audit entry and the event for a move to `action.state`.
  func record(_ action: Fixpoint_V1_Action, from: String, actor: Principal, comment: String, reason: String, in db: Database) throws {
    let to = Lifecycle.name(action.state)
    var details = ["handler": action.handler, "resource_id": action.resource.resourceID]
    if !reason.isEmpty { details["reason"] = reason }
    if !action.snapshotID.isEmpty { details["snapshot_id"] = action.snapshotID }
    try AuditChain.append(actionID: action.id, from: from, to: to, actor: actor, comment: comment, details: details, in: db)
    let event = self.outbox.makeEvent(type: "remediation.\(to)", subject: action.id, severity: action.risk) { e in
      e.remediation = .with {
        $0.actionID = action.id
        $0.fromState = from
        $0.toState = to
        $0.handler = action.handler
        $0.resource = action.resource
        $0.actor = actor.subject
        $0.comment = comment
        $0.reason = reason
      }
    }
    try self.outbox.enqueue(event, in: db)
  }

  func list(_ request: Fixpoint_V1_ListActionsRequest) async throws -> ([Fixpoint_V1_Action], Page) {
    let page = try Page(size: request.pageSize, token: request.pageToken)
    var conditions: [String] = []
    var arguments: [any DatabaseValueConvertible] = []
    if request.state != .unspecified {
      conditions.append("state = ?")
      arguments.append(request.state.rawValue)
    }
    if !request.resourceID.isEmpty {
      try Validate.id(request.resourceID, field: "resource_id", prefix: "res")
      conditions.append("resource_id = ?")
      arguments.append(request.resourceID)
    }
    if !request.handler.isEmpty {
      guard HandlerCatalogue.byName[request.handler] != nil else { throw ServiceError.invalidArgument(field: "handler", reason: "unknown handler") }
      conditions.append("handler = ?")
      arguments.append(request.handler)
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let bound = StatementArguments(arguments + [page.size, page.offset]) ?? []
    let actions = try await self.store.read { db in
      try Row.fetchAll(db, sql: "SELECT message, configuration FROM action \(whereClause) ORDER BY created_at DESC, id LIMIT ? OFFSET ?", arguments: bound)
        .map(Self.answered)
    }
    return (actions, page)
  }
}
