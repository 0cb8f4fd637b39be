public import FixpointCore
import Configuration
import FixpointProtocol
import GRDB

/// Assembles the remediation dispatcher: its store, RPCs, role table and incoming-event effect.
public enum RemediationApp {
  /// Keys the dispatcher reads besides the shared ones.
  public static let settings: [SettingDoc] = [
    SettingDoc("dispatcher.auto.suggest", "bool", "true",
               "plan every finding that arrives at once, and execute what policy lets run without approval (the tiers, windows and blast radius hold)"),
    SettingDoc("dispatcher.approval.required", "bool", "true",
               "whether actions need an approval unless a handler override says otherwise (REMEDIATION_REQUIRE_APPROVAL)"),
    SettingDoc("dispatcher.rollback.window.seconds", "int", "1800", "how long a completed action can be rolled back (max 172800)"),
    SettingDoc("dispatcher.approval.ttl.seconds", "int", "86400", "how long an approval stays valid"),
    SettingDoc("dispatcher.blast.radius.max.count", "int", "0", "a batch changing more resources of one type in one account stops before any change (0: no limit)"),
    SettingDoc("dispatcher.blast.radius.max.share", "double", "0", "a batch changing more than this share (0–1) of an account's active resources of one type stops before any change (0: no limit)"),
    SettingDoc("dispatcher.change.windows", "json", "[]",
               "when tier 3 actions may execute: [{\"cron\": \"0 22 * * 1-5\", \"duration_seconds\": 7200, \"time_zone\": \"Europe/Berlin\"}]"),
    SettingDoc("dispatcher.rollback.on.failure", "bool", "true", "roll back automatically when an execution fails after changing something"),
    SettingDoc("dispatcher.s3.encryption.kms.key", "string", "", "S3DefaultEncryption (S3.17) uses SSE-KMS with this key; empty: the AWS managed key aws/s3"),
    SettingDoc("dispatcher.iam.key.sink", "string", "", "where IAMAccessKeyRotation puts a new key's secret: secretsmanager:[REGION:]PREFIX (secret PREFIX/USER_NAME); empty: the handler refuses"),
    SettingDoc("dispatcher.iam.key.max.age.days", "int", "90", "IAMAccessKeyRotation rotates active access keys at least this many days old"),
    SettingDoc("dispatcher.tier1.concurrency", "int", "10", "tier 1 changes writing at once (tier2: 5, tier3: 2)"),
    SettingDoc("dispatcher.tier1.timeout.seconds", "int", "30", "a tier 1 execution taking longer fails (tier2: 120, tier3: 600)"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let store = try Store(path: env.settings.databasePath, migrations: FindingStore.migrations + [AuditChain.migration, ActionStore.migration, PolicyBook.migration, FindingStore.planningMigration, ActionStore.configurationMigration])
    let book = try PolicyBook(configured: try PolicyDefaults(reader: env.reader), store: store)
    let r = env.reader
    let autoSuggest = r.bool(forKey: "dispatcher.auto.suggest", default: true)
    let findings = FindingStore(store: store, outbox: Outbox(source: .dispatcher), autoPlan: autoSuggest)
    var limits = TierLimits()
    for (tier, key, concurrency, timeout) in [(Tier.autoSafe, "tier1", 10, 30), (.verify, "tier2", 5, 120), (.changeWindow, "tier3", 2, 600)] {
      limits.concurrency[tier] = max(1, r.int(forKey: ConfigKey("dispatcher.\(key).concurrency"), default: concurrency))
      limits.timeout[tier] = .seconds(max(1, r.int(forKey: ConfigKey("dispatcher.\(key).timeout.seconds"), default: timeout)))
    }
    let config = HandlerConfig(
      s3KMSKey: r.string(forKey: "dispatcher.s3.encryption.kms.key", default: ""), iamKeySink: r.string(forKey: "dispatcher.iam.key.sink", default: ""),
      iamKeyMaxAgeDays: r.int(forKey: "dispatcher.iam.key.max.age.days", default: 90))
    guard config.iamKeySink.isEmpty || config.iamKeySink.hasPrefix("secretsmanager:") else {
      throw SettingsError.invalid(key: "dispatcher.iam.key.sink", reason: "must be secretsmanager:PREFIX or secretsmanager:REGION:PREFIX (the secret is PREFIX/USER_NAME)")
    }
    guard config.iamKeyMaxAgeDays >= 0 else { throw SettingsError.invalid(key: "dispatcher.iam.key.max.age.days", reason: "must not be negative") }
    let (client, connections) = try env.peerClient(.inventory)
    let executor = Executor(
      actions: ActionStore(store: store), findings: findings, book: book, handlerConfig: config, limits: limits,
      inventory: client, logger: env.logger)
    let autopilot = Autopilot(executor: executor, findings: findings, enabled: autoSuggest, logger: env.logger)
    return ServiceComponents(
      store: store,
      services: [RemediationRPCs(findings: findings, book: book, executor: executor)],
      roleTable: self.roleTable,
      eventEffect: { event, db in try findings.record(from: event, in: db) },
      background: [connections, autopilot])
  }

  /// Who may call what. Approve and reject additionally check that the approver is not the requester.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_RemediationService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: [
      "ListFindings", "ListActions", "GetAction", "GetAuditTrail", "VerifyAuditChain", "ListHandlers", "GetPolicy", "GetMetrics",
    ])
    table.allow(RoleTable.operators, service: service, methods: ["SubmitFinding", "SuggestAction", "ExecuteAction", "RollbackAction"])
    table.allow(RoleTable.approvers, service: service, methods: ["ApproveAction", "RejectAction"])
    table.allow(RoleTable.admins, service: service, methods: ["UpdatePolicy"])
    table.allow(RoleTable.services, service: Fixpoint_V1_EventSink.descriptor.fullyQualifiedService, methods: ["DeliverEvents"])
    return table
  }
}
