import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import SwiftProtobuf

private let providerColumns: [Column<Fixpoint_V1_Provider>] = [
  Column("id") { $0.id }, Column("name") { $0.displayName }, Column("kind") { Show.name($0.kind) },
  Column("account") { $0.accountID }, Column("status") { Show.name($0.status) },
  Column("regions") { $0.regions.joined(separator: ",") }, Column("key") { $0.accessKeyHint },
  Column("last-synced") { Show.time($0.lastSyncedAt) },
]

private let jobColumns: [Column<Fixpoint_V1_SyncJob>] = [
  Column("job") { $0.progress.jobID }, Column("state") { Show.name($0.progress.state) }, Column("created") { "\($0.created)" },
  Column("updated") { "\($0.updated)" }, Column("deleted") { "\($0.deleted)" }, Column("unchanged") { "\($0.unchanged)" },
  Column("message") { $0.progress.message },
]

extension Fixpoint_V1_JobProgress.State: CLIEnum {}

/// `fixpoint provider …`
struct Provider: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Cloud accounts inventory reads and changes.",
    subcommands: [Connect.self, List.self, Sync.self, Disconnect.self], aliases: ["providers"])

  struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Connect an AWS account (admin).",
      discussion: """
        inventory checks the credentials with STS GetCallerIdentity, then keeps them sealed (AES-GCM \
        under the master key); they are never shown again. Keys come from --access-key-id and \
        --secret-access-key, from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, or \
        from --profile in ~/.aws/credentials (AWS_SHARED_CREDENTIALS_FILE). Prefer the environment or \
        a profile: a secret on the command line is visible to other users of the machine. With \
        --role-arn, inventory assumes that role (with --external-id) for every read; with \
        --change-role-arn, changes (fixes, restores) run as that second role, so the read role can \
        stay read-only (docs/catalogue.md lists the change role's actions). Both are checked now.
        """)
    @Argument(help: "Provider kind: aws.") var kind: String
    @Option(help: "A name for the account, unique in this installation.") var name: String
    @Option(help: "Access key id.") var accessKeyID: String?
    @Option(help: "Secret access key (prefer AWS_SECRET_ACCESS_KEY).") var secretAccessKey: String?
    @Option(help: "A profile of the shared credentials file.") var profile: String?
    @Option(help: "A role to assume for every call, arn:aws:iam::<account>:role/<name>.") var roleARN: String?
    @Option(help: "The external id the roles' trust policies require.") var externalID: String?
    @Option(help: "A role for changes only, arn:aws:iam::<account>:role/<name>; reads keep --role-arn.") var changeRoleARN: String?
    @Option(help: "Comma-separated regions to discover (default us-east-1).") var regions: String = "us-east-1"
    @Option(help: "API endpoint override: a VPC endpoint or a local emulator, http(s)://host:port.") var endpoint: String?
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      guard self.kind == "aws" else { throw ValidationError("only 'aws' providers are supported") }
      if self.profile != nil && (self.accessKeyID != nil || self.secretAccessKey != nil) {
        throw ValidationError("give either --profile or --access-key-id/--secret-access-key")
      }
    }

    func keys() throws -> (String, String, String) {
      let env = ProcessInfo.processInfo.environment
      if let profile = self.profile {
        let path = env["AWS_SHARED_CREDENTIALS_FILE"] ?? (NSHomeDirectory() + "/.aws/credentials")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read \(path)") }
        var section = ""
        var values: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
          let line = raw.trimmingCharacters(in: .whitespaces)
          if line.hasPrefix("[") && line.hasSuffix("]") {
            section = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
          } else if section == profile, let eq = line.firstIndex(of: "=") {
            values[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
          }
        }
        guard let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] else {
          throw CLIError("profile '\(profile)' in \(path) has no aws_access_key_id and aws_secret_access_key")
        }
        return (key, secret, values["aws_session_token"] ?? "")
      }
      guard let key = self.accessKeyID ?? env["AWS_ACCESS_KEY_ID"], let secret = self.secretAccessKey ?? env["AWS_SECRET_ACCESS_KEY"] else {
        throw CLIError("no credentials: give --access-key-id and --secret-access-key, set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or --profile")
      }
      return (key, secret, self.accessKeyID == nil ? env["AWS_SESSION_TOKEN"] ?? "" : "")
    }

    func run() async throws {
      let (key, secret, token) = try self.keys()
      let request = Fixpoint_V1_ConnectProviderRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.kind = .aws
        $0.displayName = self.name
        $0.regions = self.regions.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        $0.endpoint = self.endpoint ?? ""
        $0.aws = .with {
          $0.accessKeyID = key
          $0.secretAccessKey = secret
          $0.sessionToken = token
          $0.roleArn = self.roleARN ?? ""
          $0.externalID = self.externalID ?? ""
          $0.changeRoleArn = self.changeRoleARN ?? ""
        }
      }
      let provider = try await self.connection.call(.inventory) { client in
        try await Fixpoint_V1_InventoryService.Client(wrapping: client).connectProvider(request, options: cliCallOptions)
      }
      try printMessages([provider], columns: providerColumns, format: self.output)
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List providers.")
    @OptionGroup var listing: ListingOptions
    @Flag(help: "Include disconnected providers (kept for their history).") var includeDisconnected = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let (providers, more) = try await self.connection.call(.inventory) { client in
        let inventory = Fixpoint_V1_InventoryService.Client(wrapping: client)
        return try await self.listing.collect { token, size in
          let response = try await inventory.listProviders(
            .with { ($0.pageToken, $0.pageSize, $0.includeDisconnected) = (token, size, self.includeDisconnected) }, options: cliCallOptions)
          return (response.providers, response.nextPageToken)
        }
      }
      try printMessages(providers, columns: providerColumns, format: self.listing.output, more: more)
    }
  }

  struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Discover a provider's resources now, showing progress until the sync ends.")
    @Argument(help: "The provider: its id (prv_…) or its name.") var id: String
    @Option(help: "Only these types, comma-separated (e.g. s3_bucket,security_group).") var types: String?
    @Option(help: "Only these regions, comma-separated.") var regions: String?
    @Flag(help: "Start the sync and return at once with its job id.") var noWait = false
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = try await self.connection.providerID(self.id)
      let request = Fixpoint_V1_SyncProviderRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.providerID = id
        $0.types = self.types?.split(separator: ",").map(String.init) ?? []
        $0.regions = self.regions?.split(separator: ",").map(String.init) ?? []
      }
      let noWait = self.noWait
      let job = try await self.connection.call(.inventory) { client in
        let inventory = Fixpoint_V1_InventoryService.Client(wrapping: client)
        var job = try await inventory.syncProvider(request, options: cliCallOptions)
        guard !noWait else { return job }
        while job.progress.state == .running || job.progress.state == .queued {
          try await Task.sleep(for: .milliseconds(500))
          job = try await inventory.getSyncJob(.with { $0.jobID = job.progress.jobID }, options: cliCallOptions)
          let seen = job.progress.counters.filter { !$0.key.hasSuffix(".errors") }.values.reduce(0, +)
          FileHandle.standardError.write(Data("\rsyncing: \(seen) resources seen, \(job.created) new, \(job.updated) changed, \(job.deleted) gone   ".utf8))
        }
        FileHandle.standardError.write(Data("\n".utf8))
        return job
      }
      try printMessages([job], columns: jobColumns, format: self.output)
      if job.progress.state == .failed { throw ExitCode(2) }
    }
  }

  struct Disconnect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Forget a provider's credentials (admin); its resources stay as history.")
    @Argument(help: "The provider: its id (prv_…) or its name.") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = try await self.connection.providerID(self.id)
      let provider = try await self.connection.call(.inventory) { client in
        try await Fixpoint_V1_InventoryService.Client(wrapping: client).disconnectProvider(
          .with { $0.requestID = RandomID.make(prefix: "cli"); $0.providerID = id }, options: cliCallOptions)
      }
      try printMessages([provider], columns: providerColumns, format: self.output)
    }
  }
}

private let resourceColumns: [Column<Fixpoint_V1_Resource>] = [
  Column("id") { $0.id }, Column("type") { $0.type }, Column("name") { $0.name }, Column("region") { $0.region },
  Column("status") { Show.name($0.status) }, Column("last-seen") { Show.time($0.lastSeenAt) },
]

/// `fixpoint resource …`
struct Resource: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Discovered cloud resources (inventory).", subcommands: [List.self, Show.self], aliases: ["resources"])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List resources.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "Only this provider (its id, prv_…, or its name).") var provider: String?
    @Option(help: "Only this type, e.g. s3_bucket.") var type: String?
    @Option(help: "Only this region.") var region: String?
    @Option(help: "key=value; repeat to require several.") var tag: [String] = []
    @Option(help: "\(Fixpoint_V1_Resource.Status.allValueStrings.joined(separator: ", ")).") var status: Fixpoint_V1_Resource.Status?
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      for t in self.tag where !t.contains("=") { throw ValidationError("--tag '\(t)' is not key=value") }
    }

    func run() async throws {
      let provider = try await self.connection.providerID(self.provider)
      let request = Fixpoint_V1_ListResourcesRequest.with {
        $0.providerID = provider ?? ""
        $0.type = self.type ?? ""
        $0.region = self.region ?? ""
        $0.tags = self.tag
        $0.status = self.status ?? .unspecified
      }
      let (resources, more) = try await self.connection.call(.inventory) { client in
        let inventory = Fixpoint_V1_InventoryService.Client(wrapping: client)
        return try await self.listing.collect { token, size in
          var page = request
          (page.pageToken, page.pageSize) = (token, size)
          let response = try await inventory.listResources(page, options: cliCallOptions)
          return (response.resources, response.nextPageToken)
        }
      }
      try printMessages(resources, columns: resourceColumns, format: self.listing.output, more: more)
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one resource with its whole configuration document.")
    @Argument(help: "The resource: its id (res_…, an ARN or the cloud's id), its ARN, or the cloud's id or name (sg-…, a bucket).") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      let resource = try await self.connection.call(.inventory) { client in
        try await Fixpoint_V1_InventoryService.Client(wrapping: client).getResource(
          .with { if id.hasPrefix("res_") { $0.resourceID = id } else { $0.externalID = id } }, options: cliCallOptions)
      }
      guard self.output == .table else {
        try printMessages([resource], columns: resourceColumns, format: .json)
        return
      }
      try printMessages([resource], columns: resourceColumns, format: .table)
      print("external id: \(resource.externalID)\nprovider:    \(resource.providerID)\nhash:        \(resource.contentHash)")
      if !resource.tags.isEmpty { print("tags:        " + resource.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }
      var options = JSONEncodingOptions()
      options.preserveProtoFieldNames = true
      let compact = try resource.configuration.jsonString(options: options)
      let pretty = try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(compact.utf8)), options: [.prettyPrinted, .sortedKeys])
      print("configuration:\n" + String(decoding: pretty, as: UTF8.self))
    }
  }
}

/// `fixpoint baseline …`
struct Baseline: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Known-good configurations that drift compares against.", subcommands: [Capture.self, List.self],
    aliases: ["baselines"])

  struct Capture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Mark the current configuration of a resource, or of every resource of a provider, as known good.")
    @Option(help: "One resource (res_…, an ARN or the cloud's id).") var resource: String?
    @Option(help: "Every active resource of this provider (prv_… or its name).") var provider: String?
    @Option(help: "Why this state is good, for the record.") var comment: String = ""
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      guard (self.resource == nil) != (self.provider == nil) else { throw ValidationError("give exactly one of --resource and --provider") }
    }

    func run() async throws {
      let resource = try await self.connection.resourceID(self.resource)
      let provider = try await self.connection.providerID(self.provider)
      let baseline = try await self.connection.call(.inventory) { client in
        try await Fixpoint_V1_InventoryService.Client(wrapping: client).captureBaseline(
          .with {
            $0.requestID = RandomID.make(prefix: "cli")
            $0.resourceID = resource ?? ""
            $0.providerID = provider ?? ""
            $0.comment = self.comment
          }, options: cliCallOptions)
      }
      try printMessages([baseline], columns: baselineColumns, format: self.output)
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A resource's baselines, newest (the default) first.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "The resource (res_…, an ARN or the cloud's id).") var resource: String
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let resource = try await self.connection.resourceID(self.resource)
      let (baselines, more) = try await self.connection.call(.inventory) { client in
        let inventory = Fixpoint_V1_InventoryService.Client(wrapping: client)
        return try await self.listing.collect { token, size in
          let response = try await inventory.listBaselines(
            .with { ($0.resourceID, $0.pageToken, $0.pageSize) = (resource, token, size) }, options: cliCallOptions)
          return (response.baselines, response.nextPageToken)
        }
      }
      try printMessages(baselines, columns: baselineColumns, format: self.listing.output, more: more)
    }
  }
}

private let baselineColumns: [Column<Fixpoint_V1_Baseline>] = [
  Column("id") { $0.id }, Column("resource") { $0.resourceID }, Column("reason") { $0.reason },
  Column("by") { $0.captured.subject }, Column("at") { Show.time($0.captured.time) }, Column("hash") { String($0.contentHash.prefix(12)) },
]
