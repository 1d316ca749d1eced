import ArgumentParser
import Foundation
import Pipeline
import Stages

/// `sealbatch report` — the morning summary from a pipeline's journal.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: localizedSummary("Summarise a pipeline's journal: sealed, quarantined by reason, token events, throughput.", zh: "汇总流水线日志：已盖章的文件、按原因列出的隔离文件、密钥事件和处理速度。"))

    @Argument(help: "Pipeline file (its journal is read), or --journal.")
    var pipeline: String?
    @Option(help: "Journal file (instead of a pipeline).")
    var journal: String?
    @Option(parsing: .unconditional, help: "Start of the period: 2026-11-24, 2026-11-24T18:00:00Z, or an offset back from now (12h, 7d, -7d).")
    var since: String = "24h"
    @Option(help: "Output format.")
    var format: TextOrJSON = .text
    @OptionGroup var deprecated: DeprecatedJSONFlag
    @Option(help: "Language of the text report: en or zh-CN (default: from LC_ALL / LC_MESSAGES / LANG).")
    var lang: String?

    func run() throws {
        let journalURL: URL
        if let journal { journalURL = URL(fileURLWithPath: journal) }
        else if let pipeline {
            do { journalURL = try PipelineConfig.load(from: URL(fileURLWithPath: pipeline), registry: StandardStages.registry()).journal }
            catch let e as PipelineError { CLIMessage.write(e.code.rawValue, "\(pipeline): \(e)"); throw ExitCode(2) }
        } else { throw ValidationError("give a pipeline file or --journal") }
        let start: Date
        do { start = try TimeSpec.parse(since, .past, option: "--since") } catch { throw ValidationError("\(error)") }
        guard FileManager.default.fileExists(atPath: journalURL.path) else {
            CLIMessage.write("journal", "no journal at \(journalURL.path)", next: "Run the pipeline first (sealbatch run PIPELINE --once), or give the journal with --journal.")
            throw ExitCode(2)
        }
        let report = try JournalReport.make(journal: try Journal(url: journalURL, readOnly: true), since: start)
        if deprecated.resolve(format) == .json {
            print(try CLIJSON.string(report))
        } else {
            print(report.text(ClerkLanguage.choose(lang)))
        }
    }
}
