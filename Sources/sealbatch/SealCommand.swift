import ArgumentParser

/// `sealbatch seal` — not built yet (placeholder owned by its issue; replace this whole file).
struct SealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "seal", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch seal' is not built yet") }
}
