import Foundation

/// Figures for one stage in a run.
public struct StageFigures: Sendable, Codable, Equatable {
    /// Stage name.
    public var name: String
    /// Documents that passed the stage.
    public var passed = 0
    /// Documents the stage rejected.
    public var failed = 0
    /// Retries.
    public var retries = 0
    /// Summed processing time.
    public var seconds = 0.0
    /// Slowest document.
    public var maxSeconds = 0.0
    /// Mean seconds per passed document.
    public var meanSeconds: Double { passed + failed == 0 ? 0 : seconds / Double(passed + failed) }
}

/// What a run did; printed as the summary table and used for the exit code.
public struct RunSummary: Sendable, Codable, Equatable {
    /// Pipeline name.
    public var pipeline: String
    /// Documents delivered to the outbox.
    public var delivered = 0
    /// Documents quarantined, by reason code.
    public var quarantined: [String: Int] = [:]
    /// Documents resumed after an interrupted run.
    public var resumed = 0
    /// Documents left claimed for the next run (batch stopped).
    public var leftForNextRun = 0
    /// Claimed documents put back into the inbox untouched because the batch stopped (token fault).
    public var returnedToInbox = 0
    /// Wall time of the run.
    public var seconds = 0.0
    /// Per-stage figures, in pipeline order.
    public var stages: [StageFigures] = []
    /// Named durations stages reported (e.g. `token.sign`): count and total seconds.
    public var timings: [String: TimingFigures] = [:]
    /// Why the batch stopped early, if it did.
    public var stoppedBecause: String?
    /// The reason code of the stage failure that stopped the batch (`pin-incorrect`, `token-error`), if one did.
    public var stopCode: String?
    /// Warnings (e.g. journal recovery actions).
    public var warnings: [String] = []

    /// Total quarantined.
    public var quarantinedTotal: Int { quarantined.values.reduce(0, +) }
    /// Delivered documents per second of wall time.
    public var throughput: Double { seconds > 0 ? Double(delivered) / seconds : 0 }

    /// Exit code: 0 success, 1 some documents failed (or the batch stopped), 3 finished with warnings.
    public var exitCode: Int32 {
        if quarantinedTotal > 0 || stoppedBecause != nil { return 1 }
        if !warnings.isEmpty { return 3 }
        return 0
    }

    /// The summary as an aligned text table.
    public func table() -> String {
        var lines: [String] = []
        lines.append("pipeline \(pipeline): \(delivered) delivered, \(quarantinedTotal) quarantined" +
                     (resumed > 0 ? ", \(resumed) resumed after interruption" : "") +
                     String(format: " in %.1f s (%.1f documents/s)", seconds, throughput))
        let header = ["stage", "passed", "failed", "retries", "mean ms", "max ms"]
        var rows = [header]
        for s in stages {
            rows.append([s.name, "\(s.passed)", "\(s.failed)", "\(s.retries)", String(format: "%.1f", s.meanSeconds * 1000), String(format: "%.1f", s.maxSeconds * 1000)])
        }
        for (name, t) in timings.sorted(by: { $0.key < $1.key }) {
            let util = seconds > 0 ? String(format: " (busy %.0f%%)", 100 * t.seconds / seconds) : ""
            rows.append([name + util, "\(t.count)", "", "", String(format: "%.1f", t.count > 0 ? t.seconds / Double(t.count) * 1000 : 0), String(format: "%.1f", t.maxSeconds * 1000)])
        }
        let widths = (0..<header.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        for (i, r) in rows.enumerated() {
            lines.append(r.enumerated().map { c, v in c == 0 ? v.padding(toLength: widths[c], withPad: " ", startingAt: 0) : String(repeating: " ", count: widths[c] - v.count) + v }.joined(separator: "  "))
            if i == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        if !quarantined.isEmpty {
            lines.append("quarantined by reason:")
            for (code, n) in quarantined.sorted(by: { $0.key < $1.key }) { lines.append("  \(code): \(n)") }
        }
        if returnedToInbox > 0 { lines.append("\(returnedToInbox) claimed documents returned to the inbox untouched") }
        if leftForNextRun > 0 { lines.append("\(leftForNextRun) claimed documents left for the next run") }
        if let stoppedBecause { lines.append("batch stopped: \(stoppedBecause)") }
        for w in warnings { lines.append("warning: \(w)") }
        return lines.joined(separator: "\n")
    }
}

/// Count, total and maximum of a named duration.
public struct TimingFigures: Sendable, Codable, Equatable {
    /// Number of measurements.
    public var count = 0
    /// Sum of seconds.
    public var seconds = 0.0
    /// Largest measurement.
    public var maxSeconds = 0.0
}

/// Thread-safe accumulator for a run's summary.
final class SummaryBox: @unchecked Sendable {
    private let lock = NSLock()
    private var s: RunSummary
    init(_ s: RunSummary) { self.s = s }
    func update(_ f: (inout RunSummary) -> Void) { lock.lock(); f(&s); lock.unlock() }
    var value: RunSummary { lock.lock(); defer { lock.unlock() }; return s }
}
