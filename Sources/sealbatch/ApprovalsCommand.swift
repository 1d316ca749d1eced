import ArgumentParser

/// `sealbatch approvals` — not built yet (placeholder owned by its issue; replace this whole file).
struct ApprovalsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approvals", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch approvals' is not built yet") }
}
