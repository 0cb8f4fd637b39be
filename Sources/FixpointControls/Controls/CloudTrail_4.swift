import FixpointDocuments

/// CloudTrail.4: log file validation is on.
struct CloudTrailLogFileValidation: SettingControl {
  let id = "CloudTrail.4"
  let title = "CloudTrail log file validation should be enabled"
  let severity = Severity.low
  let resourceTypes = [ResourceTypeName.cloudTrailTrail]
  let field = at("log_file_validation_enabled")
  let expected: JSONValue = true
  let problem = "log file validation is off"
  let remediation = "Turn on log file validation (UpdateTrail EnableLogFileValidation=true)."
  let terraform: TerraformFix? = TerraformFix("aws_cloudtrail", "enable_log_file_validation")
  let examples = ControlExamples(
    type: ResourceTypeName.cloudTrailTrail, failing: ["name": "t", "log_file_validation_enabled": false],
    passing: ["name": "t", "log_file_validation_enabled": true])
}
