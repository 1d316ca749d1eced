import ArgumentParser

/// `sealbatch stamp` — not built yet (placeholder owned by its issue; replace this whole file).
struct StampCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stamp", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch stamp' is not built yet") }
}
