import ArgumentParser
import FixpointCore
import Foundation

/// The `fixpoint` command-line tool.
@main
struct Fixpoint: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fixpoint",
    abstract: "Turn cloud security findings into safe, audited fixes.",
    discussion: """
      Services are found from --<service>-addr flags, FIXPOINT_<SERVICE>_ADDR (INVENTORY, DRIFT, \
      COMPLIANCE, DISPATCHER, NOTIFIER) or the defaults 127.0.0.1:7101–7105. The token comes from \
      --token, FIXPOINT_TOKEN or DATA_DIR/keys/admin.token.
      """,
    version: FixpointVersion.current,
    subcommands: [
      Demo.self, Init.self, Up.self, Status.self, Backup.self, Token.self, Provider.self, Resource.self, Baseline.self, Findings.self, Remediation.self,
      Audit.self, Policy.self, Alerts.self, ChannelsCommand.self, SubscriptionsCommand.self, DeliveriesCommand.self,
      Compliance.self, Frameworks.self, DriftCommand.self, Drifts.self, IaCCommand.self, SchedulesCommand.self, Jobs.self, GateCommand.self,
    ])

  /// `fixpoint gate` keeps CI's exit codes (2 for bad usage); everything else parses as usual.
  static func main() async {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "gate" { GateCommand.mainExiting(Array(arguments.dropFirst())) }
    await Self.main(arguments)
  }
}

/// Options every command that touches the data directory shares.
struct DataDirOptions: ParsableArguments {
  @Option(name: .customLong("data-dir"), help: "Data directory (env FIXPOINT_DATA_DIR; default ./fixpoint-data).")
  var dataDir: String?

  var resolved: String {
    self.dataDir ?? ProcessInfo.processInfo.environment["FIXPOINT_DATA_DIR"] ?? "./fixpoint-data"
  }
}

/// How listings print.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  case table, json
}

/// Prints rows as an aligned table or as a JSON array of objects.
func printListing(_ rows: [[String: String]], columns: [String], format: OutputFormat) throws {
  switch format {
  case .json:
    let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
    print(String(decoding: data, as: UTF8.self))
  case .table:
    let widths = columns.map { c in max(c.count, rows.map { ($0[c] ?? "").count }.max() ?? 0) }
    func line(_ cells: [String]) -> String {
      zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
        .trimmingCharacters(in: .whitespaces)
    }
    print(line(columns.map { $0.uppercased() }))
    for row in rows { print(line(columns.map { row[$0] ?? "" })) }
  }
}

/// A failure the CLI reports in one line and exits non-zero for.
struct CLIError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
