import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SwiftProtobuf

extension Fixpoint_V1_ActionState: CLIEnum {}
extension Fixpoint_V1_Tier: CLIEnum {}
extension Fixpoint_V1_NotRun.Cause: CLIEnum {}

private let actionColumns: [Column<Fixpoint_V1_Action>] = [
  Column("id") { $0.id }, Column("state") { Show.name($0.state) }, Column("handler") { $0.handler },
  Column("resource") { Show.resource($0.resource) }, Column("tier") { Show.name($0.tier) }, Column("risk") { Show.name($0.risk) },
  Column("approval") { $0.requiresApproval ? "required" : "no" }, Column("description") { $0.description_p },
]

/// Runs `body` with a dispatcher client.
private func dispatcher<R: Sendable>(
  _ connection: ConnectionOptions, _ body: @Sendable (Fixpoint_V1_RemediationService.Client<HTTP2ClientTransport.Posix>) async throws -> R
) async throws -> R {
  try await connection.call(.dispatcher) { try await body(Fixpoint_V1_RemediationService.Client(wrapping: $0)) }
}

/// `fixpoint remediation …`
struct Remediation: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Remediation actions: suggest, review, approve, execute, roll back (remediation-dispatcher).",
    subcommands: [Suggest.self, List.self, ShowAction.self, Approve.self, Reject.self, Execute.self, Rollback.self, Handlers.self])

  struct Suggest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Plan an action for a finding: the handler, the exact change (a dry run) and whether it needs approval.",
      discussion: """
        With dispatcher.auto.suggest on (the default) every finding is planned as it arrives; \
        --all-open plans the open findings recorded before that (or while it was off), each \
        answered with its action or why it has none.
        """)
    @Option(help: "The finding (fnd_…).") var finding: String?
    @Option(help: "Use this handler instead of the one matching the finding's control.") var handler: String?
    @Flag(help: "Every open finding.") var allOpen = false
    @Option(help: "With --all-open: only findings of this control, e.g. S3.8.") var control: String?
    @Option(help: "With --all-open: only findings on this provider's resources (prv_… or its name).") var provider: String?
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      guard (self.finding == nil) == self.allOpen else { throw ValidationError("give --finding, or --all-open") }
      if !self.allOpen, self.control != nil || self.provider != nil { throw ValidationError("--control and --provider go with --all-open") }
      if self.allOpen, self.handler != nil { throw ValidationError("--handler goes with --finding") }
    }

    func run() async throws {
      guard let finding = self.finding else { return try await self.suggestAllOpen() }
      let action = try await dispatcher(self.connection) { d in
        try await d.suggestAction(.with {
          $0.requestID = RandomID.make(prefix: "cli")
          $0.findingID = finding
          $0.handler = self.handler ?? ""
        }, options: cliCallOptions)
      }
      try printAction(action, format: self.output)
    }

    /// One suggestion per open finding, each answered: its action, or why none.
    func suggestAllOpen() async throws {
      let provider = try await self.connection.providerID(self.provider)
      let (control, progress) = (self.control ?? "", self.output == .table)
      let rows = try await dispatcher(self.connection) { d -> [[String: String]] in
        let open = try await allPages { token in
          let page = try await d.listFindings(.with { $0.status = .open; $0.controlID = control; $0.pageSize = 500; $0.pageToken = token }, options: cliCallOptions)
          return (page.findings.filter { provider == nil || $0.resource.providerID == provider }, page.nextPageToken)
        }
        var rows: [[String: String]] = []
        for (i, f) in open.enumerated() {
          if progress { FileHandle.standardError.write(Data("\rplanning \(i + 1) of \(open.count)…".utf8)) }
          var row = ["finding": f.id, "control": f.controlID.isEmpty ? f.findingType : f.controlID, "resource": Show.resource(f.resource)]
          do {
            let a = try await d.suggestAction(.with { $0.requestID = RandomID.make(prefix: "cli"); $0.findingID = f.id }, options: cliCallOptions)
            (row["action"], row["state"], row["outcome"]) = (a.id, Show.name(a.state), "planned")
          } catch let error as RPCError {
            row["outcome"] = error.message
          }
          rows.append(row)
        }
        if progress, !open.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
        return rows
      }
      try printListing(rows, columns: ["finding", "control", "resource", "action", "state", "outcome"], format: self.output)
      if self.output == .table {
        let planned = rows.filter { $0["action"] != nil }
        let waiting = planned.filter { $0["state"] == Show.name(Fixpoint_V1_ActionState.pendingApproval) }.count
        print("\(rows.count) open findings: \(planned.count) with an action (\(waiting) waiting for approval), \(rows.count - planned.count) without (see outcome)")
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List actions, newest first.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "\(Fixpoint_V1_ActionState.allValueStrings.joined(separator: ", ")).") var state: Fixpoint_V1_ActionState?
    @Option(help: "Only actions on this resource (res_…, an ARN or the cloud's id).") var resource: String?
    @Option(help: "Only this handler.") var handler: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let resource = try await self.connection.resourceID(self.resource)
      let request = Fixpoint_V1_ListActionsRequest.with {
        $0.state = self.state ?? .unspecified
        $0.resourceID = resource ?? ""
        $0.handler = self.handler ?? ""
      }
      let (actions, more) = try await dispatcher(self.connection) { d in
        try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await d.listActions(page, options: cliCallOptions)
          return (response.actions, response.nextPageToken)
        }
      }
      try printMessages(actions, columns: actionColumns, format: self.listing.output, more: more)
    }
  }

  struct ShowAction: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "show", abstract: "Show an action: description, resource, current configuration, planned diff, risk, tier, reversibility, snapshot.")
    @Argument(help: "The action (act_…).") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let action = try await dispatcher(self.connection) { try await $0.getAction(.with { $0.actionID = self.id }, options: cliCallOptions) }
      try printAction(action, format: self.output)
    }
  }

  struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Approve an action, or every action waiting for approval (approver or admin; never your own).")
    @Argument(help: "The action (act_…).") var id: String?
    @Flag(help: "Every action waiting for approval that you may approve; the others are listed with the reason (guidance-only actions, which make no change, are listed and left).") var allPending = false
    @Option(help: "With --all-pending: only actions for findings of this control, e.g. S3.8.") var control: String?
    @Option(help: "With --all-pending: only this handler's actions.") var handler: String?
    @Option(help: "Why, for the audit trail.") var comment: String = ""
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      guard (self.id == nil) == self.allPending else { throw ValidationError("give an action id, or --all-pending") }
      if !self.allPending, self.control != nil || self.handler != nil { throw ValidationError("--control and --handler go with --all-pending") }
      if self.control != nil, self.handler != nil { throw ValidationError("give --control or --handler, not both") }
    }

    func run() async throws {
      guard let id = self.id else { return try await self.approveAllPending() }
      let comment = self.comment
      let action = try await dispatcher(self.connection) { d in
        try await d.approveAction(.with { ($0.requestID, $0.actionID, $0.comment) = (RandomID.make(prefix: "cli"), id, comment) }, options: cliCallOptions)
      }
      try printMessages([action], columns: actionColumns, format: self.output)
    }

    /// Approves each pending action the caller may approve; every other one is listed with why.
    /// Exit status 3 when any was left.
    func approveAllPending() async throws {
      let (control, handler, comment) = (self.control ?? "", self.handler ?? "", self.comment)
      let rows = try await dispatcher(self.connection) { d -> [[String: String]] in
        // An action names its finding, and the finding its control.
        let findings: Set<String>? = control.isEmpty ? nil : Set(try await allPages { token in
          let page = try await d.listFindings(.with { $0.controlID = control; $0.pageSize = 500; $0.pageToken = token }, options: cliCallOptions)
          return (page.findings.map(\.id), page.nextPageToken)
        })
        let pending = try await allPages { token in
          let page = try await d.listActions(.with { $0.state = .pendingApproval; $0.handler = handler; $0.pageSize = 500; $0.pageToken = token }, options: cliCallOptions)
          return (page.actions.filter { findings?.contains($0.findingID) ?? true }, page.nextPageToken)
        }
        var rows: [[String: String]] = []
        for a in pending {
          var row = ["action": a.id, "handler": a.handler, "resource": Show.resource(a.resource), "tier": Show.name(a.tier)]
          if a.isGuidanceOnly {
            // Nothing to consent to: the dispatcher refuses to approve guidance. Listed, not counted as refused.
            (row["outcome"], row["why"]) = ("guidance only", "makes no change: fix it by hand as its guidance says, then reject it to close it")
            rows.append(row)
            continue
          }
          do {
            let approved = try await d.approveAction(.with { ($0.requestID, $0.actionID, $0.comment) = (RandomID.make(prefix: "cli"), a.id, comment) }, options: cliCallOptions)
            (row["outcome"], row["why"]) = ("approved", "until \(Show.time(approved.approvalExpiresAt))")
          } catch let error as RPCError {
            (row["outcome"], row["why"]) = ("not approved", error.message)
          }
          rows.append(row)
        }
        return rows
      }
      try printListing(rows, columns: ["action", "handler", "resource", "tier", "outcome", "why"], format: self.output)
      let left = rows.filter { $0["outcome"] == "not approved" }.count
      let guidance = rows.filter { $0["outcome"] == "guidance only" }.count
      if self.output == .table {
        print("\(rows.count) pending: \(rows.count - left - guidance) approved, \(left) not approved" + (guidance > 0 ? ", \(guidance) guidance only" : ""))
      }
      if left > 0 { throw ExitCode(3) }
    }
  }

  struct Reject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reject an action waiting for approval (approver or admin; --comment required).")
    @OptionGroup var step: ActionStep

    func validate() throws {
      guard !self.step.comment.isEmpty else { throw ValidationError("say why with --comment") }
    }

    func run() async throws {
      try await self.step.run { d, r in try await d.rejectAction(.with { ($0.requestID, $0.actionID, $0.comment) = r }, options: cliCallOptions) }
    }
  }

  struct Execute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Execute approved actions: snapshot, apply, verify; each tier within its concurrency and timeout.")
    @Argument(help: "Action ids (act_…).") var ids: [String] = []
    @Flag(help: "Every approved action.") var allApproved = false
    @Flag(help: "Only show what would change.") var dryRun = false
    @Flag(help: "Run the named failed actions again, as a new attempt, once their cause is gone (through approval again when they need one).") var retry = false
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      guard self.ids.isEmpty == self.allApproved else { throw ValidationError("give action ids or --all-approved") }
      if self.retry, self.ids.isEmpty || self.dryRun { throw ValidationError("--retry takes the failed actions' ids, without --dry-run") }
    }

    func run() async throws {
      let answer = try await dispatcher(self.connection) { d in
        var options = cliCallOptions
        options.timeout = .seconds(3600)
        options.maxRequestMessageBytes = 256 << 20  // the largest answer accepted (grpc-swift reads it from this option on the client)
        return try await d.executeAction(.with {
          $0.requestID = RandomID.make(prefix: "cli")
          $0.actionIds = self.ids
          $0.allApproved = self.allApproved
          $0.dryRun = self.dryRun
          $0.retryFailed = self.retry
        }, options: options)
      }
      let failed = answer.actions.filter { $0.state == .failed }.count
      switch self.output {
      case .json:
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        print(try answer.jsonString(options: options))
      case .table:
        // One row per action asked about: those that ran as they ended, the others with why not.
        var rows = answer.actions.map { a in
          ["action": a.id, "handler": a.handler, "tier": Show.name(a.tier), "resource": Show.resource(a.resource),
           "outcome": Show.name(a.state), "why": a.failureReason]
        }
        rows += answer.notRun.map { n in
          ["action": n.actionID, "outcome": "not run (\(Show.name(n.cause)))", "why": n.reason]
        }
        try printListing(rows, columns: ["action", "handler", "tier", "resource", "outcome", "why"], format: .table)
        let completed = answer.actions.count - failed
        print("\(answer.actions.count + answer.notRun.count) asked: \(self.dryRun ? "\(completed) planned" : "\(completed) ran"), \(failed) failed, \(answer.notRun.count) not run")
      }
      // Anything asked for and not done is a non-zero exit: 2 for a failure, 3 for not run.
      if failed > 0 { throw ExitCode(2) }
      if !answer.notRun.isEmpty { throw ExitCode(3) }
    }
  }

  struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Undo a completed action within its rollback window, from its snapshot.")
    @OptionGroup var step: ActionStep

    func run() async throws {
      try await self.step.run { d, r in try await d.rollbackAction(.with { ($0.requestID, $0.actionID, $0.comment) = r }, options: cliCallOptions) }
    }
  }

  struct Handlers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The handlers, the controls they fix, their tier and risk.")
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let handlers = try await dispatcher(self.connection) { try await $0.listHandlers(.init(), options: cliCallOptions).handlers }
      try printMessages(
        handlers,
        columns: [
          Column("name") { $0.name }, Column("controls") { $0.controlIds.joined(separator: ",") }, Column("types") { $0.resourceTypes.joined(separator: ",") },
          Column("tier") { Show.name($0.tier) }, Column("risk") { Show.name($0.risk) }, Column("reversible") { "\($0.reversible)" },
        ], format: self.output)
    }
  }
}

/// What approve, reject and rollback share: the action, a comment for the audit trail, the output.
struct ActionStep: ParsableArguments {
  @Argument(help: "The action (act_…).") var id: String
  @Option(help: "Why, for the audit trail.") var comment: String = ""
  @Option(help: "table or json.") var output: OutputFormat = .table
  @OptionGroup var connection: ConnectionOptions

  /// Calls the step with (request id, action id, comment) and prints the action it answers.
  func run(
    _ call: @escaping @Sendable (Fixpoint_V1_RemediationService.Client<HTTP2ClientTransport.Posix>, (String, String, String)) async throws -> Fixpoint_V1_Action
  ) async throws {
    let request = (RandomID.make(prefix: "cli"), self.id, self.comment)
    let action = try await dispatcher(self.connection) { try await call($0, request) }
    try printMessages([action], columns: actionColumns, format: self.output)
  }
}

/// An action in full, for `show` and `suggest`.
private func printAction(_ action: Fixpoint_V1_Action, format: OutputFormat) throws {
  guard format == .table else {
    try printMessages([action], columns: actionColumns, format: .json)
    return
  }
  func json(_ m: some SwiftProtobuf.Message) -> String { (try? m.jsonString()) ?? "" }
  print("""
    action:      \(action.id) (\(Show.name(action.state)))
    description: \(action.description_p)
    handler:     \(action.handler), tier \(Show.name(action.tier)), risk \(Show.name(action.risk)), \(action.reversible ? "reversible" : "not reversible")
    approval:    \(action.requiresApproval ? "required" : "not required")\(action.approved.subject.isEmpty ? "" : ", approved by \(action.approved.subject)")
    resource:    \(action.resource.resourceID) \(action.resource.type) \(action.resource.externalID)
    snapshot:    \(action.snapshotID.isEmpty ? "none yet" : action.snapshotID)
    """)
  if !action.guidance.isEmpty { print("guidance:    \(action.guidance)") }
  if !action.failureReason.isEmpty { print("failure:     \(action.failureReason)") }
  print("planned diff:")
  for d in action.plannedDiff { print("  \(d.path): \(json(d.before)) → \(json(d.after))") }
  if action.plannedDiff.isEmpty { print("  (nothing to change)") }
  print("current configuration: \(json(action.currentConfiguration))")
}

/// `fixpoint audit …`
struct Audit: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "The tamper-evident audit trail of remediation actions.", subcommands: [ShowTrail.self, Verify.self])

  struct ShowTrail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "The trail of one action, or the whole trail.")
    @OptionGroup var listing: ListingOptions
    @Argument(help: "An action (act_…); empty for the whole trail.") var id: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let (entries, more) = try await dispatcher(self.connection) { d in
        try await self.listing.collect { token, size in
          let response = try await d.getAuditTrail(.with { ($0.actionID, $0.pageToken, $0.pageSize) = (self.id ?? "", token, size) }, options: cliCallOptions)
          return (response.entries, response.nextPageToken)
        }
      }
      try printMessages(
        entries,
        columns: [
          Column("seq") { "\($0.sequence)" }, Column("action") { $0.actionID }, Column("from") { $0.fromState }, Column("to") { $0.toState },
          Column("actor") { $0.actor.subject }, Column("at") { Show.time($0.actor.time) }, Column("comment") { $0.comment },
          Column("hash") { String($0.hash.prefix(12)) },
        ], format: self.listing.output, more: more)
    }
  }

  struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Check the hash chain: names the first edited, inserted or deleted entry. Exit status 4 when broken.")
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let result = try await dispatcher(self.connection) { try await $0.verifyAuditChain(.init(), options: cliCallOptions) }
      if self.output == .json {
        print(try result.jsonString())
      } else if result.valid {
        print("audit chain intact: \(result.entriesChecked) entries checked")
      } else {
        print("audit chain BROKEN at entry \(result.brokenAtSequence): \(result.problem) (\(result.entriesChecked) entries before it are intact)")
      }
      if !result.valid { throw ExitCode(4) }
    }
  }
}

/// `fixpoint policy show`
struct Policy: AsyncParsableCommand {
  static let configuration = CommandConfiguration(abstract: "The remediation policy.", subcommands: [ShowPolicy.self, SetPolicy.self])

  struct SetPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "set", abstract: "Change the policy (admin): only the fields given change; the change is audited.")
    @Option(help: "Whether actions need an approval by default (true or false).") var requireApproval: Bool?
    @Option(help: "HANDLER=always|never|default; repeat for several. Replaces the overrides.") var override: [String] = []
    @Option(help: "A change window for tier 3, 'CRON|DURATION|TIME_ZONE' (e.g. '0 22 * * 1-5|2h|Europe/Berlin'); repeat. Replaces the windows.")
    var window: [String] = []
    @Flag(help: "Remove every change window.") var noWindows = false
    @Option(help: "How long an approval stays valid, e.g. 24h.") var approvalTTL: String?
    @Option(help: "How long a completed action can be rolled back, e.g. 30m (at most 48h).") var rollbackWindow: String?
    @Option(help: "Findings below this severity need an approval.") var minAutoSeverity: Fixpoint_V1_Severity?
    @Option(help: "A batch changing more resources of one type in one account stops (0: no limit).") var blastRadius: Int?
    @Option(help: "A batch changing more than this share (0–1, e.g. 0.25) of an account's resources of one type stops (0: no limit).")
    var blastRadiusShare: Double?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      var policy = Fixpoint_V1_Policy()
      var mask: [String] = []
      if let v = self.requireApproval { policy.requireApproval = v; mask.append("require_approval") }
      if !self.override.isEmpty {
        for o in self.override {
          let parts = o.split(separator: "=", maxSplits: 1).map(String.init)
          let value: Fixpoint_V1_Policy.Override? = parts.count == 2 ? ["always": .always, "never": .never, "default": .default][parts[1].lowercased()] : nil
          guard let value else { throw ValidationError("--override '\(o)' is not HANDLER=always|never|default") }
          policy.handlerOverrides[parts[0]] = value
        }
        mask.append("handler_overrides")
      }
      if !self.window.isEmpty || self.noWindows {
        policy.changeWindows = try self.window.map { w in
          let parts = w.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
          guard parts.count == 3 else { throw ValidationError("--window '\(w)' is not 'CRON|DURATION|TIME_ZONE'") }
          let seconds = Int64(try parseDuration(parts[1]))
          return Fixpoint_V1_ChangeWindow.with { $0.cron = parts[0]; $0.durationSeconds = seconds; $0.timeZone = parts[2] }
        }
        mask.append("change_windows")
      }
      if let t = self.approvalTTL { policy.approvalTtlSeconds = Int64(try parseDuration(t)); mask.append("approval_ttl_seconds") }
      if let t = self.rollbackWindow { policy.rollbackWindowSeconds = Int64(try parseDuration(t)); mask.append("rollback_window_seconds") }
      if let s = self.minAutoSeverity { policy.minAutoSeverity = s; mask.append("min_auto_severity") }
      if let b = self.blastRadius { policy.blastRadiusMaxCount = Int32(b); mask.append("blast_radius_max_count") }
      if let b = self.blastRadiusShare { policy.blastRadiusMaxShare = b; mask.append("blast_radius_max_share") }
      guard !mask.isEmpty else { throw ValidationError("nothing to change: give at least one option") }
      let (request, fields) = (Fixpoint_V1_UpdatePolicyRequest.with { $0.requestID = RandomID.make(prefix: "cli"); $0.policy = policy; $0.updateMask = mask }, mask)
      let updated = try await dispatcher(self.connection) { try await $0.updatePolicy(request, options: cliCallOptions) }
      var options = JSONEncodingOptions()
      options.preserveProtoFieldNames = true
      FileHandle.standardError.write(Data("changed: \(fields.joined(separator: ", "))\n".utf8))
      print(try updated.jsonString(options: options))
    }
  }

  struct ShowPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "The policy in force (approvals, windows, rollback window).")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let policy = try await dispatcher(self.connection) { try await $0.getPolicy(.init(), options: cliCallOptions) }
      var options = JSONEncodingOptions()
      options.preserveProtoFieldNames = true
      print(try policy.jsonString(options: options))
    }
  }
}
