import FixpointDocuments

/// RDS.3: storage is encrypted. Set at creation only: by hand.
struct RDSStorageEncrypted: SettingControl {
  let id = "RDS.3"
  let title = "RDS DB instances should have encryption at-rest enabled"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.rdsInstance]
  let field = at("storage_encrypted")
  let expected: JSONValue = true
  let problem = "the instance's storage is not encrypted"
  let fixable = false
  let remediation = "Snapshot the instance, copy the snapshot with encryption, restore a new instance from it and move clients over."
  let terraform: TerraformFix? = TerraformFix("aws_db_instance", "storage_encrypted")
  let examples = rdsExamples("storage_encrypted", failing: false, passing: true)
}
