import FixpointDocuments

/// RDS.11: automated backups are kept for at least the minimum retention (7 days).
struct RDSBackupsEnabled: Control {
  let id = "RDS.11"
  let title = "RDS instances should have automatic backups enabled"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.rdsInstance]
  let reads = paths("backup_retention_period")
  let parameters = [ControlParameter("minimum_retention_days", "the shortest backup retention allowed", default: 7)]
  let remediation = "Keep automated backups for at least 7 days (ModifyDBInstance BackupRetentionPeriod)."
  let terraform: TerraformFix? = TerraformFix("aws_db_instance", "backup_retention_period")
  let examples = rdsExamples("backup_retention_period", failing: 0, passing: 14)

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    let days = document["backup_retention_period"]?.intValue ?? 0
    let minimum = parameters.int("minimum_retention_days")
    if days >= minimum { return .pass }
    return .fail(paths: paths("backup_retention_period"), reason: days == 0 ? "automated backups are off" : "backups are kept \(days) days, under \(minimum)")
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    [PathOperation(at("backup_retention_period"), .number(Double(parameters.int("minimum_retention_days"))))]
  }
}
