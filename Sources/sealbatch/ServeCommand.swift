import ArgumentParser
import Console
import Foundation

/// `sealbatch serve`: the web console for the four roles (docs/console.md).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the web console (dashboard, approvals, stamping requests, audit log, seals, users, quarantine, verify).",
        discussion: """
        Users log in with their local-account password (`sealbatch user add --set-password`). Every page and API route is \
        checked against the same Policy as the CLI; every login, failure and action is written to the registry's audit log. \
        Without --tls-cert/--tls-key the console speaks plain HTTP: keep it on 127.0.0.1 or put a TLS proxy in front. \
        Prints "console listening on URL" once the socket is bound. Exit codes: 0 stopped, 2 configuration error.
        """)

    @Option(name: .long, help: ArgumentHelp("Registry database (default: $SEALBATCH_HOME/sealbatch-registry.sqlite or ./sealbatch-registry.sqlite).", valueName: "path"))
    var registry: String?
    @Option(name: .long, help: ArgumentHelp("Audit checkpoint key (PEM; default <registry>.audit-key.pem).", valueName: "path"))
    var auditKey: String?
    @Option(name: .long, help: ArgumentHelp("Pipeline file whose folders the console shows and feeds (repeatable).", valueName: "file"))
    var pipeline: [String] = []
    @Option(name: .long, help: ArgumentHelp("Address to listen on (port 0: any free port).", valueName: "host:port"))
    var listen = "127.0.0.1:8443"
    @Option(name: .long, help: ArgumentHelp("TLS certificate chain (PEM).", valueName: "file")) var tlsCert: String?
    @Option(name: .long, help: ArgumentHelp("TLS private key (PEM).", valueName: "file")) var tlsKey: String?
    @Option(name: .long, help: ArgumentHelp("Trust anchor for the verify page (file or folder, repeatable).", valueName: "FILE|DIR")) var trust: [String] = []
    @Option(name: .long, help: ArgumentHelp("Largest upload in MiB.", valueName: "n")) var maxUploadMib = 20
    @Option(name: .long, help: ArgumentHelp("Minutes a locked account stays locked (after 5 wrong passwords).", valueName: "n")) var lockoutMinutes = 15.0
    @Option(name: .long, help: ArgumentHelp("Login attempts allowed per client address per minute.", valueName: "n")) var loginRate = 30
    @Option(name: .long, help: ArgumentHelp("Where stamping requests are kept (default <registry>.console).", valueName: "dir")) var dataDir: String?

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        guard let colon = listen.lastIndex(of: ":"), Int(listen[listen.index(after: colon)...]) != nil else {
            throw ValidationError("--listen must be HOST:PORT (e.g. 127.0.0.1:8443)")
        }
    }

    func run() async throws {
        let colon = listen.lastIndex(of: ":")!
        var c = ConsoleConfiguration(registryPath: registry ?? ProcessInfo.processInfo.environment["SEALBATCH_HOME"].map { $0 + "/sealbatch-registry.sqlite" } ?? "sealbatch-registry.sqlite")
        c.auditKeyPath = auditKey
        c.pipelineFiles = pipeline
        c.host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        c.port = Int(listen[listen.index(after: colon)...])!
        c.tlsCertificate = tlsCert; c.tlsKey = tlsKey
        c.trust = trust
        c.maxUpload = maxUploadMib << 20
        c.lockoutSeconds = lockoutMinutes * 60
        c.loginRatePerMinute = loginRate
        c.dataDirectory = dataDir
        let server: ConsoleServer
        do { server = try ConsoleServer(c) } catch {
            FileHandle.standardError.write(Data("sealbatch: cannot start the console: \(error)\n".utf8))
            throw ExitCode(2)
        }
        try await server.run { url in
            FileHandle.standardOutput.write(Data("console listening on \(url)\n".utf8))
        }
    }
}
