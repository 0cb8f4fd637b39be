import FixpointCore
import Foundation

/// A change window: it opens at each minute its cron expression matches (in its time zone) and
/// stays open for its duration.
struct ChangeWindow: Sendable {
  let cron: CronExpression
  let duration: TimeInterval
  let timeZone: TimeZone
  /// The cron expression as given, and the zone's name as given ("" for UTC).
  let cronText: String
  let timeZoneName: String

  init(cron: String, durationSeconds: Int64, timeZone: String) throws(ServiceError) {
    self.cron = try CronExpression(cron)
    guard (60...(7 * 86_400)).contains(durationSeconds) else {
      throw .invalidArgument(field: "duration_seconds", reason: "must be between 60 and 604800")
    }
    guard let zone = TimeZone(identifier: timeZone.isEmpty ? "UTC" : timeZone) else {
      throw .invalidArgument(field: "time_zone", reason: "'\(timeZone)' is not a time zone name such as Europe/Berlin")
    }
    self.duration = TimeInterval(durationSeconds)
    self.timeZone = zone
    (self.cronText, self.timeZoneName) = (cron, timeZone)
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
        try ChangeWindow(
          cron: item["cron"] as? String ?? "", durationSeconds: Int64(item["duration_seconds"] as? Int ?? 0),
          timeZone: item["time_zone"] as? String ?? "UTC")
      }
    } catch let error as ServiceError {
      throw SettingsError.invalid(key: "dispatcher.change.windows", reason: "\(error)")
    }
  }
}
