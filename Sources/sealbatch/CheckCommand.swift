import ArgumentParser
import Foundation
import Stages

/// `sealbatch check PIPELINE` — everything the pipeline needs, checked without sealing, without the PIN
/// and without creating anything.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a pipeline before running it: configuration, registry and audit log, seal, token, certificate, trust anchors, folders.",
        discussion: """
        Nothing is sealed, no PIN is asked and nothing is created. Each problem is one line \
        `sealbatch: <code>: <what was found>` followed by the fix. `sealbatch run` makes the same checks when it \
        starts (a token that is not plugged in is then left to the run, which stops the batch or waits). \
        Exit codes: 0 everything needed is there (warnings allowed), 2 something is missing or wrong.
        """)

    @Argument(help: "Pipeline file (JSON with // comments).")
    var pipeline: String
    @Option(help: "Output format.")
    var format: TextOrJSON = .text
    @Option(name: .customLong("audit-witness"), help: ArgumentHelp("Also write audit checkpoints to this witness (files on another file system, or 'syslog'; comma separated). Overrides governance.audit-witness and $SEALBATCH_AUDIT_WITNESS.", valueName: "path"))
    var auditWitness: String?

    func run() async throws {
        let report = await PipelineCheck.run(pipeline: URL(fileURLWithPath: pipeline), mode: .check, auditWitness: auditWitness)
        switch format {
        case .json:
            FileHandle.standardOutput.write(try CLIJSON.encode(report) + Data("\n".utf8))
        case .text:
            Self.printText(report, okLines: true)
        }
        if !report.ok { throw ExitCode(2) }
    }

    /// Failures and warnings on stderr (`sealbatch: <code>: <message>` and the fix), passes on stdout.
    static func printText(_ report: PipelineCheck.Report, okLines: Bool) {
        for f in report.findings {
            switch f.level {
            case .ok:
                if okLines { FileHandle.standardOutput.write(Data("ok: \(f.message)\n".utf8)) }
            case .warning, .failure:
                let prefix = f.level == .warning ? "sealbatch: warning: " : "sealbatch: "
                FileHandle.standardError.write(Data("\(prefix)\(f.code): \(f.message)\n  fix: \(f.fix ?? "-")\n".utf8))
            }
        }
        if okLines {
            let n = report.failures.count
            FileHandle.standardOutput.write(Data((n == 0 ? "pipeline ready\n" : "pipeline not ready: \(n) problem\(n == 1 ? "" : "s")\n").utf8))
        }
    }
}
