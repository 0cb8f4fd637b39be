import ArgumentParser
import FixpointCore
import Foundation

/// `fixpoint token …`
struct Token: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Issue access tokens.", subcommands: [Issue.self])

  /// `fixpoint token issue --subject NAME --role ROLE [--ttl DURATION]`
  struct Issue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Sign a token with the data directory's private key and print it.",
      discussion: "Roles: viewer, operator, approver, admin, service. The token is printed once and stored nowhere.")

    @OptionGroup var data: DataDirOptions
    @Option(help: "Who the token is for (user or system name).") var subject: String
    @Option(help: "viewer, operator, approver, admin or service.") var role: String
    @Option(help: "Lifetime, e.g. 90s, 15m, 12h, 30d (at most).") var ttl: String = "24h"

    func validate() throws {
      guard Role(rawValue: self.role) != nil else {
        throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
      }
      try Validate.text(self.subject, field: "--subject", max: 128)
      guard try parseDuration(self.ttl) <= TokenClaims.maxIssuedTTL else {
        throw ValidationError("--ttl is at most 30d; issue a new token when it runs out")
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
}
