public import FixpointCore
import FixpointProtocol
import GRDB

/// Assembles the notifier: its store, RPCs, role table and what it does with incoming events.
public enum NotifierApp {
  /// Keys the notifier reads besides the shared ones.
  public static let settings: [SettingDoc] = []

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let store = try Store(path: env.settings.databasePath, migrations: NotifierStore.migrations)
    let alerts = AlertStore(store: store)
    return ServiceComponents(
      store: store,
      services: [NotifierRPCs(alerts: alerts)],
      roleTable: self.roleTable,
      eventEffect: { event, db in try alerts.raise(from: event, in: db) })
  }

  /// Who may call what.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_NotifierService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: ["ListAlerts", "GetAlert", "ListChannels", "ListSubscriptions", "ListDeliveries"])
    table.allow(RoleTable.operators, service: service, methods: ["CreateAlert", "AcknowledgeAlert", "ResolveAlert", "RedeliverDelivery", "TestChannel"])
    table.allow(RoleTable.admins, service: service, methods: ["CreateChannel", "DeleteChannel", "CreateSubscription", "DeleteSubscription"])
    table.allow(RoleTable.services, service: Fixpoint_V1_EventSink.descriptor.fullyQualifiedService, methods: ["DeliverEvents"])
    return table
  }
}
