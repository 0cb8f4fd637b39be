import FixpointDocuments

/// KMS.4: a customer-managed symmetric key rotates yearly (other keys cannot: not applicable).
struct KMSKeyRotationEnabled: SettingControl {
  let id = "KMS.4"
  let title = "AWS KMS key rotation should be enabled"
  let severity = Severity.medium
  let resourceTypes = [ResourceTypeName.kmsKey]
  let field = at("rotation_enabled")
  let expected: JSONValue = true
  let problem = "automatic key rotation is off"
  let remediation = "Turn on automatic rotation (EnableKeyRotation); earlier key material stays available for decryption."
  let terraform: TerraformFix? = TerraformFix("aws_kms_key", "enable_key_rotation")
  let reads = paths("rotation_enabled", "key_manager", "key_spec")
  let examples = ControlExamples(
    type: ResourceTypeName.kmsKey, failing: ["key_id": "k", "key_manager": "CUSTOMER", "key_spec": "SYMMETRIC_DEFAULT", "rotation_enabled": false],
    passing: ["key_id": "k", "key_manager": "CUSTOMER", "key_spec": "SYMMETRIC_DEFAULT", "rotation_enabled": true])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    guard document["key_manager"]?.stringValue == "CUSTOMER", document["key_spec"]?.stringValue == "SYMMETRIC_DEFAULT" else {
      return .notApplicable(reason: "only customer-managed symmetric keys rotate automatically")
    }
    if document["key_state"]?.stringValue == "PendingDeletion" { return .notApplicable(reason: "the key is pending deletion") }
    return document["rotation_enabled"]?.boolValue == true ? .pass : .fail(paths: [self.field], reason: self.problem)
  }
}
