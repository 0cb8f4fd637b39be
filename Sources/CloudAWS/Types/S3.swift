public import FixpointDocuments
import Foundation

private let s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

extension AWSClient {
  /// An S3 call on a bucket sub-resource (`?encryption`, `?policy`, …); nil when S3 answers with
  /// one of `absentCodes` (no such configuration).
  func s3(
    _ method: String, bucket: String, subresource: String, region: String, operation: String,
    body: String? = nil, absentCodes: Set<String> = []
  ) async throws -> XMLTree? {
    do {
      return try await self.restXML(
        .s3, region: region, operation: operation, method: method, path: "/" + SigV4.encode(bucket),
        query: [(subresource, "")], body: body)
    } catch let error as AWSError where absentCodes.contains(error.code) {
      return nil
    }
  }
}

/// `s3_bucket`: default encryption, public access block, policy, versioning, logging, tags.
public struct S3Bucket: ResourceType {
  public let name = "s3_bucket"
  public let scope = ResourceScope.global

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    guard let list = try await account.client.restXML(.s3, region: region, operation: "ListBuckets", method: "GET", path: "/") else {
      return []
    }
    let names = (list.child("Buckets")?.all("Bucket") ?? []).compactMap { $0.string("Name") }
    return try await concurrentMap(names, width: discoveryWidth) { name in
      try await self.read(account, region: region, externalID: "arn:aws:s3:::\(name)")
    }.compactMap { $0 }
  }

  public func read(_ account: AWSAccount, region home: String, externalID: String) async throws -> CloudResource? {
    let bucket = String(externalID.dropFirst("arn:aws:s3:::".count))
    let location: XMLTree?
    do {
      location = try await account.client.s3("GET", bucket: bucket, subresource: "location", region: home, operation: "GetBucketLocation")
    } catch let error as AWSError where error.code == "NoSuchBucket" {
      return nil
    }
    var region = location?.text ?? ""
    if region.isEmpty { region = "us-east-1" } else if region == "EU" { region = "eu-west-1" }
    let bare = CloudResource(
      type: self.name, externalID: externalID, name: bucket, region: region, configuration: ["name": .string(bucket), "region": .string(region)])
    return try await self.read(account, stored: bare, fields: Set(Self.fieldReaders.flatMap(\.fields)))
  }

  /// One call per field (versioning and MFA delete share one): a fix to the encryption reads only the encryption. A field the
  /// credentials may not read is marked unreadable (with S3's answer), not taken for absent.
  public func read(_ account: AWSAccount, stored: CloudResource, fields: Set<String>) async throws -> CloudResource? {
    var fresh: [String: JSONValue] = [:]
    var unreadable: [String: String] = [:]
    do {
      for reader in Self.fieldReaders where !fields.isDisjoint(with: reader.fields) {
        let wanted = reader.fields.filter(fields.contains)
        do {
          let answer = try await reader.read(account.client, stored.name, stored.region)
          for field in wanted { fresh[field] = answer[field] ?? .null }
        } catch let error as AWSError where error.kind == .accessDenied {
          for field in wanted { unreadable[field] = "\(error.operation): \(error.code): \(error.message)" }
        }
      }
    } catch let error as AWSError where error.code == "NoSuchBucket" {
      return nil
    }
    return stored.replacing(fresh, unreadable: unreadable)
  }

  typealias FieldReader = @Sendable (AWSClient, _ bucket: String, _ region: String) async throws -> JSONValue

  /// One S3 call each, with the fields its answer gives.
  struct CallReader: Sendable {
    let fields: [String]
    let read: @Sendable (AWSClient, _ bucket: String, _ region: String) async throws -> [String: JSONValue]
  }

  static let fieldReaders: [CallReader] = singleFieldReaders.sorted { $0.key < $1.key }.map { field, read in
    CallReader(fields: [field]) { [field: try await read($0, $1, $2)] }
  } + [
    CallReader(fields: ["mfa_delete", "versioning"]) { client, bucket, region in
      let versioning = try await client.s3("GET", bucket: bucket, subresource: "versioning", region: region, operation: "GetBucketVersioning")
      return ["versioning": .string(versioning?.string("Status") ?? "Disabled"),
              "mfa_delete": .string(versioning?.string("MfaDelete") ?? versioning?.string("MFADelete") ?? "Disabled")]
    },
  ]

  static let singleFieldReaders: [String: FieldReader] = [
    "encryption": { client, bucket, region in
      let encryption = try await client.s3(
        "GET", bucket: bucket, subresource: "encryption", region: region, operation: "GetBucketEncryption",
        absentCodes: ["ServerSideEncryptionConfigurationNotFoundError"])
      return encryption?.child("Rule").map { r in
        [
          "sse_algorithm": .from(r.at("ApplyServerSideEncryptionByDefault", "SSEAlgorithm")?.text),
          "kms_key_id": .from(r.at("ApplyServerSideEncryptionByDefault", "KMSMasterKeyID")?.text),
          "bucket_key_enabled": .bool(r.bool("BucketKeyEnabled") ?? false),
        ]
      } ?? .null
    },
    "public_access_block": { client, bucket, region in
      try await client.s3(
        "GET", bucket: bucket, subresource: "publicAccessBlock", region: region, operation: "GetPublicAccessBlock",
        absentCodes: ["NoSuchPublicAccessBlockConfiguration"]
      ).map(S3PublicAccessBlockXML.document) ?? .null
    },
    "policy": { client, bucket, region in try await S3Bucket.policy(client, bucket: bucket, region: region) },
    "acl_grants": { client, bucket, region in
      // Who may do what by ACL: grantee (a group URI, or a canonical user id) and permission, sorted.
      let acl = try await client.s3("GET", bucket: bucket, subresource: "acl", region: region, operation: "GetBucketAcl")
      let grants = (acl?.child("AccessControlList")?.all("Grant") ?? []).map { g -> JSONValue in
        let grantee = g.child("Grantee")
        return ["grantee": .from(grantee?.string("URI") ?? grantee?.string("ID") ?? grantee?.string("EmailAddress")),
                "permission": .from(g.string("Permission"))]
      }
      return .array(grants.sorted { $0.description < $1.description })
    },
    "logging": { client, bucket, region in
      let logging = try await client.s3("GET", bucket: bucket, subresource: "logging", region: region, operation: "GetBucketLogging")
      return logging?.child("LoggingEnabled").map { l in
        ["target_bucket": .from(l.string("TargetBucket")), "target_prefix": .string(l.string("TargetPrefix") ?? "")]
      } ?? .null
    },
    "tags": { client, bucket, region in
      let tagging = try await client.s3(
        "GET", bucket: bucket, subresource: "tagging", region: region, operation: "GetBucketTagging", absentCodes: ["NoSuchTagSet"])
      var tags: [String: JSONValue] = [:]
      for tag in tagging?.child("TagSet")?.all("Tag") ?? [] {
        if let k = tag.string("Key") { tags[k] = .string(tag.string("Value") ?? "") }
      }
      return .object(tags)
    },
  ]

  /// The bucket policy as a JSON document (S3 answers it as raw JSON, not XML).
  static func policy(_ client: AWSClient, bucket: String, region: String) async throws -> JSONValue {
    do {
      let response = try await client.send(
        AWSRequest(method: "GET", host: "", path: "/" + SigV4.encode(bucket), query: [("policy", "")]),
        service: .s3, region: region, operation: "GetBucketPolicy")
      return (try? JSONValue.parse(response.body)) ?? .string(String(decoding: response.body, as: UTF8.self))
    } catch let error as AWSError where error.code == "NoSuchBucketPolicy" {
      return .null
    }
  }

  public var writers: [String: FieldWriter] {
    [
      "encryption": FieldWriter(
        validate: { v in
          guard v != .null else { return }
          let o = try Expect.object(v, "encryption", keys: ["sse_algorithm", "kms_key_id", "bucket_key_enabled"])
          let algorithm = try Expect.string(o["sse_algorithm"] ?? .null, "encryption.sse_algorithm", oneOf: ["AES256", "aws:kms", "aws:kms:dsse"])
          if algorithm == "AES256", let key = o["kms_key_id"], key != .null {
            throw ChangeError(field: "encryption.kms_key_id", reason: "only with aws:kms")
          }
          if let b = o["bucket_key_enabled"] { _ = try Expect.bool(b, "encryption.bucket_key_enabled") }
        },
        write: { account, resource, v in
          let bucket = resource.name
          if v == .null {
            _ = try await account.client.s3("DELETE", bucket: bucket, subresource: "encryption", region: resource.region, operation: "DeleteBucketEncryption")
            return
          }
          var byDefault = XMLWriter.leaf("SSEAlgorithm", v["sse_algorithm"]?.stringValue ?? "AES256")
          if let key = v["kms_key_id"]?.stringValue { byDefault += XMLWriter.leaf("KMSMasterKeyID", key) }
          let body = "<ServerSideEncryptionConfiguration xmlns=\"\(s3Namespace)\"><Rule>"
            + XMLWriter.element("ApplyServerSideEncryptionByDefault", byDefault)
            + XMLWriter.leaf("BucketKeyEnabled", v["bucket_key_enabled"]?.boolValue == true ? "true" : "false")
            + "</Rule></ServerSideEncryptionConfiguration>"
          _ = try await account.client.s3("PUT", bucket: bucket, subresource: "encryption", region: resource.region, operation: "PutBucketEncryption", body: body)
        }),
      "public_access_block": FieldWriter(
        validate: S3PublicAccessBlockXML.validate,
        write: { account, resource, v in
          if v == .null {
            _ = try await account.client.s3("DELETE", bucket: resource.name, subresource: "publicAccessBlock", region: resource.region, operation: "DeletePublicAccessBlock")
          } else {
            _ = try await account.client.s3(
              "PUT", bucket: resource.name, subresource: "publicAccessBlock", region: resource.region, operation: "PutPublicAccessBlock",
              body: S3PublicAccessBlockXML.body(v, namespace: s3Namespace))
          }
        }),
      "policy": FieldWriter(
        validate: { v in
          guard v != .null else { return }
          guard v.objectValue?["Statement"] != nil else { throw ChangeError(field: "policy", reason: "must be a policy document with Statement") }
        },
        write: { account, resource, v in
          if v == .null {
            _ = try await account.client.s3("DELETE", bucket: resource.name, subresource: "policy", region: resource.region, operation: "DeleteBucketPolicy")
          } else {
            _ = try await account.client.send(
              AWSRequest(method: "PUT", host: "", path: "/" + SigV4.encode(resource.name), query: [("policy", "")],
                         headers: [("Content-Type", "application/json")], body: Array(v.canonicalData)),
              service: .s3, region: resource.region, operation: "PutBucketPolicy")
          }
        }),
      // A bucket that was ever versioned cannot go back to unversioned: "Disabled" (restoring a
      // snapshot of a never-versioned bucket) is written as "Suspended", the nearest state.
      "versioning": FieldWriter(
        validate: { v in _ = try Expect.string(v, "versioning", oneOf: ["Enabled", "Suspended", "Disabled"]) },
        write: { account, resource, v in
          let status = v.stringValue == "Disabled" ? "Suspended" : v.stringValue!
          let body = "<VersioningConfiguration xmlns=\"\(s3Namespace)\">\(XMLWriter.leaf("Status", status))</VersioningConfiguration>"
          _ = try await account.client.s3("PUT", bucket: resource.name, subresource: "versioning", region: resource.region, operation: "PutBucketVersioning", body: body)
        }),
      "logging": FieldWriter(
        validate: { v in
          guard v != .null else { return }
          let o = try Expect.object(v, "logging", keys: ["target_bucket", "target_prefix"])
          _ = try Expect.string(o["target_bucket"] ?? .null, "logging.target_bucket")
        },
        write: { account, resource, v in
          var inner = ""
          if v != .null {
            inner = XMLWriter.element(
              "LoggingEnabled",
              XMLWriter.leaf("TargetBucket", v["target_bucket"]!.stringValue!) + XMLWriter.leaf("TargetPrefix", v["target_prefix"]?.stringValue ?? ""))
          }
          _ = try await account.client.s3(
            "PUT", bucket: resource.name, subresource: "logging", region: resource.region, operation: "PutBucketLogging",
            body: "<BucketLoggingStatus xmlns=\"\(s3Namespace)\">\(inner)</BucketLoggingStatus>")
        }),
      "tags": FieldWriter(
        validate: { v in try TagsField.validate(v) },
        write: { account, resource, v in
          let tags = v.objectValue ?? [:]
          if tags.isEmpty {
            _ = try await account.client.s3("DELETE", bucket: resource.name, subresource: "tagging", region: resource.region, operation: "DeleteBucketTagging")
            return
          }
          let set = tags.keys.sorted().map { k in
            XMLWriter.element("Tag", XMLWriter.leaf("Key", k) + XMLWriter.leaf("Value", tags[k]!.stringValue ?? ""))
          }.joined()
          _ = try await account.client.s3(
            "PUT", bucket: resource.name, subresource: "tagging", region: resource.region, operation: "PutBucketTagging",
            body: "<Tagging xmlns=\"\(s3Namespace)\"><TagSet>\(set)</TagSet></Tagging>")
        }),
    ]
  }
}

/// The four flags of a public access block, for buckets and for the account.
enum S3PublicAccessBlockXML {
  static let flags: [(xml: String, field: String)] = [
    ("BlockPublicAcls", "block_public_acls"), ("IgnorePublicAcls", "ignore_public_acls"),
    ("BlockPublicPolicy", "block_public_policy"), ("RestrictPublicBuckets", "restrict_public_buckets"),
  ]

  static func document(_ tree: XMLTree) -> JSONValue {
    .object(Dictionary(uniqueKeysWithValues: self.flags.map { ($0.field, JSONValue.bool(tree.bool($0.xml) ?? false)) }))
  }

  @Sendable static func validate(_ v: JSONValue) throws {
    guard v != .null else { return }
    let o = try Expect.object(v, "public_access_block", keys: Set(self.flags.map(\.field)))
    for (k, b) in o { _ = try Expect.bool(b, "public_access_block.\(k)") }
  }

  /// Flags missing from `v` are written as false.
  static func body(_ v: JSONValue, namespace: String) -> String {
    "<PublicAccessBlockConfiguration xmlns=\"\(namespace)\">"
      + self.flags.map { XMLWriter.leaf($0.xml, v[$0.field]?.boolValue == true ? "true" : "false") }.joined()
      + "</PublicAccessBlockConfiguration>"
  }
}

/// `s3_account_public_access_block`: the account-wide block (s3control), one per account.
public struct S3AccountPublicAccessBlock: ResourceType {
  public let name = "s3_account_public_access_block"
  public let scope = ResourceScope.global
  static let path = "/v20180820/configuration/publicAccessBlock"
  static let namespace = "http://awss3control.amazonaws.com/doc/2018-08-20/"

  public init() {}

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    try await self.read(account, region: region, externalID: "arn:aws:s3:::account/\(account.accountID)").map { [$0] } ?? []
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let signingRegion = CloudResource.callRegion(region)
    var block: XMLTree?
    do {
      block = try await account.client.restXML(
        .s3control, region: signingRegion, operation: "GetPublicAccessBlock", method: "GET", path: Self.path,
        headers: [("x-amz-account-id", account.accountID)], accountID: account.accountID)
    } catch let error as AWSError where error.code == "NoSuchPublicAccessBlockConfiguration" {
      block = nil
    }
    return CloudResource(
      type: self.name, externalID: externalID, name: "account \(account.accountID)", region: "global",
      configuration: ["public_access_block": block.map(S3PublicAccessBlockXML.document) ?? .null])
  }

  public var writers: [String: FieldWriter] {
    [
      "public_access_block": FieldWriter(
        validate: S3PublicAccessBlockXML.validate,
        write: { account, _, v in
          let headers = [("x-amz-account-id", account.accountID)]
          if v == .null {
            _ = try await account.client.restXML(
              .s3control, region: "us-east-1", operation: "DeletePublicAccessBlock", method: "DELETE", path: Self.path,
              headers: headers, accountID: account.accountID)
          } else {
            _ = try await account.client.restXML(
              .s3control, region: "us-east-1", operation: "PutPublicAccessBlock", method: "PUT", path: Self.path,
              headers: headers, body: S3PublicAccessBlockXML.body(v, namespace: Self.namespace), accountID: account.accountID)
          }
        })
    ]
  }
}

/// Tags as a field: string keys to string values, AWS's limits.
enum TagsField {
  static func validate(_ v: JSONValue) throws {
    guard let o = v == .null ? [:] : v.objectValue else { throw ChangeError(field: "tags", reason: "must be an object of strings") }
    guard o.count <= 50 else { throw ChangeError(field: "tags", reason: "at most 50 tags") }
    for (k, value) in o {
      guard !k.isEmpty, k.count <= 128, !k.lowercased().hasPrefix("aws:") else { throw ChangeError(field: "tags[\(k)]", reason: "invalid tag key") }
      guard let s = value.stringValue, s.count <= 256 else { throw ChangeError(field: "tags[\(k)]", reason: "must be a string of at most 256 characters") }
    }
  }
}
