public import FixpointDocuments
import Foundation

// MARK: - lambda_function

/// `lambda_function`: runtime, role, and its resource policy's statements keyed by statement id
/// (`policy_statements`; each statement as AWS returns it, without its `Sid`).
public struct LambdaFunction: ResourceType {
  public let name = ResourceTypeName.lambdaFunction
  public let scope = ResourceScope.regional
  static let functions = "/2015-03-31/functions"

  public init() {}

  func call(_ account: AWSAccount, _ region: String, _ operation: String, _ method: String, _ path: String,
            query: [(String, String)] = [], _ body: JSONValue? = nil) async throws -> JSONValue {
    try await account.client.restJSON(.lambda, region: region, operation: operation, method: method, path: path, query: query, body)
  }

  public func discover(_ account: AWSAccount, region: String) async throws -> [CloudResource] {
    var out: [CloudResource] = []
    var marker: String?
    repeat {
      var query = [("MaxItems", "50")]
      if let marker { query.append(("Marker", marker)) }
      let page = try await self.call(account, region, "ListFunctions", "GET", Self.functions + "/", query: query)
      for f in page["Functions"]?.arrayValue ?? [] { out.append(try await self.document(account, f, region: region)) }
      marker = page["NextMarker"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
    } while marker != nil
    return out
  }

  public func read(_ account: AWSAccount, region: String, externalID: String) async throws -> CloudResource? {
    let name = externalID.split(separator: ":", omittingEmptySubsequences: false).dropFirst(6).first.map(String.init) ?? externalID
    do {
      let f = try await self.call(account, region, "GetFunction", "GET", "\(Self.functions)/\(SigV4.encode(name))")
      return try await self.document(account, f["Configuration"] ?? [:], region: region)
    } catch let error as AWSError where error.kind == .notFound {
      return nil
    }
  }

  func document(_ account: AWSAccount, _ f: JSONValue, region: String) async throws -> CloudResource {
    let name = f["FunctionName"]?.stringValue ?? ""
    let arn = f["FunctionArn"]?.stringValue ?? "arn:aws:lambda:\(region):\(account.accountID):function:\(name)"
    var statements: [String: JSONValue] = [:]
    do {
      let answer = try await self.call(account, region, "GetPolicy", "GET", "\(Self.functions)/\(SigV4.encode(name))/policy")
      let policy = try answer["Policy"]?.stringValue.map { try JSONValue.parse(Array($0.utf8)) }
      for (i, s) in (policy?["Statement"]?.arrayValue ?? []).enumerated() {
        var statement = s.objectValue ?? [:]
        let sid = statement.removeValue(forKey: "Sid")?.stringValue ?? "statement-\(i + 1)"
        statements[sid] = .object(statement)
      }
    } catch let error as AWSError where error.kind == .notFound {
      // No resource policy: nobody but the account may invoke it.
    }
    let tags = try await self.call(account, region, "ListTags", "GET", "/2017-03-31/tags/\(SigV4.encode(arn))")["Tags"]?.objectValue ?? [:]
    return CloudResource(
      type: self.name, externalID: arn, name: name, region: region, tags: tags.compactMapValues(\.stringValue),
      configuration: [
        "name": .string(name), "runtime": f["Runtime"] ?? .null, "role": f["Role"] ?? .null, "last_modified": f["LastModified"] ?? .null,
        "policy_statements": .object(statements), "tags": .object(tags),
      ])
  }

  /// A statement as AddPermission takes it; nil for one AddPermission cannot make.
  static func permission(_ sid: String, _ statement: JSONValue) -> JSONValue? {
    guard statement["Effect"]?.stringValue == "Allow", let action = statement["Action"]?.stringValue else { return nil }
    var body: [String: JSONValue] = ["StatementId": .string(sid), "Action": .string(action)]
    switch statement["Principal"] {
    case .string(let p)?: body["Principal"] = .string(p)
    case .object(let p)? where p.count == 1: body["Principal"] = p["Service"] ?? p["AWS"] ?? .null
    default: return nil
    }
    guard body["Principal"]?.stringValue != nil else { return nil }
    for (test, conditions) in statement["Condition"]?.objectValue ?? [:] {
      for (key, value) in conditions.objectValue ?? [:] {
        switch (test, key.lowercased()) {
        case ("ArnLike", "aws:sourcearn"), ("ArnEquals", "aws:sourcearn"): body["SourceArn"] = value
        case ("StringEquals", "aws:sourceaccount"): body["SourceAccount"] = value
        case ("StringEquals", "aws:principalorgid"): body["PrincipalOrgID"] = value
        case ("StringEquals", "lambda:functionurlauthtype"): body["FunctionUrlAuthType"] = value
        default: return nil
        }
      }
    }
    return .object(body)
  }

  public var writers: [String: FieldWriter] {
    [
      "policy_statements": FieldWriter(
        validate: { v in
          guard let statements = v == .null ? [:] : v.objectValue else {
            throw ChangeError(field: "policy_statements", reason: "must be an object of statements by statement id")
          }
          for (sid, statement) in statements where Self.permission(sid, statement) == nil {
            throw ChangeError(
              field: "policy_statements[\(sid)]",
              reason: "must allow one Action to one Principal, with at most SourceArn, SourceAccount, PrincipalOrgID or FunctionUrlAuthType conditions (what AddPermission can grant)")
          }
        },
        write: { account, resource, desired in
          let path = "\(Self.functions)/\(SigV4.encode(resource.name))/policy"
          let current = resource.configuration["policy_statements"]?.objectValue ?? [:]
          let wanted = desired.objectValue ?? [:]
          for (sid, statement) in current.sorted(by: { $0.key < $1.key }) where wanted[sid] != statement {
            _ = try await account.client.restJSON(.lambda, region: resource.region, operation: "RemovePermission", method: "DELETE", path: "\(path)/\(SigV4.encode(sid))")
          }
          for (sid, statement) in wanted.sorted(by: { $0.key < $1.key }) where current[sid] != statement {
            _ = try await account.client.restJSON(
              .lambda, region: resource.region, operation: "AddPermission", method: "POST", path: path, Self.permission(sid, statement))
          }
        }),
      "tags": FieldWriter(
        validate: { try TagsField.validate($0) },
        write: { account, resource, desired in
          let path = "/2017-03-31/tags/\(SigV4.encode(resource.externalID))"
          let wanted = (desired.objectValue ?? [:]).compactMapValues(\.stringValue)
          let removed = resource.tags.keys.filter { wanted[$0] == nil }.sorted()
          if !removed.isEmpty {
            _ = try await account.client.restJSON(
              .lambda, region: resource.region, operation: "UntagResource", method: "DELETE", path: path, query: removed.map { ("tagKeys", $0) })
          }
          let changed = wanted.filter { resource.tags[$0.key] != $0.value }
          if !changed.isEmpty {
            _ = try await account.client.restJSON(
              .lambda, region: resource.region, operation: "TagResource", method: "POST", path: path, ["Tags": .object(changed.mapValues(JSONValue.string))])
          }
        }),
    ]
  }
}
