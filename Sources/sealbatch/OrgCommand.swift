import ArgumentParser

/// `sealbatch org` — not built yet (placeholder owned by its issue; replace this whole file).
struct OrgCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "org", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch org' is not built yet") }
}
