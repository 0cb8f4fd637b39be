import ArgumentParser
import FixpointCore
import Foundation
import GRDB

/// `fixpoint backup --to DIR`: a consistent copy of every service's store, taken while it runs.
struct Backup: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Copy every service's SQLite store into a directory, consistently, while the services run.",
    discussion: """
      Uses SQLite's online backup: each copy is one consistent state of its store even while the \
      service writes (copying a live file with cp is not: its -wal file holds the latest \
      transactions). Keys are not copied: back up DATA_DIR/keys separately, and keep master.key \
      with the stores it seals. To restore a service: stop it, delete its .sqlite-wal and \
      .sqlite-shm files, put the copy in place, start it (docs/operations.md says what the other \
      services do about the time in between).
      """)

  @OptionGroup var data: DataDirOptions
  @Option(help: "The directory to write into; made if missing; existing copies are never overwritten.") var to: String
  @Option(help: "table or json.") var output: OutputFormat = .table

  func run() async throws {
    let fm = FileManager.default
    try fm.createDirectory(atPath: self.to, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    var rows: [[String: String]] = []
    for service in ServiceName.allCases {
      let source = "\(self.data.resolved)/\(service.rawValue).sqlite"
      guard fm.fileExists(atPath: source) else {
        rows.append(["service": service.rawValue, "copy": "", "outcome": "no store at \(source)"])
        continue
      }
      let target = "\(self.to)/\(service.rawValue).sqlite"
      guard !fm.fileExists(atPath: target) else { throw CLIError("\(target) exists; back up into a new directory") }
      var readOnly = Configuration()
      readOnly.readonly = true
      let from = try DatabasePool(path: source, configuration: readOnly)
      let into = try DatabaseQueue(path: target)
      try from.backup(to: into)
      try into.close()
      try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: target)
      let size = (try? fm.attributesOfItem(atPath: target)[.size] as? Int) ?? 0
      rows.append(["service": service.rawValue, "copy": target, "outcome": "\(size) bytes"])
    }
    try printListing(rows, columns: ["service", "copy", "outcome"], format: self.output)
  }
}
