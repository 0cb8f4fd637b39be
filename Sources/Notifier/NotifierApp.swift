public import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import NIOCore
import Configuration

/// Assembles the notifier: its store, RPCs, role table, what it does with incoming events, the
/// group clock and the delivery worker.
public enum NotifierApp {
  /// Keys the notifier reads besides the shared ones.
  public static let settings: [SettingDoc] = [
    SettingDoc("notifier.master.key", "path", "DATA_DIR/keys/master.key", "key that seals channel secrets at rest"),
    SettingDoc("notifier.alert.rules", "list", AlertRules.defaultText,
               "alert types that raise alerts, each TYPE[:LEAST-SEVERITY] (wildcards: remediation.*, *); clearing events always clear"),
    SettingDoc("notifier.group.by", "list", "event_type,provider", "labels of the group key: event_type, provider, resource, control, severity, alert"),
    SettingDoc("notifier.group.wait.seconds", "number", "30", "how long a new group waits before its first message (0: at once)"),
    SettingDoc("notifier.group.interval.seconds", "number", "300", "least time between two messages of a group that changed"),
    SettingDoc("notifier.repeat.interval.seconds", "number", "14400", "an unchanged group that still fires is sent again after this"),
    SettingDoc("notifier.egress.allow", "list", "", "CIDR ranges channels may reach although not global (loopback, private); empty in production"),
    SettingDoc("notifier.delivery.concurrency", "int", "32", "deliveries in flight at once"),
    SettingDoc("notifier.retry.base.seconds", "number", "5", "backoff after the first failure; doubles each time, full jitter"),
    SettingDoc("notifier.retry.cap.seconds", "number", "3600", "longest wait between two attempts"),
    SettingDoc("notifier.retry.max.attempts", "int", "15", "attempts before a delivery goes to the dead letter"),
    SettingDoc("notifier.retry.max.age.seconds", "number", "259200", "a delivery older than this (3 days) goes to the dead letter"),
    SettingDoc("notifier.breaker.failures", "int", "5", "failed attempts in a row that open a channel's circuit breaker"),
    SettingDoc("notifier.breaker.open.seconds", "number", "60", "how long an open breaker leaves the channel alone before one probe"),
    SettingDoc("notifier.http.connect.timeout.seconds", "number", "5", "webhook and Slack connect timeout"),
    SettingDoc("notifier.http.timeout.seconds", "number", "15", "webhook and Slack answer timeout"),
    SettingDoc("notifier.smtp.timeout.seconds", "number", "60", "SMTP connect and per-reply timeout"),
    SettingDoc("notifier.smtp.helo", "string", "fixpoint.localdomain", "the name given in EHLO"),
    SettingDoc("notifier.smtp.ca.file", "path", "", "extra PEM trust roots for SMTP servers (a private CA)"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let r = env.reader
    let rules: AlertRules
    do { rules = try AlertRules(text: r.text(forKey: "notifier.alert.rules", default: AlertRules.defaultText)) } catch {
      throw SettingsError.invalid(key: "notifier.alert.rules", reason: error.description)
    }
    let labels: [GroupingPolicy.Label]
    do { labels = try GroupingPolicy.labels(r.text(forKey: "notifier.group.by", default: "event_type,provider")) } catch {
      throw SettingsError.invalid(key: "notifier.group.by", reason: error.description)
    }
    let policy = GroupingPolicy(
      by: labels, wait: try r.double(forKey: "notifier.group.wait.seconds", default: 30, in: 0...86_400),
      interval: try r.double(forKey: "notifier.group.interval.seconds", default: 300, in: 0...86_400),
      repeatInterval: try r.double(forKey: "notifier.repeat.interval.seconds", default: 14_400, in: 1...(30 * 86_400)))
    let egress: EgressPolicy
    do { egress = try EgressPolicy(allow: r.text(forKey: "notifier.egress.allow", default: "")) } catch {
      throw SettingsError.invalid(key: "notifier.egress.allow", reason: error.description)
    }
    let backoff = DeliveryBackoff(
      base: try r.double(forKey: "notifier.retry.base.seconds", default: 5, in: 0.01...86_400), cap: try r.double(forKey: "notifier.retry.cap.seconds", default: 3600, in: 0.01...(7 * 86_400)),
      maxAttempts: try r.int(forKey: "notifier.retry.max.attempts", default: 15, in: 1...1000),
      maxAge: try r.double(forKey: "notifier.retry.max.age.seconds", default: 259_200, in: 1...(30 * 86_400)))
    let breaker = BreakerPolicy(
      failures: try r.int(forKey: "notifier.breaker.failures", default: 5, in: 1...10_000), openSeconds: try r.double(forKey: "notifier.breaker.open.seconds", default: 60, in: 0.1...86_400))
    let concurrency = try r.int(forKey: "notifier.delivery.concurrency", default: 32, in: 1...1024)
    let masterKey = r.string(forKey: "notifier.master.key", default: KeyFiles(dataDirectory: env.settings.dataDirectory).masterKey)
    let poster = try HTTPPoster(
      egress: egress, connectTimeout: .milliseconds(Int64(try r.double(forKey: "notifier.http.connect.timeout.seconds", default: 5, in: 0.1...300) * 1000)),
      requestTimeout: .milliseconds(Int64(try r.double(forKey: "notifier.http.timeout.seconds", default: 15, in: 0.1...300) * 1000)))
    let smtp = try SMTPSender(
      egress: egress, timeout: .milliseconds(Int64(try r.double(forKey: "notifier.smtp.timeout.seconds", default: 60, in: 0.1...900) * 1000)),
      helo: r.text(forKey: "notifier.smtp.helo", default: "fixpoint.localdomain"), caFile: r.text(forKey: "notifier.smtp.ca.file", default: ""))

    let store = try Store(path: env.settings.databasePath, migrations: NotifierStore.migrations)
    let groups = AlertGroups(policy: policy, store: store)
    let alerts = AlertStore(store: store, rules: rules, groups: groups)
    let channels = Channels(store: store, sealer: try Sealer(masterKeyFile: masterKey), egress: egress)
    let deliveries = Deliveries(store: store)
    let sender = Sender(poster: poster, smtp: smtp, channels: channels)
    let worker = DeliveryWorker(
      store: store, sender: sender, alerts: alerts, backoff: backoff, breaker: breaker, concurrency: concurrency, logger: env.logger)
    return ServiceComponents(
      store: store,
      services: [NotifierRPCs(alerts: alerts, channels: channels, deliveries: deliveries, worker: worker)],
      roleTable: self.roleTable,
      eventEffect: { event, db in try alerts.apply(event, in: db) },
      background: [GroupFlusher(store: store, groups: groups, logger: env.logger), worker])
  }

  /// Who may call what.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_NotifierService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: ["ListAlerts", "GetAlert", "ListChannels", "ListSubscriptions", "ListDeliveries", "GetDelivery"])
    table.allow(RoleTable.operators, service: service, methods: ["CreateAlert", "AcknowledgeAlert", "ResolveAlert", "RedeliverDelivery", "TestChannel"])
    table.allow(RoleTable.admins, service: service, methods: ["CreateChannel", "DeleteChannel", "RotateChannelSecret", "CreateSubscription", "DeleteSubscription"])
    table.allow(RoleTable.services, service: Fixpoint_V1_EventSink.descriptor.fullyQualifiedService, methods: ["DeliverEvents"])
    return table
  }
}
