import ArgumentParser

/// `sealbatch token` — not built yet (placeholder owned by its issue; replace this whole file).
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "token", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch token' is not built yet") }
}
