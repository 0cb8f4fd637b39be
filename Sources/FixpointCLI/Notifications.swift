import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix

#if canImport(Glibc)
import Glibc
#endif

extension Fixpoint_V1_Channel.Kind: CLIEnum {}
extension Fixpoint_V1_Channel.Status: CLIEnum {}
extension Fixpoint_V1_Delivery.Status: CLIEnum {}

private let channelColumns: [Column<Fixpoint_V1_Channel>] = [
  Column("id") { $0.id }, Column("name") { $0.name }, Column("kind") { Show.name($0.kind) }, Column("target") { $0.target },
  Column("status") { Show.name($0.status) + ($0.breakerOpen ? " (breaker open)" : "") },
  Column("resolved") { $0.sendResolved ? "sent" : "not sent" }, Column("created") { Show.time($0.created.time) },
]

private let subscriptionColumns: [Column<Fixpoint_V1_Subscription>] = [
  Column("id") { $0.id }, Column("channel") { $0.channelID }, Column("events") { $0.eventTypes.joined(separator: ",") },
  Column("min severity") { Show.name($0.minSeverity) }, Column("provider") { $0.providerID },
  Column("tags") { $0.tags.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",") },
]

private let deliveryColumns: [Column<Fixpoint_V1_Delivery>] = [
  Column("id") { $0.id }, Column("channel") { $0.channelID }, Column("type") { $0.type }, Column("alerts") { String($0.alertCount) },
  Column("status") { Show.name($0.status) }, Column("attempts") { String($0.attempts) },
  Column("last answer") { d in d.attemptLog.last.map { $0.statusCode == 0 ? String($0.response.prefix(40)) : "\($0.statusCode) \($0.response.prefix(30))" } ?? "" },
  Column("next") { $0.hasNextAttemptAt ? Show.time($0.nextAttemptAt) : "" }, Column("created") { Show.time($0.createdAt) },
]

private func notifier<T: Sendable>(
  _ connection: ConnectionOptions, _ body: @Sendable @escaping (Fixpoint_V1_NotifierService.Client<HTTP2ClientTransport.Posix>) async throws -> T
) async throws -> T {
  try await connection.call(.notifier) { client in try await body(Fixpoint_V1_NotifierService.Client(wrapping: client)) }
}

/// `fixpoint channels …`
struct ChannelsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "channels", abstract: "Where notifications go: Slack, email (SMTP) and signed webhooks (notifier).",
    discussion: """
      Secrets (a webhook's signing secret, a Slack incoming-webhook URL, an SMTP password) are sealed \
      at rest and never shown again: a webhook's whsec_ secret is printed once, at creation or \
      rotation. Destinations that resolve to loopback, private or link-local addresses are refused \
      unless the notifier's notifier.egress.allow lists them.
      """,
    subcommands: [Create.self, List.self, TestChannel.self, RotateSecret.self, Delete.self])

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Create a channel (admin).", subcommands: [Webhook.self, Slack.self, Email.self])
  }

  struct Common: ParsableArguments {
    @Option(help: "A unique name (letters, digits, . _ -).") var name: String
    @Option(help: "Send resolutions too: true or false (default: true for webhooks, false for Slack and email).") var sendResolved: Bool?
    @Option(help: "Makes the command safe to repeat; default: a new id.") var requestID: String = RandomID.make(prefix: "cli")
    @Option(help: "table or json.") var output: OutputFormat = .table
  }

  static func create(_ connection: ConnectionOptions, _ common: Common, _ fill: @escaping @Sendable (inout Fixpoint_V1_Channel) -> Void) async throws {
    let request = Fixpoint_V1_CreateChannelRequest.with {
      $0.requestID = common.requestID
      $0.channel.name = common.name
      if let resolved = common.sendResolved { $0.channel.sendResolved = resolved }
      fill(&$0.channel)
    }
    let channel = try await notifier(connection) { try await $0.createChannel(request, options: cliCallOptions) }
    try printMessages([channel], columns: channelColumns, format: common.output)
    if !channel.signingSecret.isEmpty && common.output == .table {
      print("\nSigning secret (shown once; verify deliveries with it): \(channel.signingSecret)")
    }
  }

  struct Webhook: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "A Standard Webhooks endpoint: each delivery is signed (webhook-id, webhook-timestamp, webhook-signature).")
    @OptionGroup var common: Common
    @Option(help: "The endpoint URL (https; plain http only to allow-listed addresses).") var url: String
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let url = self.url
      try await ChannelsCommand.create(self.connection, self.common) { c in
        c.kind = .webhook
        c.target = url
      }
    }
  }

  struct Slack: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A Slack incoming webhook (the URL is a secret: it is sealed and only its host is shown).")
    @OptionGroup var common: Common
    @Option(help: "The incoming-webhook URL (or FIXPOINT_SLACK_WEBHOOK_URL, which keeps it out of the process list).") var webhookURL: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      guard let url = self.webhookURL ?? ProcessInfo.processInfo.environment["FIXPOINT_SLACK_WEBHOOK_URL"] else {
        throw ValidationError("give --webhook-url or set FIXPOINT_SLACK_WEBHOOK_URL")
      }
      try await ChannelsCommand.create(self.connection, self.common) { c in
        c.kind = .slack
        c.secret = url
      }
    }
  }

  struct Email: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Email over SMTP: STARTTLS by default (--tls for port 465), AUTH when --username is given.",
      discussion: "The password comes from FIXPOINT_SMTP_PASSWORD or, on a terminal, a prompt; never from a flag.")
    @OptionGroup var common: Common
    @Option(help: "The SMTP server.") var smtpHost: String
    @Option(help: "Its port (default 587, or 465 with --tls).") var smtpPort: Int32 = 0
    @Option(help: "The From address.") var from: String
    @Option(help: "Recipients, comma-separated.") var to: String
    @Flag(help: "STARTTLS, required (the default).") var starttls = false
    @Flag(help: "TLS from the first byte (port 465).") var tls = false
    @Flag(help: "No TLS: only for a relay on an allow-listed address, and never with a password.") var plain = false
    @Option(help: "The AUTH user name.") var username: String?
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
      guard [self.starttls, self.tls, self.plain].filter({ $0 }).count <= 1 else { throw ValidationError("give one of --starttls, --tls, --plain") }
    }

    func run() async throws {
      var password = ""
      if self.username != nil {
        if let fromEnvironment = ProcessInfo.processInfo.environment["FIXPOINT_SMTP_PASSWORD"] {
          password = fromEnvironment
        } else if isatty(0) == 1, let typed = getpass("SMTP password: ") {
          password = String(cString: typed)
        } else {
          throw ValidationError("--username needs a password: set FIXPOINT_SMTP_PASSWORD (or run on a terminal to be asked)")
        }
      }
      let (host, port, from, username) = (self.smtpHost, self.smtpPort, self.from, self.username ?? "")
      let recipients = self.to.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      let security: Fixpoint_V1_EmailSettings.Security = self.tls ? .tls : (self.plain ? .none : .starttls)
      let secret = password
      try await ChannelsCommand.create(self.connection, self.common) { c in
        c.kind = .email
        c.email = .with {
          $0.smtpHost = host
          $0.smtpPort = port
          $0.from = from
          $0.security = security
          $0.username = username
        }
        c.emailRecipients = recipients
        c.secret = secret
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List channels (no secret is ever shown).")
    @OptionGroup var listing: ListingOptions
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let listing = self.listing
      let (channels, more) = try await notifier(self.connection) { client in
        try await listing.collect { token, size in
          let response = try await client.listChannels(.with { $0.pageToken = token; $0.pageSize = size }, options: cliCallOptions)
          return (response.channels, response.nextPageToken)
        }
      }
      try printMessages(channels, columns: channelColumns, format: self.listing.output, more: more)
    }
  }

  struct TestChannel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "test", abstract: "Send a test message through the channel now and show what the receiver answered.")
    @Argument(help: "The channel id (chn_…).") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      let delivery = try await notifier(self.connection) { client in
        try await client.testChannel(.with { $0.requestID = RandomID.make(prefix: "cli"); $0.channelID = id }, options: cliCallOptions)
      }
      try printMessages([delivery], columns: deliveryColumns, format: self.output)
      if delivery.status != .delivered { throw ExitCode(1) }
    }
  }

  struct RotateSecret: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rotate-secret",
      abstract: "Give a webhook a new signing secret (printed once); the old one keeps signing beside it for --overlap seconds.")
    @Argument(help: "The channel id (chn_…).") var id: String
    @Option(help: "Seconds both secrets sign (default 86400).") var overlap: Int32 = 0
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let (id, overlap) = (self.id, self.overlap)
      let channel = try await notifier(self.connection) { client in
        try await client.rotateChannelSecret(
          .with { $0.requestID = RandomID.make(prefix: "cli"); $0.channelID = id; $0.overlapSeconds = overlap }, options: cliCallOptions)
      }
      try printMessages([channel], columns: channelColumns, format: self.output)
      if self.output == .table { print("\nNew signing secret (shown once): \(channel.signingSecret)") }
    }
  }

  struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a channel and its subscriptions; its queued deliveries go to the dead letter.")
    @Argument(help: "The channel id (chn_…).") var id: String
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      _ = try await notifier(self.connection) { client in
        try await client.deleteChannel(.with { $0.requestID = RandomID.make(prefix: "cli"); $0.channelID = id }, options: cliCallOptions)
      }
      print("deleted \(id)")
    }
  }
}

/// `fixpoint subscriptions …`
struct SubscriptionsCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "subscriptions", abstract: "Which alerts go to which channel (notifier).",
    discussion: """
      Alert types: drift.security, drift.compliance, compliance.violation, remediation.pending_approval, \
      remediation.failed, remediation.rolled_back, provider.sync_failed, job.failed, \
      notifier.delivery_dead, manual; patterns may end in .* or be *.
      """,
    subcommands: [Create.self, List.self, Delete.self])

  struct Create: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Subscribe a channel to alerts (admin).")
    @Option(help: "Alert type patterns, comma-separated: 'remediation.*', '*'.") var events: String
    @Option(help: "The least severity sent: \(Fixpoint_V1_Severity.allValueStrings.joined(separator: ", ")).") var minSeverity: Fixpoint_V1_Severity = .info
    @Option(help: "The channel id (chn_…).") var channel: String
    @Option(help: "Only alerts about this provider (prv_… or its name).") var provider: String?
    @Option(name: .customLong("tag"), help: "Only resources with this tag, KEY=VALUE (repeat).") var tags: [String] = []
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      var tagMap: [String: String] = [:]
      for tag in self.tags {
        let parts = tag.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { throw ValidationError("--tag takes KEY=VALUE") }
        tagMap[parts[0]] = parts[1]
      }
      let provider = try await self.connection.providerID(self.provider)
      let request = Fixpoint_V1_CreateSubscriptionRequest.with {
        $0.requestID = RandomID.make(prefix: "cli")
        $0.subscription.channelID = self.channel
        $0.subscription.eventTypes = self.events.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        $0.subscription.minSeverity = self.minSeverity
        $0.subscription.providerID = provider ?? ""
        $0.subscription.tags = tagMap
      }
      let subscription = try await notifier(self.connection) { try await $0.createSubscription(request, options: cliCallOptions) }
      try printMessages([subscription], columns: subscriptionColumns, format: self.output)
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List subscriptions.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "Only this channel's.") var channel: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let (listing, channel) = (self.listing, self.channel ?? "")
      let (items, more) = try await notifier(self.connection) { client in
        try await listing.collect { token, size in
          let response = try await client.listSubscriptions(
            .with { $0.pageToken = token; $0.pageSize = size; $0.channelID = channel }, options: cliCallOptions)
          return (response.subscriptions, response.nextPageToken)
        }
      }
      try printMessages(items, columns: subscriptionColumns, format: self.listing.output, more: more)
    }
  }

  struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete a subscription.")
    @Argument(help: "The subscription id (sub_…).") var id: String
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      _ = try await notifier(self.connection) { client in
        try await client.deleteSubscription(.with { $0.requestID = RandomID.make(prefix: "cli"); $0.subscriptionID = id }, options: cliCallOptions)
      }
      print("deleted \(id)")
    }
  }
}

/// `fixpoint deliveries …`
struct DeliveriesCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "deliveries", abstract: "Every notification sent or being sent, with each attempt (notifier).",
    discussion: """
      A delivery is retried with exponential backoff and jitter, honouring Retry-After; a permanent \
      refusal, or the last attempt, puts it in the dead letter (status dead), from which \
      `redeliver` queues it again with the same webhook-id.
      """,
    subcommands: [List.self, ShowDelivery.self, Redeliver.self])

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List deliveries, newest first.")
    @OptionGroup var listing: ListingOptions
    @Option(help: "Only this status: \(Fixpoint_V1_Delivery.Status.allValueStrings.joined(separator: ", ")).") var status: Fixpoint_V1_Delivery.Status?
    @Option(help: "Only this channel's (chn_…).") var channel: String?
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let (listing, status, channel) = (self.listing, self.status ?? .unspecified, self.channel ?? "")
      let (items, more) = try await notifier(self.connection) { client in
        try await listing.collect { token, size in
          let response = try await client.listDeliveries(
            .with { $0.pageToken = token; $0.pageSize = size; $0.status = status; $0.channelID = channel }, options: cliCallOptions)
          return (response.deliveries, response.nextPageToken)
        }
      }
      try printMessages(items, columns: deliveryColumns, format: self.listing.output, more: more)
    }
  }

  struct ShowDelivery: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a delivery and every attempt.")
    @Argument(help: "The delivery id (dlv_…).") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      let delivery = try await notifier(self.connection) { try await $0.getDelivery(.with { $0.deliveryID = id }, options: cliCallOptions) }
      try printMessages([delivery], columns: deliveryColumns, format: self.output)
      guard self.output == .table else { return }
      print("\nwebhook-id \(delivery.webhookID)" + (delivery.lastError.isEmpty ? "" : "; last error: \(delivery.lastError)"))
      for attempt in delivery.attemptLog {
        let code = attempt.statusCode == 0 ? "no answer" : String(attempt.statusCode)
        print("  \(Show.time(attempt.time))  \(attempt.trigger)  \(attempt.succeeded ? "ok" : "failed")  \(code)  \(attempt.latencyMs) ms  \(attempt.response.prefix(120))")
      }
    }
  }

  struct Redeliver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Queue a dead (or delivered) delivery again, with the same webhook-id.")
    @Argument(help: "The delivery id (dlv_…).") var id: String
    @Option(help: "table or json.") var output: OutputFormat = .table
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
      let id = self.id
      let delivery = try await notifier(self.connection) { client in
        try await client.redeliverDelivery(.with { $0.requestID = RandomID.make(prefix: "cli"); $0.deliveryID = id }, options: cliCallOptions)
      }
      try printMessages([delivery], columns: deliveryColumns, format: self.output)
    }
  }
}
