import ArgumentParser

/// `sealbatch run` — not built yet (placeholder owned by its issue; replace this whole file).
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch run' is not built yet") }
}
