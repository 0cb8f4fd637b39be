import Crypto
import FixpointControls
import FixpointCore
import FixpointDocuments
import FixpointGate
import FixpointProtocol
import Foundation
import SwiftProtobuf

/// An assessment written out for other tools and for people: JSON, CSV, SARIF 2.1.0, JUnit XML,
/// ASFF (what Security Hub's BatchImportFindings takes) and a self-contained HTML report. Pure:
/// everything it needs is passed in.
enum Exports {
  struct Input {
    var assessment: Fixpoint_V1_Assessment
    var results: [ResultRecord]
    /// Provider id → AWS account id (ASFF needs the account of every finding).
    var accounts: [String: String]
    var now: Date
  }

  static func render(_ format: Fixpoint_V1_ExportFormat, _ input: Input) throws -> (contentType: String, content: Data) {
    switch format {
    case .json: ("application/json", try Self.json(input))
    case .csv: ("text/csv; charset=utf-8", Data(Self.csv(input).utf8))
    case .sarif: ("application/sarif+json", try Self.encode(Self.sarif(input)))
    case .junit: ("application/xml", Data(Self.junit(input).utf8))
    case .asff: ("application/json", try Self.encode(Self.asff(input)))
    case .html: ("text/html; charset=utf-8", Data(Self.html(input).utf8))
    case .unspecified, .UNRECOGNIZED:
      throw ServiceError.invalidArgument(field: "format", reason: "one of json, csv, sarif, junit, asff, html")
    }
  }

  static func encode(_ value: Any) throws -> Data {
    try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
  }

  static func status(_ r: ResultRecord) -> ResultStatus { ResultStatus(rawValue: r.status) ?? .notEvaluated }
  static func title(_ id: String) -> String { ControlCatalogue.byID[id]?.title ?? id }
  static func paths(_ r: ResultRecord) -> [String] { (try? JSONDecoder().decode([String].self, from: Data(r.paths.utf8))) ?? [] }
  static func time(_ d: Date) -> String { d.formatted(Date.ISO8601FormatStyle()) }

  // MARK: JSON

  static func json(_ input: Input) throws -> Data {
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    let results = try input.results.map { try $0.proto.jsonString(options: options) }.joined(separator: ",")
    return Data("{\"assessment\":\(try input.assessment.jsonString(options: options)),\"results\":[\(results)]}".utf8)
  }

  // MARK: CSV

  static func csv(_ input: Input) -> String {
    func cell(_ s: String) -> String {
      s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
    let header = ["control_id", "control_title", "severity", "status", "resource_id", "resource_name", "resource_type", "external_id",
                  "region", "reason", "paths", "waiver_id", "change"]
    let rows = input.results.map { r in
      [r.control_id, Self.title(r.control_id), r.severity, "\(Self.status(r))", r.resource_id, r.resource_name, r.resource_type,
       r.external_id, r.region, r.reason, Self.paths(r).joined(separator: " "), r.waiver_id,
       r.change == 1 ? "new_failure" : r.change == 2 ? "newly_fixed" : ""].map(cell).joined(separator: ",")
    }
    return ([header.joined(separator: ",")] + rows).joined(separator: "\r\n") + "\r\n"
  }

  // MARK: SARIF

  static func level(_ severity: String) -> String { Reporting.level(Severity(rawValue: severity) ?? .medium) }

  /// Failing results (and waived ones, as suppressed). Live resources have no file: a result names
  /// its resource as a logical location (the ARN or cloud id); paths into IaC come with the gate.
  static func sarif(_ input: Input) -> [String: Any] {
    let controls = input.assessment.controlIds.compactMap { ControlCatalogue.byID[$0] }
    let index = Dictionary(uniqueKeysWithValues: controls.enumerated().map { ($1.id, $0) })
    let rules: [[String: Any]] = controls.map { c in
      [
        "id": c.id, "name": c.id.replacingOccurrences(of: ".", with: ""),
        "shortDescription": ["text": c.title], "fullDescription": ["text": c.title], "help": ["text": c.remediation],
        "defaultConfiguration": ["level": Self.level(c.severity.rawValue)],
        "properties": ["security-severity": Reporting.securitySeverity(c.severity), "tags": ["security"] + c.resourceTypes],
      ]
    }
    let reported = input.results.filter { Self.status($0) == .fail || Self.status($0) == .waived }
    let results: [[String: Any]] = reported.map { r in
      let fingerprint = SHA256.hash(data: Data("\(r.control_id)|\(r.external_id)".utf8)).map { String(format: "%02x", $0) }.joined()
      var result: [String: Any] = [
        "ruleId": r.control_id, "level": Self.level(r.severity),
        "message": ["text": "\(r.resource_type) \(r.resource_name): \(r.reason.isEmpty ? Self.title(r.control_id) : r.reason)"],
        "locations": [["logicalLocations": [["fullyQualifiedName": r.external_id, "name": r.resource_name, "kind": "resource"]]]],
        "partialFingerprints": ["fixpointResource/v1": fingerprint],
        "properties": ["resourceId": r.resource_id, "paths": Self.paths(r), "region": r.region],
      ]
      if let i = index[r.control_id] { result["ruleIndex"] = i }
      if Self.status(r) == .waived { result["suppressions"] = [["kind": "external", "status": "accepted", "justification": "waiver \(r.waiver_id)"]] }
      return result
    }
    return [
      "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
      "runs": [[
        "tool": ["driver": ["name": "Fixpoint", "version": FixpointVersion.current, "rules": rules]],
        "automationDetails": ["id": "fixpoint/\(input.assessment.frameworkID)/\(input.assessment.id)"],
        "invocations": [["executionSuccessful": input.assessment.progress.state == .succeeded]],
        "results": results,
      ]],
    ]
  }

  // MARK: JUnit

  /// One test case per (control, resource): failures fail, waived / not applicable / not
  /// evaluated are skipped with why (as Checkov writes it).
  static func junit(_ input: Input) -> String {
    let failures = input.results.filter { Self.status($0) == .fail }.count
    let skipped = input.results.filter { [.waived, .notApplicable, .notEvaluated].contains(Self.status($0)) }.count
    var out = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
    out += #"<testsuites name="fixpoint" tests="\#(input.results.count)" failures="\#(failures)" skipped="\#(skipped)">"# + "\n"
    out += #"  <testsuite name="\#(XMLText.escape("fixpoint \(input.assessment.frameworkID) \(input.assessment.id)"))" tests="\#(input.results.count)" failures="\#(failures)" skipped="\#(skipped)" errors="0" timestamp="\#(Self.time(input.assessment.requested.time.date))">"# + "\n"
    for r in input.results {
      let name = "[\(r.severity.uppercased())][\(r.control_id)] \(Self.title(r.control_id))"
      out += #"    <testcase name="\#(XMLText.escape(name))" classname="\#(XMLText.escape("\(r.resource_type).\(r.resource_name)"))" file="\#(XMLText.escape(r.external_id))">"#
      switch Self.status(r) {
      case .fail:
        let body = "resource: \(r.external_id) (\(r.resource_id))\n\(r.reason)\npaths: \(Self.paths(r).joined(separator: ", "))"
        out += "\n" + #"      <failure type="failure" message="\#(XMLText.escape(Self.title(r.control_id)))">\#(XMLText.escape(body))</failure>"# + "\n    "
      case .waived: out += "\n" + #"      <skipped message="\#(XMLText.escape("waived: \(r.waiver_id)"))"/>"# + "\n    "
      case .notApplicable: out += "\n" + #"      <skipped message="\#(XMLText.escape("not applicable: \(r.reason)"))"/>"# + "\n    "
      case .notEvaluated: out += "\n" + #"      <skipped message="\#(XMLText.escape("not evaluated: \(r.reason)"))"/>"# + "\n    "
      case .pass: break
      }
      out += "</testcase>\n"
    }
    out += "  </testsuite>\n</testsuites>\n"
    return out
  }

  // MARK: ASFF

  static let asffTypes: [String: String] = [
    "s3_bucket": "AwsS3Bucket", "security_group": "AwsEc2SecurityGroup", "ec2_instance": "AwsEc2Instance", "ebs_volume": "AwsEc2Volume",
    "vpc": "AwsEc2Vpc", "iam_user": "AwsIamUser", "rds_instance": "AwsRdsDbInstance", "cloudtrail_trail": "AwsCloudTrailTrail",
    "kms_key": "AwsKmsKey", "lambda_function": "AwsLambdaFunction", "subnet": "AwsEc2Subnet", "network_acl": "AwsEc2NetworkAcl",
  ]

  /// Findings as BatchImportFindings takes them (schema 2018-10-08), for a private integration:
  /// product `arn:aws:securityhub:REGION:ACCOUNT:product/ACCOUNT/default`. Failed, passed, and
  /// not evaluated (WARNING) results; waived ones are FAILED with workflow SUPPRESSED.
  static func asff(_ input: Input) -> [[String: Any]] {
    let now = Self.time(input.now)
    return input.results.compactMap { r -> [String: Any]? in
      let status: String
      switch Self.status(r) {
      case .fail, .waived: status = "FAILED"
      case .pass: status = "PASSED"
      case .notEvaluated: status = "WARNING"
      case .notApplicable: return nil
      }
      let account = input.accounts[r.provider_id] ?? ""
      let region = r.region == "global" ? "us-east-1" : r.region
      let label = (Severity(rawValue: r.severity) ?? .medium) == .informational ? "INFORMATIONAL" : r.severity.uppercased()
      var finding: [String: Any] = [
        "SchemaVersion": "2018-10-08",
        "Id": "fixpoint/\(input.assessment.frameworkID)/\(r.control_id)/\(r.external_id)",
        "ProductArn": "arn:aws:securityhub:\(region):\(account):product/\(account)/default",
        "GeneratorId": "fixpoint/security-control/\(r.control_id)",
        "AwsAccountId": account,
        "Types": ["Software and Configuration Checks/Industry and Regulatory Standards"],
        "CreatedAt": Self.time(Date(timeIntervalSince1970: r.evaluated_at)), "UpdatedAt": now,
        "Severity": ["Label": label, "Original": label],
        "Title": Self.title(r.control_id),
        "Description": r.reason.isEmpty ? Self.title(r.control_id) : r.reason,
        "Resources": [["Type": Self.asffTypes[r.resource_type] ?? "Other", "Id": r.external_id, "Partition": "aws", "Region": region]],
        "Compliance": [
          "Status": status,
          "RelatedRequirements": Array(FrameworkCatalogue.requirements(of: r.control_id).map { "\($0.framework)/\($0.requirement)" }.prefix(20)),
        ],
        "Remediation": ["Recommendation": ["Text": String((ControlCatalogue.byID[r.control_id]?.remediation ?? "").prefix(512))]],
        "RecordState": "ACTIVE",
      ]
      if Self.status(r) == .waived { finding["Workflow"] = ["Status": "SUPPRESSED"] }
      return finding
    }
  }

  // MARK: HTML

  static func html(_ input: Input) -> String {
    let a = input.assessment
    func h(_ s: String) -> String { XMLText.escape(s) }
    var body = "<h1>Fixpoint compliance report</h1>\n"
    body += "<p class=\"meta\">Assessment \(h(a.id)) of <b>\(h(a.frameworkID))</b>\(a.providerID.isEmpty ? "" : " for provider \(h(a.providerID))"), "
      + "requested by \(h(a.requested.subject)) at \(h(Self.time(a.requested.time.date))). \(a.passed) passed, \(a.failed) failed, "
      + "\(a.waived) waived, \(a.notEvaluated) not evaluated, \(a.notApplicable) not applicable.</p>\n"
    body += "<h2>Score per framework</h2>\n<table class=\"scores\">\n"
    for s in a.scores {
      let percent = s.controlsWithData == 0 ? 0 : Int((s.score * 100).rounded())
      let label = s.controlsWithData == 0 ? "no data" : "\(percent)%"
      body += "<tr><th>\(h(s.frameworkID))</th><td class=\"bar\"><div class=\"fill\" style=\"width:\(percent)%\"></div></td>"
        + "<td>\(label)</td><td>\(s.passedControls) of \(s.controlsWithData) controls with data pass</td></tr>\n"
    }
    body += "</table>\n<h2>Requirements of \(h(a.frameworkID))</h2>\n<table class=\"requirements\">\n<tr><th>requirement</th><th>status</th><th>controls</th><th>failing results</th><th>title</th></tr>\n"
    for r in a.requirements {
      let status = ["", "pass", "fail", "manual", "no data"][min(max(r.status.rawValue, 0), 4)]
      body += "<tr class=\"\(status.replacingOccurrences(of: " ", with: "-"))\"><td>\(h(r.requirementID))</td><td>\(status)</td>"
        + "<td>\(h(r.controlIds.joined(separator: ", ")))</td><td>\(r.failedResults)</td><td>\(h(r.title))</td></tr>\n"
    }
    body += "</table>\n<h2>Failing resources</h2>\n"
    let failing = Dictionary(grouping: input.results.filter { Self.status($0) == .fail }, by: \.control_id)
    if failing.isEmpty { body += "<p>None.</p>\n" }
    for id in failing.keys.sorted() {
      let c = ControlCatalogue.byID[id]
      body += "<section class=\"control\"><h3>\(h(id)) — \(h(c?.title ?? id)) <span class=\"sev \(h(c?.severity.rawValue ?? ""))\">\(h(c?.severity.rawValue ?? ""))</span></h3>\n"
        + "<p class=\"fix\"><b>Fix:</b> \(h(c?.remediation ?? ""))</p>\n<table class=\"failing\">\n<tr><th>resource</th><th>type</th><th>region</th><th>why</th></tr>\n"
      for r in failing[id]! {
        body += "<tr><td title=\"\(h(r.external_id))\">\(h(r.resource_name))</td><td>\(h(r.resource_type))</td><td>\(h(r.region))</td><td>\(h(r.reason))</td></tr>\n"
      }
      body += "</table></section>\n"
    }
    let style = """
      body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem;color:#1b1f24}h1{font-size:1.6rem}
      table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
      .bar{width:18rem}.bar .fill{height:.9rem;background:#2da44e;border-radius:3px}.scores td.bar{background:#eaeef2}
      tr.fail td:nth-child(2){color:#cf222e;font-weight:600}tr.pass td:nth-child(2){color:#1a7f37}tr.manual td:nth-child(2),tr.no-data td:nth-child(2){color:#6e7781}
      .sev{font-size:.8rem;padding:.1rem .4rem;border-radius:3px;background:#eaeef2}.sev.critical,.sev.high{background:#ffebe9;color:#cf222e}
      .meta{color:#57606a}.fix{color:#57606a}
      """
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fixpoint — \(h(a.frameworkID)) \(h(a.id))</title>"
      + "<style>\(style)</style></head><body>\n\(body)</body></html>\n"
  }
}
