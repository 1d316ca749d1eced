import ArgumentParser

/// `sealbatch verify` — not built yet (placeholder owned by its issue; replace this whole file).
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch verify' is not built yet") }
}
