import Foundation

/// The morning summary from the journal: sealed, quarantined by reason, token events, throughput.
public struct JournalReport: Sendable, Codable, Equatable {
    /// Start of the period.
    public var since: Date
    /// Documents delivered in the period.
    public var delivered: Int
    /// Quarantined, by reason code.
    public var quarantined: [String: Int]
    /// Documents still in progress (claimed, not finished).
    public var inProgress: Int
    /// Documents resumed after an interruption.
    public var resumed: Int
    /// Token events (`kind` = `token`): detail → count.
    public var tokenEvents: [String: Int]
    /// Batches stopped early, with their reasons.
    public var stops: [String]
    /// Runs started in the period.
    public var runs: Int
    /// Delivered per hour between first claim and last delivery; nil when that span is shorter than a
    /// minute or fewer than two documents were delivered (a rate over such a window means nothing).
    public var perHour: Double?
    /// Seconds between the first claim and the last delivery in the period.
    public var deliverySpan: Double?
    /// Mean seconds per stage.
    public var stageMeans: [String: Double]
    /// Quarantined documents: name, code.
    public var quarantinedDocuments: [[String]]
    /// Delivered documents with a warning ("name: what"): a seal sealed invisibly or into the author's field, a
    /// broken earlier signature sealed over (each document's receipt says the same).
    public var warnings: [String]? = nil

    /// Builds the report from a journal. Each document counts once, in its final state: a file
    /// quarantined and later re-queued under the same name and delivered counts as delivered.
    public static func make(journal: Journal, since: Date) throws -> JournalReport {
        var latest: [String: DocumentRecord] = [:]
        for d in try journal.documents(since: since) {
            if let seen = latest[d.name], seen.updatedAt > d.updatedAt { continue }
            latest[d.name] = d
        }
        let docs = latest.values.sorted { ($0.updatedAt, $0.name) < ($1.updatedAt, $1.name) }
        let events = try journal.events(since: since)
        var q: [String: Int] = [:]
        var qd: [[String]] = []
        for d in docs where d.state == .quarantined { q[d.reasonCode ?? "unknown", default: 0] += 1; qd.append([d.name, d.reasonCode ?? "unknown"]) }
        let delivered = docs.filter { $0.state == .done }
        var token: [String: Int] = [:]
        var stops: [String] = []
        var stageSum: [String: (Double, Int)] = [:]
        var runs = 0
        var warned: [String] = []
        for e in events {
            switch e.kind {
            case "token": token[e.detail ?? "?", default: 0] += 1
            case "batch-stopped": stops.append(e.detail ?? "?")
            case "run-start": runs += 1
            case "warning": if let d = e.detail { warned.append(d) }
            case "stage": if let s = e.stage, let secs = e.seconds { let v = stageSum[s] ?? (0, 0); stageSum[s] = (v.0 + secs, v.1 + 1) }
            default: break
            }
        }
        var perHour: Double? = nil, span: Double? = nil
        if let first = delivered.map(\.claimedAt).min(), let last = delivered.map(\.updatedAt).max(), last > first {
            span = last - first
            if delivered.count >= 2, last - first >= 60 { perHour = Double(delivered.count) / ((last - first) / 3600) }
        }
        return JournalReport(since: since, delivered: delivered.count, quarantined: q,
                             inProgress: docs.filter { !$0.state.isFinal }.count,
                             resumed: docs.filter { $0.attempts > 1 }.count, tokenEvents: token, stops: stops, runs: runs,
                             perHour: perHour, deliverySpan: span, stageMeans: stageSum.mapValues { $0.0 / Double(max(1, $0.1)) },
                             quarantinedDocuments: qd, warnings: warned.isEmpty ? nil : warned)
    }

    /// Plain-text rendering, in English or Chinese (headings; reason codes stay as they are).
    public func text(_ lang: ClerkLanguage = .en) -> String {
        let zh = lang == .zhCN
        func t(_ en: String, _ cn: String) -> String { zh ? cn : en }
        let f = ISO8601DateFormatter()
        var l = [t("since \(f.string(from: since)): \(runs) run(s)", "自 \(f.string(from: since)) 起：运行 \(runs) 次"),
                 t("sealed and delivered: \(delivered)", "已盖章并交付：\(delivered)"),
                 t("quarantined:          \(quarantined.values.reduce(0, +))", "已隔离：\(quarantined.values.reduce(0, +))")]
        for (c, n) in quarantined.sorted(by: { $0.key < $1.key }) { l.append("  \(c): \(n)") }
        if inProgress > 0 { l.append(t("still in progress:    \(inProgress)", "仍在处理中：\(inProgress)")) }
        if resumed > 0 { l.append(t("resumed after interruption: \(resumed)", "中断后继续处理：\(resumed)")) }
        if let perHour { l.append(zh ? String(format: "处理速度：每小时 %.0f 份", perHour) : String(format: "throughput:           %.0f documents/hour", perHour)) }
        else if let deliverySpan, delivered > 0 {
            l.append(zh ? String(format: "处理速度：%.1f 秒内 %d 份（时间太短，不计每小时速度）", deliverySpan, delivered)
                        : String(format: "throughput:           %d document(s) in %.1f s (too short a time for an hourly rate)", delivered, deliverySpan))
        }
        if tokenEvents.isEmpty { l.append(t("token events:         none", "USB key 事件：无")) }
        else { l.append(t("token events:", "USB key 事件：")); for (d, n) in tokenEvents.sorted(by: { $0.key < $1.key }) { l.append("  \(d): \(n)") } }
        for s in stops { l.append(t("batch stopped: \(s)", "批次已停止：\(s)")) }
        if !stageMeans.isEmpty {
            l.append(t("mean time per stage:", "各阶段平均用时："))
            for (s, m) in stageMeans.sorted(by: { $0.key < $1.key }) { l.append(String(format: "  %@: %.1f ms", s, m * 1000)) }
        }
        if let warnings, !warnings.isEmpty {
            l.append(t("sealed with warnings: \(warnings.count)", "盖章并有提示：\(warnings.count)"))
            for w in warnings.prefix(50) { l.append("  \(w)") }
            if warnings.count > 50 { l.append(t("  … and \(warnings.count - 50) more", "  …… 另有 \(warnings.count - 50) 条")) }
        }
        if !quarantinedDocuments.isEmpty {
            l.append(t("quarantined documents:", "已隔离的文件："))
            for d in quarantinedDocuments.prefix(50) {
                l.append("  \(d[0]): \(d[1])")
                if zh, let next = ClerkText.nextStepZH(d[1]) { l.append("    下一步：\(next)") }
            }
            if quarantinedDocuments.count > 50 { l.append(t("  … and \(quarantinedDocuments.count - 50) more", "  …… 另有 \(quarantinedDocuments.count - 50) 份")) }
        }
        return l.joined(separator: "\n")
    }
}
