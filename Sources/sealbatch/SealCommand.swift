import ArgumentParser
import Foundation
import Governance
import Render
import Signing
import Stages
import Token

/// `sealbatch seal` — register seals, change their status, grant per-seal rights.
struct SealCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal", abstract: "Register seals and decide who may approve and use them.",
        subcommands: [Register.self, Status.self, Rebind.self, Grant.self, Ungrant.self, List.self, Show.self])

    /// `sealbatch seal register`
    struct Register: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a seal (seal administrators).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Seal id.") var id: String
        @Option(help: "Name as engraved.") var name: String
        @Option(help: "official, contract, finance, invoice or legal-representative.") var kind: String
        @Option(help: "Organisation.") var org: String
        @Option(help: ArgumentHelp("The seal key's certificate (PEM/DER).", valueName: "file")) var cert: String
        @Option(help: ArgumentHelp("PKCS#11 URI of the key on its token.", valueName: "pkcs11:…")) var tokenUri: String
        @Option(help: ArgumentHelp("The seal's design: a JSON file (docs/render.md), checked now; a fault is refused naming its JSON path.", valueName: "file"))
        var design: String
        @Option(help: .hidden) var appearance: String?
        @Option(help: ArgumentHelp("The seal certificate's CA certificates (PEM/DER: intermediates, root), stored with the seal and put into every signature; they must chain it to one of the organisation's trust anchors.", valueName: "file"))
        var chain: String?
        @Option(help: "Start of validity (default: the certificate's).") var validFrom: String?
        @Option(help: "End of validity (default: the certificate's).") var validUntil: String?
        @Option(name: .customLong("token-config"), help: ArgumentHelp("With the token present: its configuration (module, environment); the key named by --token-uri must hold the certificate's key, checked with one signature (PIN from --pin-fd / --pin-file or the prompt).", valueName: "file"))
        var tokenConfig: String?
        @OptionGroup var pin: PINOptions

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                guard let k = SealKind(rawValue: kind) else {
                    throw GovCLI.Failure(2, "unknown seal kind '\(kind)' (\(SealKind.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                let uri: PKCS11URI
                do { uri = try PKCS11URI(tokenUri) } catch let e as TokenError { throw GovCLI.Failure(2, "--token-uri: \(e.message)") }
                guard uri.object != nil || uri.id != nil else {
                    throw GovCLI.Failure(2, "--token-uri \(tokenUri) names no key: add object=<key label> or id=<key id> (e.g. pkcs11:token=Seal;object=seal;type=private)")
                }
                if appearance != nil { throw SealCommand.appearanceGone }
                let sd = try SealCommand.readDesign(design)
                let actor = try await auth.authenticate(registry)
                let c = try GovCLI.readCertificate(cert)
                if let tokenConfig {
                    try registry.authorise(.registerSeal, ActionTarget(organisation: org, seal: id), actor: actor)
                    let now = Date()
                    let proposed = Seal(id: id, name: name, kind: k, organisation: org, certificateDER: c.der, tokenURI: tokenUri, design: .design(sd),
                                        validFrom: c.notBefore, validUntil: c.notAfter, createdBy: actor.id, createdAt: now)
                    try await SealCommand.checkToken(tokenConfig, uri: uri, seal: proposed, actor: actor, registry: registry, pin: pin,
                                                   doing: "registration")
                }
                let s = try registry.registerSeal(id: id, name: name, kind: k, organisation: org, certificateDER: c.der, tokenURI: tokenUri,
                                                  design: sd, chainDER: try chain.map { try SealCommand.readChain($0) } ?? [], validFrom: try validFrom.map { try TimeSpec.parse($0, .either, option: "--valid-from") },
                                                  validUntil: try validUntil.map { try GovCLI.date($0, option: "--valid-until") }, as: actor)
                GovCLI.print("seal \(s.id) registered (\(s.kind.rawValue), certificate serial \(c.serialHex), valid \(GovCLI.iso(s.validFrom)) – \(GovCLI.iso(s.validUntil)))"
                             + (tokenConfig == nil ? "; the token was not checked (the first run checks it)" : "; the token holds its key"))
            }
        }
    }

    /// `--appearance` took free text the renderer could not always read; designs are JSON files now.
    static let appearanceGone = GovCLI.Failure(2, "--appearance is gone: give the seal's design as a JSON file with --design FILE.json (docs/render.md)")

    /// Reads and checks a design file: decoding and range faults name the JSON path (`design.diameter-mm: …`);
    /// an image seal's PNG path is made absolute against the design file's folder.
    static func readDesign(_ path: String) throws -> SealDesign {
        let url = URL(fileURLWithPath: path)
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw GovCLI.Failure(2, "--design \(path): cannot be read (\(error.localizedDescription))") }
        var d: SealDesign
        do { d = try SealDesign.validated(json: data, at: "design") } catch let e as SealDesignError {
            throw GovCLI.Failure(2, "--design \(path): the seal design is refused: \(e.description)")
        }
        if case .image(let i) = d {
            let r = i.resolved(against: url.deletingLastPathComponent())
            guard FileManager.default.isReadableFile(atPath: r.file) else {
                throw GovCLI.Failure(2, "--design \(path): the seal design is refused: design.file: \(r.file) cannot be read")
            }
            d = .image(r)
        }
        return d
    }

    /// CA certificates from a PEM/DER file (at least one).
    static func readChain(_ path: String) throws -> [[UInt8]] {
        let certs: [DetachedSignature.Certificate]
        do { certs = try DetachedSignature.certificates(pemOrDER: Array(try Data(contentsOf: URL(fileURLWithPath: path)))) } catch {
            throw GovCLI.Failure(2, "--chain \(path): cannot be read as PEM or DER certificates: \(error)")
        }
        guard !certs.isEmpty else { throw GovCLI.Failure(2, "--chain \(path): holds no certificate") }
        return certs.map(\.der)
    }

    /// The token must hold the certificate's key under `uri`: certificate fingerprint, then one signature.
    /// A mismatch is audited (`seal.key-mismatch`) and refuses the registration or rebinding (exit 2).
    static func checkToken(_ path: String, uri: PKCS11URI, seal: Seal, actor: AuthenticatedUser, registry: Registry, pin: PINOptions,
                           doing what: String) async throws {
        guard uri.object != nil || uri.id != nil else {
            throw GovCLI.Failure(2, "the token URI \(uri) names no key: add object=<key label> or id=<key id>")
        }
        var config: TokenConfiguration
        do { config = try TokenConfiguration.load(from: URL(fileURLWithPath: path)) } catch let e as TokenError {
            throw GovCLI.Failure(2, "--token-config: \(e.message)")
        }
        config.key = uri // the key the seal is bound to, whatever the file names
        let token = try await SealToken.open(config, pinProvider: SourcePINProvider(try pin.source()))
        defer { Task { await token.close() } }
        do { try await SealKeyBinding.check(token, seal: seal) } catch let m as SealKeyBinding.Mismatch {
            var message = "\(what) of seal \(seal.id) refused: \(m)"
            do {
                try registry.recordKeyMismatch(seal: seal, actor: actor.id, registeredSHA256: m.registeredSHA256, tokenSHA256: m.tokenSHA256,
                                               detail: "\(what) refused: \(m.keyDiffers ? "the key does not match the certificate" : "the token's certificate is not the one offered")")
            } catch { message += " (this refusal could not be written to the audit log: \(error))" }
            throw GovCLI.Failure(2, message)
        }
    }

    /// `sealbatch seal status`
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend, reactivate or revoke a seal.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Seal id.") var id: String
        @Argument(help: "active, suspended or revoked.") var status: String
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                guard let st = SealStatus(rawValue: status) else { throw GovCLI.Failure(2, "unknown status '\(status)' (active, suspended, revoked)") }
                try registry.setSealStatus(id, st, as: try await auth.authenticate(registry))
                GovCLI.print("seal \(id) is \(st.rawValue)")
            }
        }
    }

    /// `sealbatch seal rebind`
    struct Rebind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bind a seal to another token key, certificate or design.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Seal id.") var id: String
        @Option(help: ArgumentHelp("New certificate (PEM/DER).", valueName: "file")) var cert: String?
        @Option(help: "New PKCS#11 URI.") var tokenUri: String?
        @Option(help: ArgumentHelp("New design: a JSON file, checked as at registration.", valueName: "file")) var design: String?
        @Option(help: ArgumentHelp("New CA certificates of the seal (PEM/DER), checked as at registration.", valueName: "file")) var chain: String?
        @Option(help: .hidden) var appearance: String?
        @Option(name: .customLong("token-config"), help: ArgumentHelp("With the token present: its configuration; the seal's (new) key must hold its (new) certificate's key, checked with one signature.", valueName: "file"))
        var tokenConfig: String?
        @OptionGroup var pin: PINOptions
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                if appearance != nil { throw SealCommand.appearanceGone }
                let sd = try design.map { try SealCommand.readDesign($0) }
                let actor = try await auth.authenticate(registry)
                let der = try cert.map { try GovCLI.readCertificate($0).der }
                if let tokenConfig {
                    guard var proposed = try registry.seal(id) else { throw GovCLI.Failure(2, "no seal '\(id)'") }
                    try registry.authorise(.manageSeal, ActionTarget(organisation: proposed.organisation, seal: id), actor: actor)
                    if let der { proposed.certificateDER = der }
                    if let tokenUri { proposed.tokenURI = tokenUri }
                    let uri: PKCS11URI
                    do { uri = try PKCS11URI(proposed.tokenURI) } catch let e as TokenError { throw GovCLI.Failure(2, "--token-uri: \(e.message)") }
                    try await SealCommand.checkToken(tokenConfig, uri: uri, seal: proposed, actor: actor, registry: registry, pin: pin,
                                                     doing: "rebinding")
                }
                try registry.rebindSeal(id, certificateDER: der, tokenURI: tokenUri, design: sd,
                                        chainDER: try chain.map { try SealCommand.readChain($0) }, as: actor)
                GovCLI.print("seal \(id) rebound" + (tokenConfig == nil ? "" : "; the token holds its key"))
            }
        }
    }

    /// `sealbatch seal grant`
    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a user approve or use a seal (seal administrators).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Seal id.") var id: String
        @Option(help: "User id.") var user: String
        @Option(help: "approve or use.") var right: SealRight
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                try registry.grantSealRight(right, on: id, to: user, as: try await auth.authenticate(registry))
                GovCLI.print("\(user) may now \(right.rawValue) seal \(id)")
            }
        }
    }

    /// `sealbatch seal ungrant`
    struct Ungrant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw a per-seal right.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Seal id.") var id: String
        @Option(help: "User id.") var user: String
        @Option(help: "approve or use.") var right: SealRight
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                try registry.revokeSealRight(right, on: id, from: user, as: try await auth.authenticate(registry))
                GovCLI.print("\(user) may no longer \(right.rawValue) seal \(id)")
            }
        }
    }

    struct SealRow: Encodable {
        let id: String, name: String, kind: String, organisation: String, status: String, tokenUri: String
        /// The registered design, or why the stored one is unusable (`designProblem`, with the stored text).
        let design: SealDesign?, designProblem: String?
        /// Subjects of the registered CA certificates (intermediates, root).
        let chain: [String]
        let validFrom: Date, validUntil: Date, certificateSubject: String, certificateSerial: String, certificateSha256: String
        let approvers: [String], users: [String]
        init(_ s: Seal, grants: [SealGrant]) {
            let c = try? DetachedSignature.Certificate(der: s.certificateDER)
            id = s.id; name = s.name; kind = s.kind.rawValue; organisation = s.organisation; status = s.status.rawValue
            tokenUri = s.tokenURI
            switch s.design {
            case .design(let d): design = d; designProblem = nil
            case .unusable(let stored, let problem): design = nil; designProblem = "\(problem) (stored: \(stored))"
            }
            validFrom = s.validFrom; validUntil = s.validUntil
            chain = s.chainDER.map { (try? DetachedSignature.Certificate(der: $0))?.subject ?? "(unreadable)" } // display only
            certificateSubject = c?.subject ?? "?"; certificateSerial = c?.serialHex ?? "?"; certificateSha256 = c?.sha256Fingerprint ?? "?"
            approvers = grants.filter { $0.right == .approve }.map(\.user); users = grants.filter { $0.right == .use }.map(\.user)
        }
    }

    /// `sealbatch seal list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List seals.")
        @OptionGroup var reg: GovRegistryOptions
        @Option(help: "Organisation.") var org: String?
        @Option(help: "Output format.") var format: ListingFormat = .text
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                let rows = try registry.seals(organisation: org).map { SealRow($0, grants: try registry.store.sealGrants(seal: $0.id)) }
                let header = ["id", "name", "kind", "organisation", "status", "valid-until", "approvers", "users", "token-uri"]
                let cells = rows.map { [$0.id, $0.name, $0.kind, $0.organisation, $0.status, GovCLI.iso($0.validUntil),
                                        $0.approvers.joined(separator: " "), $0.users.joined(separator: " "), $0.tokenUri] }
                switch format {
                case .json: GovCLI.print(GovCLI.json(rows))
                case .csv: GovCLI.print(GovCLI.csv(header, cells))
                case .text: GovCLI.print(GovCLI.table(header.map { $0.uppercased() }, cells))
                }
            }
        }
    }

    /// `sealbatch seal show`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one seal as JSON.")
        @OptionGroup var reg: GovRegistryOptions
        @Argument(help: "Seal id.") var id: String
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                guard let s = try registry.seal(id) else { throw GovCLI.Failure(2, "no seal '\(id)'") }
                GovCLI.print(GovCLI.json(SealRow(s, grants: try registry.store.sealGrants(seal: id))))
            }
        }
    }
}
