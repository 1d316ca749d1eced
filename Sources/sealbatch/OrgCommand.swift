import ArgumentParser
import Foundation
import Governance
import Signing

/// `sealbatch org` — bootstrap the registry, create organisations, register trust anchors.
struct OrgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "org", abstract: "Create the registry and organisations.",
        subcommands: [Init.self, Create.self, List.self, Anchor.self])

    /// `sealbatch org init`
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the registry with its first platform administrator (only when the registry is empty).",
            discussion: "Also creates the audit checkpoint key (<registry>.audit-key.pem, mode 0600) unless it exists.")
        @OptionGroup var reg: GovRegistryOptions
        @Option(help: ArgumentHelp("User id of the first platform administrator.", valueName: "user")) var user: String
        @Option(help: "Display name.") var name: String = ""
        @Option(help: ArgumentHelp("Certificate (PEM/DER) of the administrator's key.", valueName: "file")) var cert: String?
        @Option(help: ArgumentHelp("Or the administrator's PKCS#12 file (its certificate is registered).", valueName: "file.p12")) var key: String?
        @Option(help: ArgumentHelp("PKCS#12 password file descriptor.", valueName: "fd")) var keyPasswordFd: Int32?
        @Flag(help: "Give the administrator a local password (asked for, or read from --new-password-fd).") var setPassword = false
        @Option(help: ArgumentHelp("Read the new password from this file descriptor.", valueName: "fd")) var newPasswordFd: Int32?
        /// `--password-fd`, the old name of `--new-password-fd` here (elsewhere it is the acting user's password).
        @Option(name: .customLong("password-fd"), help: .hidden) var oldPasswordFd: Int32?

        func run() async throws {
            try await GovCLI.run(nil) {
                var certDER: [UInt8]? = nil
                if let cert { certDER = try GovCLI.readCertificate(cert).der }
                var identity: DetachedSignature.Identity? = nil
                if let key {
                    identity = try GovCLI.loadP12(key, passwordFd: keyPasswordFd)
                    certDER = identity?.certificate.der
                }
                var pw: [UInt8]? = nil
                let passwordFd = try aliased(newPasswordFd, oldPasswordFd, old: "--password-fd", new: "--new-password-fd")
                if setPassword || passwordFd != nil { pw = try GovCLI.secret(fd: passwordFd, prompt: "New password for \(user): ") }
                guard certDER != nil || pw != nil else { throw GovCLI.Failure(2, "give --cert, --key or --set-password") }
                if !FileManager.default.fileExists(atPath: reg.auditKeyPath) {
                    let id = try DetachedSignature.Identity.selfSigned(commonName: "sealbatch audit key")
                    let pem = try id.privateKeyPEM() + Array(id.certificate.pem.utf8)
                    guard FileManager.default.createFile(atPath: reg.auditKeyPath, contents: Data(pem), attributes: [.posixPermissions: 0o600]) else {
                        throw GovCLI.Failure(2, "cannot write the audit key \(reg.auditKeyPath)")
                    }
                }
                let registry = try reg.open(create: true)
                try registry.bootstrap(userID: user, name: name, certificateDER: certDER, password: pw)
                var pinned = false
                if let signer = try reg.auditSigner() {
                    try registry.audit.registerSigner(signer.certificateDER)
                    // with the administrator's key at hand, the audit key is pinned right away
                    if let identity {
                        let root = try registry.authenticate(.identity(user: user, identity))
                        try registry.pinAuditSigners([signer.certificateDER], identity: identity, as: root)
                        pinned = true
                    }
                }
                _ = try await registry.audit.checkpoint()
                GovCLI.print("registry \(reg.path) created; platform administrator \(user); audit key \(reg.auditKeyPath)"
                             + (pinned ? " (pinned)" : "; pin it with `sealbatch audit pin-signers --as \(user) --key …`"))
            }
        }
    }

    /// `sealbatch org create`
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organisation (platform administrators).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Organisation id.") var id: String
        @Option(help: "Full name.") var name: String = ""

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let actor = try await auth.authenticate(registry)
                let o = try registry.createOrganisation(id: id, name: name, as: actor)
                GovCLI.print("organisation \(o.id) (\(o.name)) created")
            }
        }
    }

    /// `sealbatch org list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List organisations.")
        @OptionGroup var reg: GovRegistryOptions
        @Option(help: "Output format.") var format: ListingFormat = .text

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                let orgs = try registry.organisations()
                let rows = orgs.map { [$0.id, $0.name, GovCLI.iso($0.createdAt)] }
                switch format {
                case .json: GovCLI.print(GovCLI.json(orgs))
                case .csv: GovCLI.print(GovCLI.csv(["id", "name", "created"], rows))
                case .text: GovCLI.print(GovCLI.table(["ID", "NAME", "CREATED"], rows))
                }
            }
        }
    }

    /// `sealbatch org anchor [add|remove]`
    struct Anchor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Trust a CA for the organisation's user certificates, or stop trusting one (system administrators).",
            subcommands: [AnchorAdd.self, AnchorRemove.self], defaultSubcommand: AnchorAdd.self)
    }

    /// `sealbatch org anchor add` (the default: `org anchor ORG --cert FILE`)
    struct AnchorAdd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Trust a CA for the organisation's user certificates. Refused when your own certificate would no longer be trusted.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Organisation id.") var organisation: String
        @Option(help: ArgumentHelp("CA certificate (PEM/DER).", valueName: "file")) var cert: String

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let actor = try await auth.authenticate(registry)
                let c = try GovCLI.readCertificate(cert)
                try registry.addTrustAnchor(organisation: organisation, certificateDER: c.der, as: actor)
                GovCLI.print("\(organisation) now trusts \(c.subject)")
            }
        }
    }

    /// `sealbatch org anchor remove`
    struct AnchorRemove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Stop trusting a CA for the organisation's user certificates. Refused when your own certificate would no longer be trusted.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Organisation id.") var organisation: String
        @Option(help: ArgumentHelp("The anchor's CA certificate (PEM/DER).", valueName: "file")) var cert: String

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let actor = try await auth.authenticate(registry)
                let c = try GovCLI.readCertificate(cert)
                try registry.removeTrustAnchor(organisation: organisation, certificateDER: c.der, as: actor)
                let left = try registry.trustAnchors(organisation: organisation).count
                GovCLI.print("\(organisation) no longer trusts \(c.subject)" + (left == 0 ? "; it has no trust anchors left, so user certificates are not chain-checked" : " (\(left) anchor(s) left)"))
            }
        }
    }
}
