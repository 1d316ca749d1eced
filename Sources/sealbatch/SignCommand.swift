import ArgumentParser

/// `sealbatch sign` — not built yet (placeholder owned by its issue; replace this whole file).
struct SignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sign", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch sign' is not built yet") }
}
