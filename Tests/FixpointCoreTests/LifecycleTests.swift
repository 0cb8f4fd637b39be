import FixpointControls
import FixpointDocuments
@testable import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
@testable import Remediation
import SwiftProtobuf
import Testing

@Suite("Remediation lifecycle and audit chain")
struct LifecycleTests {
  static let legal: Set<String> = [
    "suggested>pending_approval", "suggested>approved", "pending_approval>approved", "pending_approval>rejected",
    "approved>executing", "executing>completed", "executing>failed", "executing>approved", "completed>rolled_back", "failed>rolled_back", "failed>approved", "failed>pending_approval",
  ]

  @Test("the dispatcher's logic works on its own types: the protocol's appear only at its edges (RPCs, inventory's client, the finding intake, Wire.swift)")
  func generatedTypesAtTheEdge() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let dispatcher = root.appendingPathComponent("Sources/Remediation")
    let edges: Set<String> = ["Wire.swift", "RemediationRPCs.swift", "InventoryPeer.swift", "RemediationApp.swift", "FindingStore.swift"]
    var offenders: [String] = []
    var scanned = 0
    for case let file as URL in FileManager.default.enumerator(at: dispatcher, includingPropertiesForKeys: nil)! where file.pathExtension == "swift" {
      scanned += 1
      guard !edges.contains(file.lastPathComponent) else { continue }
      for (n, line) in try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      where line.contains("Fixpoint_V1_") || line.contains("Google_Protobuf_") || line.contains("import FixpointProtocol") {
        offenders.append("\(file.lastPathComponent):\(n + 1): \(line.trimmingCharacters(in: .whitespaces))")
      }
    }
    #expect(scanned > 20, "the dispatcher's sources were found")
    #expect(offenders.isEmpty, "convert in Wire.swift (Domain.swift has the dispatcher's types):\n\(offenders.joined(separator: "\n"))")
  }

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

  @Test("a store written before actions kept their resource document beside the message upgrades: the document moves out of the message, loads skip it, answers have it")
  func configurationMigration() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("fp-actions-\(UUID())/dispatcher.sqlite").path
    let before = FindingStore.migrations + [AuditChain.migration, ActionStore.migration, PolicyBook.migration, FindingStore.planningMigration]
    let configuration = Google_Protobuf_Struct(fields: ["public_access_block": .init(boolValue: false), "name": .init(stringValue: "b")])
    let action = Fixpoint_V1_Action.with {
      $0.id = "act_0001"
      $0.findingID = "fnd_0001"
      $0.handler = "S3BucketPublicAccessBlock"
      $0.state = .approved
      $0.currentConfiguration = configuration
    }
    do {
      let old = try Store(path: path, migrations: before)
      try old.pool.write { db in
        try db.execute(
          sql: """
            INSERT INTO action (id, finding_id, handler, state, resource_id, tier, message, created_at, updated_at)
            VALUES ('act_0001', 'fnd_0001', 'S3BucketPublicAccessBlock', 3, 'res_1', 1, ?, 0, 0)
            """, arguments: [try action.serializedData()])
      }
    }
    let store = try Store(path: path, migrations: before + [ActionStore.configurationMigration])
    let (message, answered) = try store.pool.read { db in
      (try Data.fetchOne(db, sql: "SELECT message FROM action WHERE id = 'act_0001'")!,
       try ActionStore.answered(try Row.fetchOne(db, sql: "SELECT message, configuration FROM action WHERE id = 'act_0001'")!))
    }
    #expect(!(try Fixpoint_V1_Action(serializedBytes: message)).hasCurrentConfiguration && answered == action)
    let stored = try store.pool.read { try Data.fetchOne($0, sql: "SELECT configuration FROM action WHERE id = 'act_0001'") }
    #expect(try stored.map { try Google_Protobuf_Struct(serializedBytes: $0) } == configuration)
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

@Suite("Handler catalogue")
struct HandlerCatalogueTests {
  /// A misconfigured document for each resource type the handlers fix.
  static let samples: [String: JSONValue] = [
    "s3_bucket": ["name": "b", "versioning": "Disabled"],
    "s3_account_public_access_block": [:],
    "security_group": ["ingress": ["tcp 22-22 0.0.0.0/0": [
      "protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0", "rule_id": "sgr-1"]], "network_interface_count": 12],
    "ec2_instance": ["metadata_options": ["http_tokens": "optional"]],
    "guardduty_detector": ["enabled": false],
    "rds_instance": ["backup_retention_period": 0, "publicly_accessible": true, "deletion_protection": false],
    "cloudtrail_trail": ["log_file_validation_enabled": false],
    "kms_key": ["key_manager": "CUSTOMER", "key_spec": "SYMMETRIC_DEFAULT", "rotation_enabled": false],
    "ebs_encryption_default": ["enabled": false],
    "ebs_volume": ["encrypted": false, "state": "in-use"],
    "iam_user": ["access_keys": ["AKIAOLD": ["status": "Active", "created": "2025-01-02T03:04:05Z"]]],
  ]

  static func resource(_ type: String, name: String = "sample", _ configuration: JSONValue) -> InventoryResource {
    InventoryResource(id: "res_1", externalID: "", type: type, providerID: "", region: "", name: name, tags: [:], configuration: configuration)
  }

  @Test("every handler has its metadata, a plan (the dry run's input) for a misconfigured resource, and an end-to-end test")
  func catalogue() throws {
    let integration = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("IntegrationTests")
    let e2e = try ["RemediationTests.swift", "DriftTests.swift"].map { try String(contentsOfFile: integration.appendingPathComponent($0).path, encoding: .utf8) }
      .joined()
    #expect(Set(HandlerCatalogue.all.map(\.info.name)).count == HandlerCatalogue.all.count, "names are unique")
    for handler in HandlerCatalogue.all {
      let info = handler.info
      #expect(!info.name.isEmpty && !info.description.isEmpty && !(info.controlIDs + info.findingTypes).isEmpty && !info.resourceTypes.isEmpty, "\(info.name)")
      #expect(info.permissions.isEmpty == (info.name == "ManualGuidance"), "\(info.name) declares the permissions it needs")
      #expect(e2e.contains("\"\(info.name)\""), "\(info.name) has no end-to-end test in RemediationTests or DriftTests")
      let type = info.resourceTypes[0]
      let resource = Self.resource(type, Self.samples[type] ?? [:])
      switch info.name {
      case "IAMAccessKeyRotation":
        #expect(throws: ServiceError.self, "refuses without a key sink") { try handler.plan(resource, config: HandlerConfig()) }
        let sink = HandlerConfig(iamKeySink: "secretsmanager:fixpoint/keys")
        let plan = try handler.plan(resource, config: sink)
        #expect(plan.operations.map(\.path.description) == ["access_keys[AKIAOLD].status"] && plan.operations[0].value == "Inactive")
        #expect(plan.description.contains("secretsmanager:fixpoint/keys"), "\(plan.description)")
        // A key younger than the limit passes IAM.3, so there is nothing to suggest; a user at IAM's two keys is refused.
        var young = resource
        young.configuration = ["access_keys": ["AKIANEW": ["status": "Active", "created": .string(ISO8601DateFormatter().string(from: Date()))]]]
        #expect(throws: ServiceError.self, "IAM.3 passes: already compliant") { try handler.plan(young, config: sink) }
        var two = resource
        two.configuration.set(["status": "Inactive", "created": "2025-06-01T00:00:00Z"], at: DocumentPath(segments: ["access_keys", "AKIASECOND"]))
        #expect(throws: ServiceError.self, "two keys: IAM allows no third") { try handler.plan(two, config: sink) }
      case "RevertToBaseline":
        #expect(info.tier == .changeWindow && info.findingTypes == ["drift/configuration"])
        #expect(throws: ServiceError.self, "plans only from a baseline") { try handler.plan(resource, config: HandlerConfig()) }
        let revert = RevertToBaseline()
        let bucket = Self.resource("s3_bucket", name: "b", ["name": "b", "tags": ["env": "staging"], "versioning": "Enabled", "acl_grants": []])
        let baseline: JSONValue = ["name": "b", "tags": ["env": "prod", "team": "sec"], "versioning": "Suspended", "acl_grants": []]
        let plan = try revert.plan(bucket, baseline: baseline, baselineID: "bln_1")
        #expect(plan.operations.map(\.path.description) == ["tags", "versioning"] && plan.description.contains("bln_1"))
        #expect(plan.operations.map(\.value) == [["env": "prod", "team": "sec"], "Suspended"])
        // A read-only field that differs can only be accepted; nothing to revert is no action.
        var grants = baseline
        grants.set([["grantee": "AllUsers", "permission": "READ"]], at: DocumentPath(segments: ["acl_grants"]))
        #expect { try revert.plan(bucket, baseline: grants, baselineID: "bln_1") } throws: {
          "\($0)".contains("b differs from its baseline in acl_grants, which Fixpoint cannot write: capture a new baseline to accept it")
        }
        let same = bucket.configuration
        #expect(throws: ServiceError.self, "matches the baseline") { try revert.plan(bucket, baseline: same, baselineID: "bln_1") }
        // Verification: the fields read back as planned (tag order and assigned ids aside).
        let changeSet = ChangeSet(resource: bucket.ref, operations: plan.operations)
        #expect(RevertToBaseline.verdict(changeSet, after: ["tags": ["team": "sec", "env": "prod"], "versioning": "Suspended"]).isEmpty)
        #expect(RevertToBaseline.verdict(changeSet, after: ["tags": ["env": "prod"], "versioning": "Suspended"]) == ["tags.team"])
        continue
      case "ManualGuidance":
        let plan = try handler.plan(resource, config: HandlerConfig())
        #expect(plan.operations.isEmpty && !plan.guidance.isEmpty)
      default:
        let plan = try handler.plan(resource, config: HandlerConfig())
        #expect(!plan.operations.isEmpty && !plan.description.isEmpty, "\(info.name)")
      }
      // A handler refuses resources of other types.
      let other = Self.resource("not_a_type", [:])
      #expect(throws: ServiceError.self) { try handler.plan(other, config: HandlerConfig()) }
    }
    // CIS v3.0.0 requirements find their handler too; the one CIS requirement for buckets and the
    // account (2.1.4) goes by the finding's resource type.
    #expect(HandlerCatalogue.matching(controlID: "cis-3.0/2.1.4", findingType: "", resourceType: "s3_bucket")?.info.name == "S3BucketPublicAccessBlock")
    #expect(HandlerCatalogue.matching(controlID: "cis-3.0/2.1.4", findingType: "", resourceType: "s3_account_public_access_block")?.info.name
      == "S3AccountPublicAccessBlock")
    #expect(HandlerCatalogue.matching(controlID: "cis-3.0/1.14", findingType: "")?.info.name == "IAMAccessKeyRotation")
    #expect(HandlerCatalogue.matching(controlID: "cis-3.0/5.2", findingType: "")?.info.name == "BlockPublicAdminPorts")
    #expect(HandlerCatalogue.matching(controlID: "CIS.1.14", findingType: "") == nil, "a CIS id without its version matches nothing")
    // BlockPublicAdminPorts raises the risk of a group many interfaces use.
    let busy = try BlockPublicAdminPorts().plan(Self.resource("security_group", Self.samples["security_group"]!), config: HandlerConfig())
    #expect(busy.risk == .high && busy.operations.map(\.path.description) == ["ingress[tcp 22-22 0.0.0.0/0]"])
  }
}

@Suite("Change windows")
struct ChangeWindowTests {
  static func date(_ text: String, _ zone: String = "UTC") -> Date {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: zone)
    f.dateFormat = "yyyy-MM-dd HH:mm"
    return f.date(from: text)!
  }

  @Test("a weekday-evening window in Berlin is open inside its hours only, across midnight and time zones")
  func berlin() throws {
    let w = try ChangeWindow(cron: "0 22 * * 1-5", durationSeconds: 7200, timeZone: "Europe/Berlin")
    #expect(w.isOpen(at: Self.date("2026-11-24 22:00", "Europe/Berlin")))  // Tuesday
    #expect(w.isOpen(at: Self.date("2026-11-24 23:59", "Europe/Berlin")))
    #expect(!w.isOpen(at: Self.date("2026-11-25 00:00", "Europe/Berlin")))
    #expect(!w.isOpen(at: Self.date("2026-11-24 21:59", "Europe/Berlin")))
    #expect(w.isOpen(at: Self.date("2026-11-24 21:30", "UTC")))  // 22:30 in Berlin
    #expect(!w.isOpen(at: Self.date("2026-11-28 22:30", "Europe/Berlin")))  // Saturday
  }

  @Test("cron fields: lists, ranges, steps, Sunday as 0 or 7, day-of-month OR day-of-week; bad input named")
  func cron() throws {
    let c = try CronExpression("*/15 9-17 1,15 * 0")
    #expect(c.minutes == [0, 15, 30, 45] && c.hours == Set(9...17) && c.days == [1, 15] && c.weekdays == [0])
    #expect(try CronExpression("5/20 0 * * 7").minutes == [5, 25, 45])
    #expect(try CronExpression("0 0 * * 7").weekdays == [0])
    var utc = Calendar(identifier: .gregorian)
    utc.timeZone = TimeZone(identifier: "UTC")!
    // 2026-11-15 is a Sunday and the 15th; 2026-11-22 a Sunday; 2026-11-01 a Sunday and the 1st.
    let sundayOnly = utc.dateComponents([.minute, .hour, .day, .month, .weekday], from: Self.date("2026-11-22 10:15"))
    #expect(c.matches(sundayOnly), "day-of-week alone matches when both day fields are restricted")
    for bad in ["* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *", "a * * * *"] {
      #expect(throws: ServiceError.self, "\(bad)") { try CronExpression(bad) }
    }
    #expect(throws: ServiceError.self) { try ChangeWindow(cron: "* * * * *", durationSeconds: 3600, timeZone: "Mars/Olympus") }
    // The next matching minute, in the expression's time zone.
    let berlin = TimeZone(identifier: "Europe/Berlin")!
    #expect(try CronExpression("0 */4 * * *").next(after: Self.date("2026-11-22 10:15"), in: utc.timeZone) == Self.date("2026-11-22 12:00"))
    #expect(try CronExpression("30 9 * * 1").next(after: Self.date("2026-11-22 10:15", "Europe/Berlin"), in: berlin) == Self.date("2026-11-23 09:30", "Europe/Berlin"))
    #expect(try CronExpression("0 0 1 1 *").next(after: Self.date("2026-11-22 10:15"), in: utc.timeZone) == Self.date("2027-01-01 00:00"))
    #expect(try CronExpression("* * * * *").next(after: Self.date("2026-11-22 10:15"), in: utc.timeZone) == Self.date("2026-11-22 10:16"))
    #expect(try CronExpression("0 0 30 2 *").next(after: Self.date("2026-11-22 10:15"), in: utc.timeZone) == nil, "February 30th never comes")
    #expect(throws: ServiceError.self) { try ChangeWindow(cron: "* * * * *", durationSeconds: 10, timeZone: "") }
  }
}

@Suite("Verification from the re-read")
struct VerificationTests {
  @Test("verification is the control passing on the re-read, not the written values being there")
  func controlDecides() throws {
    let s3_2 = try #require(ControlCatalogue.byID["S3.2"])
    let publicPolicy: JSONValue = ["Statement": [["Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"]]]
    // The block the fix wrote is read back, but a public policy still works: not verified.
    let partial: JSONValue = ["name": "b", "policy": publicPolicy, "public_access_block": ["block_public_acls": true, "ignore_public_acls": true]]
    #expect(Executor.verdict(of: s3_2, on: partial, parameters: Parameters()).isFail)
    let full: JSONValue = ["name": "b", "policy": publicPolicy, "public_access_block": [
      "block_public_acls": true, "ignore_public_acls": true, "block_public_policy": true, "restrict_public_buckets": true]]
    #expect(Executor.verdict(of: s3_2, on: full, parameters: Parameters()) == .pass)
    // A re-read that could not read the policy verifies nothing.
    let unread: JSONValue = ["name": "b", "_unreadable": ["policy": "AccessDenied"]]
    if case .notEvaluated = Executor.verdict(of: s3_2, on: unread, parameters: Parameters()) {} else { Issue.record("unreadable verified") }
  }
}
