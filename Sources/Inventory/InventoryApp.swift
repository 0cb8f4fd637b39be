public import FixpointCore
import FixpointProtocol
import GRDB

/// Assembles inventory: its store, RPCs and role table.
public enum InventoryApp {
  /// Keys inventory reads besides the shared ones.
  public static let settings: [SettingDoc] = [
    SettingDoc("inventory.master.key", "path", "DATA_DIR/keys/master.key", "key that seals provider credentials at rest"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let store = try Store(path: env.settings.databasePath, migrations: InventoryStore.migrations)
    return ServiceComponents(store: store, services: [InventoryRPCs(store: store)], roleTable: self.roleTable)
  }

  /// Who may call what. Snapshots and changes are for the dispatcher (service) and admins.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_InventoryService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: [
      "ListProviders", "GetProvider", "GetSyncJob", "ListResources", "GetResource", "ListBaselines", "GetBaseline", "GetSnapshot",
    ])
    table.allow(RoleTable.operators, service: service, methods: ["SyncProvider", "RefreshResource", "CaptureBaseline"])
    table.allow(RoleTable.admins, service: service, methods: ["ConnectProvider", "DisconnectProvider"])
    table.allow([.service, .admin], service: service, methods: ["CaptureSnapshot", "ApplyChange", "RestoreSnapshot"])
    return table
  }
}
