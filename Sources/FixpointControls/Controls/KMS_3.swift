import FixpointDocuments

/// KMS.3: the key is not scheduled for deletion.
struct KMSKeyNotPendingDeletion: Control {
  let id = "KMS.3"
  let title = "AWS KMS keys should not be deleted unintentionally"
  let severity = Severity.critical
  let resourceTypes = [ResourceTypeName.kmsKey]
  let reads = paths("key_state", "key_manager")
  let remediation = "If the deletion is not intended, cancel it within the waiting period (CancelKeyDeletion), then enable the key again (EnableKey)."
  let examples = ControlExamples(
    type: ResourceTypeName.kmsKey, failing: ["key_id": "k", "key_manager": "CUSTOMER", "key_state": "PendingDeletion"],
    passing: ["key_id": "k", "key_manager": "CUSTOMER", "key_state": "Enabled"])

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    guard document["key_manager"]?.stringValue == "CUSTOMER" else { return .notApplicable(reason: "AWS manages this key") }
    return document["key_state"]?.stringValue == "PendingDeletion"
      ? .fail(paths: paths("key_state"), reason: "the key is scheduled for deletion") : .pass
  }
}
