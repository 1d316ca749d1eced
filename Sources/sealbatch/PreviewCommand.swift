import ArgumentParser

/// `sealbatch preview` — not built yet (placeholder owned by its issue; replace this whole file).
struct PreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preview", abstract: "(not built yet)", shouldDisplay: false)
    func run() throws { throw ValidationError("'sealbatch preview' is not built yet") }
}
