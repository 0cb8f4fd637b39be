import Foundation

/// The Python that every helper of the tests runs with: the project's own environment that
/// `scripts/test` makes from the pinned `Tests/requirements.txt` (`.build/test-venv`, or the
/// interpreter `FIXPOINT_TEST_PYTHON` names), never whatever `python3` happens to be on PATH, so
/// a package installed by hand on one machine cannot hide one the tests fail to declare.
public enum TestPython {
  /// The project's root (this file is `Tests/TestSupport/TestPython.swift`).
  public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// The interpreter's path; it may not exist (see `interpreter()`).
  public static let path: String = ProcessInfo.processInfo.environment["FIXPOINT_TEST_PYTHON"]
    ?? root.appendingPathComponent(".build/test-venv/bin/python3").path

  /// The interpreter, or an error that says how to make it.
  public static func interpreter() throws -> String {
    guard FileManager.default.isExecutableFile(atPath: self.path) else {
      throw TestSupportError(
        "no test Python at \(self.path): run scripts/test, which makes it from Tests/requirements.txt")
    }
    return self.path
  }

  /// A console script installed in that environment (e.g. `moto_server`).
  public static func tool(_ name: String) throws -> String {
    let path = URL(fileURLWithPath: try self.interpreter()).deletingLastPathComponent().appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: path) else {
      throw TestSupportError("\(name) is not in the test Python environment: is it in Tests/requirements.txt?")
    }
    return path
  }
}
