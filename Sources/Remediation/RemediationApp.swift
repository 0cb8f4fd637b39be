public import FixpointCore
import FixpointProtocol
import GRDB

/// Assembles the remediation dispatcher: its store, RPCs, role table and incoming-event effect.
public enum RemediationApp {
  /// Keys the dispatcher reads besides the shared ones.
  public static let settings: [SettingDoc] = [
    SettingDoc("dispatcher.approval.required", "bool", "true",
               "whether actions need an approval unless a handler override says otherwise (REMEDIATION_REQUIRE_APPROVAL)"),
    SettingDoc("dispatcher.rollback.window.seconds", "int", "1800", "how long a completed action can be rolled back (max 172800)"),
    SettingDoc("dispatcher.approval.ttl.seconds", "int", "86400", "how long an approval stays valid"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let store = try Store(path: env.settings.databasePath, migrations: FindingStore.migrations)
    let policy = try PolicyDefaults(reader: env.reader)
    let findings = FindingStore(store: store, outbox: Outbox(source: .dispatcher))
    return ServiceComponents(
      store: store,
      services: [RemediationRPCs(findings: findings, policy: policy)],
      roleTable: self.roleTable,
      eventEffect: { event, db in try findings.record(from: event, in: db) })
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
