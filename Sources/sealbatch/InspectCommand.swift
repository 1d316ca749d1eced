import ArgumentParser

/// `sealbatch inspect` — not built yet (placeholder owned by its issue; replace this whole file).
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch inspect' is not built yet") }
}
