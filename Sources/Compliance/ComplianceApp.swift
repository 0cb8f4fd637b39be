public import FixpointCore
import FixpointControls
import FixpointProtocol
import Foundation
import GRDB
import ServiceLifecycle

/// Assembles compliance: its store, the assessment runner, RPCs, role table and incoming-event effect.
public enum ComplianceApp {
  /// Keys compliance reads besides the shared ones.
  public static let settings: [SettingDoc] = [
    SettingDoc("compliance.assess.after.sync", "bool", "true",
               "assess a provider against compliance.assess.after.sync.framework after each of its syncs succeeds (inventory's provider.synced)"),
    SettingDoc("compliance.assess.after.sync.framework", "string", "fsbp", "the framework assessed after a sync"),
    SettingDoc("compliance.inventory.page.size", "int", "500", "resources per page read from inventory during an assessment"),
    SettingDoc("compliance.control.parameters", "json", "{}",
               "control parameters over their defaults, e.g. {\"IAM.3\": {\"max_access_key_age_days\": 60}} (fixpoint compliance control ID lists them)"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let r = env.reader
    let afterSync = r.bool(forKey: "compliance.assess.after.sync", default: true)
    let framework = r.string(forKey: "compliance.assess.after.sync.framework", default: "fsbp")
    guard FrameworkCatalogue.byID[framework] != nil else {
      throw SettingsError.invalid(key: "compliance.assess.after.sync.framework", reason: "unknown framework; one of \(FrameworkCatalogue.all.map(\.id).joined(separator: ", "))")
    }
    let pageSize = try r.int(forKey: "compliance.inventory.page.size", default: 500, in: 1...Page.maxSize)
    let overrides: ParameterOverrides
    do {
      overrides = try ParameterOverrides(json: r.text(forKey: "compliance.control.parameters", default: ""))
    } catch let error as ParameterOverrides.Invalid {
      throw SettingsError.invalid(key: "compliance.control.parameters", reason: error.description)
    }
    let store = try Store(path: env.settings.databasePath, migrations: ComplianceStore.migrations)
    let (client, connections) = try env.peerClient(.inventory)
    let assessor = Assessor(store: store, inventory: Fixpoint_V1_InventoryService.Client(wrapping: client), logger: env.logger, pageSize: pageSize, overrides: overrides)
    return ServiceComponents(
      store: store, services: [ComplianceRPCs(store: store, assessor: assessor)], roleTable: self.roleTable,
      eventEffect: { event, db in if afterSync { try Assessor.afterSync(event, framework: framework, in: db) } },
      background: [connections, AssessmentRunner(assessor: assessor)])
  }

  /// Who may call what.
  public static var roleTable: RoleTable {
    var table = RoleTable(rules: [:])
    let service = Fixpoint_V1_ComplianceService.descriptor.fullyQualifiedService
    table.allow(RoleTable.readers, service: service, methods: [
      "ListFrameworks", "ListControls", "GetControl", "GetAssessment", "ListAssessments", "ListResults", "ListWaivers", "ExportAssessment",
    ])
    table.allow(RoleTable.operators.union([.viewer]), service: service, methods: ["EvaluatePlan"])
    table.allow(RoleTable.operators, service: service, methods: ["RunAssessment"])
    table.allow(RoleTable.admins.union([.approver]), service: service, methods: ["CreateWaiver", "DeleteWaiver"])
    table.allow(RoleTable.services, service: Fixpoint_V1_EventSink.descriptor.fullyQualifiedService, methods: ["DeliverEvents"])
    return table
  }
}
