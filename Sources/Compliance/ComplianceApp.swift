public import FixpointCore
import FixpointProtocol
import GRDB

/// Assembles compliance: its store, RPCs, role table and incoming-event effect.
public enum ComplianceApp {
  /// Keys compliance reads besides the shared ones.
  public static let settings: [SettingDoc] = []

  /// The one assembly function, used by `main`, the tests and `fixpoint up`.
  public static func build(_ env: ServiceEnvironment) async throws -> ServiceComponents {
    let store = try Store(path: env.settings.databasePath, migrations: ComplianceStore.migrations)
    return ServiceComponents(
      store: store, services: [ComplianceRPCs(store: store)], roleTable: self.roleTable,
      // resource.changed is recorded; assessments read inventory, so no further effect yet.
      eventEffect: { _, _ in })
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

/// compliance's schema. Frameworks are reference data, seeded once; controls arrive with the packs.
enum ComplianceStore {
  static let migrations: [Store.Migration] = [
    Store.Migration("compliance.1-frameworks") { db in
      try db.execute(sql: """
        CREATE TABLE framework (
          id TEXT PRIMARY KEY, name TEXT NOT NULL, version TEXT NOT NULL, description TEXT NOT NULL
        );
        INSERT INTO framework VALUES
          ('aws-fsbp', 'AWS Foundational Security Best Practices', '1.0', 'AWS Security Hub FSBP standard'),
          ('cis-aws', 'CIS Amazon Web Services Foundations Benchmark', '3.0.0', 'CIS AWS Foundations'),
          ('soc2', 'SOC 2', '2017 TSC', 'AICPA Trust Services Criteria, mapped from the AWS controls'),
          ('nist-800-53', 'NIST SP 800-53', 'Rev. 5', 'NIST security and privacy controls, mapped from the AWS controls'),
          ('pci-dss', 'PCI DSS', '4.0', 'Payment Card Industry Data Security Standard, mapped from the AWS controls'),
          ('hipaa', 'HIPAA Security Rule', '2013', 'HIPAA safeguards, mapped from the AWS controls');
        """)
    }
  ]
}

struct FrameworkRecord: Codable, FetchableRecord, Sendable {
  var id: String
  var name: String
  var version: String
  var description: String
}
