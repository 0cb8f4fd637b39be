import FixpointDocuments

/// A control that passes when one field holds one value, and whose fix sets it (when `fixable`).
protocol SettingControl: Control {
  var field: DocumentPath { get }
  var expected: JSONValue { get }
  /// What is wrong, in words, when the field is not `expected`.
  var problem: String { get }
  var fixable: Bool { get }
}

extension SettingControl {
  var reads: [DocumentPath] { [self.field] }
  var fixable: Bool { true }

  func check(_ document: JSONValue, _ parameters: Parameters) -> Verdict {
    document.value(at: self.field) == self.expected ? .pass : .fail(paths: [self.field], reason: self.problem)
  }

  func remedy(_ document: JSONValue, _ parameters: Parameters) -> [PathOperation]? {
    self.fixable ? [PathOperation(self.field, self.expected)] : nil
  }
}
