public import FixpointDocuments
public import Foundation

/// One discovered resource as the cloud describes it.
public struct CloudResource: Sendable, Equatable {
  /// `s3_bucket`, `security_group`, …
  public var type: String
  /// The cloud's id: an ARN, or an id unique in the account and region.
  public var externalID: String
  public var name: String
  /// The region, or `global` for account-wide resources.
  public var region: String
  public var tags: [String: String]
  /// The normalized configuration document (docs/resources.md).
  public var configuration: JSONValue

  /// The region to call about a resource recorded in `region`: account-wide (`global`) ones are
  /// called in us-east-1.
  public static func callRegion(_ region: String) -> String { region == "global" ? "us-east-1" : region }

  /// `self` with `fields` replaced by their fresh values (absent ones removed) and `unreadable`
  /// fields marked so (field → why; `Unreadable`), a field read again losing its mark; a fresh
  /// `tags` field is the resource's tags too.
  public func replacing(_ fresh: [String: JSONValue], unreadable: [String: String] = [:]) -> CloudResource {
    var out = self
    var document = self.configuration.objectValue ?? [:]
    for (field, value) in fresh { document[field] = value }
    var marks = document[Unreadable.key]?.objectValue ?? [:]
    for field in fresh.keys { marks[field] = nil }
    for (field, why) in unreadable {
      document[field] = nil
      marks[field] = .string(why)
    }
    document[Unreadable.key] = marks.isEmpty ? nil : .object(marks)
    out.configuration = JSONValue.object(document).withoutNulls
    if let tags = fresh["tags"] { out.tags = (tags.objectValue ?? [:]).compactMapValues(\.stringValue) }
    return out
  }

  public init(type: String, externalID: String, name: String, region: String, tags: [String: String] = [:], configuration: JSONValue) {
    self.type = type
    self.externalID = externalID
    self.name = name
    self.region = region
    self.tags = tags
    self.configuration = configuration.withoutNulls
  }
}

/// What a resource-type adapter needs to call AWS for one account.
public struct AWSAccount: Sendable {
  public var client: AWSClient
  public var accountID: String
  public init(client: AWSClient, accountID: String) {
    self.client = client
    self.accountID = accountID
  }
}

/// Writes one top-level field of a document with the API calls that set it.
public struct FieldWriter: Sendable {
  /// Refuses a desired value the API cannot take (INVALID_ARGUMENT before any call).
  public var validate: @Sendable (JSONValue) throws -> Void
  /// Makes the cloud match `desired` for this field of `resource`.
  public var write: @Sendable (AWSAccount, CloudResource, _ desired: JSONValue) async throws -> Void

  public init(
    validate: @escaping @Sendable (JSONValue) throws -> Void,
    write: @escaping @Sendable (AWSAccount, CloudResource, JSONValue) async throws -> Void
  ) {
    self.validate = validate
    self.write = write
  }
}

/// Where a resource type lives.
public enum ResourceScope: Sendable {
  /// Listed in every region of a provider.
  case regional
  /// Listed once per account (IAM, S3's account settings); region `global`.
  case global
}

/// A resource type: how to list it, read one, and write the fields fixes change.
public protocol ResourceType: Sendable {
  var name: String { get }
  var scope: ResourceScope { get }
  func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource]
  /// Reads one resource fresh; nil when it no longer exists.
  func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource?
  /// Reads only `fields` of a resource fresh, over `stored` (what inventory holds): the other
  /// fields keep their stored values. nil when it no longer exists. Types that describe a
  /// resource whole in one call read it whole (the default).
  func read(_ account: AWSAccount, stored: CloudResource, fields: Set<String>) async throws -> CloudResource?
  var writers: [String: FieldWriter] { get }
}

/// A type whose resources can be described many at a time, in one region, in one call: fresh
/// reads of many resources (snapshots and verifications of a batch of fixes) share calls.
public protocol BatchReadable: ResourceType {
  /// At most this many resources per call.
  var maxBatch: Int { get }
  /// Reads `resources` (one region) fresh — `fields` of each over its stored document, like
  /// `read(_:stored:fields:)`. Answers by external id; a resource the cloud no longer has is
  /// absent from the answer.
  func readMany(_ account: AWSAccount, region: String, stored: [CloudResource], fields: Set<String>) async throws -> [String: CloudResource]
}

extension ResourceType {
  /// A field as compared when planning and verifying, by the type's schema: without values the
  /// cloud assigns anew when the same setting is written again (rule ids, flow log ids), so a
  /// restored setting compares equal to its snapshot.
  public func comparable(_ field: String, _ value: JSONValue) -> JSONValue {
    ResourceSchema.of(self.name).comparable(field, value)
  }

  public func read(_ account: AWSAccount, stored: CloudResource, fields: Set<String>) async throws -> CloudResource? {
    try await self.read(account, region: CloudResource.callRegion(stored.region), externalID: stored.externalID)
  }

  /// The document with every field in its comparable form.
  public func comparable(_ document: JSONValue) -> JSONValue { ResourceSchema.of(self.name).comparable(document) }
}

/// A refused change: the path or the value, named.
public struct ChangeError: Error, Equatable, CustomStringConvertible {
  public var field: String
  public var reason: String
  public init(field: String, reason: String) {
    self.field = field
    self.reason = reason
  }
  public var description: String { "\(self.field): \(self.reason)" }
}

/// Validators for writer values.
public enum Expect {
  public static func bool(_ v: JSONValue, _ field: String) throws -> Bool {
    guard let b = v.boolValue else { throw ChangeError(field: field, reason: "must be true or false") }
    return b
  }
  public static func int(_ v: JSONValue, _ field: String, _ range: ClosedRange<Int>) throws -> Int {
    guard let n = v.numberValue, n.rounded() == n, range.contains(Int(n)) else {
      throw ChangeError(field: field, reason: "must be a whole number in \(range.lowerBound)…\(range.upperBound)")
    }
    return Int(n)
  }
  public static func string(_ v: JSONValue, _ field: String, oneOf allowed: Set<String>? = nil) throws -> String {
    guard let s = v.stringValue, !s.isEmpty, s.count <= 20_480 else { throw ChangeError(field: field, reason: "must be a non-empty string") }
    if let allowed, !allowed.contains(s) {
      throw ChangeError(field: field, reason: "must be one of \(allowed.sorted().joined(separator: ", "))")
    }
    return s
  }
  public static func object(_ v: JSONValue, _ field: String, keys: Set<String>) throws -> [String: JSONValue] {
    guard let o = v.objectValue else { throw ChangeError(field: field, reason: "must be an object") }
    if let unknown = o.keys.first(where: { !keys.contains($0) }) {
      throw ChangeError(field: "\(field).\(unknown)", reason: "is not a field of \(field) (\(keys.sorted().joined(separator: ", ")))")
    }
    return o
  }
}

/// Resources a discovery reads at once, where it reads each with calls of its own.
let discoveryWidth = 8

/// `body` over `items`, at most `width` at a time; the results in `items`' order. For discoveries
/// that read each resource with calls of its own (S3 buckets, IAM users): one at a time, the cloud
/// side waits while the client handles each answer.
func concurrentMap<T: Sendable, R: Sendable>(_ items: [T], width: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
  try await withThrowingTaskGroup(of: (Int, R).self) { group in
    var results = [R?](repeating: nil, count: items.count)
    var next = 0
    func launch() {
      guard next < items.count else { return }
      let (i, item) = (next, items[next])
      next += 1
      group.addTask { (i, try await body(item)) }
    }
    for _ in 0..<max(1, width) { launch() }
    while let (i, result) = try await group.next() {
      results[i] = result
      launch()
    }
    return results.map { $0! }
  }
}
