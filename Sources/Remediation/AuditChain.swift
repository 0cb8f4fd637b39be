import Crypto
import FixpointCore
import Foundation
import GRDB

/// The append-only audit trail: every transition with actor, time, comment and details, each
/// entry carrying SHA-256 over its content and the previous entry's hash. Editing, inserting or
/// deleting a row breaks the chain at that row, and `verify` names it.
enum AuditChain {
  static let migration = Store.Migration("dispatcher.2-audit") { db in
    try db.execute(sql: """
      CREATE TABLE audit (
        sequence INTEGER PRIMARY KEY,
        action_id TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        at REAL NOT NULL,
        comment TEXT NOT NULL,
        details TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_action ON audit (action_id, sequence);
      """)
  }

  static let genesis = String(repeating: "0", count: 64)

  /// What an entry's hash covers.
  struct Fields {
    var sequence: Int64
    var actionID, from, to, actor, role: String
    var at: Double
    var comment, details, previousHash: String

    init(row: Row) {
      self.sequence = row["sequence"]
      (self.actionID, self.from, self.to, self.actor, self.role) = (row["action_id"], row["from_state"], row["to_state"], row["actor"], row["role"])
      self.at = row["at"]
      (self.comment, self.details, self.previousHash) = (row["comment"], row["details"], row["previous_hash"])
    }

    init(sequence: Int64, actionID: String, from: String, to: String, actor: String, role: String, at: Double, comment: String,
         details: String, previousHash: String) {
      self.sequence = sequence
      (self.actionID, self.from, self.to, self.actor, self.role) = (actionID, from, to, actor, role)
      self.at = at
      (self.comment, self.details, self.previousHash) = (comment, details, previousHash)
    }

    /// SHA-256 over the fields, each length-prefixed so no two different entries serialize alike.
    var hash: String {
      var bytes = [UInt8]()
      for f in ["\(self.sequence)", self.actionID, self.from, self.to, self.actor, self.role, String(format: "%.6f", self.at),
                self.comment, self.details, self.previousHash] {
        let utf8 = Array(f.utf8)
        bytes += Array("\(utf8.count):".utf8) + utf8
      }
      return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
  }

  /// Appends an entry in the caller's transaction.
  @discardableResult
  static func append(
    actionID: String, from: String, to: String, actor: Principal, comment: String, details: [String: String] = [:], in db: Database
  ) throws -> Int64 {
    let last = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1")
    let fields = Fields(
      sequence: (last?["sequence"] as Int64? ?? 0) + 1, actionID: actionID, from: from, to: to, actor: actor.subject,
      role: actor.role.rawValue, at: Date().timeIntervalSince1970.rounded(toPlaces: 6), comment: comment,
      details: String(decoding: try JSONSerialization.data(withJSONObject: details, options: [.sortedKeys]), as: UTF8.self),
      previousHash: last?["hash"] as String? ?? Self.genesis)
    try db.execute(
      sql: """
        INSERT INTO audit (sequence, action_id, from_state, to_state, actor, role, at, comment, details, previous_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
      arguments: [fields.sequence, actionID, from, to, fields.actor, fields.role, fields.at, comment, fields.details, fields.previousHash, fields.hash])
    return fields.sequence
  }

  /// Walks the whole chain; the first broken entry and why, or valid.
  static func verify(in db: Database) throws -> Check {
    var previous = Self.genesis
    var expected: Int64 = 1
    var checked: Int64 = 0
    let cursor = try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY sequence")
    while let row = try cursor.next() {
      let sequence: Int64 = row["sequence"]
      func broken(_ problem: String) -> Check { Check(valid: false, entriesChecked: checked, brokenAtSequence: sequence, problem: problem) }
      if sequence != expected { return broken("entry \(expected) is missing (deleted), or \(sequence) was inserted") }
      if row["previous_hash"] as String != previous {
        return broken("entry \(sequence) does not follow entry \(sequence - 1): an entry before it was edited, inserted or deleted")
      }
      if Fields(row: row).hash != row["hash"] as String { return broken("entry \(sequence) was edited: its content no longer matches its hash") }
      previous = row["hash"]
      expected += 1
      checked += 1
    }
    return Check(valid: true, entriesChecked: checked)
  }

  /// What `verify` found: valid, or the first broken entry and why.
  struct Check: Sendable {
    var valid: Bool
    var entriesChecked: Int64
    var brokenAtSequence: Int64 = 0
    var problem = ""
  }
}

extension Double {
  func rounded(toPlaces places: Int) -> Double {
    let scale = pow(10, Double(places))
    return (self * scale).rounded() / scale
  }
}
