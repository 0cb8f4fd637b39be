import FixpointControls
import FixpointDocuments
import FixpointIaC
public import Foundation

/// An accepted risk: one control (or `*`) on the resources whose address matches a glob, with a
/// reason, an owner and an expiry date. It applies through its expiry date; after that it is
/// reported as expired and the failure counts again.
public struct Waiver: Sendable, Hashable {
  public var control: String
  /// A glob over resource addresses: `*` any run of characters, `?` one character.
  public var resource: String
  public var reason: String
  public var owner: String
  /// The last day it applies (YYYY-MM-DD, UTC).
  public var expires: String

  public init(control: String, resource: String, reason: String, owner: String, expires: String) {
    self.control = control
    self.resource = resource
    self.reason = reason
    self.owner = owner
    self.expires = expires
  }

  /// The first instant it no longer applies: the day after `expires`, 00:00 UTC.
  var end: Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let parts = self.expires.split(separator: "-").compactMap { Int($0) }
    let day = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))!
    return day.addingTimeInterval(86_400)
  }

  public func expired(at now: Date) -> Bool { now >= self.end }

  public func covers(_ controlID: String, address: String, now: Date) -> Bool {
    !self.expired(at: now) && (self.control == "*" || self.control == controlID) && Glob.matches(self.resource, address)
  }

  /// The waivers of a YAML file: a list, or `waivers:` holding one; every entry needs `control`,
  /// `resource`, `reason`, `owner` and `expires`. Refused whole, naming the entry and field.
  public static func parse(_ data: Data) throws(Gate.InputError) -> [Waiver] {
    let documents: [JSONValue]
    do { documents = try IaC.yaml(data) } catch { throw Gate.InputError.waivers("waivers: \(error)") }
    guard documents.count <= 1 else { throw Gate.InputError.waivers("waivers: one YAML document, not \(documents.count)") }
    guard let root = documents.first, root != .null else { return [] }
    guard let entries = root.arrayValue ?? root["waivers"]?.arrayValue else {
      throw Gate.InputError.waivers("waivers: a list of waivers, or `waivers:` holding one")
    }
    var out: [Waiver] = []
    for (i, entry) in entries.enumerated() {
      func field(_ name: String) throws(Gate.InputError) -> String {
        guard let value = entry[name]?.stringValue ?? entry[name]?.intValue.map(String.init), !value.isEmpty else {
          throw Gate.InputError.waivers("waivers[\(i)].\(name): missing")
        }
        guard value.count <= 1_000 else { throw Gate.InputError.waivers("waivers[\(i)].\(name): longer than 1000 characters") }
        return value
      }
      let waiver = Waiver(
        control: try field("control"), resource: try field("resource"), reason: try field("reason"), owner: try field("owner"),
        expires: try field("expires"))
      guard waiver.control == "*" || ControlCatalogue.byID[waiver.control] != nil else {
        throw Gate.InputError.waivers("waivers[\(i)].control: unknown control '\(waiver.control)'")
      }
      guard Self.isDate(waiver.expires) else { throw Gate.InputError.waivers("waivers[\(i)].expires: '\(waiver.expires)' is not a date (YYYY-MM-DD)") }
      out.append(waiver)
    }
    return out
  }

  static func isDate(_ text: String) -> Bool {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
      let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), (1...31).contains(d), y >= 2000
    else { return false }
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return DateComponents(calendar: calendar, year: y, month: m, day: d).isValidDate
  }
}

/// Shell-style globs over resource addresses.
enum Glob {
  static func matches(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern.unicodeScalars)
    let t = Array(text.unicodeScalars)
    var (pi, ti) = (0, 0)
    var star: Int? = nil
    var mark = 0
    while ti < t.count {
      if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
        pi += 1
        ti += 1
      } else if pi < p.count, p[pi] == "*" {
        star = pi
        mark = ti
        pi += 1
      } else if let s = star {
        pi = s + 1
        mark += 1
        ti = mark
      } else {
        return false
      }
    }
    while pi < p.count, p[pi] == "*" { pi += 1 }
    return pi == p.count
  }
}
