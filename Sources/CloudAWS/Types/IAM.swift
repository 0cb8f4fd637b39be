public import FixpointDocuments
import Foundation

extension AWSClient {
  func iam(_ action: String, _ parameters: [(String, String)] = []) async throws -> XMLTree {
    try await self.query(.iam, region: "us-east-1", action: action, version: "2010-05-08", parameters)
  }

  /// Every member of `listKey` under `<Action>Result`, across pages (Marker / IsTruncated).
  func iamMembers(_ action: String, listKey: String, _ parameters: [(String, String)] = []) async throws -> [XMLTree] {
    var members: [XMLTree] = []
    var marker: String?
    repeat {
      var p = parameters + [("MaxItems", "1000")]
      if let marker { p.append(("Marker", marker)) }
      let answer = try await self.iam(action, p)
      let result = answer.child("\(action)Result") ?? answer
      members += result.items(listKey)
      marker = result.bool("IsTruncated") == true ? result.string("Marker") : nil
    } while marker != nil
    return members
  }
}

/// `iam_user`: access keys (status, creation, last use), MFA devices, policies, console password.
public struct IAMUser: ResourceType {
  public let name = "iam_user"
  public let scope = ResourceScope.global

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    let client = account.client
    return try await concurrentMap(try await client.iamMembers("ListUsers", listKey: "Users"), width: discoveryWidth) { user in
      try await self.document(client, user)
    }
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let userName = externalID.split(separator: "/").last.map(String.init) ?? externalID
    do {
      let answer = try await account.client.iam("GetUser", [("UserName", userName)])
      guard let user = answer.at("GetUserResult", "User") else { return nil }
      return try await self.document(account.client, user)
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
  }

  func document(_ client: AWSClient, _ user: XMLTree) async throws -> CloudResource {
    let userName = user.string("UserName") ?? ""
    let p = [("UserName", userName)]
    var keys: [String: JSONValue] = [:]
    for key in try await client.iamMembers("ListAccessKeys", listKey: "AccessKeyMetadata", p) {
      guard let id = key.string("AccessKeyId") else { continue }
      let used = try await client.iam("GetAccessKeyLastUsed", [("AccessKeyId", id)]).at("GetAccessKeyLastUsedResult", "AccessKeyLastUsed")
      let service = used?.string("ServiceName")
      keys[id] = [
        "status": .from(key.string("Status")), "created": .from(key.string("CreateDate")),
        "last_used_date": .from(used?.string("LastUsedDate")), "last_used_service": service == "N/A" ? .null : .from(service),
      ]
    }
    let mfa = try await client.iamMembers("ListMFADevices", listKey: "MFADevices", p).compactMap { $0.string("SerialNumber") }
    let attached = try await client.iamMembers("ListAttachedUserPolicies", listKey: "AttachedPolicies", p).compactMap { $0.string("PolicyArn") }
    let inline = try await client.iamMembers("ListUserPolicies", listKey: "PolicyNames", p).map(\.text)
    var password = true
    do {
      _ = try await client.iam("GetLoginProfile", p)
    } catch let error as AWSError where error.kind == .notFound {
      password = false
    }
    var tags: [String: String] = [:]
    for t in try await client.iamMembers("ListUserTags", listKey: "Tags", p) { if let k = t.string("Key") { tags[k] = t.string("Value") ?? "" } }
    return CloudResource(
      type: self.name, externalID: user.string("Arn") ?? userName, name: userName, region: "global", tags: tags,
      configuration: [
        "user_name": .string(userName), "user_id": .from(user.string("UserId")), "created": .from(user.string("CreateDate")),
        "console_password": .bool(password), "password_last_used": .from(user.string("PasswordLastUsed")),
        "access_keys": .object(keys), "mfa_devices": .array(mfa.sorted().map(JSONValue.string)),
        "attached_policies": .array(attached.sorted().map(JSONValue.string)), "inline_policies": .array(inline.sorted().map(JSONValue.string)),
        "tags": .object(tags.mapValues(JSONValue.string)),
      ])
  }

  public var writers: [String: FieldWriter] {
    [
      // Only a key's status: keys are created and deleted by procedures, not by setting a document.
      "access_keys": FieldWriter(
        validate: { v in
          guard let keys = v.objectValue else { throw ChangeError(field: "access_keys", reason: "must be an object keyed by access key id") }
          for (id, key) in keys {
            let o = try Expect.object(key, "access_keys[\(id)]", keys: ["status", "created", "last_used_date", "last_used_service"])
            _ = try Expect.string(o["status"] ?? .null, "access_keys[\(id)].status", oneOf: ["Active", "Inactive"])
          }
        },
        write: { account, resource, desired in
          let current = resource.configuration["access_keys"]?.objectValue ?? [:]
          let wanted = desired.objectValue ?? [:]
          guard Set(wanted.keys) == Set(current.keys) else {
            throw ChangeError(field: "access_keys", reason: "keys can only change status here; these keys differ: \(Set(wanted.keys).symmetricDifference(current.keys).sorted())")
          }
          for (id, key) in wanted.sorted(by: { $0.key < $1.key }) where key["status"] != current[id]?["status"] {
            _ = try await account.client.iam(
              "UpdateAccessKey", [("UserName", resource.name), ("AccessKeyId", id), ("Status", key["status"]?.stringValue ?? "Inactive")])
          }
        })
    ]
  }
}

/// Where a rotated access key's secret goes: a Secrets Manager secret in the same account,
/// `secretsmanager:[REGION:]PREFIX` → the secret `PREFIX/USER_NAME` (created on first use; each
/// rotation is a new version holding `AccessKeyId`, `SecretAccessKey` and `UserName` as JSON).
public struct AccessKeySink: Sendable, Equatable, CustomStringConvertible {
  public var prefix: String
  /// The secret's region (`secretsmanager:REGION:PREFIX`); us-east-1 when not given.
  public var region: String

  public init(_ text: String) throws(ChangeError) {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    let (region, prefix) = parts.count == 3 ? (parts[1], parts[2]) : ("us-east-1", parts.count == 2 ? parts[1] : "")
    let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_+=.@-")
    guard parts.first == "secretsmanager", AWSNames.isRegion(region), !prefix.isEmpty, prefix.count <= 400,
      prefix.unicodeScalars.allSatisfy(allowed.contains)
    else {
      throw ChangeError(
        field: "new_access_key_sink",
        reason: "must be secretsmanager:PREFIX or secretsmanager:REGION:PREFIX (letters, digits and /_+=.@-); the secret is PREFIX/USER_NAME")
    }
    (self.region, self.prefix) = (region, prefix)
  }

  public var description: String { "secretsmanager:\(self.region):\(self.prefix)" }
  public func secretName(user: String) -> String { "\(self.prefix)/\(user)" }

  /// The access key id the sink holds for `user`, if any.
  func heldKey(_ client: AWSClient, user: String) async throws -> String? {
    do {
      let value = try await client.json(.secretsmanager, region: self.region, target: "secretsmanager.GetSecretValue", ["SecretId": .string(self.secretName(user: user))])
      guard let text = value["SecretString"]?.stringValue else { return nil }
      return (try? JSONValue.parse(Array(text.utf8)))?["AccessKeyId"]?.stringValue
    } catch let error as AWSError where error.kind == .notFound || error.code == "ResourceNotFoundException" {
      return nil
    }
  }

  /// Stores the key as the new current version of the user's secret. `token` makes a retry of
  /// the same delivery a no-op.
  func deliver(_ client: AWSClient, user: String, keyID: String, secret: String, token: String) async throws {
    let value = JSONValue.object(["AccessKeyId": .string(keyID), "SecretAccessKey": .string(secret), "UserName": .string(user)])
    let text = String(decoding: value.canonicalData, as: UTF8.self)
    let name = self.secretName(user: user)
    do {
      _ = try await client.json(.secretsmanager, region: self.region, target: "secretsmanager.PutSecretValue", [
        "SecretId": .string(name), "SecretString": .string(text), "ClientRequestToken": .string(token),
      ])
    } catch let error as AWSError where error.kind == .notFound || error.code == "ResourceNotFoundException" {
      _ = try await client.json(.secretsmanager, region: self.region, target: "secretsmanager.CreateSecret", [
        "Name": .string(name), "SecretString": .string(text), "ClientRequestToken": .string(token),
        "Description": .string("IAM access key of \(user), rotated by Fixpoint"),
      ])
    }
  }
}

extension IAMUser {
  /// Creates a new access key for `user` and delivers its secret to `sink` — only there: the
  /// secret is never returned or kept. Safe to repeat for one rotation: `keysBefore` are the
  /// user's keys before its first attempt (from the snapshot); a key the sink already holds that
  /// is not among them was made by an earlier attempt and is the answer; a key that is neither
  /// was made by an attempt interrupted before delivery — its secret is lost — and is deleted.
  /// Returns the new key's id.
  public static func rotateAccessKey(
    _ account: AWSAccount, user: String, keysBefore: Set<String>, sink: AccessKeySink, token: String
  ) async throws -> String {
    let client = account.client
    let keys = Set(try await client.iamMembers("ListAccessKeys", listKey: "AccessKeyMetadata", [("UserName", user)]).compactMap { $0.string("AccessKeyId") })
    if let held = try await sink.heldKey(client, user: user), keys.contains(held), !keysBefore.contains(held) {
      return held
    }
    for orphan in keys.subtracting(keysBefore).sorted() {
      _ = try await client.iam("DeleteAccessKey", [("UserName", user), ("AccessKeyId", orphan)])
    }
    guard keysBefore.intersection(keys).count < 2 else {
      throw ChangeError(field: "access_keys", reason: "\(user) already has two access keys (the most IAM allows); delete the unused one first")
    }
    let created = try await client.iam("CreateAccessKey", [("UserName", user)]).at("CreateAccessKeyResult", "AccessKey")
    guard let id = created?.string("AccessKeyId"), let secret = created?.string("SecretAccessKey") else {
      throw AWSError(kind: .protocolError, code: "MissingAccessKey", message: "CreateAccessKey answered without a key", status: 200, operation: "CreateAccessKey")
    }
    try await sink.deliver(client, user: user, keyID: id, secret: secret, token: token)
    return id
  }
}

/// `iam_password_policy`: the account's password policy, or null when none is set.
public struct IAMPasswordPolicy: ResourceType {
  public let name = "iam_password_policy"
  public let scope = ResourceScope.global
  static let fields: [(xml: String, field: String, isBool: Bool)] = [
    ("MinimumPasswordLength", "minimum_password_length", false), ("RequireSymbols", "require_symbols", true),
    ("RequireNumbers", "require_numbers", true), ("RequireUppercaseCharacters", "require_uppercase_characters", true),
    ("RequireLowercaseCharacters", "require_lowercase_characters", true), ("AllowUsersToChangePassword", "allow_users_to_change_password", true),
    ("MaxPasswordAge", "max_password_age", false), ("PasswordReusePrevention", "password_reuse_prevention", false),
    ("HardExpiry", "hard_expiry", true),
  ]

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await self.read(account, region: region, externalID: "arn:aws:iam::\(account.accountID):account-password-policy").map { [$0] } ?? []
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    var policy: JSONValue = .null
    do {
      if let p = try await account.client.iam("GetAccountPasswordPolicy").at("GetAccountPasswordPolicyResult", "PasswordPolicy") {
        policy = .object(Dictionary(uniqueKeysWithValues: Self.fields.compactMap { f -> (String, JSONValue)? in
          guard let text = p.string(f.xml) else { return nil }
          return (f.field, f.isBool ? .bool(text == "true") : .number(Double(text) ?? 0))
        }))
      }
    } catch let error as AWSError where error.kind == .notFound {
      policy = .null
    }
    return CloudResource(type: self.name, externalID: externalID, name: "password policy", region: "global", configuration: ["policy": policy])
  }

  public var writers: [String: FieldWriter] {
    [
      "policy": FieldWriter(
        validate: { v in
          guard v != .null else { return }
          let o = try Expect.object(v, "policy", keys: Set(Self.fields.map(\.field)))
          for f in Self.fields {
            guard let value = o[f.field] else { continue }
            if f.isBool { _ = try Expect.bool(value, "policy.\(f.field)") } else { _ = try Expect.int(value, "policy.\(f.field)", 0...1095) }
          }
          if let n = o["minimum_password_length"] { _ = try Expect.int(n, "policy.minimum_password_length", 6...128) }
        },
        write: { account, _, v in
          if v == .null {
            _ = try await account.client.iam("DeleteAccountPasswordPolicy")
            return
          }
          let p = Self.fields.compactMap { f -> (String, String)? in
            guard let value = v[f.field], f.xml != "MaxPasswordAge" || value.intValue != 0 else { return nil }
            return (f.xml, f.isBool ? (value.boolValue == true ? "true" : "false") : "\(value.intValue ?? 0)")
          }
          _ = try await account.client.iam("UpdateAccountPasswordPolicy", p)
        })
    ]
  }
}
