import ArgumentParser
import Foundation
import Pipeline
import Stages

/// `sealbatch report` — the morning summary from a pipeline's journal.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Summarise a pipeline's journal: sealed, quarantined by reason, token events, throughput.")

    @Argument(help: "Pipeline file (its journal is read), or --journal.")
    var pipeline: String?
    @Option(help: "Journal file (instead of a pipeline).")
    var journal: String?
    @Option(help: "Start of the period: ISO 8601 time (2026-11-24T18:00:00Z), a date (2026-11-24), or hours ago ('12h').")
    var since: String = "24h"
    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        let journalURL: URL
        if let journal { journalURL = URL(fileURLWithPath: journal) }
        else if let pipeline {
            do { journalURL = try PipelineConfig.load(from: URL(fileURLWithPath: pipeline), registry: StandardStages.registry()).journal }
            catch let e as PipelineError { FileHandle.standardError.write(Data("error: \(pipeline): \(e)\n".utf8)); throw ExitCode(2) }
        } else { throw ValidationError("give a pipeline file or --journal") }
        guard let start = Self.parseSince(since) else { throw ValidationError("--since: use 2026-11-24T18:00:00Z, 2026-11-24 or 12h") }
        guard FileManager.default.fileExists(atPath: journalURL.path) else {
            FileHandle.standardError.write(Data("error: no journal at \(journalURL.path) (has the pipeline run yet?)\n".utf8))
            throw ExitCode(2)
        }
        let report = try JournalReport.make(journal: try Journal(url: journalURL, readOnly: true), since: start)
        if json {
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]; enc.dateEncodingStrategy = .iso8601
            print(String(decoding: try enc.encode(report), as: UTF8.self))
        } else {
            print(report.text())
        }
    }

    static func parseSince(_ s: String) -> Date? {
        if s.hasSuffix("h"), let h = Double(s.dropLast()) { return Date().addingTimeInterval(-h * 3600) }
        if s.hasSuffix("d"), let d = Double(s.dropLast()) { return Date().addingTimeInterval(-d * 86400) }
        if let d = ISO8601DateFormatter().date(from: s) { return d }
        let f = DateFormatter(); f.locale = Locale(identifier: "en_US_POSIX"); f.dateFormat = "yyyy-MM-dd"
        return f.date(from: s)
    }
}
