import ArgumentParser
import FixpointCore
import Foundation

/// `fixpoint token …`
struct Token: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Issue access tokens; rotate the services' own token.", subcommands: [Issue.self, RotateService.self])

  /// `fixpoint token issue --subject NAME --role ROLE [--ttl DURATION]`
  struct Issue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Sign a token with the data directory's private key and print it.",
      discussion: "Roles: viewer, operator, approver, admin, service. The token is printed once and stored nowhere.")

    @OptionGroup var data: DataDirOptions
    @Option(help: "Who the token is for (user or system name).") var subject: String
    @Option(help: "viewer, operator, approver, admin or service.") var role: String
    @Option(help: "Lifetime, e.g. 90s, 15m, 12h, 30d; at most --max-days.") var ttl: String = "24h"
    @Option(help: "The services' auth.token.max.days: they refuse a token that expires further ahead.") var maxDays: Int = 30

    func validate() throws {
      guard Role(rawValue: self.role) != nil else {
        throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      try Validate.text(self.subject, field: "--subject", max: 128)
      guard (1...366).contains(self.maxDays) else { throw ValidationError("--max-days must be 1–366") }
      guard try parseDuration(self.ttl) <= TimeInterval(self.maxDays) * 86_400 else {
        throw ValidationError("--ttl is at most \(self.maxDays)d (the services' auth.token.max.days); issue a new token when it runs out")
      }
    }

    func run() async throws {
      let path = KeyFiles(dataDirectory: self.data.resolved).privateKey
      guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw CLIError("cannot read \(path); run `fixpoint init` first")
      }
      let authority = try await TokenAuthority(privateKeyPEM: pem)
      print(try await authority.issue(subject: self.subject, role: Role(rawValue: self.role)!, ttl: try parseDuration(self.ttl)))
    }
  }

  /// `fixpoint token rotate-service`
  struct RotateService: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "rotate-service",
      abstract: "Replace the services' own token (DATA_DIR/keys/service.token) with a new one.",
      discussion: """
        The services re-read the file within seconds, so running ones keep delivering events \
        without a restart. The token lives 30 days (or --max-days); `fixpoint up` rotates it by \
        itself when under 10 days remain. Elsewhere, run `rotate-service --if-due` daily on the \
        host that holds the private key and publish the file: Kubernetes updates a mounted Secret \
        in place; systemd copies LoadCredential= files at start, so restart the units after a \
        rotation (the command prints "rotated" then).
        """)

    @OptionGroup var data: DataDirOptions
    @Option(help: "The services' auth.token.max.days: the new token's lifetime.") var maxDays: Int = 30
    @Flag(help: "Only when fewer than 10 days remain, or the current one would be refused.") var ifDue = false

    func validate() throws {
      guard (1...366).contains(self.maxDays) else { throw ValidationError("--max-days must be 1–366") }
    }

    func run() async throws {
      let (expiry, rotated) = try await Self.rotate(dataDirectory: self.data.resolved, lifetime: TimeInterval(self.maxDays) * 86_400, onlyIfDue: self.ifDue)
      print("\(rotated ? "rotated" : "kept"): service token valid until \(ISO8601DateFormatter().string(from: expiry))")
    }

    /// Writes a new service token (atomically: a reader sees the old file or the new one) unless
    /// `onlyIfDue` and the current one still has 10 days and would be accepted; returns when the
    /// token now in the file expires, and whether it is a new one.
    @discardableResult
    static func rotate(dataDirectory: String, lifetime: TimeInterval = TokenClaims.defaultMaxLifetime, onlyIfDue: Bool) async throws -> (Date, Bool) {
      let files = KeyFiles(dataDirectory: dataDirectory)
      guard let pem = try? String(contentsOfFile: files.privateKey, encoding: .utf8) else {
        throw CLIError("cannot read \(files.privateKey); run `fixpoint init` first")
      }
      let authority = try await TokenAuthority(privateKeyPEM: pem, maxLifetime: lifetime)
      let current = ((try? String(contentsOfFile: files.serviceToken, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
      if onlyIfDue, let expiry = await authority.expiry(of: current),
         expiry > Date().addingTimeInterval(10 * 86_400), expiry <= Date().addingTimeInterval(lifetime) {
        return (expiry, false)
      }
      let token = try await authority.issue(subject: "fixpoint-services", role: .service, ttl: lifetime)
      let staging = files.serviceToken + ".new"
      guard FileManager.default.createFile(atPath: staging, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
        throw CLIError("cannot write \(staging)")
      }
      guard rename(staging, files.serviceToken) == 0 else { throw CLIError("cannot replace \(files.serviceToken): errno \(errno)") }
      return (Date().addingTimeInterval(lifetime), true)
    }
  }
}
