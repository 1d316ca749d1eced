import ArgumentParser
import Foundation

/// The `sealbatch` command line. Every subcommand lives in its own file; errors become text only in
/// `ExitCodes.swift`.
@main
struct Sealbatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealbatch",
        abstract: localizedSummary("Apply an organisation's electronic official seal (电子公章) to PDF documents in bulk.", zh: "为 PDF 文件批量加盖单位的电子公章。"),
        discussion: "Exit codes: 0 success, 1 some documents failed or failed verification, 2 usage or configuration error, 3 finished with warnings.",
        version: "0.1.0",
        subcommands: [
            InspectCommand.self,
            TokenCommand.self,
            VerifyCommand.self,
            PreviewCommand.self,
            OrgCommand.self,
            UserCommand.self,
            SealCommand.self,
            ApproveCommand.self,
            ApprovalsCommand.self,
            AuditCommand.self,
            StampCommand.self,
            CheckCommand.self,
            RunCommand.self,
            ReportCommand.self,
            ServeCommand.self,
        ]
    )
}
