public import FixpointCore
import FixpointProtocol
import GRDB
import CloudAWS

/// Assembles inventory: its store, RPCs and role table.
public enum InventoryApp {
  /// Keys inventory reads besides the shared ones.
  public static let settings: [SettingDoc] = [
    SettingDoc("inventory.master.key", "path", "DATA_DIR/keys/master.key", "key that seals provider credentials at rest"),
    SettingDoc("inventory.aws.rate", "number", "40", "AWS calls per second per account, shared by syncs, snapshots and changes"),
    SettingDoc("inventory.aws.burst", "number", "80", "calls an account may make at once before the rate applies"),
    SettingDoc("inventory.aws.max.attempts", "int", "8", "tries per AWS call on throttling and server errors"),
    SettingDoc("inventory.aws.backoff.cap.ms", "int", "5000", "longest wait between tries (full-jitter exponential backoff from 50 ms)"),
    SettingDoc("inventory.sync.concurrency", "int", "8", "type/region pairs a sync discovers at once"),
    SettingDoc("inventory.connect.timeout", "duration", "20", "seconds ConnectProvider waits for STS, all tries included, before answering UNAVAILABLE"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let store = try Store(path: env.settings.databasePath, migrations: InventoryStore.migrations)
    let r = env.reader
    let masterKey = r.string(forKey: "inventory.master.key", default: KeyFiles(dataDirectory: env.settings.dataDirectory).masterKey)
    let settings = AWSSettings(
      rate: max(0.1, r.double(forKey: "inventory.aws.rate", default: 40)),
      burst: max(1, r.double(forKey: "inventory.aws.burst", default: 80)),
      retry: RetryPolicy(
        maxAttempts: max(1, r.int(forKey: "inventory.aws.max.attempts", default: 8)),
        cap: .milliseconds(max(50, r.int(forKey: "inventory.aws.backoff.cap.ms", default: 5000)))),
      syncConcurrency: min(64, max(1, r.int(forKey: "inventory.sync.concurrency", default: 8))),
      connectTimeout: .seconds(min(600, max(1, r.int(forKey: "inventory.connect.timeout", default: 20)))))
    let providers = Providers(store: store, sealer: try Sealer(masterKeyFile: masterKey), settings: settings, logger: env.logger)
    let sync = SyncEngine(store: store, providers: providers, logger: env.logger)
    try await sync.failInterruptedJobs()
    let changes = ChangeService(store: store, providers: providers, sync: sync)
    return ServiceComponents(
      store: store, services: [InventoryRPCs(store: store, providers: providers, sync: sync, changes: changes)], roleTable: self.roleTable)
  }

  /// Who may call what. Snapshots and changes are for the dispatcher (service) and admins.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_InventoryService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: [
      "ListProviders", "GetProvider", "GetSyncJob", "ListResources", "GetResource", "ListBaselines", "GetBaseline", "GetSnapshot",
    ])
    table.allow(RoleTable.operators, service: service, methods: ["SyncProvider", "RefreshResource", "CaptureBaseline", "ListStackResources"])
    table.allow(RoleTable.admins, service: service, methods: ["ConnectProvider", "DisconnectProvider"])
    table.allow([.service, .admin], service: service, methods: ["CaptureSnapshot", "ApplyChange", "RestoreSnapshot"])
    return table
  }
}
