import FixpointDocuments

/// GuardDuty.1: GuardDuty is on in the region.
struct GuardDutyEnabled: SettingControl {
  let id = "GuardDuty.1"
  let title = "GuardDuty should be enabled"
  let severity = Severity.high
  let resourceTypes = [ResourceTypeName.guardDutyDetector]
  let field = at("enabled")
  let expected: JSONValue = true
  let problem = "GuardDuty is off in this region"
  let remediation = "Enable GuardDuty in the region (CreateDetector, or UpdateDetector Enable=true)."
  let terraform: TerraformFix? = TerraformFix("aws_guardduty_detector", "enable")
  let examples = ControlExamples(type: ResourceTypeName.guardDutyDetector, failing: ["enabled": false], passing: ["enabled": true, "detector_id": "d1"])
}
