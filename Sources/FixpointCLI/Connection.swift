import ArgumentParser
import FixpointCore
import FixpointProtocol
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SwiftProtobuf

/// How a command reaches the services: their addresses, TLS, and the caller's token.
struct ConnectionOptions: ParsableArguments {
  @OptionGroup var addresses: ServiceAddressOptions
  @OptionGroup var data: DataDirOptions

  @Option(
    name: .customLong("token-file"),
    help: "File holding the bearer token. Otherwise FIXPOINT_TOKEN, otherwise DATA_DIR/keys/admin.token.")
  var tokenFile: String?

  @Option(
    name: .customLong("tls-ca"),
    help: "PEM CA bundle: talk TLS to the services and verify them with it (env FIXPOINT_TLS_CA).")
  var tlsCA: String?

  @Option(
    name: .customLong("tls-cert"),
    help: "PEM client certificate, when the services demand mutual TLS (env FIXPOINT_TLS_CERT).")
  var tlsCert: String?

  @Option(name: .customLong("tls-key"), help: "PEM private key of --tls-cert (env FIXPOINT_TLS_KEY).")
  var tlsKey: String?

  private static var environment: [String: String] { ProcessInfo.processInfo.environment }

  /// The token to send: a flag's file, the environment, or the admin token `fixpoint init` wrote.
  func token() throws -> String {
    if let path = self.tokenFile {
      guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("cannot read --token-file \(path)") }
      return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
    if let token = Self.environment["FIXPOINT_TOKEN"], !token.isEmpty { return token }
    let path = KeyFiles(dataDirectory: self.data.resolved).adminToken
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw CLIError("no token: pass --token-file, set FIXPOINT_TOKEN, or run `fixpoint init` (which writes \(path))")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// TLS when a CA bundle is given; mutual when a client certificate is too.
  func tls() throws -> TLSSettings? {
    let env = Self.environment
    guard let ca = self.tlsCA ?? env["FIXPOINT_TLS_CA"], !ca.isEmpty else { return nil }
    let cert = self.tlsCert ?? env["FIXPOINT_TLS_CERT"] ?? ""
    let key = self.tlsKey ?? env["FIXPOINT_TLS_KEY"] ?? ""
    guard cert.isEmpty == key.isEmpty else { throw ValidationError("--tls-cert and --tls-key go together") }
    return TLSSettings(certificate: cert, privateKey: key, trustRoots: ca, mutual: !cert.isEmpty)
  }

  /// Runs `body` with a client of `service`, turning a failed call into a one-line error.
  func call<R: Sendable>(
    _ service: ServiceName, _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> R
  ) async throws -> R {
    let address = try self.addresses.address(of: service, dataDirectory: self.data.resolved)
    let (token, tls) = (try self.token(), try self.tls())
    do {
      return try await ClientFactory.withClient(address: address, tls: tls, token: token) { try await body($0) }
    } catch let error as RPCError {
      let hint = error.code == .unavailable ? " (is the suite running? `fixpoint status` shows)" : ""
      throw CLIError("\(service.rawValue) at \(address): \(error.code): \(error.message)\(hint)")
    }
  }
}

/// Call options for one CLI request: a deadline, so a stuck service never hangs the terminal.
let cliCallOptions: CallOptions = {
  var options = CallOptions.defaults
  options.timeout = .seconds(30)
  return options
}()

/// For an export, one answer holding a whole assessment: a 1,000-per-kind estate's JSON export
/// is about 14 MB, over gRPC's default 4 MiB. grpc-swift-nio-transport 2.9 bounds a client
/// stream's inbound messages by `maxRequestMessageBytes` (not only the response limit), so both
/// are raised; a longer deadline too.
let exportCallOptions: CallOptions = {
  var options = cliCallOptions
  options.timeout = .seconds(300)
  options.maxRequestMessageBytes = 256 << 20
  options.maxResponseMessageBytes = 256 << 20
  return options
}()

/// `--limit` and `--output`, shared by every listing.
struct ListingOptions: ParsableArguments {
  @Option(help: "At most this many rows (pages are followed up to it); 0 lists everything.") var limit: Int = 100
  @Option(help: "table or json.") var output: OutputFormat = .table

  func validate() throws {
    guard (0...100_000).contains(self.limit) else { throw ValidationError("--limit must be between 0 (everything) and 100000") }
  }

  /// Follows page tokens until `limit` items (all with 0) or the last page. `fetch` gets a page
  /// token and a page size and answers items and the next token; `more` says rows were left.
  func collect<Item: Sendable>(
    _ fetch: (_ pageToken: String, _ pageSize: Int32) async throws -> ([Item], String)
  ) async throws -> (items: [Item], more: Bool) {
    let cap = self.limit == 0 ? Int.max : self.limit
    var items: [Item] = []
    var token = ""
    repeat {
      let (page, next) = try await fetch(token, Int32(min(cap - items.count, 500)))
      items += page
      token = next
    } while !token.isEmpty && items.count < cap
    return (Array(items.prefix(cap)), !token.isEmpty || items.count > cap)
  }
}

/// One column of a table: its header and how to read it from a message.
struct Column<Message: SwiftProtobuf.Message>: Sendable {
  var name: String
  var value: @Sendable (Message) -> String
  init(_ name: String, _ value: @escaping @Sendable (Message) -> String) {
    self.name = name
    self.value = value
  }
}

/// Prints messages as a table of `columns`, or as a JSON array of the whole messages (proto3 JSON
/// mapping, so scripts see every field under its documented name).
func printMessages<Message: SwiftProtobuf.Message>(
  _ items: [Message], columns: [Column<Message>], format: OutputFormat, more: Bool = false
) throws {
  switch format {
  case .json:
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    print(try Message.jsonString(from: items, options: options))
  case .table:
    let rows = items.map { item in Dictionary(uniqueKeysWithValues: columns.map { ($0.name, $0.value(item)) }) }
    try printListing(rows, columns: columns.map(\.name), format: .table)
  }
  // On stderr in both formats, so a script reading JSON from stdout still learns it was cut.
  if more { FileHandle.standardError.write(Data("(more rows: the listing stopped at --limit \(items.count); raise it, or --limit 0 for all)\n".utf8)) }
}

/// Display forms of protocol values.
enum Show {
  static func time(_ t: Google_Protobuf_Timestamp) -> String {
    t.seconds == 0 && t.nanos == 0 ? "" : t.date.formatted(.iso8601)
  }

  static func resource(_ r: Fixpoint_V1_ResourceRef) -> String {
    r.resourceID.isEmpty ? r.externalID : r.resourceID
  }

  static func name(_ value: some CLIEnum) -> String { value.name }
}

/// A protocol enum the CLI reads and prints by case name in kebab case ("pending-approval"),
/// never by number; the unspecified case is neither shown nor accepted.
protocol CLIEnum: SwiftProtobuf.Enum, CaseIterable, ExpressibleByArgument {}

extension CLIEnum {
  var name: String {
    guard self.rawValue != 0 else { return "" }
    let camel = String(describing: self)
    return camel.reduce(into: "") { out, c in
      if c.isUppercase { out += "-" + c.lowercased() } else { out.append(c) }
    }
  }

  init?(argument: String) {
    let wanted = argument.lowercased().replacingOccurrences(of: "_", with: "-")
    guard let match = Self.allCases.first(where: { $0.rawValue != 0 && $0.name == wanted }) else { return nil }
    self = match
  }

  static var allValueStrings: [String] { Self.allCases.filter { $0.rawValue != 0 }.map(\.name) }
}

extension Fixpoint_V1_Severity: CLIEnum {}
extension Fixpoint_V1_Alert.Status: CLIEnum {}
extension Fixpoint_V1_Finding.Status: CLIEnum {}
extension Fixpoint_V1_Drift.Status: CLIEnum {}
extension Fixpoint_V1_Drift.Kind: CLIEnum {}
extension Fixpoint_V1_Resource.Status: CLIEnum {}
extension Fixpoint_V1_Provider.Status: CLIEnum {}
extension Fixpoint_V1_ProviderKind: CLIEnum {}

extension ConnectionOptions {
  /// `resourceID(_:)` of an optional option: nil stays nil.
  func resourceID(_ text: String?) async throws -> String? {
    guard let text else { return nil }
    return try await self.resourceID(text)
  }

  /// Inventory's id for a resource given by id (`res_…`), by ARN, or by the cloud's own id or
  /// name (sg-…, i-…, a bucket's name); inventory says when a name is ambiguous.
  func resourceID(_ text: String) async throws -> String {
    guard !text.hasPrefix("res_") else { return text }
    return try await self.call(.inventory) { client in
      try await Fixpoint_V1_InventoryService.Client(wrapping: client).getResource(.with { $0.externalID = text }, options: cliCallOptions).id
    }
  }

  /// `providerID(_:)` of an optional option: nil stays nil.
  func providerID(_ text: String?) async throws -> String? {
    guard let text else { return nil }
    return try await self.providerID(text)
  }

  /// Inventory's id for a provider given by id (`prv_…`) or by the name it was connected under.
  func providerID(_ text: String) async throws -> String {
    guard !text.hasPrefix("prv_") else { return text }
    let matches = try await self.call(.inventory) { client in
      let inventory = Fixpoint_V1_InventoryService.Client(wrapping: client)
      return try await allPages { token in
        let page = try await inventory.listProviders(
          .with { $0.pageSize = 500; $0.pageToken = token; $0.includeDisconnected = true }, options: cliCallOptions)
        return (page.providers.filter { $0.displayName == text }, page.nextPageToken)
      }
    }
    guard let first = matches.first else {
      throw CLIError("no provider is named '\(text.prefix(80))' (`fixpoint provider list` shows them; ids start with prv_)")
    }
    guard matches.count == 1 else {
      throw CLIError("\(matches.count) providers are named '\(text.prefix(80))': give the id (\(matches.map(\.id).joined(separator: ", ")))")
    }
    return first.id
  }
}

/// Every item of a paged listing: `fetch` gets a page token and answers a page's items and the
/// next token (empty after the last page).
func allPages<Item>(_ fetch: (_ pageToken: String) async throws -> ([Item], String)) async throws -> [Item] {
  var items: [Item] = []
  var token = ""
  repeat {
    let (page, next) = try await fetch(token)
    items += page
    token = next
  } while !token.isEmpty
  return items
}
