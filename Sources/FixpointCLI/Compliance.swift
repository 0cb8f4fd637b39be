import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import SwiftProtobuf

extension Fixpoint_V1_Result.Status: CLIEnum {}
extension Fixpoint_V1_Result.Change: CLIEnum {}
extension Fixpoint_V1_RequirementStatus.Status: CLIEnum {}
extension Fixpoint_V1_ExportFormat: CLIEnum {}

/// `fixpoint compliance …`: the control catalogue, assessments, results and waivers.
struct Compliance: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Controls, frameworks, assessments and waivers (compliance).",
    discussion: """
      An assessment evaluates a framework's controls on inventory's resources and stores one result \
      per control and resource. Scores count controls (passed ÷ controls with data, as Security Hub \
      does); a requirement without an automated control is manual, never passed.
      """,
    subcommands: [FrameworksList.self, Controls.self, ControlShow.self, Assess.self, Assessments.self, Results.self, Export.self,
                  Waive.self, Waivers.self, Unwaive.self])

  static func client(_ c: GRPCClient<some ClientTransport>) -> Fixpoint_V1_ComplianceService.Client<some ClientTransport> {
    Fixpoint_V1_ComplianceService.Client(wrapping: c)
  }

  static let assessmentColumns: [Column<Fixpoint_V1_Assessment>] = [
    Column("id") { $0.id }, Column("framework") { $0.frameworkID }, Column("state") { Show.name($0.progress.state) },
    Column("score") { $0.scores.first.map { Self.percent($0.score, withData: $0.controlsWithData) } ?? "" },
    Column("pass") { "\($0.passed)" }, Column("fail") { "\($0.failed)" }, Column("waived") { "\($0.waived)" },
    Column("not-evaluated") { "\($0.notEvaluated)" }, Column("new-failures") { "\($0.newFailures)" },
    Column("fixed") { "\($0.newlyFixed)" }, Column("requested") { Show.time($0.requested.time) },
  ]

  static func percent(_ score: Double, withData: Int32) -> String {
    withData == 0 ? "no data" : String(format: "%.0f%%", score * 100)
  }

  /// `fixpoint compliance frameworks`
  struct FrameworksList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "frameworks", abstract: "List frameworks, their sources and counts.")
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let frameworks = try await self.connection.call(.compliance) { try await Compliance.client($0).listFrameworks(.init(), options: cliCallOptions).frameworks }
      try printMessages(
        frameworks,
        columns: [
          Column("id") { $0.id }, Column("name") { $0.name }, Column("version") { $0.version },
          Column("requirements") { "\($0.requirementCount)" }, Column("controls") { "\($0.controlCount)" },
          Column("complete") { $0.complete ? "yes" : "partial" },
        ], format: self.output)
    }
  }

  /// `fixpoint compliance controls [--framework F] [--type T]`
  struct Controls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List controls, optionally of one framework or resource type.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "Only controls evidencing this framework (see `compliance frameworks`).") var framework: String?
    @Option(help: "Only controls of this resource type (e.g. s3_bucket).") var type: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_ListControlsRequest.with { $0.frameworkID = self.framework ?? ""; $0.resourceType = self.type ?? "" }
      let (controls, more) = try await self.connection.call(.compliance) { client in
        try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await Compliance.client(client).listControls(page, options: cliCallOptions)
          return (response.controls, response.nextPageToken)
        }
      }
      try printMessages(
        controls,
        columns: [
          Column("id") { $0.id }, Column("severity") { Show.name($0.severity) }, Column("types") { $0.resourceTypes.joined(separator: ",") },
          Column("title") { $0.title },
        ], format: self.listing.output, more: more)
    }
  }

  /// `fixpoint compliance control ID`
  struct ControlShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "control", abstract: "Show one control: what it reads, its parameters, mappings and fix.")
    @Argument(help: "The control id, e.g. S3.8.") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      let control = try await self.connection.call(.compliance) { try await Compliance.client($0).getControl(.with { $0.controlID = id }, options: cliCallOptions) }
      if self.output == .json { return try printMessages([control], columns: [], format: .json) }
      print("\(control.id)  \(control.title)")
      print("severity:    \(Show.name(control.severity))\(control.automated ? "" : " (checked by hand)")")
      print("types:       \(control.resourceTypes.joined(separator: ", "))")
      print("reads:       \(control.reads.joined(separator: ", "))")
      for p in control.parameters {
        print("parameter:   \(p.name) = \((try? p.defaultValue.jsonString()) ?? "") — \(p.description_p)")
      }
      for (framework, ids) in control.mappings.sorted(by: { $0.key < $1.key }) { print("\(framework.padding(toLength: 13, withPad: " ", startingAt: 0)) \(ids.ids.joined(separator: ", "))") }
      if !control.terraformResource.isEmpty { print("terraform:   \(control.terraformResource).\(control.terraformAttribute)") }
      print("fix:         \(control.remediationGuidance)")
    }
  }

  /// `fixpoint compliance assess --framework F [--provider P] [--control C…] [--wait]`
  struct Assess: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Assess a framework's controls on inventory's resources.",
      discussion: "With --wait, shows progress, then the score per framework and the failures by severity; exits 3 when anything fails.")
    @Option(help: "The framework id (see `compliance frameworks`).") var framework: String
    @Option(help: "Only this provider (prv_… or its name); default every connected one.") var provider: String?
    @Option(help: "Only these controls, comma-separated.") var controls: String?
    @Flag(help: "Wait for the assessment to finish, showing progress.") var wait = false
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let provider = try await self.connection.providerID(self.provider)
      let request = Fixpoint_V1_RunAssessmentRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.frameworkID = self.framework
        $0.providerID = provider ?? ""
        $0.controlIds = self.controls?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
      }
      let wait = self.wait
      let assessment = try await self.connection.call(.compliance) { client in
        var a = try await Compliance.client(client).runAssessment(request, options: cliCallOptions)
        guard wait else { return a }
        while a.progress.state == .queued || a.progress.state == .running {
          try await Task.sleep(for: .milliseconds(300))
          a = try await Compliance.client(client).getAssessment(.with { $0.assessmentID = a.id }, options: cliCallOptions)
          FileHandle.standardError.write(Data("\rassessing: \(a.progress.message)   ".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        return a
      }
      if self.output == .json { return try printMessages([assessment], columns: [], format: .json) }
      guard wait else { return try printMessages([assessment], columns: Compliance.assessmentColumns, format: .table) }
      if assessment.progress.state == .failed {
        FileHandle.standardError.write(Data("assessment \(assessment.id) failed: \(assessment.progress.error)\n".utf8))
        throw ExitCode(2)
      }
      print("assessment \(assessment.id): \(assessment.passed) passed, \(assessment.failed) failed, \(assessment.waived) waived, "
        + "\(assessment.notEvaluated) not evaluated, \(assessment.notApplicable) not applicable")
      for s in assessment.scores {
        print("  \(s.frameworkID.padding(toLength: 16, withPad: " ", startingAt: 0)) \(Compliance.percent(s.score, withData: s.controlsWithData)) "
          + "(\(s.passedControls) of \(s.controlsWithData) controls with data pass)")
      }
      let order = ["critical", "high", "medium", "low", "informational"]
      let failures = order.compactMap { level in assessment.failedBySeverity[level].map { "\($0) \(level)" } }
      print("failures: \(failures.isEmpty ? "none" : failures.joined(separator: ", "))"
        + (assessment.previousAssessmentID.isEmpty ? "" : "; since \(assessment.previousAssessmentID): \(assessment.newFailures) new, \(assessment.newlyFixed) fixed"))
      if assessment.failed > 0 { throw ExitCode(3) }
    }
  }

  /// `fixpoint compliance assessments [--framework F]`
  struct Assessments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List assessments, newest first.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "Only this framework.") var framework: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_ListAssessmentsRequest.with { $0.frameworkID = self.framework ?? "" }
      let (items, more) = try await self.connection.call(.compliance) { client in
        try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await Compliance.client(client).listAssessments(page, options: cliCallOptions)
          return (response.assessments, response.nextPageToken)
        }
      }
      try printMessages(items, columns: Compliance.assessmentColumns, format: self.listing.output, more: more)
    }
  }

  /// `fixpoint compliance results ASSESSMENT [--status fail] [--control C] [--resource R] [--change new-failure]`
  struct Results: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List an assessment's results.")
    @OptionGroup var listing: ListingOptions
    @Argument(help: "The assessment id (asm_…).") var assessment: String
    @Option(help: "\(Fixpoint_V1_Result.Status.allValueStrings.joined(separator: ", ")).") var status: Fixpoint_V1_Result.Status?
    @Option(help: "Only this control.") var control: String?
    @Option(help: "Only this resource (res_…, an ARN or the cloud's id).") var resource: String?
    @Option(help: "\(Fixpoint_V1_Result.Change.allValueStrings.joined(separator: ", ")) (against the previous assessment).")
    var change: Fixpoint_V1_Result.Change?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let resource = try await self.connection.resourceID(self.resource)
      let request = Fixpoint_V1_ListResultsRequest.with {
        $0.assessmentID = self.assessment
        $0.status = self.status ?? .unspecified
        $0.controlID = self.control ?? ""
        $0.resourceID = resource ?? ""
        $0.change = self.change ?? .unspecified
      }
      let (items, more) = try await self.connection.call(.compliance) { client in
        try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await Compliance.client(client).listResults(page, options: cliCallOptions)
          return (response.results, response.nextPageToken)
        }
      }
      try printMessages(
        items,
        columns: [
          Column("control") { $0.controlID }, Column("status") { Show.name($0.status) }, Column("severity") { Show.name($0.severity) },
          Column("resource") { $0.resourceName.isEmpty ? Show.resource($0.resource) : "\($0.resourceName) (\($0.resource.resourceID))" },
          Column("change") { Show.name($0.change) }, Column("reason") { $0.reason },
        ], format: self.listing.output, more: more)
    }
  }

  /// `fixpoint compliance export ASSESSMENT --format F [-o FILE]`
  struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Write an assessment out: json, csv, sarif (2.1.0), junit (XML), asff (Security Hub findings) or html (a report to open in a browser).")
    @Argument(help: "The assessment id (asm_…).") var assessment: String
    @Option(help: "\(Fixpoint_V1_ExportFormat.allValueStrings.joined(separator: ", ")).") var format: Fixpoint_V1_ExportFormat
    @Option(name: [.customShort("o"), .long], help: "Write to this file instead of standard output.") var file: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_ExportAssessmentRequest.with { $0.assessmentID = self.assessment; $0.format = self.format }
      let exported = try await self.connection.call(.compliance) {
        try await Compliance.client($0).exportAssessment(request, options: exportCallOptions)
      }
      if let file = self.file {
        try exported.content.write(to: URL(fileURLWithPath: file), options: .atomic)
        FileHandle.standardError.write(Data("wrote \(exported.content.count) bytes (\(exported.contentType)) to \(file)\n".utf8))
      } else {
        FileHandle.standardOutput.write(exported.content)
      }
    }
  }

  static let waiverColumns: [Column<Fixpoint_V1_Waiver>] = [
    Column("id") { $0.id }, Column("control") { $0.controlID },
    Column("scope") { w in w.resourceID.isEmpty ? w.tagSelector.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") : w.resourceID },
    Column("expires") { Show.time($0.expiresAt) }, Column("by") { $0.created.subject },
    Column("deleted") { $0.hasDeleted ? "\(Show.time($0.deleted.time)) by \($0.deleted.subject)" : "" }, Column("reason") { $0.reason },
  ]

  /// `fixpoint compliance waive --control C (--resource R | --tag k=v…) --reason TEXT --expires 30d`
  struct Waive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Waive a control for one resource or for resources with given tags (approver, admin).",
      discussion: "Every waiver expires: --expires takes a duration (30d, 12h) or an ISO 8601 time, at most 365 days ahead.")
    @Option(help: "The control id.") var control: String
    @Option(help: "One resource (res_…, an ARN or the cloud's id).") var resource: String?
    @Option(help: "A tag the resources must have, key=value; repeat for several (all must match).") var tag: [String] = []
    @Option(help: "Why (recorded with your name).") var reason: String
    @Option(help: "When it stops applying: 30d, 12h, or 2027-01-31T00:00:00Z.") var expires: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let resource = try await self.connection.resourceID(self.resource)
      var selector: [String: String] = [:]
      for t in self.tag {
        let parts = t.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--tag takes key=value, not '\(t)'") }
        selector[parts[0]] = parts[1]
      }
      let expiry: Date
      if let date = ISO8601DateFormatter().date(from: self.expires) {
        expiry = date
      } else {
        expiry = Date().addingTimeInterval(try parseDuration(self.expires))
      }
      let request = Fixpoint_V1_CreateWaiverRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.controlID = self.control
        $0.resourceID = resource ?? ""
        $0.tagSelector = selector
        $0.reason = self.reason
        $0.expiresAt = .init(date: expiry)
      }
      let waiver = try await self.connection.call(.compliance) { try await Compliance.client($0).createWaiver(request, options: cliCallOptions) }
      try printMessages([waiver], columns: Compliance.waiverColumns, format: self.output)
    }
  }

  /// `fixpoint compliance waivers [--all]`
  struct Waivers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List waivers in force (--all: expired and deleted ones too).")
    @OptionGroup var listing: ListingOptions
    @Flag(help: "Also expired and deleted waivers.") var all = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_ListWaiversRequest.with { $0.includeExpired = self.all }
      let (items, more) = try await self.connection.call(.compliance) { client in
        try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await Compliance.client(client).listWaivers(page, options: cliCallOptions)
          return (response.waivers, response.nextPageToken)
        }
      }
      try printMessages(items, columns: Compliance.waiverColumns, format: self.listing.output, more: more)
    }
  }

  /// `fixpoint compliance unwaive ID`
  struct Unwaive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a waiver (kept for the record, with who deleted it).")
    @Argument(help: "The waiver id (wvr_…).") var id: String
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      _ = try await self.connection.call(.compliance) {
        try await Compliance.client($0).deleteWaiver(.with { $0.requestID = RandomID.make(prefix: "cli"); $0.waiverID = id }, options: cliCallOptions)
      }
      print("deleted \(id)")
    }
  }
}
