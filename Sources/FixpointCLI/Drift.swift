import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import SwiftProtobuf


/// `fixpoint drift scan`: compares live configuration with baselines now.
struct DriftCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "drift", abstract: "Scan for drift from baselines (drift).",
    discussion: """
      drift compares each resource's live configuration (inventory's) with its latest baseline. \
      It also compares by itself after every sync that changes a resource; a scan is for now.
      """,
    subcommands: [Scan.self])

  static func client(_ c: GRPCClient<some ClientTransport>) -> Fixpoint_V1_DriftService.Client<some ClientTransport> {
    Fixpoint_V1_DriftService.Client(wrapping: c)
  }

  /// `fixpoint drift scan [--provider P | --resource R] [--wait]`
  struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Compare everything, one provider's resources, or one resource (read again from the cloud first) with their baselines.",
      discussion: "With --wait, shows progress, then the drifts found; exits 3 when any is open.")
    @Option(help: "Only this provider (prv_… or its name).") var provider: String?
    @Option(help: "Only this resource (res_…, an ARN or the cloud's id); inventory reads it from the cloud first.") var resource: String?
    @Option(help: "An IaC definition (name or iac_…) against the live cloud, instead of baselines; `fixpoint iac drift` shows its report.")
    var definition: String?
    @Flag(help: "Wait for the scan to finish, showing progress.") var wait = false
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      if [self.provider, self.resource, self.definition].compactMap({ $0 }).count > 1 {
        throw ValidationError("give at most one of --provider, --resource and --definition")
      }
    }

    func run() async throws {
      let provider = try await self.connection.providerID(self.provider)
      let resource = try await self.connection.resourceID(self.resource)
      let request = Fixpoint_V1_RunScanRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        if let p = provider {
          $0.providerID = p
        } else if let r = resource {
          $0.resourceID = r
        } else if let d = self.definition {
          $0.definition = d
        } else {
          $0.all = true
        }
      }
      let wait = self.wait
      let run = try await self.connection.call(.drift) { client in
        var run = try await DriftCommand.client(client).runScan(request, options: cliCallOptions)
        guard wait else { return run }
        while run.progress.state == .queued || run.progress.state == .running {
          try await Task.sleep(for: .milliseconds(300))
          run = try await DriftCommand.client(client).getJobRun(.with { $0.jobID = run.id }, options: cliCallOptions)
          FileHandle.standardError.write(Data("\rscanning: \(run.progress.message)   ".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        return run
      }
      if self.output == .json { return try printMessages([run], columns: [], format: .json) }
      guard wait else { return try printMessages([run], columns: Jobs.columns, format: .table) }
      if run.progress.state == .failed {
        FileHandle.standardError.write(Data("scan \(run.id) failed: \(run.progress.error)\n".utf8))
        throw ExitCode(2)
      }
      print("scan \(run.id): \(run.progress.counters["resources_seen"] ?? 0) resources compared, \(run.driftsFound) drifts new or changed")
      if run.driftsFound > 0 { throw ExitCode(3) }
    }
  }
}

/// `fixpoint drifts list | show | investigate | resolve | reopen | schedules`
struct Drifts: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Drifts from baselines and their scan schedules (drift).",
    discussion: """
      A drift is one resource's differences from its baseline: security when the change made a \
      control fail (its id is shown), compliance when it broke a framework requirement, otherwise \
      configuration. It resolves by itself when the live state returns to the baseline or a new \
      baseline is captured (`fixpoint baseline capture`).
      """,
    subcommands: [List.self, ShowDrift.self, Investigate.self, Resolve.self, Reopen.self, Schedules.self])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List drifts, newest first.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "\(Fixpoint_V1_Drift.Status.allValueStrings.joined(separator: ", ")).") var status: Fixpoint_V1_Drift.Status?
    @Option(help: "\(Fixpoint_V1_Drift.Kind.allValueStrings.joined(separator: ", ")).") var kind: Fixpoint_V1_Drift.Kind?
    @Option(help: "Only this resource id.") var resource: String?
    @Option(help: "Only drifts at least this severe.") var minSeverity: Fixpoint_V1_Severity?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_ListDriftsRequest.with {
        $0.status = self.status ?? .unspecified
        $0.kind = self.kind ?? .unspecified
        $0.resourceID = self.resource ?? ""
        $0.minSeverity = self.minSeverity ?? .unspecified
      }
      let (drifts, more) = try await self.connection.call(.drift) { client in
        try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await DriftCommand.client(client).listDrifts(page, options: cliCallOptions)
          return (response.drifts, response.nextPageToken)
        }
      }
      try printMessages(
        drifts,
        columns: [
          Column("id") { $0.id }, Column("status") { Show.name($0.status) }, Column("kind") { Show.name($0.kind) },
          Column("severity") { Show.name($0.severity) }, Column("control") { $0.controlID }, Column("resource") { Show.resource($0.resource) },
          Column("differences") { "\($0.differences.count)" }, Column("against") { $0.comparedWith }, Column("detected") { Show.time($0.detectedAt) },
        ], format: self.listing.output, more: more)
    }
  }

  /// `fixpoint drifts show ID`: the differences side by side, then the history.
  struct ShowDrift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a drift: each differing path with its baseline and live value, and its history.")
    @Argument(help: "The drift id (dft_…).") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      let d = try await self.connection.call(.drift) { try await DriftCommand.client($0).getDrift(.with { $0.driftID = id }, options: cliCallOptions) }
      if self.output == .json { return try printMessages([d], columns: [], format: .json) }
      print("\(d.id)  \(Show.name(d.status))  \(Show.name(d.kind))  \(Show.name(d.severity))\(d.controlID.isEmpty ? "" : "  breaks \(d.brokenControls.joined(separator: ", "))")")
      print("resource:  \(Show.resource(d.resource))")
      print("against:   \(d.comparedWith)   detected \(Show.time(d.detectedAt))")
      let value = { (v: Google_Protobuf_Value) -> String in
        if case .nullValue = v.kind { return "(absent)" }
        return (try? v.jsonString()) ?? ""
      }
      let rows = d.differences.map { [$0.path, value($0.before), value($0.after)] }
      Drifts.table([["path", "baseline", "live"]] + rows)
      if !d.history.isEmpty {
        print("history:")
        for h in d.history {
          print("  \(Show.time(h.by.time))  \(h.event.padding(toLength: 13, withPad: " ", startingAt: 0)) by \(h.by.subject)\(h.comment.isEmpty ? "" : ": \(h.comment)")")
        }
      }
    }
  }

  /// Prints rows as aligned columns, each cell cut at 60 characters.
  static func table(_ rows: [[String]]) {
    let cut = rows.map { $0.map { $0.count > 60 ? String($0.prefix(59)) + "…" : $0 } }
    let widths = (0..<(cut.first?.count ?? 0)).map { i in cut.map { $0[i].count }.max() ?? 0 }
    for row in cut {
      print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
    }
  }

  static func update(_ connection: ConnectionOptions, _ id: String, _ status: Fixpoint_V1_Drift.Status, _ comment: String, _ output: OutputFormat) async throws {
    let request = Fixpoint_V1_UpdateDriftStatusRequest.with {
      $0.requestID = RandomID.make(prefix: "cli")
      $0.driftID = id
      $0.status = status
      $0.comment = comment
    }
    let d = try await connection.call(.drift) { try await DriftCommand.client($0).updateDriftStatus(request, options: cliCallOptions) }
    if output == .json { return try printMessages([d], columns: [], format: .json) }
    print("\(d.id) is \(Show.name(d.status))")
  }

  struct Investigate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Mark a drift as being investigated.")
    @Argument(help: "The drift id (dft_…).") var id: String
    @Option(help: "Why, or who is on it.") var comment = ""
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions
    func run() async throws { try await Drifts.update(self.connection, self.id, .investigating, self.comment, self.output) }
  }

  struct Resolve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Resolve a drift by hand.",
      discussion: "A later scan that still sees the difference opens a new drift: to accept the live state, capture a new baseline instead.")
    @Argument(help: "The drift id (dft_…).") var id: String
    @Option(help: "Why it is resolved (required).") var comment: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions
    func run() async throws { try await Drifts.update(self.connection, self.id, .resolved, self.comment, self.output) }
  }

  struct Reopen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open a resolved drift again (status detected).")
    @Argument(help: "The drift id (dft_…).") var id: String
    @Option(help: "Why.") var comment = ""
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions
    func run() async throws { try await Drifts.update(self.connection, self.id, .detected, self.comment, self.output) }
  }

  struct Schedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List drift's schedules (as `fixpoint schedules list`).")
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions
    func run() async throws { try await SchedulesCommand.list(self.connection, self.output) }
  }
}

/// `fixpoint schedules list | set | run`: the jobs drift runs by itself.
struct SchedulesCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "schedules", abstract: "The jobs drift runs on a schedule: resource_sync, drift_detection, compliance_check.",
    discussion: """
      resource_sync asks inventory to sync every provider; drift_detection scans every resource       against its baseline and every IaC definition against the cloud (default: every 4 h);       compliance_check asks compliance to assess the enabled frameworks. A schedule is an interval       or a cron expression; a run missed while drift was down runs once at its next start, and a       schedule never runs twice at once. Each run is a job (`fixpoint jobs list`).
      """,
    subcommands: [ListSchedules.self, Set.self, RunNow.self])

  static func list(_ connection: ConnectionOptions, _ output: OutputFormat) async throws {
    let schedules = try await connection.call(.drift) { client in
      try await DriftCommand.client(client).listSchedules(.init(), options: cliCallOptions).schedules
    }
    try printMessages(
      schedules,
      columns: [
        Column("name") { $0.name }, Column("enabled") { "\($0.enabled)" },
        Column("every") { $0.cron.isEmpty ? "\($0.intervalSeconds)s" : "cron '\($0.cron)' \($0.timeZone)" },
        Column("next-run") { Show.time($0.nextRunAt) }, Column("last-run") { Show.time($0.lastRunAt) },
        Column("last-job") { $0.lastJobID + ($0.running ? " (running)" : "") },
      ], format: output)
  }

  struct ListSchedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the schedules, their next and last runs.")
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions
    func run() async throws { try await SchedulesCommand.list(self.connection, self.output) }
  }

  /// "90", "90s", "30m", "4h", "1d" as seconds.
  static func seconds(_ text: String) -> Int64? {
    let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
    if let unit = text.last.flatMap({ units[$0] }), let n = Int64(text.dropLast()) { return n * unit }
    return Int64(text)
  }

  struct Set: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-time, enable or disable a schedule.")
    @Argument(help: "resource_sync, drift_detection or compliance_check.") var name: String
    @Option(help: "The interval: 90s, 30m, 4h, 1d.") var every: String?
    @Option(help: "A cron expression: minute hour day-of-month month day-of-week.") var cron: String?
    @Option(help: "The cron expression's time zone (default UTC).") var timeZone: String?
    @Flag(help: "Disable the schedule.") var disable = false
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      guard (self.every == nil) != (self.cron == nil) else { throw ValidationError("give one of --every and --cron") }
      if let every = self.every, SchedulesCommand.seconds(every) == nil { throw ValidationError("--every: '\(every)' is not 90s, 30m, 4h or 1d") }
    }

    func run() async throws {
      let request = Fixpoint_V1_UpdateScheduleRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.name = self.name
        $0.enabled = !self.disable
        $0.intervalSeconds = self.every.flatMap(SchedulesCommand.seconds) ?? 0
        $0.cron = self.cron ?? ""
        $0.timeZone = self.timeZone ?? ""
      }
      let s = try await self.connection.call(.drift) { try await DriftCommand.client($0).updateSchedule(request, options: cliCallOptions) }
      if self.output == .json { return try printMessages([s], columns: [], format: .json) }
      print(s.enabled ? "\(s.name): next run \(Show.time(s.nextRunAt))" : "\(s.name): disabled")
    }
  }

  struct RunNow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run a schedule now; refused while its previous run is still going.")
    @Argument(help: "resource_sync, drift_detection or compliance_check.") var name: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_RunScheduleRequest.with { $0.requestID = RandomID.make(prefix: "cli"); $0.name = self.name }
      let job = try await self.connection.call(.drift) { try await DriftCommand.client($0).runSchedule(request, options: cliCallOptions) }
      try printMessages([job], columns: Jobs.columns, format: self.output)
    }
  }
}

/// `fixpoint jobs list`: drift's job runs (scans, changed-resource comparisons, schedules).
struct Jobs: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "drift's job runs, newest first.", subcommands: [List.self])

  static let columns: [Column<Fixpoint_V1_JobRun>] = [
    Column("id") { $0.id }, Column("trigger") { $0.trigger }, Column("by") { $0.requestedBy }, Column("state") { Show.name($0.progress.state) },
    Column("resources") { "\($0.progress.counters["resources_seen"] ?? 0)" }, Column("drifts") { "\($0.driftsFound)" },
    Column("started") { Show.time($0.progress.startedAt) }, Column("message") { $0.progress.error.isEmpty ? $0.progress.message : $0.progress.error },
  ]

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List job runs, newest first.")
    @OptionGroup var listing: ListingOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let (runs, more) = try await self.connection.call(.drift) { client in
        try await self.listing.collect { token, size in
          let response = try await DriftCommand.client(client).listJobRuns(.with { $0.pageToken = token; $0.pageSize = size }, options: cliCallOptions)
          return (response.runs, response.nextPageToken)
        }
      }
      try printMessages(runs, columns: Jobs.columns, format: self.listing.output, more: more)
    }
  }
}
