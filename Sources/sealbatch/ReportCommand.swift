import ArgumentParser

/// `sealbatch report` — not built yet (placeholder owned by its issue; replace this whole file).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch report' is not built yet") }
}
