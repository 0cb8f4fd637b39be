import ArgumentParser
import FixpointCore
import Foundation

/// `fixpoint init`: keys and tokens in a data directory. Never overwrites a key.
struct Init: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Create the data directory with the signing key pair, the master key and tokens.",
    discussion: """
      Writes DATA_DIR/keys/: signing.key.pem (Ed25519, signs tokens; keep it secret), \
      signing.pub.pem (services verify tokens with it), master.key (seals provider credentials), \
      admin.token and service.token. Files that exist are kept: re-running never replaces a key, \
      and only writes a token that is missing.
      """)

  @OptionGroup var data: DataDirOptions

  @Option(help: "Lifetime of the admin token written by init, e.g. 30d, 12h.")
  var adminTTL: String = "30d"

  func run() async throws {
    let report = try await KeyFiles.initialize(dataDirectory: self.data.resolved, adminTTL: try parseDuration(self.adminTTL))
    for line in report { print(line) }
  }
}

/// Parses "90s", "15m", "12h", "30d" into seconds.
func parseDuration(_ text: String) throws -> TimeInterval {
  let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
  guard let unit = text.last, let factor = units[unit], let value = Double(text.dropLast()), value > 0 else {
    throw ValidationError("'\(text)' is not a duration like 90s, 15m, 12h or 30d")
  }
  return value * factor
}
