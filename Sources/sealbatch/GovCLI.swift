// Shared pieces of the governance commands (org, user, seal, approve, approvals, audit): registry
// location, who is acting, secrets from file descriptors or the terminal, dates, output formats.
import ArgumentParser
import Foundation
import Governance
import Signing
import Token
#if canImport(Glibc)
import Glibc
#endif

/// `--registry PATH`: the registry database and its audit key.
struct GovRegistryOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Registry database (default: $SEALBATCH_HOME/sealbatch-registry.sqlite or ./sealbatch-registry.sqlite).", valueName: "path"))
    var registry: String?

    @Option(name: .long, help: ArgumentHelp("Audit checkpoint key: PEM file holding the private key and certificate (default: <registry>.audit-key.pem).", valueName: "path"))
    var auditKey: String?

    @Option(name: .customLong("audit-witness"), help: ArgumentHelp("Also write audit checkpoints to this witness (files on another file system, or 'syslog'; comma separated); `audit verify` reads its files. Overrides $SEALBATCH_AUDIT_WITNESS.", valueName: "path"))
    var auditWitness: String?

    /// The registry file path.
    var path: String { registry ?? GovernanceWorkspace.defaultRegistryPath() }

    /// The audit key file path.
    var auditKeyPath: String { auditKey ?? GovernanceWorkspace.defaultAuditKeyPath(registryPath: path) }

    /// Loads the audit key if present. A key that was named (`--audit-key`, `$SEALBATCH_AUDIT_KEY`) must exist.
    func auditSigner() throws -> IdentityCheckpointSigner? {
        guard FileManager.default.fileExists(atPath: auditKeyPath) else {
            if auditKey != nil || ProcessInfo.processInfo.environment["SEALBATCH_AUDIT_KEY"] != nil {
                throw GovCLI.Failure(2, "the audit key \(auditKeyPath) does not exist: fix --audit-key / $SEALBATCH_AUDIT_KEY, or leave it out to run without checkpoints")
            }
            return nil
        }
        do { return try GovernanceWorkspace.auditSigner(pemFile: auditKeyPath) } catch {
            throw GovCLI.Failure(2, "the audit key \(auditKeyPath) is not readable: \(error)")
        }
    }

    /// Opens the registry; it must exist unless `create`.
    func open(create: Bool = false) throws -> Registry {
        if !create && !FileManager.default.fileExists(atPath: path) {
            throw GovCLI.Failure(2, "no registry at \(path): create one with `sealbatch org init` or pass --registry")
        }
        let registry = Registry(store: try SQLiteGovernanceStore(path: path), auditSigner: try auditSigner())
        if let auditWitness {
            do { registry.audit.useWitness(try AuditWitness.parse(auditWitness)) } catch {
                throw GovCLI.Failure(2, "--audit-witness \(auditWitness): \(error)")
            }
        }
        return registry
    }
}

/// `--as USER` with `--key FILE.p12` (+ `--key-password-fd`), their own token (`--login-token-config`
/// + `--login-pin-fd`), or a local password (`--password-fd` or prompt).
struct GovAuthOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: ArgumentHelp("The acting user.", valueName: "user"))
    var user: String?

    @Option(name: .long, help: ArgumentHelp("The acting user's PKCS#12 key file.", valueName: "file.p12"))
    var key: String?

    @Option(name: .long, help: ArgumentHelp("Read the PKCS#12 password from this file descriptor (else prompt).", valueName: "fd"))
    var keyPasswordFd: Int32?

    @Option(name: .long, help: ArgumentHelp("Read the local-account password from this file descriptor (else prompt).", valueName: "fd"))
    var passwordFd: Int32?

    @Option(name: .long, help: ArgumentHelp("Log in with the user's own token: its configuration (JSON, see `sealbatch token`).", valueName: "file"))
    var loginTokenConfig: String?

    @Option(name: .long, help: ArgumentHelp("Read the login token's PIN from this file descriptor (else prompt).", valueName: "fd"))
    var loginPinFd: Int32?

    /// Loads the PKCS#12 identity named by `--key`.
    func identity() throws -> DetachedSignature.Identity? {
        try GovCLI.loadP12(key, passwordFd: keyPasswordFd)
    }

    /// Authenticates the acting user.
    func authenticate(_ registry: Registry) async throws -> AuthenticatedUser {
        try await GovCLI.authenticate(registry, user: user, p12: key, p12PasswordFd: keyPasswordFd, passwordFd: passwordFd,
                                      tokenConfig: loginTokenConfig, pinFd: loginPinFd)
    }
}

/// The same as `GovAuthOptions` under names that do not collide with the token options of `stamp` / `run`
/// (`--as`, `--user-p12`, `--user-p12-password-fd`, `--password-fd`, `--login-token-config`, `--login-pin-fd`).
struct GovActingUserOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: ArgumentHelp("The acting user.", valueName: "user"))
    var user: String?
    @Option(name: .long, help: ArgumentHelp("The acting user's PKCS#12 key file.", valueName: "file.p12"))
    var userP12: String?
    @Option(name: .long, help: ArgumentHelp("Read the PKCS#12 password from this file descriptor (else prompt).", valueName: "fd"))
    var userP12PasswordFd: Int32?
    @Option(name: .long, help: ArgumentHelp("Read the local-account password from this file descriptor (else prompt).", valueName: "fd"))
    var passwordFd: Int32?
    @Option(name: .long, help: ArgumentHelp("Log in with the user's own token: its configuration (JSON).", valueName: "file"))
    var loginTokenConfig: String?
    @Option(name: .long, help: ArgumentHelp("Read the login token's PIN from this file descriptor (else prompt).", valueName: "fd"))
    var loginPinFd: Int32?

    /// Authenticates the acting user.
    func authenticate(_ registry: Registry) async throws -> AuthenticatedUser {
        try await GovCLI.authenticate(registry, user: user, p12: userP12, p12PasswordFd: userP12PasswordFd, passwordFd: passwordFd,
                                      tokenConfig: loginTokenConfig, pinFd: loginPinFd)
    }
}

enum GovCLI {
    /// A CLI failure with its exit code (1: refused or failed, 2: usage or configuration).
    struct Failure: Error, CustomStringConvertible {
        let code: Int32
        let message: String
        init(_ code: Int32, _ message: String) { self.code = code; self.message = message }
        var description: String { message }
    }

    /// Runs a command body, turning governance errors into one line on stderr and an exit code, and
    /// checkpointing the audit log afterwards. A checkpoint that cannot be written fails the command
    /// (exit 2): what it did is recorded, but not yet protected against truncation.
    static func run(_ registry: Registry?, _ body: () async throws -> Void) async throws {
        var failure: Error? = nil
        do { try await body() } catch { failure = error }
        if let registry {
            do { try await checkpoint(registry) } catch { if failure == nil { failure = error } else { _ = exit(error) } }
        }
        if let failure { throw exit(failure) }
    }

    /// Signs an audit checkpoint over the log's head, or fails with a message naming the problem.
    static func checkpoint(_ registry: Registry) async throws {
        do { _ = try await registry.audit.checkpoint() } catch {
            throw Failure(2, "the audit checkpoint could not be written (the command's records are in the log but not yet signed): \(error)")
        }
    }

    static func exit(_ error: Error) -> Error {
        let code: Int32
        switch error {
        case let e as Failure:
            // Failure messages are whole sentences with no code of their own: the exit code says which kind.
            CLIMessage.write(e.code == 2 ? "configuration" : "refused", e.message)
            return ExitCode(e.code)
        case let e as GovernanceError:
            code = (e.code == .invalidInput || e.code == .notFound || e.code == .alreadyExists || e.code == .storage || e.code == .registryNotEmpty) ? 2 : 1
        case is ApprovalRefusal: code = 1
        case let e as ExitCode: return e
        default: code = 2
        }
        CLIMessage.write(error)
        return ExitCode(code)
    }

    /// Loads a PKCS#12 identity; the password comes from a descriptor or the terminal and is wiped after use.
    static func loadP12(_ path: String?, passwordFd: Int32?) throws -> DetachedSignature.Identity? {
        guard let path else { return nil }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw Failure(2, "cannot read the key file \(path)") }
        var pw = try secret(fd: passwordFd, prompt: "Password for \(URL(fileURLWithPath: path).lastPathComponent): ")
        defer { for i in pw.indices { pw[i] = 0 } }
        do { return try DetachedSignature.Identity.pkcs12(Array(data), password: pw) } catch {
            throw Failure(2, "cannot open \(path): \(error.detail)")
        }
    }

    /// Proves who is acting: PKCS#12 key, own token, or local password (in that order of preference).
    static func authenticate(_ registry: Registry, user: String?, p12: String?, p12PasswordFd: Int32?, passwordFd: Int32?,
                             tokenConfig: String?, pinFd: Int32?) async throws -> AuthenticatedUser {
        guard let user else { throw Failure(2, "say who is acting with --as USER (and a key file, a token or a password)") }
        if let id = try loadP12(p12, passwordFd: p12PasswordFd) {
            return try registry.authenticate(.identity(user: user, id))
        }
        if let tokenConfig {
            let config: TokenConfiguration
            do { config = try TokenConfiguration.load(from: URL(fileURLWithPath: tokenConfig)) } catch {
                throw Failure(2, "cannot read the token configuration \(tokenConfig): \(error)")
            }
            let token = try await SealToken.open(config)
            let source = try PINSource.from(pinFD: pinFd, pinFile: nil, pinEnv: nil, allowInsecureEnv: false)
            try await token.login(pin: try source.read(prompt: "PIN of your token: "))
            let challenge = registry.challenge(for: user)
            let signature = try await token.sign(challenge)
            await token.close()
            return try registry.authenticate(.tokenSignedChallenge(user: user, challenge: challenge, signature: signature))
        }
        var pw = try secret(fd: passwordFd, prompt: "Password for \(user): ")
        defer { for i in pw.indices { pw[i] = 0 } }
        return try registry.authenticate(.password(user: user, password: pw))
    }

    /// Reads a secret from a file descriptor (up to the first newline) or prompts on the terminal.
    static func secret(fd: Int32?, prompt: String) throws -> [UInt8] {
        if let fd {
            var out: [UInt8] = []
            var byte: UInt8 = 0
            while read(fd, &byte, 1) == 1 {
                if byte == 0x0a { break }
                out.append(byte)
            }
            if out.last == 0x0d { out.removeLast() }
            return out
        }
        guard isatty(0) == 1, let p = getpass(prompt) else {
            throw Failure(2, "no terminal to ask for a password: pass it through a file descriptor (--password-fd / --key-password-fd)")
        }
        var out: [UInt8] = []
        var q = p
        while q.pointee != 0 { out.append(UInt8(bitPattern: q.pointee)); q.pointee = 0; q += 1 }
        return out
    }

    /// Parses `2026-12-31`, `2026-12-31T18:00:00Z` or a relative `+7d` / `12h` / `30m` (from now).
    /// A time in the future (`--valid-until`, `--valid-from`): see `TimeSpec`.
    static func date(_ s: String, option: String = "the date", now: Date = Date()) throws -> Date {
        try TimeSpec.parse(s, .future, option: option, now: now)
    }

    static func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: d)
    }

    static func readCertificate(_ path: String) throws -> DetachedSignature.Certificate {
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw Failure(2, "cannot read the certificate file \(path)") }
        do { return try DetachedSignature.Certificate(pemOrDER: Array(bytes)) } catch { throw Failure(2, "\(path): \(error.detail)") }
    }

    static func print(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }

    /// JSON output (kebab-case keys, docs/cli.md); `pretty: false` is one line (`audit tail`).
    static func json<T: Encodable>(_ value: T, pretty: Bool = true) -> String {
        String(decoding: (try? CLIJSON.encode(value, pretty: pretty)) ?? Data(), as: UTF8.self)
    }

    /// A plain text table with aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in i == r.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// RFC 4180 CSV.
    static func csv(_ header: [String], _ rows: [[String]]) -> String {
        func cell(_ c: String) -> String {
            c.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + c.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : c
        }
        return ([header] + rows).map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n")
    }
}

/// Roles and per-seal rights parse (and list their allowed values in `--help` and in errors) through
/// ArgumentParser, once, instead of a hand check in every grant/ungrant command.
extension Role: ExpressibleByArgument {}
extension SealRight: ExpressibleByArgument {}
