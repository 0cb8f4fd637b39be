import FixpointCore
import FixpointProtocol
import Foundation

/// A cron expression (minute hour day-of-month month day-of-week; `*`, lists, ranges and steps;
/// day-of-week 0–7 with 0 and 7 for Sunday). As in cron, when both day fields are restricted a
/// day matching either one matches.
struct CronExpression: Sendable, Equatable {
  let minutes, hours, days, months, weekdays: Set<Int>
  let daysRestricted, weekdaysRestricted: Bool

  init(_ text: String) throws(ServiceError) {
    let parts = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    guard parts.count == 5 else {
      throw .invalidArgument(field: "cron", reason: "'\(text)' needs five fields: minute hour day-of-month month day-of-week")
    }
    self.minutes = try Self.field(parts[0], 0...59, "minute")
    self.hours = try Self.field(parts[1], 0...23, "hour")
    self.days = try Self.field(parts[2], 1...31, "day-of-month")
    self.months = try Self.field(parts[3], 1...12, "month")
    self.weekdays = Set(try Self.field(parts[4], 0...7, "day-of-week").map { $0 % 7 })
    self.daysRestricted = parts[2] != "*"
    self.weekdaysRestricted = parts[4] != "*"
  }

  static func field(_ text: String, _ range: ClosedRange<Int>, _ name: String) throws(ServiceError) -> Set<Int> {
    var values = Set<Int>()
    for item in text.split(separator: ",", omittingEmptySubsequences: false) {
      let stepParts = item.split(separator: "/", omittingEmptySubsequences: false)
      guard stepParts.count <= 2 else { throw .invalidArgument(field: "cron", reason: "bad \(name) '\(item)'") }
      var step = 1
      if stepParts.count == 2 {
        guard let s = Int(stepParts[1]), s > 0 else { throw .invalidArgument(field: "cron", reason: "bad step in \(name) '\(item)'") }
        step = s
      }
      let base = stepParts[0]
      var lower = range.lowerBound
      var upper = range.upperBound
      if base != "*" {
        let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(bounds.count), let a = Int(bounds[0]), let b = Int(bounds.last!), range.contains(a), range.contains(b), a <= b else {
          throw .invalidArgument(field: "cron", reason: "\(name) '\(item)' is outside \(range.lowerBound)–\(range.upperBound)")
        }
        lower = a
        upper = bounds.count == 2 || stepParts.count == 2 ? b : a
        if bounds.count == 1 && stepParts.count == 2 { upper = range.upperBound }
      }
      values.formUnion(stride(from: lower, through: upper, by: step))
    }
    return values
  }

  func matches(_ c: DateComponents) -> Bool {
    guard let minute = c.minute, let hour = c.hour, let day = c.day, let month = c.month, let weekday = c.weekday else { return false }
    guard self.minutes.contains(minute), self.hours.contains(hour), self.months.contains(month) else { return false }
    let dayOK = self.days.contains(day)
    let weekdayOK = self.weekdays.contains(weekday - 1)  // Calendar: 1 = Sunday
    switch (self.daysRestricted, self.weekdaysRestricted) {
    case (true, true): return dayOK || weekdayOK
    case (true, false): return dayOK
    case (false, true): return weekdayOK
    case (false, false): return true
    }
  }
}

/// A change window: it opens at each minute its cron expression matches (in its time zone) and
/// stays open for its duration.
struct ChangeWindow: Sendable {
  let cron: CronExpression
  let duration: TimeInterval
  let timeZone: TimeZone
  let proto: Fixpoint_V1_ChangeWindow

  init(_ proto: Fixpoint_V1_ChangeWindow) throws(ServiceError) {
    self.cron = try CronExpression(proto.cron)
    guard (60...(7 * 86_400)).contains(proto.durationSeconds) else {
      throw .invalidArgument(field: "duration_seconds", reason: "must be between 60 and 604800")
    }
    guard let zone = TimeZone(identifier: proto.timeZone.isEmpty ? "UTC" : proto.timeZone) else {
      throw .invalidArgument(field: "time_zone", reason: "'\(proto.timeZone)' is not a time zone name such as Europe/Berlin")
    }
    self.duration = TimeInterval(proto.durationSeconds)
    self.timeZone = zone
    self.proto = proto
  }

  /// Whether the window is open at `date`: some minute within the last `duration` matched.
  func isOpen(at date: Date) -> Bool {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = self.timeZone
    let minute = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60)
    var t = minute
    while date.timeIntervalSince(t) < self.duration {
      if self.cron.matches(calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: t)) { return true }
      t = t.addingTimeInterval(-60)
    }
    return false
  }

  /// `dispatcher.change.windows`: a JSON array of `{"cron", "duration_seconds", "time_zone"}`.
  static func parse(_ json: String) throws -> [ChangeWindow] {
    guard !json.trimmingCharacters(in: .whitespaces).isEmpty else { return [] }
    guard let list = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else {
      throw SettingsError.invalid(key: "dispatcher.change.windows", reason: "expected a JSON array of {\"cron\", \"duration_seconds\", \"time_zone\"}")
    }
    do {
      return try list.map { item in
        try ChangeWindow(.with {
          $0.cron = item["cron"] as? String ?? ""
          $0.durationSeconds = Int64(item["duration_seconds"] as? Int ?? 0)
          $0.timeZone = item["time_zone"] as? String ?? "UTC"
        })
      }
    } catch let error as ServiceError {
      throw SettingsError.invalid(key: "dispatcher.change.windows", reason: "\(error)")
    }
  }
}
