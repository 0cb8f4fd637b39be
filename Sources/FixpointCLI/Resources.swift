import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore

// Commands over the services' RPCs. Each listing takes --limit and --output table|json; JSON
// prints the whole messages, the table a few columns.

private let alertColumns: [Column<Fixpoint_V1_Alert>] = [
  Column("id") { $0.id }, Column("status") { Show.name($0.status) }, Column("severity") { Show.name($0.severity) },
  Column("type") { $0.eventType }, Column("title") { $0.title }, Column("count") { String($0.count) },
  Column("group") { $0.groupKey }, Column("last seen") { Show.time($0.lastSeenAt) },
]

/// `fixpoint alerts …`
struct Alerts: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List, read, raise, acknowledge and resolve alerts (notifier).",
    subcommands: [List.self, Get.self, Create.self, Acknowledge.self, Resolve.self])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List alerts, newest first.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "Only alerts in this status: \(Fixpoint_V1_Alert.Status.allValueStrings.joined(separator: ", ")).")
    var status: Fixpoint_V1_Alert.Status?
    @Option(name: [.customLong("severity"), .customLong("min-severity")],
            help: "Only alerts at least this severe: \(Fixpoint_V1_Severity.allValueStrings.joined(separator: ", ")).")
    var minSeverity: Fixpoint_V1_Severity?
    @Option(help: "Only alerts of this type, e.g. compliance.violation, drift.security, remediation.failed.") var eventType: String?
    @Option(help: "Only alerts in this group (the group column).") var group: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_ListAlertsRequest.with {
        $0.status = self.status ?? .unspecified
        $0.minSeverity = self.minSeverity ?? .unspecified
        $0.eventType = self.eventType ?? ""
        $0.groupKey = self.group ?? ""
      }
      let (alerts, more) = try await self.connection.call(.notifier) { client in
        let notifier = Fixpoint_V1_NotifierService.Client(wrapping: client)
        return try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await notifier.listAlerts(page, options: cliCallOptions)
          return (response.alerts, response.nextPageToken)
        }
      }
      try printMessages(alerts, columns: alertColumns, format: self.listing.output, more: more)
    }
  }

  struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one alert.")
    @Argument(help: "The alert id (alr_…).") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let alert = try await self.connection.call(.notifier) { client in
        try await Fixpoint_V1_NotifierService.Client(wrapping: client).getAlert(.with { $0.alertID = self.id }, options: cliCallOptions)
      }
      try printMessages([alert], columns: alertColumns, format: self.output)
    }
  }

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Raise an alert by hand (operator or admin).",
      discussion: "Re-running with the same --request-id returns the first alert instead of raising a second.")
    @Option(help: "One-line title.") var title: String
    @Option(help: "Longer text.") var body: String = ""
    @Option(help: "\(Fixpoint_V1_Severity.allValueStrings.joined(separator: ", ")).") var severity: Fixpoint_V1_Severity = .medium
    @Option(help: "What the alert is about, e.g. a resource id.") var subject: String = ""
    @Option(help: "Makes the command safe to repeat; default: a new id.") var requestID: String = RandomID.make(prefix: "cli")
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_CreateAlertRequest.with {
        $0.requestID = self.requestID
        $0.title = self.title
        $0.body = self.body
        $0.severity = self.severity
        $0.subject = self.subject
      }
      let alert = try await self.connection.call(.notifier) { client in
        try await Fixpoint_V1_NotifierService.Client(wrapping: client).createAlert(request, options: cliCallOptions)
      }
      try printMessages([alert], columns: alertColumns, format: self.output)
    }
  }

  struct Acknowledge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ack", abstract: "Acknowledge an open alert.")
    @Argument(help: "The alert id (alr_…).") var id: String
    @Option(help: "Why, for the record.") var comment: String = ""
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_AcknowledgeAlertRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.alertID = self.id
        $0.comment = self.comment
      }
      let alert = try await self.connection.call(.notifier) { client in
        try await Fixpoint_V1_NotifierService.Client(wrapping: client).acknowledgeAlert(request, options: cliCallOptions)
      }
      try printMessages([alert], columns: alertColumns, format: self.output)
    }
  }

  struct Resolve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resolve an alert (final).")
    @Argument(help: "The alert id (alr_…).") var id: String
    @Option(help: "How it was resolved, for the record.") var comment: String = ""
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_ResolveAlertRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.alertID = self.id
        $0.comment = self.comment
      }
      let alert = try await self.connection.call(.notifier) { client in
        try await Fixpoint_V1_NotifierService.Client(wrapping: client).resolveAlert(request, options: cliCallOptions)
      }
      try printMessages([alert], columns: alertColumns, format: self.output)
    }
  }
}

/// `fixpoint findings list`
struct Findings: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Findings the remediation-dispatcher holds.", subcommands: [List.self, ImportFindings.self])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List findings, newest first.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "\(Fixpoint_V1_Finding.Status.allValueStrings.joined(separator: ", ")).") var status: Fixpoint_V1_Finding.Status?
    @Option(help: "Only this control, e.g. S3.8.") var control: String?
    @Option(help: "Only this resource (res_…, an ARN or the cloud's id).") var resource: String?
    @Option(help: "Only findings at least this severe.") var minSeverity: Fixpoint_V1_Severity?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let resource = try await self.connection.resourceID(self.resource)
      let request = Fixpoint_V1_ListFindingsRequest.with {
        $0.status = self.status ?? .unspecified
        $0.controlID = self.control ?? ""
        $0.resourceID = resource ?? ""
        $0.minSeverity = self.minSeverity ?? .unspecified
      }
      let (findings, more) = try await self.connection.call(.dispatcher) { client in
        let dispatcher = Fixpoint_V1_RemediationService.Client(wrapping: client)
        return try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await dispatcher.listFindings(page, options: cliCallOptions)
          return (response.findings, response.nextPageToken)
        }
      }
      try printMessages(
        findings,
        columns: [
          Column("id") { $0.id }, Column("status") { Show.name($0.status) }, Column("severity") { Show.name($0.severity) },
          Column("control") { $0.controlID.isEmpty ? $0.findingType : $0.controlID },
          Column("resource") { Show.resource($0.resource) }, Column("source") { $0.source },
          Column("created") { Show.time($0.createdAt) }, Column("planning") { $0.planning },
        ], format: self.listing.output, more: more)
    }
  }
}

/// `fixpoint frameworks list`
struct Frameworks: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Compliance frameworks (compliance).", subcommands: [List.self])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List frameworks and their control counts.")
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let frameworks = try await self.connection.call(.compliance) { client in
        try await Fixpoint_V1_ComplianceService.Client(wrapping: client).listFrameworks(.init(), options: cliCallOptions).frameworks
      }
      try printMessages(
        frameworks,
        columns: [
          Column("id") { $0.id }, Column("name") { $0.name }, Column("version") { $0.version },
          Column("controls") { "\($0.controlCount)" },
        ], format: self.output)
    }
  }
}
