import ArgumentParser

/// `sealbatch audit` — not built yet (placeholder owned by its issue; replace this whole file).
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch audit' is not built yet") }
}
