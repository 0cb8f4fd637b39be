/// A stack's resources as CloudFormation lists them (`ListStackResources`, paginated; the
/// older `DescribeStackResources` stops at 100): what IaC drift needs to match a template's
/// logical ids to the live resources they became.
public struct StackResource: Sendable, Hashable {
  public var logicalID: String
  public var physicalID: String
  public var type: String
  public var status: String
}

public enum CloudFormationStacks {
  public static let service = AWSService(signingName: "cloudformation", endpointPrefix: "cloudformation", global: false)

  public static func resources(_ account: AWSAccount, region: String, stack: String) async throws -> [StackResource] {
    var out: [StackResource] = []
    var token: String?
    repeat {
      var parameters = [("StackName", stack)]
      if let token { parameters.append(("NextToken", token)) }
      let answer = try await account.client.query(Self.service, region: region, action: "ListStackResources", version: "2010-05-15", parameters)
      let result = answer.find("ListStackResourcesResult")
      for item in result?.items("StackResourceSummaries") ?? [] {
        out.append(StackResource(
          logicalID: item.string("LogicalResourceId") ?? "", physicalID: item.string("PhysicalResourceId") ?? "",
          type: item.string("ResourceType") ?? "", status: item.string("ResourceStatus") ?? ""))
      }
      token = result?.string("NextToken").flatMap { $0.isEmpty ? nil : $0 }
    } while token != nil && out.count < 100_000
    return out
  }
}
