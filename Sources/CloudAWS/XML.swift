public import Foundation
#if canImport(FoundationXML)
import FixpointDocuments
import FoundationXML
#endif

/// A parsed XML element: name (without namespace prefix), text, attributes, children. AWS's
/// query and REST-XML protocols answer in XML; this is all of it the client needs.
public struct XMLTree: Sendable, CustomStringConvertible {
  public var name: String
  public var text: String
  public var children: [XMLTree]

  public init(name: String, text: String = "", children: [XMLTree] = []) {
    self.name = name
    self.text = text
    self.children = children
  }

  /// The first child named `name`.
  public func child(_ name: String) -> XMLTree? { self.children.first { $0.name == name } }
  /// Every child named `name`.
  public func all(_ name: String) -> [XMLTree] { self.children.filter { $0.name == name } }
  /// Follows a path of child names.
  public func at(_ path: String...) -> XMLTree? {
    var node: XMLTree? = self
    for p in path { node = node?.child(p) }
    return node
  }
  /// The first element named `name` at any depth (this one included).
  public func find(_ name: String) -> XMLTree? {
    if self.name == name { return self }
    for c in self.children { if let hit = c.find(name) { return hit } }
    return nil
  }
  /// The `<item>` (EC2) or `<member>` (AWS query) elements of the list child `name`.
  public func items(_ name: String) -> [XMLTree] {
    guard let list = self.child(name) else { return [] }
    return list.children.filter { $0.name == "item" || $0.name == "member" }
  }

  public func string(_ name: String) -> String? {
    guard let c = self.child(name) else { return nil }
    return c.text
  }
  public func bool(_ name: String) -> Bool? { self.string(name).map { $0.lowercased() == "true" } }
  public func int(_ name: String) -> Int? { self.string(name).flatMap { Int($0) } }

  public var description: String {
    self.children.isEmpty ? "<\(self.name)>\(self.text)</\(self.name)>" : "<\(self.name)>\(self.children.map(\.description).joined())</\(self.name)>"
  }

  public static func parse(_ bytes: [UInt8]) throws -> XMLTree {
    let builder = Builder()
    let parser = XMLParser(data: Data(bytes))
    parser.delegate = builder
    guard parser.parse(), let root = builder.root else {
      throw AWSError(kind: .protocolError, code: "MalformedXML", message: "the response is not XML", status: 0)
    }
    return root
  }

  private final class Builder: NSObject, XMLParserDelegate {
    var stack: [XMLTree] = []
    var root: XMLTree?

    func parser(
      _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
      attributes: [String: String] = [:]
    ) {
      let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
      self.stack.append(XMLTree(name: local))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
      guard !self.stack.isEmpty else { return }
      self.stack[self.stack.count - 1].text += string
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
      guard var done = self.stack.popLast() else { return }
      if !done.children.isEmpty { done.text = done.text.trimmingCharacters(in: .whitespacesAndNewlines) }
      if self.stack.isEmpty {
        self.root = done
      } else {
        self.stack[self.stack.count - 1].children.append(done)
      }
    }
  }
}

/// Builds XML request bodies (S3).
public enum XMLWriter {
  public static func escape(_ s: String) -> String { XMLText.escape(s) }

  /// `<name>children</name>` where children are already XML.
  public static func element(_ name: String, _ children: String) -> String { "<\(name)>\(children)</\(name)>" }
  public static func leaf(_ name: String, _ value: String) -> String { "<\(name)>\(self.escape(value))</\(name)>" }
}
