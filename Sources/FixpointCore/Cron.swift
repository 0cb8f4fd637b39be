public import Foundation

/// A cron expression (minute hour day-of-month month day-of-week; `*`, lists, ranges and steps;
/// day-of-week 0–7 with 0 and 7 for Sunday). As in cron, when both day fields are restricted a
/// day matching either one matches.
public struct CronExpression: Sendable, Equatable {
  let minutes, hours, days, months, weekdays: Set<Int>
  let daysRestricted, weekdaysRestricted: Bool

  public init(_ text: String) throws(ServiceError) {
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

  public func matches(_ c: DateComponents) -> Bool {
    guard let minute = c.minute, let hour = c.hour else { return false }
    return self.minutes.contains(minute) && self.hours.contains(hour) && self.dayMatches(c)
  }

  /// The first minute after `date` that the expression matches, in `timeZone`; nil when none
  /// comes within about four years (`0 0 30 2 *`).
  public func next(after date: Date, in timeZone: TimeZone) -> Date? {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = timeZone
    var t = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
    let end = date.addingTimeInterval(4 * 366 * 86_400)
    while t < end {
      let c = calendar.dateComponents([.minute, .hour, .day, .month, .weekday], from: t)
      if self.matches(c) { return t }
      // Skip a whole hour (or day) that cannot match.
      if let hour = c.hour, !self.hours.contains(hour) || !self.dayMatches(c) {
        let skip = self.dayMatches(c) ? 60 - (c.minute ?? 0) : (24 - hour) * 60 - (c.minute ?? 0)
        t = t.addingTimeInterval(Double(max(skip, 1)) * 60)
        // A time zone's shifts can land off the hour: back to a whole minute.
        t = Date(timeIntervalSince1970: (t.timeIntervalSince1970 / 60).rounded(.down) * 60)
        continue
      }
      t = t.addingTimeInterval(60)
    }
    return nil
  }

  func dayMatches(_ c: DateComponents) -> Bool {
    guard let day = c.day, let month = c.month, let weekday = c.weekday, self.months.contains(month) else { return false }
    let dayOK = self.days.contains(day), weekdayOK = self.weekdays.contains(weekday - 1)
    switch (self.daysRestricted, self.weekdaysRestricted) {
    case (true, true): return dayOK || weekdayOK
    case (true, false): return dayOK
    case (false, true): return weekdayOK
    case (false, false): return true
    }
  }
}
