import FixpointControls
import FixpointDocuments
import Foundation
import Testing

/// Every control in the catalogue, one case each so a failure names it.
@Suite("The control catalogue")
struct CatalogueTests {
  static let ids = ControlCatalogue.all.map(\.id)

  static func control(_ id: String) throws -> any Control { try #require(ControlCatalogue.byID[id]) }

  /// `document` with `operations` applied as inventory's setter applies them.
  static func applying(_ operations: [PathOperation], to document: JSONValue) -> JSONValue {
    var out = document
    for op in operations { out.set(op.value.withoutNulls, at: op.path) }
    return out
  }

  @Test("ids are unique")
  func uniqueIDs() {
    #expect(Set(Self.ids).count == Self.ids.count)
    #expect(ControlCatalogue.all.filter(\.automated).count >= 30)
  }

  @Test("metadata is complete and names known types and fields", arguments: ids)
  func metadata(_ id: String) throws {
    let c = try Self.control(id)
    #expect(!c.title.isEmpty && !c.remediation.isEmpty)
    #expect(c.id.range(of: #"^([A-Za-z0-9]+\.[0-9]+|cis-3\.0/[0-9.]+)$"#, options: .regularExpression) != nil, "id \(c.id)")
    #expect(!c.resourceTypes.isEmpty && !c.reads.isEmpty)
    for type in c.resourceTypes { #expect(ResourceSchema.byType[type] != nil, "unknown type \(type)") }
    for path in c.reads {
      #expect(c.resourceTypes.contains { ResourceSchema.of($0).fields.contains(path.unit) }, "\(path) is not a field of \(c.resourceTypes)")
    }
    #expect(c.resourceTypes.contains(c.examples.type))
    for p in c.parameters { #expect(!p.summary.isEmpty, "parameter \(p.name)") }
  }

  @Test("the failing example fails and the passing one passes", arguments: ids)
  func examples(_ id: String) throws {
    let c = try Self.control(id)
    let parameters = Parameters(c.examples.parameters)
    let failing = c.evaluate(c.examples.failing, parameters)
    #expect(failing.isFail, "\(failing)")
    if case .fail(let paths, let reason) = failing {
      #expect(!paths.isEmpty && !reason.isEmpty)
      // A failing path is one the control says it reads.
      for path in paths { #expect(c.reads.contains { $0.unit == path.unit }, "\(path) is not read") }
    }
    #expect(c.evaluate(c.examples.passing, parameters) == .pass)
  }

  @Test("the fix makes the failing example pass, changes only writable fields, and is empty on a passing document", arguments: ids)
  func remedy(_ id: String) throws {
    let c = try Self.control(id)
    let parameters = Parameters(c.examples.parameters)
    #expect(c.plan(c.examples.passing, parameters) == [])
    guard let operations = c.plan(c.examples.failing, parameters) else { return }  // fixed by hand
    #expect(!operations.isEmpty)
    let schema = ResourceSchema.of(c.examples.type)
    for op in operations { #expect(schema.writable.contains(op.path.unit), "\(op.path) is not writable on \(schema.type)") }
    let fixed = Self.applying(operations, to: c.examples.failing)
    #expect(c.evaluate(fixed, parameters) == .pass, "after \(operations): \(c.evaluate(fixed, parameters))")
    #expect(c.plan(fixed, parameters) == [])
  }

  @Test("a field that could not be read gives not evaluated, never fail", arguments: ids)
  func unreadable(_ id: String) throws {
    let c = try Self.control(id)
    for path in c.reads {
      let document = Unreadable.marking(c.examples.failing, field: path.unit, reason: "AccessDenied: not authorized")
      let verdict = c.evaluate(document, Parameters(c.examples.parameters))
      guard case .notEvaluated(let reason) = verdict else {
        Issue.record("\(path) unreadable gave \(verdict)")
        continue
      }
      #expect(reason.contains("AccessDenied"))
      #expect(c.plan(document) == [])
    }
  }

  @Test("every control evidences at least one framework requirement", arguments: ids)
  func mapped(_ id: String) throws {
    let c = try Self.control(id)
    #expect(!c.requirements.isEmpty)
  }
}

@Suite("Frameworks")
struct FrameworkTests {
  @Test("the six frameworks exist with their ids and every requirement names a control or none")
  func frameworks() throws {
    for id in ["fsbp", "cis-aws-3.0", "nist-800-53-r5", "pci-dss-4.0", "soc2", "hipaa"] {
      let f = try #require(FrameworkCatalogue.byID[id], "\(id)")
      #expect(!f.requirements.isEmpty && !f.source.isEmpty)
      #expect(Set(f.requirements.map(\.id)).count == f.requirements.count, "\(id) repeats a requirement")
    }
    let cis = try #require(FrameworkCatalogue.byID["cis-aws-3.0"])
    #expect(cis.requirements.first { $0.id == "2.1.4" }?.controls == ["S3.1", "S3.8"])
    #expect(cis.requirements.first { $0.id == "1.1" }?.controls == [])
    // Every FSBP requirement is a control of the catalogue.
    for r in FrameworkCatalogue.byID["fsbp"]!.requirements { #expect(ControlCatalogue.byID[r.id] != nil, "\(r.id)") }
    #expect(FrameworkCatalogue.requirements(of: "EC2.53").map(\.description).contains("cis-aws-3.0/5.2"))
    #expect(FrameworkCatalogue.requirements(of: "GuardDuty.1").map(\.description).contains("soc2/CC7.2"))
  }
}

@Suite("Controls' own rules")
struct ControlRuleTests {
  static func group(_ rules: [String: JSONValue]) -> JSONValue { ["id": "sg-1", "name": "g", "ingress": .object(rules)] }
  static let ssh6: JSONValue = ["protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv6": "::/0"]
  static let mysql4: JSONValue = ["protocol": "tcp", "from_port": 3306, "to_port": 3306, "cidr_ipv4": "0.0.0.0/0"]
  static let all4: JSONValue = ["protocol": "-1", "from_port": -1, "to_port": -1, "cidr_ipv4": "0.0.0.0/0"]

  static func verdict(_ id: String, _ doc: JSONValue, _ p: [String: JSONValue] = [:]) -> Verdict {
    ControlCatalogue.byID[id]!.evaluate(doc, Parameters(p))
  }

  @Test("each port control evaluates its own ports and address family")
  func ports() {
    let ssh6 = Self.group(["tcp 22-22 ::/0": Self.ssh6])
    #expect(Self.verdict("EC2.53", ssh6) == .pass)
    #expect(Self.verdict("EC2.54", ssh6).isFail)
    #expect(Self.verdict("EC2.13", ssh6).isFail)
    #expect(Self.verdict("EC2.14", ssh6) == .pass)
    let mysql = Self.group(["tcp 3306-3306 0.0.0.0/0": Self.mysql4])
    #expect(Self.verdict("EC2.19", mysql).isFail)
    #expect(Self.verdict("EC2.53", mysql) == .pass)
    #expect(Self.verdict("EC2.18", mysql).isFail)
    #expect(Self.verdict("EC2.18", mysql, ["authorized_tcp_ports": [3306]]) == .pass)
    let everything = Self.group(["all 0.0.0.0/0": Self.all4])
    for id in ["EC2.53", "EC2.13", "EC2.14", "EC2.19", "EC2.18"] { #expect(Self.verdict(id, everything).isFail, "\(id)") }
    #expect(Self.verdict("EC2.54", everything) == .pass)
  }

  @Test("the port fix revokes only the failing rules")
  func portFix() {
    let doc = Self.group(["tcp 22-22 ::/0": Self.ssh6, "tcp 3306-3306 0.0.0.0/0": Self.mysql4])
    #expect(ControlCatalogue.byID["EC2.54"]!.plan(doc) == [PathOperation(DocumentPath(segments: ["ingress", "tcp 22-22 ::/0"]), .null)])
  }

  @Test("a bucket already on SSE-KMS is never changed to SSE-S3; SSE-S3 is moved to KMS")
  func kms() {
    let s3_17 = ControlCatalogue.byID["S3.17"]!
    let dsse: JSONValue = ["name": "b", "encryption": ["sse_algorithm": "aws:kms:dsse"]]
    #expect(s3_17.evaluate(dsse) == .pass && s3_17.plan(dsse) == [])
    let sseS3: JSONValue = ["name": "b", "encryption": ["sse_algorithm": "AES256"]]
    let fix = s3_17.plan(sseS3, Parameters(["kms_key_id": "arn:aws:kms:us-east-1:1:key/k"]))
    #expect(fix?.first?.value["sse_algorithm"] == "aws:kms" && fix?.first?.value["kms_key_id"] == "arn:aws:kms:us-east-1:1:key/k")
  }

  @Test("key age is measured against the parameters' clock and limit")
  func keyAge() throws {
    let now = try #require(ISO8601DateFormatter().date(from: "2026-06-01T00:00:00Z"))
    let doc: JSONValue = ["access_keys": ["AKIA1": ["status": "Active", "created": "2026-03-01T00:00:00Z"]]]
    let c = ControlCatalogue.byID["IAM.3"]!
    #expect(c.evaluate(doc, Parameters(now: now)).isFail)  // 92 days
    #expect(c.evaluate(doc, Parameters(["max_access_key_age_days": 120], now: now)) == .pass)
  }

  @Test("not applicable where the control does not apply")
  func notApplicable() {
    #expect(Self.verdict("EC2.2", ["name": "web", "ingress": ["all 0.0.0.0/0": Self.all4]]) == .notApplicable(reason: "not a VPC's default security group"))
    if case .notApplicable = Self.verdict("KMS.4", ["key_manager": "AWS", "key_spec": "SYMMETRIC_DEFAULT"]) {} else { Issue.record("AWS key") }
    if case .notApplicable = Self.verdict("EC2.3", ["encrypted": false, "state": "available"]) {} else { Issue.record("detached volume") }
  }
}
