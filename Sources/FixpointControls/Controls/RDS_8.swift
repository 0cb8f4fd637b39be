import FixpointDocuments

/// RDS.8: deletion protection is on.
struct RDSDeletionProtected: SettingControl {
  let id = "RDS.8"
  let title = "RDS DB instances should have deletion protection enabled"
  let severity = Severity.low
  let resourceTypes = [ResourceTypeName.rdsInstance]
  let field = at("deletion_protection")
  let expected: JSONValue = true
  let problem = "deletion protection is off"
  let remediation = "Turn on deletion protection (ModifyDBInstance DeletionProtection=true)."
  let terraform: TerraformFix? = TerraformFix("aws_db_instance", "deletion_protection")
  let examples = rdsExamples("deletion_protection", failing: false, passing: true)
}
