public import FixpointCore
import FixpointProtocol
import GRDB

/// Assembles drift: its store, RPCs, role table and incoming-event effect.
public enum DriftApp {
  /// Keys drift reads besides the shared ones.
  public static let settings: [SettingDoc] = []

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let store = try Store(path: env.settings.databasePath, migrations: DriftStore.migrations)
    return ServiceComponents(
      store: store, services: [DriftRPCs(store: store)], roleTable: self.roleTable,
      // resource.changed is recorded in the inbox; scans read inventory directly, so there is no
      // further effect until event-triggered scans are built.
      eventEffect: { _, _ in })
  }

  /// Who may call what.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_DriftService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: ["ListDrifts", "GetDrift", "ListIaCDefinitions", "GetIaCDefinition", "ListSchedules", "ListJobRuns"])
    table.allow(RoleTable.operators, service: service, methods: ["RunScan", "UpdateDriftStatus", "UploadIaCDefinition"])
    table.allow(RoleTable.admins, service: service, methods: ["DeleteIaCDefinition", "UpdateSchedule"])
    table.allow(RoleTable.services, service: Fixpoint_V1_EventSink.descriptor.fullyQualifiedService, methods: ["DeliverEvents"])
    return table
  }
}
