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
    SettingDoc("drift.schedule.min.interval.seconds", "int", "60", "the shortest interval UpdateSchedule accepts"),
    SettingDoc("drift.schedule.frameworks", "string", "fsbp", "the frameworks the compliance_check schedule assesses, comma-separated"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let r = env.reader
    let pageSize = try r.int(forKey: "drift.inventory.page.size", default: 500, in: 1...Page.maxSize)
    let overrides: ParameterOverrides
    do {
      overrides = try ParameterOverrides(json: r.text(forKey: "drift.control.parameters", default: ""))
    } catch let error as ParameterOverrides.Invalid {
      throw SettingsError.invalid(key: "drift.control.parameters", reason: error.description)
    }
    let minimum = try r.int(forKey: "drift.schedule.min.interval.seconds", default: 60, in: 1...86_400)
    let frameworks = r.text(forKey: "drift.schedule.frameworks", default: "fsbp").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    guard !frameworks.isEmpty, frameworks.allSatisfy({ FrameworkCatalogue.all.map(\.id).contains($0) }) else {
      throw SettingsError.invalid(key: "drift.schedule.frameworks", reason: "known frameworks: \(FrameworkCatalogue.all.map(\.id).joined(separator: ", "))")
    }
    let store = try Store(path: env.settings.databasePath, migrations: DriftStore.migrations)
    let (client, connections) = try env.peerClient(.inventory)
    let (complianceClient, complianceConnections) = try env.peerClient(.compliance)
    let schedules = Schedules(store: store, minimumInterval: Int64(minimum), frameworks: frameworks)
    let scanner = Scanner(
      store: store, inventory: Fixpoint_V1_InventoryService.Client(wrapping: client), logger: env.logger, pageSize: pageSize, overrides: overrides,
      compliance: Fixpoint_V1_ComplianceService.Client(wrapping: complianceClient), schedules: schedules)
    return ServiceComponents(
      store: store, services: [DriftRPCs(store: store, scanner: scanner, schedules: schedules)], roleTable: self.roleTable,
      eventEffect: { event, db in try Scanner.afterChange(event, in: db) },
      background: [connections, complianceConnections, ScanRunner(scanner: scanner), ScheduleRunner(schedules: schedules, logger: env.logger)],
      // An IaC definition of up to 50 MiB, and the request around it.
      maxRequestBytes: IaC.maxBytes + (1 << 20))
  }

  /// Who may call what.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_DriftService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: ["ListDrifts", "GetDrift", "ListIaCDefinitions", "GetIaCDefinition", "ListSchedules", "ListJobRuns", "GetJobRun"])
    table.allow(RoleTable.operators, service: service, methods: ["RunScan", "UpdateDriftStatus", "UploadIaCDefinition", "RunSchedule"])
    table.allow(RoleTable.admins, service: service, methods: ["DeleteIaCDefinition", "UpdateSchedule"])
    table.allow(RoleTable.services, service: Fixpoint_V1_EventSink.descriptor.fullyQualifiedService, methods: ["DeliverEvents"])
    return table
  }
}
