import ArgumentParser
import FixpointControls
import FixpointCore
import FixpointGate
import Foundation

/// `fixpoint gate`: a Terraform plan assessed offline, for CI.
struct GateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gate",
    abstract: "Fail a CI job when a Terraform plan would create or change a resource that breaks a control.",
    discussion: """
      Evaluates the after-apply state of every resource a plan (`terraform show -json PLANFILE`) \
      creates, updates or replaces, with the same controls the compliance service assesses live \
      resources with. Also reads a Terraform state or a CloudFormation template (every resource). \
      Needs no Fixpoint service. A value known only after apply, or a field a plan cannot state \
      (an IAM user's keys), is not evaluated, never failed; a delete never fails.

      Exit codes: 0 nothing at or above --fail-on fails; 1 something does; 2 bad usage or input \
      (unreadable file, not a plan, unsupported format version), with the reason on stderr.

      Several reports in one run: --format sarif -o gate.sarif --format junit -o gate.xml. A \
      --format without its -o goes to standard output (at most one). Without --format: a table.

      Waivers (--waivers FILE), YAML:
        - control: S3.8            # a control id, or * for all
          resource: aws_s3_bucket.public_*   # a glob over addresses
          reason: the website bucket is public by design
          owner: web-team@example.com
          expires: 2027-06-30      # the last day it applies
      An expired waiver is reported and no longer applies.
      """)

  @Argument(help: "The plan JSON (terraform show -json), a Terraform state, or a CloudFormation template.")
  var file: String

  @Option(help: "The framework whose controls run (\(FrameworkCatalogue.all.map(\.id).joined(separator: ", "))).")
  var framework = "fsbp"

  @Option(name: .customLong("check"), help: "Run only this control (repeatable), e.g. --check S3.8 --check EC2.13.")
  var checks: [String] = []

  @Option(name: .customLong("skip-check"), help: "Do not run this control (repeatable).")
  var skipChecks: [String] = []

  @Option(name: .customLong("fail-on"), help: "The least severity that fails the gate: informational, low, medium, high, critical.")
  var failOn = "low"

  @Option(help: "A YAML file of waivers (see above).")
  var waivers: String?

  @Option(name: .customLong("format"), help: "table, json, sarif or junit (repeatable, paired in order with -o).")
  var formats: [String] = []

  @Option(name: [.customShort("o"), .customLong("output-file")], help: "Where the matching --format goes (repeatable).")
  var outputs: [String] = []

  @Option(name: .customLong("source-dir"), help: "The Terraform sources: findings point at the .tf file and line of their resource block.")
  var sourceDir: String?

  @Flag(name: .customLong("include-unchanged"), help: "Also assess resources the plan leaves unchanged.")
  var includeUnchanged = false

  @Option(name: .customLong("parameters"), help: "Control parameters as JSON, e.g. '{\"IAM.3\": {\"max_access_key_age_days\": 60}}'.")
  var parameters = ""

  func run() throws {
    var options = Gate.Options()
    options.framework = self.framework
    options.checks = self.checks
    options.skipChecks = self.skipChecks
    options.includeUnchanged = self.includeUnchanged
    guard let failOn = Severity(rawValue: self.failOn.lowercased()) else {
      throw GateUsage("--fail-on: '\(self.failOn)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    options.failOn = failOn
    do { options.parameters = try ParameterOverrides(json: self.parameters) } catch { throw GateUsage("--parameters: \(error)") }
    if let dir = self.sourceDir {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else { throw GateUsage("--source-dir: \(dir) is not a directory") }
      options.sourceDir = dir
    }
    let formats = try (self.formats.isEmpty ? ["table"] : self.formats).map { text in
      guard let format = GateFormat(rawValue: text.lowercased()) else {
        throw GateUsage("--format: '\(text)' is not one of \(GateFormat.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      return format
    }
    guard self.outputs.count <= formats.count else { throw GateUsage("-o: \(self.outputs.count) output files for \(formats.count) --format") }
    guard formats.count - self.outputs.count <= 1 else {
      throw GateUsage("--format: only one report can go to standard output; give each other one its -o FILE")
    }
    if let path = self.waivers {
      guard let data = FileManager.default.contents(atPath: path) else { throw GateUsage("--waivers: cannot read \(path)") }
      do { options.waivers = try Waiver.parse(data) } catch { throw GateUsage("--waivers \(path): \(error.description)") }
    }
    let report: Gate.Report
    do { report = try Gate.evaluate(file: self.file, options: options) } catch { throw GateUsage(error.description) }
    for (i, format) in formats.enumerated() {
      let data = report.render(format, version: FixpointVersion.current)
      if i < self.outputs.count {
        do { try data.write(to: URL(fileURLWithPath: self.outputs[i]), options: .atomic) } catch {
          throw GateUsage("-o \(self.outputs[i]): cannot write: \((error as NSError).localizedDescription)")
        }
      } else {
        FileHandle.standardOutput.write(data)
      }
    }
    // The summary always reaches the log, even when every report went to files.
    if self.outputs.count == formats.count { FileHandle.standardError.write(Data((report.summary + "\n").utf8)) }
    if report.exitCode != 0 { throw ExitCode(report.exitCode) }
  }

  /// Parses and runs `fixpoint gate ARGS` with CI's exit codes: usage and input errors exit 2 with
  /// one line on stderr (ArgumentParser's own would be 64), help exits 0.
  static func mainExiting(_ arguments: [String]) -> Never {
    do {
      var command = try Self.parse(arguments)
      try command.run()
      Foundation.exit(0)
    } catch let code as ExitCode {
      Foundation.exit(code.rawValue)
    } catch let usage as GateUsage {
      FileHandle.standardError.write(Data("fixpoint gate: \(usage.description)\n".utf8))
      Foundation.exit(2)
    } catch {
      if Self.exitCode(for: error) == .success { Self.exit(withError: error) }
      let message = Self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
      FileHandle.standardError.write(Data("fixpoint gate: \(message) (see fixpoint gate --help)\n".utf8))
      Foundation.exit(2)
    }
  }
}

/// A usage or input error of the gate: exit 2.
struct GateUsage: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
