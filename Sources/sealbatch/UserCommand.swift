import ArgumentParser

/// `sealbatch user` — not built yet (placeholder owned by its issue; replace this whole file).
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch user' is not built yet") }
}
