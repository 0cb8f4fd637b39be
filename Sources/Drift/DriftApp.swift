public import FixpointCore
import FixpointControls
import FixpointIaC
import FixpointProtocol
import GRDB

/// Assembles drift: its store, RPCs, role table and incoming-event effect.
public enum DriftApp {
  /// Keys drift reads besides the shared ones.
  public static let settings: [SettingDoc] = [
    SettingDoc("drift.inventory.page.size", "int", "500", "resources per page read from inventory during a scan, and changed resources compared per job run"),
    SettingDoc("drift.control.parameters", "json", "{}",
               "control parameters over their defaults when classifying drift (as compliance.control.parameters; keep the two equal)"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let r = env.reader
    let pageSize = r.int(forKey: "drift.inventory.page.size", default: 500)
    guard (1...Page.maxSize).contains(pageSize) else {
      throw SettingsError.invalid(key: "drift.inventory.page.size", reason: "must be 1–\(Page.maxSize)")
    }
    let overrides: ParameterOverrides
    do {
      overrides = try ParameterOverrides(json: r.text(forKey: "drift.control.parameters", default: ""))
    } catch let error as ParameterOverrides.Invalid {
      throw SettingsError.invalid(key: "drift.control.parameters", reason: error.description)
    }
    let store = try Store(path: env.settings.databasePath, migrations: DriftStore.migrations)
    let (client, connections) = try env.peerClient(.inventory)
    let scanner = Scanner(
      store: store, inventory: Fixpoint_V1_InventoryService.Client(wrapping: client), logger: env.logger, pageSize: pageSize, overrides: overrides)
    return ServiceComponents(
      store: store, services: [DriftRPCs(store: store, scanner: scanner)], roleTable: self.roleTable,
      eventEffect: { event, db in try Scanner.afterChange(event, in: db) },
      background: [connections, ScanRunner(scanner: scanner)],
      // An IaC definition of up to 50 MiB, and the request around it.
      maxRequestBytes: IaC.maxBytes + (1 << 20))
  }

  /// Who may call what.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_DriftService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: ["ListDrifts", "GetDrift", "ListIaCDefinitions", "GetIaCDefinition", "ListSchedules", "ListJobRuns", "GetJobRun"])
    table.allow(RoleTable.operators, service: service, methods: ["RunScan", "UpdateDriftStatus", "UploadIaCDefinition"])
    table.allow(RoleTable.admins, service: service, methods: ["DeleteIaCDefinition", "UpdateSchedule"])
    table.allow(RoleTable.services, service: Fixpoint_V1_EventSink.descriptor.fullyQualifiedService, methods: ["DeliverEvents"])
    return table
  }
}
