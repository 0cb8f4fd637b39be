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
    let report = try await Self.initialize(dataDirectory: self.data.resolved, adminTTL: try parseDuration(self.adminTTL))
    for line in report { print(line) }
  }

  /// Creates what is missing and returns a line per file saying what happened.
  static func initialize(dataDirectory: String, adminTTL: TimeInterval = 30 * 86_400) async throws -> [String] {
    let files = KeyFiles(dataDirectory: dataDirectory)
    let fm = FileManager.default
    try fm.createDirectory(atPath: files.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    var report: [String] = []
    func write(_ path: String, _ contents: String) throws {
      guard fm.createFile(atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600]) else {
        throw CLIError("cannot write \(path)")
      }
      report.append("created \(path)")
    }
    if fm.fileExists(atPath: files.privateKey) {
      report.append("kept    \(files.privateKey)")
      if !fm.fileExists(atPath: files.publicKey) {
        throw CLIError("\(files.publicKey) is missing but the private key exists; restore it from a backup")
      }
    } else {
      guard !fm.fileExists(atPath: files.publicKey) else {
        throw CLIError("\(files.publicKey) exists without its private key; refusing to replace it")
      }
      let pair = try TokenAuthority.generateKeyPair()
      try write(files.privateKey, pair.privateKeyPEM)
      try write(files.publicKey, pair.publicKeyPEM)
      try fm.setAttributes([.posixPermissions: 0o644], ofItemAtPath: files.publicKey)
    }
    if fm.fileExists(atPath: files.masterKey) {
      report.append("kept    \(files.masterKey)")
    } else {
      var bytes = [UInt8](repeating: 0, count: 32)
      var rng = SystemRandomNumberGenerator()
      for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
      try write(files.masterKey, Data(bytes).base64EncodedString() + "\n")
    }
    let authority = try await TokenAuthority(privateKeyPEM: try String(contentsOfFile: files.privateKey, encoding: .utf8))
    for (path, subject, role, ttl) in [
      (files.adminToken, "admin", Role.admin, adminTTL),
      (files.serviceToken, "fixpoint-services", Role.service, TokenClaims.defaultMaxLifetime),
    ] {
      if fm.fileExists(atPath: path) {
        report.append("kept    \(path)")
      } else {
        try write(path, try await authority.issue(subject: subject, role: role, ttl: ttl) + "\n")
      }
    }
    return report
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
