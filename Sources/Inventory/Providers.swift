import CloudAWS
import Crypto
import FixpointCore
import FixpointProtocol
import Foundation
import GRDB
import struct GRPCCore.RPCError
import Logging
import Synchronization

/// What is sealed: the keys, and the role to assume with them.
struct StoredCredentials: Codable {
  var accessKeyID: String
  var secretAccessKey: String
  var sessionToken: String?
  var roleARN: String?
  var externalID: String?
  /// The role changes run as (assumed with the same keys and external id); nil: roleARN's.
  var changeRoleARN: String?

  /// The credentials changes run with.
  var forChanges: StoredCredentials {
    guard let change = self.changeRoleARN, !change.isEmpty else { return self }
    var credentials = self
    credentials.roleARN = change
    return credentials
  }
}

/// What an AWS client is for: reads (discovery, snapshots, verification) or changes.
enum AccessPurpose: Sendable, Hashable {
  case read, change
}

/// Settings for talking to AWS.
struct AWSSettings: Sendable {
  var rate: Double
  var burst: Double
  var retry: RetryPolicy
  var syncConcurrency: Int
  /// How long ConnectProvider waits for STS, retries included.
  var connectTimeout: Duration
}

/// Connected providers: connecting (verify, seal, record), disconnecting, and the AWS client of
/// each, made once from the unsealed credentials and kept in memory only.
final class Providers: Sendable {
  let store: Store
  let sealer: Sealer
  let settings: AWSSettings
  let logger: Logger
  private let accounts = Mutex<[AccountKey: AWSAccount]>([:])

  struct AccountKey: Hashable {
    var providerID: String
    var purpose: AccessPurpose
  }

  init(store: Store, sealer: Sealer, settings: AWSSettings, logger: Logger) {
    self.store = store
    self.sealer = sealer
    self.settings = settings
    self.logger = logger
  }

  /// A client for `credentials` against `endpoint`, limited by the account's token bucket.
  func client(_ credentials: StoredCredentials, endpoint: String, bucketKey: String, region: String) throws -> AWSClient {
    let keys = AWSCredentials(accessKeyID: credentials.accessKeyID, secretAccessKey: credentials.secretAccessKey, sessionToken: credentials.sessionToken)
    let limiter = TokenBucket.shared(for: bucketKey, rate: self.settings.rate, burst: self.settings.burst)
    let base = try AWSClient(credentials: StaticCredentials(keys), endpoint: endpoint, limiter: limiter, retry: self.settings.retry, logger: self.logger)
    guard let role = credentials.roleARN, !role.isEmpty else { return base }
    return try AWSClient(
      credentials: AssumeRoleCredentials(base: base, region: region, roleARN: role, externalID: credentials.externalID),
      endpoint: endpoint, limiter: limiter, retry: self.settings.retry, logger: self.logger)
  }

  /// Validates a connect request, naming the field at fault; nothing is called or written.
  static func validate(_ request: Fixpoint_V1_ConnectProviderRequest) throws -> (StoredCredentials, [String]) {
    guard request.kind == .aws else { throw ServiceError.invalidArgument(field: "kind", reason: "only PROVIDER_KIND_AWS is supported") }
    try Validate.text(request.displayName, field: "display_name", max: 100)
    guard case .aws(let aws) = request.credentials else {
      throw ServiceError.invalidArgument(field: "aws", reason: "AWS credentials are required")
    }
    guard AWSNames.isAccessKeyID(aws.accessKeyID) else {
      throw ServiceError.invalidArgument(field: "aws.access_key_id", reason: "expected 16–128 upper-case letters and digits")
    }
    guard !aws.secretAccessKey.isEmpty, aws.secretAccessKey.count <= 128, !aws.secretAccessKey.contains(where: \.isWhitespace) else {
      throw ServiceError.invalidArgument(field: "aws.secret_access_key", reason: "expected 1–128 characters without spaces")
    }
    guard aws.sessionToken.count <= 4096 else { throw ServiceError.invalidArgument(field: "aws.session_token", reason: "too long") }
    if !aws.roleArn.isEmpty, !AWSNames.isRoleARN(aws.roleArn) {
      throw ServiceError.invalidArgument(field: "aws.role_arn", reason: "expected arn:aws:iam::<12 digits>:role/<name>")
    }
    guard aws.externalID.count <= 1224, aws.externalID.allSatisfy({ $0.isLetter || $0.isNumber || "+=,.@:/-_".contains($0) }) else {
      throw ServiceError.invalidArgument(field: "aws.external_id", reason: "up to 1224 of letters, digits and +=,.@:/-_")
    }
    if !aws.changeRoleArn.isEmpty, !AWSNames.isRoleARN(aws.changeRoleArn) {
      throw ServiceError.invalidArgument(field: "aws.change_role_arn", reason: "expected arn:aws:iam::<12 digits>:role/<name>")
    }
    if !aws.externalID.isEmpty && aws.roleArn.isEmpty && aws.changeRoleArn.isEmpty {
      throw ServiceError.invalidArgument(field: "aws.external_id", reason: "only with aws.role_arn or aws.change_role_arn")
    }
    let regions = request.regions.isEmpty ? ["us-east-1"] : request.regions
    guard regions.count <= 40, Set(regions).count == regions.count else {
      throw ServiceError.invalidArgument(field: "regions", reason: "at most 40 distinct regions")
    }
    for (i, r) in regions.enumerated() where !AWSNames.isRegion(r) {
      throw ServiceError.invalidArgument(field: "regions[\(i)]", reason: "'\(r)' is not a region name such as us-east-1")
    }
    if !request.endpoint.isEmpty, AWSClient.parseEndpoint(request.endpoint) == nil {
      throw ServiceError.invalidArgument(field: "endpoint", reason: "expected http(s)://host[:port]")
    }
    let stored = StoredCredentials(
      accessKeyID: aws.accessKeyID, secretAccessKey: aws.secretAccessKey, sessionToken: aws.sessionToken.isEmpty ? nil : aws.sessionToken,
      roleARN: aws.roleArn.isEmpty ? nil : aws.roleArn, externalID: aws.externalID.isEmpty ? nil : aws.externalID,
      changeRoleARN: aws.changeRoleArn.isEmpty ? nil : aws.changeRoleArn)
    return (stored, regions)
  }

  /// Verifies the credentials with STS GetCallerIdentity, then seals and records them.
  func connect(_ request: Fixpoint_V1_ConnectProviderRequest) async throws -> Fixpoint_V1_Provider {
    let (credentials, regions) = try Self.validate(request)
    let id = RandomID.make(prefix: "prv")
    let identity: CallerIdentity
    var changeAccount: String?
    let client = try self.client(credentials, endpoint: request.endpoint, bucketKey: "connect-\(id)", region: regions[0])
    // The change role, when there is one, must be assumable too: found now, not at the first fix.
    let changer = credentials.changeRoleARN == nil
      ? nil : try self.client(credentials.forChanges, endpoint: request.endpoint, bucketKey: "connect-\(id)", region: regions[0])
    do {
      let (reads, changes) = try await Deadline.run(self.settings.connectTimeout) {
        (try await client.callerIdentity(region: regions[0]), try await changer?.callerIdentity(region: regions[0]))
      }
      identity = reads
      changeAccount = changes?.account
    } catch let error as AWSError where error.kind != .service && error.kind != .throttling {
      throw ServiceError.failedPrecondition("AWS refused the credentials (STS GetCallerIdentity: \(error.code)): \(error.message)")
    } catch {
      // Unreachable, or not answering: the caller may try again later; nothing was recorded.
      let endpoint = request.endpoint.isEmpty ? "sts.\(regions[0]).amazonaws.com" : request.endpoint
      throw RPCError(code: .unavailable, message: "STS at \(endpoint) did not answer within \(self.settings.connectTimeout) (inventory.connect.timeout): \(error)")
    }
    if let changeAccount, changeAccount != identity.account {
      throw ServiceError.failedPrecondition(
        "aws.change_role_arn is in account \(changeAccount), the provider reads account \(identity.account): changes would go elsewhere")
    }
    let sealed = try self.sealer.seal(try JSONEncoder().encode(credentials), context: id)
    let hint = String(credentials.accessKeyID.prefix(4)) + "…" + String(credentials.accessKeyID.suffix(4))
    let now = Date().timeIntervalSince1970
    return try await RequestLog.once(self.store, method: "ConnectProvider", request: request, requestID: request.requestID) { db in
      if try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM provider WHERE display_name = ?", arguments: [request.displayName])! > 0 {
        throw ServiceError.alreadyExists(kind: "provider named", id: request.displayName)
      }
      try db.execute(
        sql: """
          INSERT INTO provider (id, kind, display_name, account_id, regions, status, role_arn, access_key_hint, endpoint,
            sealed_credentials, created_at, change_role_arn)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
          """,
        arguments: [
          id, request.kind.rawValue, request.displayName, identity.account, regions.joined(separator: ","),
          Fixpoint_V1_Provider.Status.connected.rawValue, credentials.roleARN ?? "", hint, request.endpoint, sealed, now,
          credentials.changeRoleARN ?? "",
        ])
      return try ProviderRecord.fetchOne(db, sql: "SELECT \(ProviderRecord.publicColumns) FROM provider WHERE id = ?", arguments: [id])!.proto
    }
  }

  /// Forgets the credentials; the provider and its resources stay as history.
  func disconnect(_ request: Fixpoint_V1_DisconnectProviderRequest) async throws -> Fixpoint_V1_Provider {
    try Validate.id(request.providerID, field: "provider_id", prefix: "prv")
    let provider = try await RequestLog.once(self.store, method: "DisconnectProvider", request: request, requestID: request.requestID) { db in
      guard try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM provider WHERE id = ?", arguments: [request.providerID])! > 0 else {
        throw ServiceError.notFound(kind: "provider", id: request.providerID)
      }
      try db.execute(
        sql: "UPDATE provider SET status = ?, sealed_credentials = NULL WHERE id = ?",
        arguments: [Fixpoint_V1_Provider.Status.disconnected.rawValue, request.providerID])
      return try ProviderRecord.fetchOne(db, sql: "SELECT \(ProviderRecord.publicColumns) FROM provider WHERE id = ?", arguments: [request.providerID])!.proto
    }
    self.accounts.withLock { accounts in accounts = accounts.filter { $0.key.providerID != request.providerID } }
    return provider
  }

  /// The provider's record and its AWS account handle for `purpose`; FAILED_PRECONDITION when
  /// disconnected.
  func account(_ providerID: String, for purpose: AccessPurpose = .read) async throws -> (ProviderRecord, AWSAccount) {
    let row = try await self.store.read { db -> (ProviderRecord, Data?)? in
      guard let record = try ProviderRecord.fetchOne(db, sql: "SELECT \(ProviderRecord.publicColumns) FROM provider WHERE id = ?", arguments: [providerID])
      else { return nil }
      return (record, try Data.fetchOne(db, sql: "SELECT sealed_credentials FROM provider WHERE id = ?", arguments: [providerID]))
    }
    guard let (record, sealed) = row else { throw ServiceError.notFound(kind: "provider", id: providerID) }
    guard let sealed, record.status == Fixpoint_V1_Provider.Status.connected.rawValue else {
      throw ServiceError.failedPrecondition("provider \(providerID) is disconnected")
    }
    // Without a change role, changes use the read account itself (one client, one role session).
    let key = AccountKey(providerID: providerID, purpose: record.change_role_arn.isEmpty ? .read : purpose)
    if let cached = self.accounts.withLock({ $0[key] }) { return (record, cached) }
    let stored = try JSONDecoder().decode(StoredCredentials.self, from: try self.sealer.open(sealed, context: providerID))
    let credentials = key.purpose == .change ? stored.forChanges : stored
    let regions = record.regions.split(separator: ",").map(String.init)
    // One rate budget per account, whichever role calls.
    let client = try self.client(credentials, endpoint: record.endpoint, bucketKey: "account-\(record.account_id)-\(record.endpoint)", region: regions.first ?? "us-east-1")
    let account = AWSAccount(client: client, accountID: record.account_id)
    self.accounts.withLock { $0[key] = account }
    return (record, account)
  }
}
