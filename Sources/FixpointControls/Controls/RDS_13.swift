import FixpointDocuments

/// RDS.13: automatic minor version upgrades are on.
struct RDSAutoMinorVersionUpgrade: SettingControl {
  let id = "RDS.13"
  let title = "RDS automatic minor version upgrades should be enabled"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.rdsInstance]
  let field = at("auto_minor_version_upgrade")
  let expected: JSONValue = true
  let problem = "automatic minor version upgrades are off"
  let remediation = "Turn on automatic minor version upgrades (ModifyDBInstance AutoMinorVersionUpgrade=true)."
  let terraform: TerraformFix? = TerraformFix("aws_db_instance", "auto_minor_version_upgrade")
  let examples = rdsExamples("auto_minor_version_upgrade", failing: false, passing: true)
}
