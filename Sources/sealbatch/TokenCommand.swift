import ArgumentParser
import Foundation
import Token

/// `sealbatch token` — inspect PC/SC readers and PKCS#11 tokens, test a signature, make a dev token.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Inspect and test the seal token (PKCS#11 module, PC/SC reader).",
        discussion: """
        The PIN is read from a prompt without echo, from --pin-fd N, from --pin-file PATH (mode 0600), or, \
        only with --allow-insecure-pin-env, from --pin-env VAR. A wrong PIN is never retried.
        """,
        subcommands: [TokenList.self, TokenStatus.self, TokenTestSign.self, TokenInitDev.self, TokenBenchCommand.self]
    )
}

/// Where the PIN comes from (shared with `run` and `stamp`).
struct PINOptions: ParsableArguments {
    @Option(name: .customLong("pin-fd"), help: "Read the PIN from this open file descriptor (e.g. --pin-fd 3 3<pinfile).")
    var pinFD: Int32?
    @Option(name: .customLong("pin-file"), help: "Read the PIN from a file only its owner can read (chmod 600).")
    var pinFile: String?
    @Option(name: .customLong("pin-env"), help: "Read the PIN from this environment variable (weaker; needs --allow-insecure-pin-env).")
    var pinEnv: String?
    @Flag(name: .customLong("allow-insecure-pin-env"), help: "Accept that a PIN in the environment can be read by other processes of this user.")
    var allowInsecurePINEnv = false

    func source() throws -> PINSource {
        try PINSource.from(pinFD: pinFD, pinFile: pinFile, pinEnv: pinEnv, allowInsecureEnv: allowInsecurePINEnv)
    }
}

/// Which token and key (shared with `run` and `stamp`).
struct TokenSelection: ParsableArguments {
    @Option(name: .customLong("token-config"), help: "Token configuration file (JSON: module, key, module-environment, presence-reader).")
    var config: String?
    @Option(name: .customLong("module"), help: "PKCS#11 module path (instead of --token-config).")
    var module: String?
    @Option(name: .customLong("token-uri"), help: ArgumentHelp("RFC 7512 URI of the seal key, e.g. 'pkcs11:token=Seal;object=seal;type=private' (as in `seal register --token-uri`).", valueName: "pkcs11:…"))
    var tokenURI: String?
    /// `--key`, the old name of `--token-uri` (`--key` elsewhere is a PKCS#12 file).
    @Option(name: .customLong("key"), help: .hidden)
    var oldKey: String?
    @Option(name: .customLong("softhsm-conf"), help: "SOFTHSM2_CONF for a SoftHSM2 module.")
    var softhsmConf: String?
    @Option(name: .customLong("presence-reader"), help: "PC/SC reader whose card gates signing.")
    var presenceReader: String?
    @Flag(name: .customLong("allow-final-try"), help: "Allow a login that spends the token's final PIN try.")
    var allowFinalTry = false

    func configuration() throws -> TokenConfiguration {
        var c: TokenConfiguration
        if let config {
            c = try TokenConfiguration.load(from: URL(fileURLWithPath: config))
        } else {
            guard let module, let key = try aliased(tokenURI, oldKey, old: "--key", new: "--token-uri") else {
                throw ValidationError("give --token-config FILE, or --module PATH and --token-uri URI")
            }
            c = TokenConfiguration(module: module, key: try PKCS11URI(key))
        }
        if let module, config != nil { c.module = module }
        if let softhsmConf { c.moduleEnvironment["SOFTHSM2_CONF"] = softhsmConf }
        if let presenceReader { c.presenceReader = presenceReader }
        if allowFinalTry { c.allowFinalTry = true }
        try c.validate()
        return c
    }
}

/// Turns token errors into one line of text and exit code 2 (configuration / token problem).
func reportingTokenErrors<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let e as TokenError {
        CLIMessage.write(e)
        throw ExitCode(2)
    }
}

func parseAlgorithm(_ s: String?) throws -> SigningAlgorithm? {
    guard let s else { return nil }
    let parts = s.lowercased().split(separator: "-")
    guard let hashName = parts.last, let h = HashAlgorithm(rawValue: String(hashName)) else {
        throw ValidationError("algorithm must look like rsa-pkcs1-sha256, rsa-pss-sha384, ecdsa-sha256")
    }
    switch parts.dropLast().joined(separator: "-") {
    case "rsa-pkcs1", "rsa": return .rsaPKCS1v15(h)
    case "rsa-pss", "pss": return .rsaPSS(h)
    case "ecdsa", "ec": return .ecdsa(h)
    default: throw ValidationError("unknown algorithm '\(s)'")
    }
}

struct TokenList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List PC/SC readers (card state, ATR) and PKCS#11 slots and tokens.")
    @Option(name: .customLong("module"), help: "PKCS#11 module to list (repeatable). Default: SoftHSM2 and OpenSC when installed.")
    var modules: [String] = []
    @Option(name: .customLong("softhsm-conf"), help: "SOFTHSM2_CONF for a SoftHSM2 module.")
    var softhsmConf: String?
    @Option(name: .customLong("token-config"), help: "List the module of this token configuration.")
    var config: String?
    @Flag(name: .customLong("objects"), help: "Also list each token's certificates and keys (label, id, type) with the URI to use as a seal's key. No PIN is asked: keys the token keeps private appear through their certificate.")
    var objects = false

    @Option(help: "Output format.")
    var format: TextOrJSON = .text

    /// What `--format json` prints (the text lists the same).
    struct Listing: Encodable {
        struct Reader: Encodable { var name: String; var card: String }
        struct Object: Encodable { var kind: String; var keyType: String?; var label: String?; var id: String?; var uri: String; var privateKeyURI: String? }
        struct Token: Encodable {
            var label: String; var serial: String; var manufacturer: String; var model: String; var pin: String
            var loginRequired: Bool; var pinPad: Bool; var signMechanisms: [String]; var objects: [Object]?
        }
        struct Slot: Encodable { var slot: UInt; var description: String; var removable: Bool; var state: String; var token: Token? }
        struct Module: Encodable { var path: String; var description: String?; var error: String?; var slots: [Slot] }
        var readers: [Reader] = []
        var readersError: String?
        var modules: [Module] = []
    }

    func run() async throws {
        try await reportingTokenErrors {
            let text = format == .text
            func say(_ s: String) { if text { print(s) } }
            var listing = Listing()
            say("PC/SC readers:")
            do {
                let readers = try PCSC.readers()
                if readers.isEmpty { say("  (none)") }
                for r in readers { say("  \(r.name): \(r.cardDescription)"); listing.readers.append(.init(name: r.name, card: r.cardDescription)) }
            } catch let e as TokenError {
                say("  unavailable: \(e.message)")
                listing.readersError = e.message
            }
            var targets: [(String, [String: String])] = []
            if let config {
                let c = try TokenConfiguration.load(from: URL(fileURLWithPath: config))
                targets.append((c.module, c.moduleEnvironment))
            }
            let env = softhsmConf.map { ["SOFTHSM2_CONF": $0] } ?? [:]
            for m in modules { targets.append((m, m.contains("softhsm") ? env : [:])) }
            if targets.isEmpty {
                for m in [DevToken.defaultModulePath, "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"] where FileManager.default.fileExists(atPath: m) {
                    targets.append((m, m.contains("softhsm") ? env : [:]))
                }
            }
            for (path, env) in targets {
                say("")
                var entry = Listing.Module(path: path, slots: [])
                do {
                    let module = try PKCS11Module.load(path: path, environment: env)
                    let info = try module.info()
                    entry.description = "\(info.manufacturer) \(info.description) \(info.libraryVersion), Cryptoki \(info.cryptokiVersion)"
                    say("PKCS#11 module \(path) (\(entry.description!)):")
                    let slots = try module.slots(tokenPresent: false)
                    if slots.isEmpty { say("  (no slots)") }
                    for s in slots {
                        let si = try module.slotInfo(s)
                        var slot = Listing.Slot(slot: UInt(s), description: si.description, removable: si.removable, state: "no-token")
                        defer { entry.slots.append(slot) }
                        say("  slot \(s): \(si.description)\(si.removable ? " (removable)" : "")")
                        guard si.tokenPresent else { say("    no token"); continue }
                        let t = try module.tokenInfo(s)
                        guard t.initialized else { say("    token not initialised"); slot.state = "not-initialised"; continue }
                        slot.state = "ready"
                        say("    token '\(t.label)'  serial \(t.serial)  \(t.manufacturer) \(t.model)")
                        say("    PIN: \(t.pinFlags)\(t.loginRequired ? ", login required" : "")\(t.protectedAuthenticationPath ? ", PIN pad" : "")")
                        let mechs = (try? module.mechanisms(s).filter(\.canSign).map(\.name)) ?? []
                        say("    sign mechanisms: \(mechs.joined(separator: " "))")
                        var token = Listing.Token(label: t.label, serial: t.serial, manufacturer: t.manufacturer, model: t.model, pin: "\(t.pinFlags)",
                                                  loginRequired: t.loginRequired, pinPad: t.protectedAuthenticationPath, signMechanisms: mechs)
                        if objects {
                            let objs = try module.publicObjects(slot: s)
                            if objs.isEmpty { say("    objects: none visible without a login") } else { say("    objects:") }
                            token.objects = []
                            for o in objs {
                                let id = o.id.map { $0.map { String(format: "%02x", $0) }.joined() }
                                say("      \(o.kind.rawValue)\(o.keyType.map { " (\($0))" } ?? "")  label '\(o.label ?? "")'  id \(id ?? "-")")
                                say("        \(o.uri)")
                                if let k = o.privateKeyURI { say("        key: \(k)") }
                                token.objects?.append(.init(kind: o.kind.rawValue, keyType: o.keyType.map { "\($0)" }, label: o.label, id: id,
                                                            uri: "\(o.uri)", privateKeyURI: o.privateKeyURI.map { "\($0)" }))
                            }
                        }
                        slot.token = token
                    }
                } catch let e as TokenError {
                    say("PKCS#11 module \(path): \(e.message)")
                    entry.error = e.message
                }
                listing.modules.append(entry)
            }
            if !text { print(try CLIJSON.string(listing)) }
        }
    }
}

struct TokenStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the configured token, key, certificate, PIN state and presence.")
    @OptionGroup var selection: TokenSelection

    func run() async throws {
        try await reportingTokenErrors {
            let c = try selection.configuration()
            let token = try await SealToken.open(c)
            print("token        '\(token.tokenLabel)' serial \(token.tokenSerial)")
            print("module       \(c.module)")
            print("key          \(c.key)")
            print("key type     \(token.keyAlgorithm)")
            print("certificate  \(token.certificateDER.count) bytes, SHA-256 \(HashAlgorithm.sha256.hash(token.certificateDER).map { String(format: "%02x", $0) }.joined())")
            print("chain        \(token.chainDER.count) other certificate(s) on the token")
            print("PIN          \(try await token.pinFlags())")
            if let r = c.presenceReader {
                let state = (try? PCSC.readers())?.first { $0.name == r }
                print("reader       \(r): \(state?.cardDescription ?? "not connected")")
            }
            print("presence     \(await token.presence.rawValue)")
            let alg = token.keyAlgorithm.defaultSigningAlgorithm
            do { print("signing      \(alg) via \(try await token.plan(for: alg))") }
            catch let e as TokenError { print("signing      \(e.message)") }
            await token.close()
        }
    }
}

struct TokenTestSign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "test-sign", abstract: "Log in, make one signature, time it and verify it.")
    @OptionGroup var selection: TokenSelection
    @OptionGroup var pin: PINOptions
    @Option(help: "rsa-pkcs1-sha256, rsa-pss-sha256, ecdsa-sha256 (… -sha384, -sha512). Default: by key type.")
    var algorithm: String?

    func run() async throws {
        try await reportingTokenErrors {
            let c = try selection.configuration()
            let source = try pin.source()
            let token = try await SealToken.open(c)
            try await token.login(pin: try source.read(prompt: "PIN for token '\(token.tokenLabel)': "))
            let alg = try parseAlgorithm(algorithm) ?? token.keyAlgorithm.defaultSigningAlgorithm
            let message = Array("sealbatch test-sign \(Date())".utf8)
            let start = DispatchTime.now().uptimeNanoseconds
            let sig = try await token.sign(message, algorithm: alg)
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            let ok = token.verify(sig, message: message, algorithm: alg)
            print(String(format: "%@ via %@: %d-byte signature in %.2f ms, %@", alg.description, try await token.plan(for: alg).description, sig.count, ms,
                         ok ? "verifies with the certificate's public key" : "DOES NOT VERIFY"))
            await token.close()
            if !ok { throw ExitCode(1) }
        }
    }
}

struct TokenInitDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-dev",
        abstract: "Create a SoftHSM2 development token with a DEV-ONLY seal key and certificate chain (NOT FOR PRODUCTION).")
    @Option(help: "Workspace directory for the token, its SoftHSM config and the DEV-ONLY CA.")
    var dir: String = "dev-token"
    @Option(help: "Token label.")
    var label: String = "sealbatch-dev"
    @Option(name: .customLong("key-type"), help: "rsa2048, ec-p256 or ec-p384.")
    var keyType: String = "rsa2048"
    @Flag(name: .customLong("always-authenticate"), help: "Mark the key CKA_ALWAYS_AUTHENTICATE (PIN before every signature).")
    var alwaysAuthenticate = false
    @Option(name: .customLong("softhsm-module"), help: "SoftHSM2 module path.")
    var module: String = DevToken.defaultModulePath
    @OptionGroup var pin: PINOptions

    func run() async throws {
        try await reportingTokenErrors {
            guard let kt = DevToken.KeyType(rawValue: keyType) else {
                throw ValidationError("--key-type must be one of \(DevToken.KeyType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let source = try pin.source()
            let p = try source.read(prompt: "New user PIN for the development token: ")
            if case .prompt = source {
                let again = try source.read(prompt: "Repeat the PIN: ")
                let same = p.withBytes { a in again.withBytes { b in Array(a) == Array(b) } }
                guard same else { throw TokenError(.pinSourceFailed, "the two PINs differ; nothing was created") }
            }
            let start = Date()
            let info = try DevToken.create(in: URL(fileURLWithPath: dir), label: label, keyType: kt, pin: p,
                                           alwaysAuthenticate: alwaysAuthenticate, modulePath: module)
            print("DEVELOPMENT TOKEN - NOT FOR PRODUCTION (made in \(String(format: "%.2f", Date().timeIntervalSince(start))) s)")
            print("  token label     \(info.label)")
            print("  key URI         \(info.keyURI)")
            print("  module          \(info.modulePath)")
            print("  SOFTHSM2_CONF   \(info.softhsmConf.path)")
            print("  configuration   \(info.directory.appendingPathComponent("token.json").path)")
            print("  certificate     \(info.certificate.path)")
            print("  DEV-ONLY CA     \(info.caCertificate.path) (trust anchor for tests only)")
        }
    }
}

struct TokenBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Signatures/s through the module directly vs through the token actor.", shouldDisplay: false)
    @OptionGroup var selection: TokenSelection
    @OptionGroup var pin: PINOptions
    @Option(help: "Signatures per path.") var count: Int = 2000
    @Option(help: "Algorithm (see test-sign).") var algorithm: String?

    func run() async throws {
        try await reportingTokenErrors {
            let c = try selection.configuration()
            let p = try pin.source().read()
            let r = try await TokenBench.run(configuration: c, pin: p, count: count, algorithm: try parseAlgorithm(algorithm))
            var obj = try JSONSerialization.jsonObject(with: CLIJSON.encode(r, pretty: false)) as! [String: Any]
            obj["overhead-percent"] = r.overheadPercent
            obj["cpu-overhead-percent"] = r.cpuOverheadPercent
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
        }
    }
}
