import FixpointControls
import FixpointDocuments
import FixpointGate
import FixpointIaC
import Foundation
import Testing

/// The gate's logic on hand-written plans: which pairs fail, which cannot be decided before apply,
/// what a delete or an unchanged resource gives, waivers, and the reports' shapes.
@Suite("the CI gate")
struct GateTests {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("fixtures")

  static func report(_ name: String = "controls.plan.json", _ configure: (inout Gate.Options) -> Void = { _ in }) throws -> Gate.Report {
    var options = Gate.Options()
    options.sourceDir = Self.fixtures.appendingPathComponent("src").path
    options.now = Date(timeIntervalSince1970: 1_796_000_000)  // 2026-11-30
    configure(&options)
    return try Gate.evaluate(file: Self.fixtures.appendingPathComponent(name).path, options: options)
  }

  static func pairs(_ report: Gate.Report, _ status: Gate.Result.Status) -> Set<String> {
    Set(report.results.filter { $0.status == status }.map { "\($0.address) \($0.controlID)" })
  }

  /// Every failing pair of controls.plan.json, written out: the failing twin of each control, the
  /// count and for_each instances, the module, the split S3 resources joined onto their bucket.
  static let expectedFailures: Set<String> = {
    var out: Set<String> = []
    for bucket in ["aws_s3_bucket.open", "aws_s3_bucket.logs[0]"] {
      for c in ["S3.5", "S3.8", "S3.9", "S3.14", "S3.17", "S3.20"] { out.insert("\(bucket) \(c)") }
    }
    // logs[1] has its public access block (count index 1 joined onto instance 1).
    for c in ["S3.5", "S3.9", "S3.14", "S3.17", "S3.20"] { out.insert("aws_s3_bucket.logs[1] \(c)") }
    for group in ["aws_security_group.ssh", "module.net.aws_security_group.edge[\"a\"]"] {
      for c in ["EC2.18", "EC2.19", "EC2.53"] { out.insert("\(group) \(c)") }
    }
    // The RDP rule is a separate aws_vpc_security_group_ingress_rule whose group id is unknown: joined by reference.
    for c in ["EC2.18", "EC2.19", "EC2.54"] { out.insert("aws_security_group.rdp \(c)") }
    out.formUnion(["aws_instance.v1 EC2.8", "aws_instance.v1 EC2.9"])
    for c in ["RDS.2", "RDS.3", "RDS.8", "RDS.11", "RDS.13"] { out.insert("aws_db_instance.bad \(c)") }
    out.formUnion([
      "aws_kms_key.plain KMS.4", "aws_cloudtrail.bad CloudTrail.2", "aws_cloudtrail.bad CloudTrail.4", "aws_guardduty_detector.off GuardDuty.1",
      "aws_ebs_encryption_by_default.off EC2.7",
    ])
    return out
  }()

  @Test("every failing twin fails and nothing else does; passing twins pass; unknown values and unstated fields are not evaluated; deletes and unchanged resources are left out")
  func verdicts() throws {
    let report = try Self.report()
    let failing = Self.pairs(report, .fail)
    #expect(failing.subtracting(Self.expectedFailures).isEmpty, "failing but not expected: \(failing.subtracting(Self.expectedFailures).sorted())")
    #expect(Self.expectedFailures.subtracting(failing).isEmpty, "expected to fail: \(Self.expectedFailures.subtracting(failing).sorted())")
    let passing = Self.pairs(report, .pass)
    let twins = ["aws_s3_bucket.closed S3.5", "aws_s3_bucket.closed S3.8", "aws_s3_bucket.closed S3.9", "aws_s3_bucket.closed S3.14",
                 "aws_s3_bucket.closed S3.17", "aws_s3_bucket.closed S3.20", "aws_s3_bucket.closed S3.2", "aws_s3_bucket.closed S3.3",
                 "aws_security_group.web EC2.18", "aws_security_group.web EC2.19", "aws_security_group.web EC2.53", "aws_security_group.web EC2.54",
                 "module.net.aws_security_group.edge[\"b\"] EC2.53", "module.net.aws_security_group.edge[\"b\"] EC2.18",
                 "aws_instance.v2 EC2.8", "aws_instance.v2 EC2.9", "aws_db_instance.good RDS.2", "aws_db_instance.good RDS.3",
                 "aws_db_instance.good RDS.8", "aws_db_instance.good RDS.11", "aws_db_instance.good RDS.13", "aws_kms_key.rotated KMS.4",
                 "aws_kms_key.plain KMS.3", "aws_cloudtrail.good CloudTrail.2", "aws_cloudtrail.good CloudTrail.4", "aws_guardduty_detector.on GuardDuty.1"]
    #expect(Set(twins).subtracting(passing).isEmpty, "should pass: \(Set(twins).subtracting(passing).sorted())")

    let notEvaluated = Dictionary(report.results.filter { $0.status == .notEvaluated }.map { ("\($0.address) \($0.controlID)", $0.reason) }) { a, _ in a }
    // Metadata options the plan leaves to the AMI, a retention period known after apply, a CIDR from elsewhere.
    #expect(notEvaluated["aws_instance.amidefault EC2.8"]?.contains("known only after apply") == true, "\(notEvaluated)")
    #expect(notEvaluated["aws_instance.amidefault EC2.9"] != nil)
    #expect(notEvaluated["aws_db_instance.unknown RDS.11"]?.contains("backup_retention_period") == true)
    // An ACL resource's grants are S3's to expand: public read and write are not decided from them.
    #expect(notEvaluated["aws_s3_bucket.open S3.2"]?.contains("acl_grants") == true && notEvaluated["aws_s3_bucket.open S3.3"] != nil)
    #expect(notEvaluated["aws_security_group.pending EC2.53"] != nil && notEvaluated["aws_security_group.pending EC2.19"] != nil)
    // What only the live account knows: an IAM user's keys, MFA and last use.
    for c in ["IAM.3", "IAM.5", "IAM.22"] {
      #expect(notEvaluated["aws_iam_user.ci \(c)"]?.contains("decided on the live resource") == true, "\(c): \(notEvaluated["aws_iam_user.ci \(c)"] ?? "-")")
    }
    // A delete is never assessed; an unchanged resource only when asked; data sources never.
    let addresses = Set(report.results.map(\.address))
    #expect(!addresses.contains("aws_security_group.old") && !addresses.contains("aws_security_group.legacy"))
    #expect(report.unsupported == ["aws_lambda_function": 1])
    let withUnchanged = try Self.report { $0.includeUnchanged = true }
    #expect(Self.pairs(withUnchanged, .fail).subtracting(failing) == ["aws_security_group.legacy EC2.18", "aws_security_group.legacy EC2.19",
                                                                       "aws_security_group.legacy EC2.53"])
    #expect(!Set(withUnchanged.results.map(\.address)).contains("aws_security_group.old"))

    // A failure says which attribute and value, and the fix as Terraform.
    let s3_8 = try #require(report.results.first { $0.address == "aws_s3_bucket.open" && $0.controlID == "S3.8" })
    #expect(s3_8.severity == .high && s3_8.reason == "the bucket has no public access block" && s3_8.paths == ["public_access_block"])
    #expect(s3_8.fix == "aws_s3_bucket_public_access_block: block_public_acls, ignore_public_acls, block_public_policy, restrict_public_buckets = true")
    let rds = try #require(report.results.first { $0.address == "aws_db_instance.bad" && $0.controlID == "RDS.2" })
    #expect(rds.fix == "aws_db_instance: publicly_accessible = false" && rds.severity == .critical)
    // Located at the .tf block (the module's, not another module's block of the same name), else at the plan's line.
    #expect(s3_8.location?.file.hasSuffix("src/main.tf") == true && s3_8.location?.line == 3)
    let edge = try #require(report.results.first { $0.address == "module.net.aws_security_group.edge[\"a\"]" && $0.status == .fail })
    #expect(edge.location?.file.hasSuffix("src/modules/net/main.tf") == true && edge.location?.line == 1, "\(String(describing: edge.location))")
    let rdp = try #require(report.results.first { $0.address == "aws_security_group.rdp" && $0.status == .fail })
    #expect(rdp.location?.declared == false && rdp.location?.file.hasSuffix("controls.plan.json") == true && (rdp.location?.line ?? 0) > 1)
  }

  @Test("the gate's verdict on a document is the control's own: one definition", arguments: ControlCatalogue.all.filter(\.automated).map(\.id))
  func sameVerdict(_ id: String) throws {
    let control = try #require(ControlCatalogue.byID[id])
    let examples = control.examples
    let stated = AfterApply.stated(examples.type)
    // Controls whose fields a definition cannot state are not evaluated by the gate (checked above).
    guard !stated.isEmpty, control.reads.allSatisfy({ stated.contains($0.unit) }) else { return }
    let parameters = Parameters(examples.parameters)
    for document in [examples.failing, examples.passing] {
      #expect(Gate.verdict(control, document: document, type: examples.type, parameters: parameters) == control.evaluate(document, parameters))
    }
  }

  @Test("--fail-on: only failures at or above it fail the gate; --check and --skip-check narrow the controls")
  func thresholds() throws {
    #expect(try Self.report().exitCode == 1)
    let mediumOnly = try Self.report { $0.checks = ["S3.9", "S3.17", "KMS.4"]; $0.failOn = .high }
    #expect(mediumOnly.failures.count > 0 && mediumOnly.failures.allSatisfy { $0.severity == .medium } && mediumOnly.exitCode == 0)
    #expect(try Self.report { $0.checks = ["S3.9"]; $0.failOn = .medium }.exitCode == 1)
    let skipped = try Self.report { $0.skipChecks = ["S3.20"] }
    #expect(!skipped.results.contains { $0.controlID == "S3.20" } && skipped.results.contains { $0.controlID == "S3.8" })
    #expect(throws: Gate.InputError.self) { try Self.report { $0.checks = ["S3.99"] } }
    #expect(throws: Gate.InputError.self) { try Self.report { $0.framework = "nope" } }
  }

  @Test("waivers: a glob over addresses through its expiry date; an expired one is reported and stops applying; a malformed file is refused whole")
  func waivers() throws {
    let yaml = """
      waivers:
        - control: S3.8
          resource: "aws_s3_bucket.logs[*]"
          reason: log buckets are written by the log service only
          owner: platform@example.com
          expires: 2026-12-31
        - control: EC2.53
          resource: aws_security_group.ssh
          reason: bastion, until the VPN lands
          owner: netops@example.com
          expires: 2026-11-01
      """
    let waivers = try Waiver.parse(Data(yaml.utf8))
    #expect(waivers.count == 2)
    let report = try Self.report { $0.waivers = waivers }
    let waived = Self.pairs(report, .waived)
    #expect(waived == ["aws_s3_bucket.logs[0] S3.8"], "\(waived)")
    #expect(Self.pairs(report, .fail).contains("aws_security_group.ssh EC2.53"), "the expired waiver no longer applies")
    #expect(report.expiredWaivers.map(\.resource) == ["aws_security_group.ssh"])
    // The day after its expiry date it stops applying.
    let later = try Self.report { $0.waivers = waivers; $0.now = Date(timeIntervalSince1970: 1_798_761_600) }  // 2027-01-01
    #expect(Self.pairs(later, .waived).isEmpty && later.expiredWaivers.count == 2)

    for (bad, field) in [("- control: S3.8\n  resource: x\n  reason: r\n  owner: o\n", "expires"), ("- control: S3.99\n  resource: x\n  reason: r\n  owner: o\n  expires: 2027-01-01\n", "control"),
                         ("- control: S3.8\n  resource: x\n  reason: r\n  owner: o\n  expires: 2027-02-30\n", "expires"), ("just: a map\n", "a list of waivers")] {
      let error = #expect(throws: Gate.InputError.self) { try Waiver.parse(Data(bad.utf8)) }
      #expect(error?.subject == .waivers && error?.description.contains(field) == true, "\(String(describing: error))")
    }
  }

  @Test("reports: JSON counts add up, SARIF has one rule per failing control with a fingerprint per result, JUnit one case per pair")
  func reports() throws {
    let report = try Self.report()
    let json = try #require(try JSONSerialization.jsonObject(with: report.render(.json, version: "test")) as? [String: Any])
    let summary = try #require(json["summary"] as? [String: Any])
    #expect(summary["failed"] as? Int == Self.expectedFailures.count && json["passed"] as? Bool == false)
    #expect((json["results"] as? [Any])?.count == report.results.count)
    let sarif = try #require(try JSONSerialization.jsonObject(with: report.render(.sarif, version: "test")) as? [String: Any])
    let run = try #require((sarif["runs"] as? [[String: Any]])?.first)
    let rules = try #require((run["tool"] as? [String: Any]).flatMap { $0["driver"] as? [String: Any] }?["rules"] as? [[String: Any]])
    let results = try #require(run["results"] as? [[String: Any]])
    #expect(Set(rules.compactMap { $0["id"] as? String }) == Set(report.failures.map(\.controlID)))
    #expect(results.count == report.failures.count)
    let fingerprints = results.compactMap { ($0["partialFingerprints"] as? [String: String])?["primaryLocationLineHash"] }
    #expect(Set(fingerprints).count == results.count, "one fingerprint per (control, resource)")
    // Stable across runs.
    let again = try #require(try JSONSerialization.jsonObject(with: try Self.report().render(.sarif, version: "test")) as? [String: Any])
    let againFingerprints = ((again["runs"] as? [[String: Any]])?.first?["results"] as? [[String: Any]])?.compactMap {
      ($0["partialFingerprints"] as? [String: String])?["primaryLocationLineHash"]
    }
    #expect(againFingerprints == fingerprints)
    let junit = String(decoding: report.render(.junit, version: "test"), as: UTF8.self)
    #expect(junit.components(separatedBy: "<testcase ").count - 1 == report.results.count)
    #expect(junit.components(separatedBy: "<failure ").count - 1 == report.failures.count)
  }

  @Test("bad input is refused with one line: not JSON, an array, an unknown format version, Kubernetes, nesting past the limit")
  func badInput() throws {
    let cases: [(String, String)] = [
      ("{not json", "not valid JSON"), ("[1, 2]", "not a Terraform"), (#"{"format_version": "2.0", "resource_changes": []}"#, "plan format 2.0 is not supported"),
      ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "Kubernetes"),
      (String(repeating: "[", count: 100_000), "nesting"), (String(repeating: #"{"a": "#, count: 100_000), "nested deeper than 512"),
    ]
    for (text, expected) in cases {
      let error = #expect(throws: Gate.InputError.self) { try Gate.evaluate(Data(text.utf8), file: "x", options: Gate.Options()) }
      let description = error?.description ?? ""
      #expect(description.contains(expected) && !description.contains("\n") && description.count < 400, "\(description)")
    }
  }
}
