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
               "assess a provider against compliance.assess.after.sync.framework once its resources stop changing after a sync"),
    SettingDoc("compliance.assess.after.sync.framework", "string", "fsbp", "the framework assessed after a sync"),
    SettingDoc("compliance.assess.after.sync.quiet.ms", "int", "3000", "how long a provider's resources must be unchanged before that assessment starts"),
    SettingDoc("compliance.inventory.page.size", "int", "500", "resources per page read from inventory during an assessment"),
  ]

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let r = env.reader
    let afterSync = r.bool(forKey: "compliance.assess.after.sync", default: true)
    let framework = r.string(forKey: "compliance.assess.after.sync.framework", default: "fsbp")
    guard FrameworkCatalogue.byID[framework] != nil else {
      throw SettingsError.invalid(key: "compliance.assess.after.sync.framework", reason: "unknown framework; one of \(FrameworkCatalogue.all.map(\.id).joined(separator: ", "))")
    }
    let quiet = r.int(forKey: "compliance.assess.after.sync.quiet.ms", default: 3000)
    let pageSize = r.int(forKey: "compliance.inventory.page.size", default: 500)
    guard quiet >= 0 else { throw SettingsError.invalid(key: "compliance.assess.after.sync.quiet.ms", reason: "must not be negative") }
    guard (1...Page.maxSize).contains(pageSize) else {
      throw SettingsError.invalid(key: "compliance.inventory.page.size", reason: "must be 1–\(Page.maxSize)")
    }
    let store = try Store(path: env.settings.databasePath, migrations: ComplianceStore.migrations + [AfterSync.migration])
    let (client, connections) = try env.peerClient(.inventory)
    let assessor = Assessor(store: store, inventory: Fixpoint_V1_InventoryService.Client(wrapping: client), logger: env.logger, pageSize: pageSize)
    var background: [any Service] = [connections, AssessmentRunner(assessor: assessor)]
    if afterSync { background.append(AfterSync(store: store, assessor: assessor, framework: framework, quiet: .milliseconds(quiet))) }
    return ServiceComponents(
      store: store, services: [ComplianceRPCs(store: store, assessor: assessor)], roleTable: self.roleTable,
      eventEffect: { event, db in if afterSync { try AfterSync.note(event, in: db) } },
      background: background)
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

/// Assessment after a sync: inventory's `resource.changed` events mark their provider (in the
/// inbox's transaction); once a provider has had no event for `quiet`, one assessment of
/// `framework` is queued for it. A sync that changes nothing causes no assessment.
struct AfterSync: Service {
  let store: Store
  let assessor: Assessor
  let framework: String
  let quiet: Duration

  static let migration = Store.Migration("compliance.3-after-sync") { db in
    try db.execute(sql: "CREATE TABLE changed_provider (provider_id TEXT PRIMARY KEY, last_event_at REAL NOT NULL)")
  }

  static func note(_ event: Fixpoint_V1_Event, in db: Database) throws {
    guard case .resourceChanged(let changed) = event.payload, !changed.resource.providerID.isEmpty else { return }
    try db.execute(
      sql: "INSERT INTO changed_provider VALUES (?, ?) ON CONFLICT (provider_id) DO UPDATE SET last_event_at = excluded.last_event_at",
      arguments: [changed.resource.providerID, Date().timeIntervalSince1970])
  }

  func run() async throws {
    let seconds = Double(self.quiet.components.seconds) + Double(self.quiet.components.attoseconds) / 1e18
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
      do {
        let due = try await self.store.pool.write { db -> [String] in
          let cutoff = Date().timeIntervalSince1970 - seconds
          let ids = try String.fetchAll(db, sql: "SELECT provider_id FROM changed_provider WHERE last_event_at <= ?", arguments: [cutoff])
          for id in ids { try db.execute(sql: "DELETE FROM changed_provider WHERE provider_id = ?", arguments: [id]) }
          return ids
        }
        for provider in due { try await self.assessor.enqueueAutomatic(framework: self.framework, providerID: provider) }
      } catch {
        self.assessor.logger.warning("queueing an assessment after a sync failed", metadata: ["error": "\(error)"])
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(250)) }
    }
  }
}
