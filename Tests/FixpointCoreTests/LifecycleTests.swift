import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
@testable import Remediation
import Testing

@Suite("Remediation lifecycle and audit chain")
struct LifecycleTests {
  static let legal: Set<String> = [
    "suggested>pending_approval", "suggested>approved", "pending_approval>approved", "pending_approval>rejected",
    "approved>executing", "executing>completed", "executing>failed", "completed>rolled_back", "failed>rolled_back",
  ]

  @Test("every pair of states: exactly the legal moves pass; the rest fail naming both states")
  func everyPair() {
    var passed = 0
    for from in Lifecycle.states {
      for to in Lifecycle.states {
        let key = "\(Lifecycle.name(from))>\(Lifecycle.name(to))"
        do {
          try Lifecycle.check(from: from, to: to)
          #expect(Self.legal.contains(key), "\(key) should be refused")
          passed += 1
        } catch let error {
          #expect(!Self.legal.contains(key), "\(key) should be allowed")
          #expect(error.description.contains(Lifecycle.name(from)) && error.description.contains(Lifecycle.name(to)))
          #expect(error.rpcErrorCode == .failedPrecondition)
        }
      }
    }
    #expect(passed == Self.legal.count)
    #expect(Lifecycle.states.filter(Lifecycle.isFinal).map(Lifecycle.name).sorted() == ["rejected", "rolled_back"])
  }

  static func chain(_ n: Int) throws -> DatabaseQueue {
    let db = try DatabaseQueue()
    try db.write { db in
      try AuditChain.migration.apply(db)
      for i in 0..<n {
        try AuditChain.append(
          actionID: "act_\(i % 3)", from: "suggested", to: "approved", actor: Principal(subject: "u\(i)", role: .approver),
          comment: "c\(i)", details: ["n": "\(i)"], in: db)
      }
    }
    return db
  }

  @Test("an untouched chain verifies; an edit, a deletion or an insertion is found at its row")
  func tamper() throws {
    #expect(try Self.chain(10).read { try AuditChain.verify(in: $0) }.valid)
    #expect(try Self.chain(10).read { try AuditChain.verify(in: $0) }.entriesChecked == 10)

    let edited = try Self.chain(10)
    try edited.write { try $0.execute(sql: "UPDATE audit SET comment = 'nothing to see' WHERE sequence = 4") }
    let e = try edited.read { try AuditChain.verify(in: $0) }
    #expect(!e.valid && e.brokenAtSequence == 4 && e.problem.contains("edited"))

    let deleted = try Self.chain(10)
    try deleted.write { try $0.execute(sql: "DELETE FROM audit WHERE sequence = 6") }
    let d = try deleted.read { try AuditChain.verify(in: $0) }
    #expect(!d.valid && d.brokenAtSequence == 7, "\(d.problem)")

    // An inserted row with a recomputed hash still breaks the next entry's link.
    let inserted = try Self.chain(10)
    try inserted.write { db in
      // Make room at 5 (through negative numbers: sequence is the primary key).
      try db.execute(sql: "UPDATE audit SET sequence = -sequence - 1 WHERE sequence >= 5")
      try db.execute(sql: "UPDATE audit SET sequence = -sequence WHERE sequence < 0")
      let forged = AuditChain.Fields(
        sequence: 5, actionID: "act_x", from: "approved", to: "executing", actor: "mallory", role: "admin", at: 1.0, comment: "",
        details: "{}", previousHash: try String.fetchOne(db, sql: "SELECT hash FROM audit WHERE sequence = 4")!)
      try db.execute(
        sql: "INSERT INTO audit VALUES (5, 'act_x', 'approved', 'executing', 'mallory', 'admin', 1.0, '', '{}', ?, ?)",
        arguments: [forged.previousHash, forged.hash])
    }
    let i = try inserted.read { try AuditChain.verify(in: $0) }
    #expect(!i.valid && i.brokenAtSequence == 6, "\(i.problem)")
  }
}
