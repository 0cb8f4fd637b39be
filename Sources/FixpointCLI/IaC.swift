import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import SwiftProtobuf

extension Fixpoint_V1_IaCDefinition.Format: CLIEnum {}

/// `fixpoint iac upload | list | show | delete | drift`
struct IaCCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "iac", abstract: "Infrastructure-as-Code definitions and their drift from the live cloud (drift).",
    discussion: """
      A definition is a Terraform state or plan (`terraform show -json`), a CloudFormation template \
      (YAML or JSON) or Kubernetes manifests, uploaded under a name; uploading the same name again \
      adds a version. `fixpoint iac drift NAME` compares its latest version with the live resources \
      of its scope: changed (attribute by attribute), missing (declared, not live), unmanaged (live, \
      not declared) and coverage. Terraform values unknown until apply and sensitive values are \
      never compared, and secrets in a state are not kept.
      """,
    subcommands: [Upload.self, List.self, ShowDefinition.self, Delete.self, DriftReport.self])

  struct Upload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Upload a definition (at most 50 MiB); a malformed file is refused naming the line or JSON path, and nothing is stored.",
      discussion: """
        Ignore rules (--ignore FILE) use driftctl's .driftignore form, one per line: TYPE.ID to \
        leave a resource out, TYPE.ID.PATH to leave out one attribute (and what is under it); * \
        and ? are wildcards, a dot inside an id is written \\., ! un-ignores, # comments. TYPE is \
        the definition's type (aws_s3_bucket) or inventory's (s3_bucket).
        """)
    @Argument(help: "The file.") var file: String
    @Option(help: "The definition's name (letters, digits, . _ - /).") var name: String
    @Option(help: "auto, terraform-state, terraform-plan, cloudformation or kubernetes.") var format = "auto"
    @Option(help: "The inventory provider (prv_… or its name) whose resources it manages; required at the first upload except for Kubernetes (a re-upload without --provider, --region, --type or --stack keeps the scope).") var provider: String?
    @Option(name: .customLong("region"), help: "A region it manages (repeat; default every region).") var regions: [String] = []
    @Option(name: .customLong("type"), help: "An inventory type it manages (repeat; default the types it declares).") var types: [String] = []
    @Option(help: "CloudFormation: the stack built from the template, whose physical ids match its logical ids (give one --region).")
    var stack: String?
    @Option(help: "An ignore file; on a re-upload the previous rules stay unless this or --clear-ignore is given.") var ignore: String?
    @Flag(help: "Drop the previous version's ignore rules.") var clearIgnore = false
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let formats: [String: Fixpoint_V1_IaCDefinition.Format] = [
        "auto": .unspecified, "terraform-state": .terraformState, "terraform-plan": .terraformPlan, "cloudformation": .cloudformation,
        "kubernetes": .kubernetes,
      ]
      guard let format = formats[self.format] else { throw ValidationError("--format must be one of \(formats.keys.sorted().joined(separator: ", "))") }
      guard let content = FileManager.default.contents(atPath: self.file) else { throw ValidationError("cannot read \(self.file)") }
      var rules = ""
      if let path = self.ignore {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
        rules = String(decoding: data, as: UTF8.self)
      }
      let provider = try await self.connection.providerID(self.provider)
      let request = Fixpoint_V1_UploadIaCDefinitionRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.name = self.name
        $0.format = format
        $0.content = content
        $0.scope = .with {
          $0.providerID = provider ?? ""
          $0.regions = self.regions
          $0.resourceTypes = self.types
          $0.stack = self.stack ?? ""
        }
        $0.ignore = rules
        $0.dropIgnore = self.clearIgnore
      }
      let d = try await self.connection.call(.drift) { try await DriftCommand.client($0).uploadIaCDefinition(request, options: cliCallOptions) }
      if self.output == .json { return try printMessages([d], columns: [], format: .json) }
      print("\(d.name) (\(d.id)) version \(d.version): \(d.resourceCount) resources to compare, sha256 \(d.sha256.prefix(12))…")
      if !d.unsupportedTypes.isEmpty {
        print("not compared (no inventory type yet): " + d.unsupportedTypes.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
      }
    }
  }

  static let columns: [Column<Fixpoint_V1_IaCDefinition>] = [
    Column("id") { $0.id }, Column("name") { $0.name }, Column("format") { Show.name($0.format) }, Column("version") { "\($0.version)" },
    Column("resources") { "\($0.resourceCount)" }, Column("provider") { $0.scope.providerID },
    Column("uploaded") { Show.time($0.uploaded.time) }, Column("by") { $0.uploaded.subject },
  ]

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List definitions by name.")
    @OptionGroup var listing: ListingOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let (definitions, more) = try await self.connection.call(.drift) { client in
        try await self.listing.collect { token, size in
          let r = try await DriftCommand.client(client).listIaCDefinitions(.with { $0.pageToken = token; $0.pageSize = size }, options: cliCallOptions)
          return (r.definitions, r.nextPageToken)
        }
      }
      try printMessages(definitions, columns: IaCCommand.columns, format: self.listing.output, more: more)
    }
  }

  struct ShowDefinition: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a definition: scope, versions and declared resources.")
    @Argument(help: "The name or id (iac_…).") var definition: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let reference = self.definition
      var d = try await self.connection.call(.drift) { try await DriftCommand.client($0).getIaCDefinition(.with { $0.definitionID = reference }, options: cliCallOptions) }
      d.content = Data()
      if self.output == .json { return try printMessages([d], columns: [], format: .json) }
      print("\(d.name) (\(d.id))  \(Show.name(d.format))  version \(d.version)")
      print("scope:     provider \(d.scope.providerID.isEmpty ? "-" : d.scope.providerID); regions \(d.scope.regions.isEmpty ? "all" : d.scope.regions.joined(separator: ",")); types \(d.scope.resourceTypes.isEmpty ? "declared" : d.scope.resourceTypes.joined(separator: ","))")
      if !d.ignore.isEmpty { print("ignoring:  \(d.ignore.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }.joined(separator: "; "))") }
      print("versions:")
      for v in d.versions { print("  v\(v.version)  \(Show.time(v.uploaded.time))  by \(v.uploaded.subject)  \(v.resourceCount) resources  \(v.sha256.prefix(12))") }
      Drifts.table([["address", "type", "key", "action"]] + d.declared.map { [$0.address, $0.type.isEmpty ? $0.sourceType : $0.type, $0.key, $0.action] })
    }
  }

  struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a definition with its versions and reports; its open drifts are resolved.")
    @Argument(help: "The name or id (iac_…).") var definition: String
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let request = Fixpoint_V1_DeleteIaCDefinitionRequest.with { $0.requestID = RandomID.make(prefix: "cli"); $0.definitionID = self.definition }
      let r = try await self.connection.call(.drift) { try await DriftCommand.client($0).deleteIaCDefinition(request, options: cliCallOptions) }
      print("deleted \(r.definitionID)")
    }
  }

  /// `fixpoint iac drift NAME`: compare now, then print the report.
  struct DriftReport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "drift", abstract: "Compare a definition with the live cloud now and show what changed, is missing or unmanaged, and coverage.",
      discussion: "Exits 3 when anything changed, is missing or is unmanaged; 0 when the cloud is as declared.")
    @Argument(help: "The name or id (iac_…).") var definition: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let reference = self.definition
      let (run, d) = try await self.connection.call(.drift) { client in
        var run = try await DriftCommand.client(client).runScan(.with { $0.requestID = RandomID.make(prefix: "cli"); $0.definition = reference }, options: cliCallOptions)
        while run.progress.state == .queued || run.progress.state == .running {
          try await Task.sleep(for: .milliseconds(200))
          run = try await DriftCommand.client(client).getJobRun(.with { $0.jobID = run.id }, options: cliCallOptions)
        }
        let d = try await DriftCommand.client(client).getIaCDefinition(.with { $0.definitionID = reference }, options: cliCallOptions)
        return (run, d)
      }
      guard run.progress.state == .succeeded, d.latestReport.jobID == run.id else {
        FileHandle.standardError.write(Data("comparison \(run.id) failed: \(run.progress.error)\n".utf8))
        throw ExitCode(2)
      }
      let r = d.latestReport
      let drifted = !r.changed.isEmpty || !r.missing.isEmpty || !r.unmanaged.isEmpty
      if self.output == .json {
        try printMessages([r], columns: [], format: .json)
        if drifted { throw ExitCode(3) }
        return
      }
      let value = { (v: Google_Protobuf_Value) -> String in
        if case .nullValue = v.kind { return "(absent)" }
        return (try? v.jsonString()) ?? ""
      }
      print("\(d.name) v\(r.version) against the cloud: \(r.changed.count) changed, \(r.missing.count) missing, \(r.unmanaged.count) unmanaged, \(r.inSync) in sync")
      if !r.changed.isEmpty {
        print("\nchanged:")
        Drifts.table([["address", "kind", "control", "path", "declared", "live"]] + r.changed.flatMap { c in
          c.differences.map { [c.address, Show.name(c.kind), c.controlID, $0.path, value($0.before), value($0.after)] }
        })
      }
      if !r.missing.isEmpty {
        print("\nmissing:")
        Drifts.table([["address", "type", "key", "why"]] + r.missing.map { [$0.address, $0.type, $0.key, $0.reason] })
      }
      if !r.unmanaged.isEmpty {
        print("\nunmanaged:")
        Drifts.table([["type", "resource", "region"]] + r.unmanaged.map { [$0.type, "\($0.resourceID) \($0.externalID)", $0.region] })
      }
      print("\ncoverage:")
      Drifts.table([["type", "managed", "unmanaged", "coverage"]] + r.coverage.map {
        [$0.type == "*" ? "all" : $0.type, "\($0.managed)", "\($0.unmanaged)", String(format: "%.0f%%", $0.ratio * 100)]
      })
      if drifted { throw ExitCode(3) }
    }
  }
}
