import ArgumentParser

/// `sealbatch approve` — not built yet (placeholder owned by its issue; replace this whole file).
struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "approve", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch approve' is not built yet") }
}
