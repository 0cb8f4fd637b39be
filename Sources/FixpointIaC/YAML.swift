import FixpointDocuments
import Foundation
import Yams

/// YAML documents as JSON values, with CloudFormation's short-form tags kept as the long form
/// (`!Ref x` → `{"Ref": "x"}`, `!GetAtt A.B.C` → `{"Fn::GetAtt": ["A", "B.C"]}`, any other `!Tag v`
/// → `{"Fn::Tag": v}`, the node's kind kept), as moto's loader does, except that a scalar
/// `!GetAtt` splits at its first dot only so dotted attributes survive.
enum YAMLDocuments {
  /// A document converts to at most this many values: aliases can make a small file expand
  /// exponentially ("billion laughs").
  static let maxValues = 2_000_000

  static func parse(_ data: Data) throws -> [JSONValue] {
    guard let text = String(data: Terraform.text(data), encoding: .utf8) else { throw IaCError("", "not UTF-8 text") }
    var out: [JSONValue] = []
    var budget = Self.maxValues
    do {
      var documents = try Yams.compose_all(yaml: text)
      while let node = documents.next() { out.append(try Self.value(node, budget: &budget)) }
      // The sequence stops at an error and keeps it.
      if let error = documents.error { throw error }
    } catch let error as YamlError {
      throw Self.located(error)
    }
    return out
  }

  /// The problem and its line, without echoing the file.
  static func located(_ error: YamlError) -> IaCError {
    switch error {
    case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
      return IaCError("line \(mark.line)", "not valid YAML: \(problem) (column \(mark.column))")
    case .duplicatedKeysInMapping(let duplicates, _):
      return IaCError("", "not valid YAML: duplicated keys \(duplicates.prefix(5).joined(separator: ", "))")
    default:
      return IaCError("", "not valid YAML")
    }
  }

  static func value(_ node: Node, budget: inout Int) throws -> JSONValue {
    budget -= 1
    guard budget >= 0 else { throw IaCError("", "the YAML expands to more than \(Self.maxValues) values (aliases?)") }
    let tag = node.tag.rawValue
    let plain: JSONValue
    switch node {
    case .scalar(let scalar):
      switch tag {
      case Tag.Name.null.rawValue: plain = .null
      case Tag.Name.bool.rawValue: plain = node.bool.map(JSONValue.bool) ?? .string(scalar.string)
      case Tag.Name.int.rawValue: plain = node.int.map { .number(Double($0)) } ?? .string(scalar.string)
      case Tag.Name.float.rawValue: plain = node.float.map(JSONValue.number) ?? .string(scalar.string)
      default: plain = .string(scalar.string)
      }
    case .sequence(let sequence):
      plain = .array(try sequence.map { try Self.value($0, budget: &budget) })
    case .mapping(let mapping):
      var object: [String: JSONValue] = [:]
      for (key, value) in mapping {
        guard let name = key.scalar?.string else {
          throw IaCError("line \(key.mark?.line ?? 0)", "a mapping key must be a scalar")
        }
        object[name] = try Self.value(value, budget: &budget)
      }
      plain = .object(object)
    case .alias:
      throw IaCError("line \(node.mark?.line ?? 0)", "unresolved alias")
    }
    guard tag.hasPrefix("!"), !tag.hasPrefix("!!"), tag != "!" else { return plain }
    let name = String(tag.dropFirst())
    if name == "Ref" { return ["Ref": plain] }
    if name == "GetAtt", case .string(let s) = plain {
      let parts = s.split(separator: ".", maxSplits: 1).map { JSONValue.string(String($0)) }
      return ["Fn::GetAtt": .array(parts)]
    }
    return .object(["Fn::\(name)": plain])
  }
}
