import Foundation
import TestSupport
import Testing

/// `fixpoint gate` as CI runs it: the binary alone, no service, no data directory; exit codes,
/// stderr, and the report files read by their consumers (jsonschema, junitparser).
@Suite("fixpoint gate in CI")
struct GateCLITests {
  static let fixtures = Cluster.root.appendingPathComponent("Tests/FixpointGateTests/fixtures").path

  /// Runs the gate with an empty environment but PATH, in a fresh directory: nothing running, nothing configured.
  static func gate(_ arguments: [String], in dir: String) async throws -> (status: Int32, stdout: String, stderr: String) {
    try await runCommand(["env", "-i", "PATH=/usr/bin:/bin", "sh", "-c", "cd \"$0\" && exec \"$@\"", dir, Cluster.binDir + "/fixpoint", "gate"] + arguments)
  }

  static func scratch() throws -> String {
    let dir = NSTemporaryDirectory() + "fp-gate-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  @Test("with no service running: exit 1 on failures with the summary, 0 under --fail-on critical with a waiver, SARIF and JUnit in one run, valid for their consumers")
  func reports() async throws {
    let dir = try Self.scratch()
    let plan = Self.fixtures + "/controls.plan.json"
    let failing = try await Self.gate([plan, "--source-dir", Self.fixtures + "/src"], in: dir)
    #expect(failing.status == 1, "\(failing.stderr)")
    #expect(failing.stdout.contains("FAIL  HIGH  aws_s3_bucket.open  S3.8") && failing.stdout.contains("src/main.tf:3"), "\(failing.stdout)")
    #expect(failing.stdout.contains("38 failed (critical 4, high 12, medium 14, low 8)") && failing.stdout.contains("gate FAILED"), "\(failing.stdout)")

    // Several reports in one run; the summary goes to stderr when stdout carries none.
    let both = try await Self.gate([plan, "--source-dir", Self.fixtures + "/src", "--format", "sarif", "-o", "gate.sarif", "--format", "junit", "-o", "gate.xml",
                              "--format", "json", "-o", "gate.json"], in: dir)
    #expect(both.status == 1 && both.stdout.isEmpty && both.stderr.contains("gate FAILED"), "\(both)")
    let (checked, out, err) = try await runCommand([
      try TestPython.interpreter(), Cluster.root.appendingPathComponent("Tests/IntegrationTests/python/check_gate.py").path, dir + "/gate.sarif",
      dir + "/gate.xml", Cluster.root.appendingPathComponent("Tests/IntegrationTests/schemas/sarif-schema-2.1.0.json").path,
    ])
    try #require(checked == 0, "\(err)")
    let e = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
    #expect((e["sarif_errors"] as? [String])?.isEmpty == true, "\(e["sarif_errors"] ?? "")")
    #expect(e["sarif_results"] as? Int == 38 && e["sarif_fingerprints"] as? Int == 38 && e["sarif_rule_ids_ok"] as? Bool == true, "\(e)")
    #expect(e["sarif_rules_complete"] as? Bool == true && e["sarif_lines_ok"] as? Bool == true)
    // Results point at the .tf sources where found, at the plan otherwise; paths relative as given.
    let locations = Set(e["sarif_locations"] as? [String] ?? [])
    #expect(locations.contains { $0.hasSuffix("src/main.tf") }, "\(locations)")
    #expect(locations.contains { $0.hasSuffix("controls.plan.json") } && locations.contains { $0.hasSuffix("src/modules/net/main.tf") })
    let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/gate.json"))) as? [String: Any])
    let results = json["results"] as? [[String: Any]] ?? []
    #expect(e["junit_cases"] as? Int == results.count && e["junit_failures"] as? Int == 38 && e["junit_suite_counts_ok"] as? Bool == true, "\(e)")

    // --fail-on critical with the four critical failures waived: the gate passes and says what it waived.
    try """
      - control: "*"
        resource: "*aws_security_group.*"
        reason: security groups are reviewed by netops
        owner: netops@example.com
        expires: 2099-12-31
      - control: RDS.2
        resource: aws_db_instance.bad
        reason: a public demo database
        owner: data@example.com
        expires: 2099-12-31
      - control: S3.8
        resource: aws_s3_bucket.open
        reason: expired acceptance
        owner: web@example.com
        expires: 2020-01-01
      """.write(toFile: dir + "/waivers.yaml", atomically: true, encoding: .utf8)
    let waived = try await Self.gate([plan, "--fail-on", "critical", "--waivers", "waivers.yaml"], in: dir)
    #expect(waived.status == 0, "\(waived)")
    #expect(waived.stdout.contains("waived  aws_db_instance.bad  RDS.2  until 2099-12-31") && waived.stdout.contains("expired waiver  S3.8  aws_s3_bucket.open"), "\(waived.stdout)")
    #expect(waived.stdout.contains("gate passed"), "\(waived.stdout)")
    // The same plan fails at high: S3.8 is high and its waiver has expired.
    #expect(try await Self.gate([plan, "--fail-on", "high", "--waivers", "waivers.yaml"], in: dir).status == 1)
    // A plan whose only failures are medium passes --fail-on high.
    #expect(try await Self.gate([plan, "--fail-on", "high", "--check", "S3.9", "--check", "S3.17", "--check", "KMS.4"], in: dir).status == 0)
  }

  @Test("usage and input errors exit 2 with one line on stderr: unreadable, not JSON, an array, a plan format 2.x, 200 MB, deep nesting, bad flags; help exits 0")
  func badInput() async throws {
    let dir = try Self.scratch()
    let files: [(String, String, String)] = [
      ("not.json", "{\"format_version\": ", "not valid JSON"),
      ("array.json", "[1, 2, 3]", "not a Terraform state or plan"),
      ("v2.json", #"{"format_version": "2.0", "resource_changes": []}"#, "plan format 2.0 is not supported"),
      ("deep.json", String(repeating: #"{"a": "#, count: 50_000), "nested deeper than 512"),
    ]
    for (name, content, _) in files { try content.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
    // 200 MB without writing 200 MB: a sparse file.
    let big = dir + "/big.json"
    FileManager.default.createFile(atPath: big, contents: Data("{".utf8))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
    try handle.truncate(atOffset: 200 * 1024 * 1024)
    try handle.close()
    var cases: [([String], String)] = files.map { ([$0.0], $0.2) }
    cases += [
      (["big.json"], "the limit is"), (["missing.json"], "cannot read"),
      ([Self.fixtures + "/controls.plan.json", "--fail-on", "severe"], "--fail-on"),
      ([Self.fixtures + "/controls.plan.json", "--format", "xml"], "--format"),
      ([Self.fixtures + "/controls.plan.json", "--format", "json", "--format", "sarif"], "standard output"),
      ([Self.fixtures + "/controls.plan.json", "--check", "S3.99"], "unknown control"),
      ([Self.fixtures + "/controls.plan.json", "--framework", "iso"], "unknown framework"),
      ([Self.fixtures + "/controls.plan.json", "--no-such-flag"], "no-such-flag"),
      ([], "file"),
    ]
    for (arguments, expected) in cases {
      let run = try await Self.gate(arguments, in: dir)
      #expect(run.status == 2, "\(arguments): \(run.status) \(run.stderr)")
      let lines = run.stderr.split(separator: "\n")
      #expect(lines.count == 1 && run.stderr.contains(expected) && run.stderr.count < 600, "\(arguments): \(run.stderr)")
      #expect(run.stdout.isEmpty, "\(arguments): \(run.stdout)")
    }
    let help = try await Self.gate(["--help"], in: dir)
    #expect(help.status == 0 && help.stdout.contains("Exit codes") && help.stdout.contains("--fail-on"), "\(help.stderr)")
  }
}
