public import Foundation

/// Who a set of credentials belongs to.
public struct CallerIdentity: Sendable, Equatable {
  public var account: String
  public var arn: String
  public var userID: String
}

extension AWSClient {
  static let stsVersion = "2011-06-15"

  /// STS GetCallerIdentity: verifies the credentials and names the account.
  public func callerIdentity(region: String) async throws -> CallerIdentity {
    let result = try await self.query(.sts, region: region, action: "GetCallerIdentity", version: Self.stsVersion)
      .child("GetCallerIdentityResult")
    guard let account = result?.string("Account"), let arn = result?.string("Arn") else {
      throw AWSError(kind: .protocolError, code: "MalformedResponse", message: "GetCallerIdentity answered without an account", status: 200)
    }
    return CallerIdentity(account: account, arn: arn, userID: result?.string("UserId") ?? "")
  }

  /// STS AssumeRole: temporary credentials for `roleARN`.
  public func assumeRole(
    region: String, roleARN: String, externalID: String?, sessionName: String, duration: Int = 3600
  ) async throws -> AWSCredentials {
    var p = [("RoleArn", roleARN), ("RoleSessionName", sessionName), ("DurationSeconds", "\(duration)")]
    if let externalID, !externalID.isEmpty { p.append(("ExternalId", externalID)) }
    let c = try await self.query(.sts, region: region, action: "AssumeRole", version: Self.stsVersion, p)
      .at("AssumeRoleResult", "Credentials")
    guard let key = c?.string("AccessKeyId"), let secret = c?.string("SecretAccessKey") else {
      throw AWSError(kind: .protocolError, code: "MalformedResponse", message: "AssumeRole answered without credentials", status: 200)
    }
    let expiration = c?.string("Expiration").flatMap { try? Date($0, strategy: .iso8601) }
    return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: c?.string("SessionToken"), expiration: expiration)
  }
}

/// Credentials of an assumed role, refreshed five minutes before they expire. The base client
/// (long-lived keys) only ever calls STS.
public actor AssumeRoleCredentials: CredentialProvider {
  let base: AWSClient
  let region: String
  let roleARN: String
  let externalID: String?
  let sessionName: String
  private var current: AWSCredentials?

  public init(base: AWSClient, region: String, roleARN: String, externalID: String?, sessionName: String = "fixpoint-inventory") {
    self.base = base
    self.region = region
    self.roleARN = roleARN
    self.externalID = externalID
    self.sessionName = sessionName
  }

  public func credentials() async throws -> AWSCredentials {
    if let current, let expiry = current.expiration, expiry.timeIntervalSinceNow > 300 { return current }
    let fresh = try await self.base.assumeRole(region: self.region, roleARN: self.roleARN, externalID: self.externalID, sessionName: self.sessionName)
    self.current = fresh
    return fresh
  }
}

/// Checks of operator input about AWS.
public enum AWSNames {
  /// `arn:aws:iam::123456789012:role/path/Name` (any partition).
  public static func isRoleARN(_ s: String) -> Bool {
    let parts = s.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 6, parts[0] == "arn", parts[1].hasPrefix("aws"), parts[2] == "iam", parts[3].isEmpty,
      parts[4].count == 12, parts[4].allSatisfy(\.isNumber), parts[5].hasPrefix("role/"), parts[5].count > 5, s.count <= 2048
    else { return false }
    return parts[5].dropFirst(5).allSatisfy { $0.isLetter || $0.isNumber || "+=,.@_/-".contains($0) }
  }

  /// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-4`…
  public static func isRegion(_ s: String) -> Bool {
    let parts = s.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count >= 3, parts.count <= 4, s.count <= 25, let last = parts.last, last.allSatisfy(\.isNumber), !last.isEmpty else { return false }
    return parts.dropLast().allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isLowercase && $0.isLetter } }
  }

  /// An access key id: 16–128 upper-case letters and digits.
  public static func isAccessKeyID(_ s: String) -> Bool {
    (16...128).contains(s.count) && s.allSatisfy { ($0.isUppercase && $0.isLetter) || $0.isNumber }
  }
}
