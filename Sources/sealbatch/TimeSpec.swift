import Foundation

/// The one time grammar of every command (`--since`, `--until`, `--valid-until`, `--valid-from`):
/// - an ISO 8601 date (`2026-11-24`), date-time (`2026-11-24T18:00:00Z`, `2026-11-24 18:00` as UTC);
/// - an offset: a number and a unit `s`, `m`, `h`, `d` or `w` (`12h`, `7d`, `2w`), optionally signed.
///
/// Which way an unsigned offset points depends on the option: `--since 7d` means seven days ago,
/// `--valid-until 7d` seven days from now. A sign that contradicts the option (`--since +7d`) is refused
/// rather than guessed.
enum TimeSpec {
    enum Direction { case past, future, either }

    static let hint = "use 2026-12-31, 2026-12-31T18:00:00Z, or an offset such as 7d, 12h, 30m, 2w"

    static func parse(_ s: String, _ direction: Direction, option: String, now: Date = Date()) throws -> Date {
        let t = s.trimmingCharacters(in: .whitespaces)
        var body = Substring(t), sign: Double? = nil
        if body.hasPrefix("-") { sign = -1; body = body.dropFirst() } else if body.hasPrefix("+") { sign = 1; body = body.dropFirst() }
        if let unit = body.last, let mult = ["s": 1.0, "m": 60, "h": 3600, "d": 86400, "w": 604_800][String(unit)],
           let n = Double(body.dropLast()), n >= 0, n.isFinite {
            let s2: Double
            switch (direction, sign) {
            case (.past, nil), (.past, -1): s2 = -1
            case (.future, nil), (.future, 1): s2 = 1
            case (.either, let x?): s2 = x
            case (.either, nil): s2 = -1
            default:
                throw GovCLI.Failure(2, "\(option) '\(s)': \(direction == .past ? "a time in the past" : "a time in the future") is expected; \(hint)")
            }
            return now.addingTimeInterval(s2 * n * mult)
        }
        if sign != nil { throw GovCLI.Failure(2, "\(option): cannot read '\(s)'; \(hint)") }
        let f = ISO8601DateFormatter()
        if let d = f.date(from: t) { return d }
        f.formatOptions = [.withFullDate]
        if let d = f.date(from: t) { return d }
        f.formatOptions = [.withInternetDateTime]
        let spaced = t.replacingOccurrences(of: " ", with: "T")
        if let d = f.date(from: spaced + "Z") ?? f.date(from: spaced + ":00Z") { return d }
        throw GovCLI.Failure(2, "\(option): cannot read '\(s)'; \(hint)")
    }
}
