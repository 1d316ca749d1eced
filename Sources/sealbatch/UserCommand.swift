import ArgumentParser
import Foundation
import Governance
import Signing

/// `sealbatch user` — users, their credentials and roles.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage users and their roles.",
        subcommands: [Add.self, Grant.self, Ungrant.self, Disable.self, Enable.self, Credentials.self, List.self])

    /// `sealbatch user add`
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user (system administrators of the organisation).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "User id.") var id: String
        @Option(help: "Organisation.") var org: String?
        @Option(help: "Display name.") var name: String = ""
        @Option(help: ArgumentHelp("Certificate (PEM/DER) of the user's key (PKCS#12 file or token).", valueName: "file")) var cert: String?
        @Flag(help: "Give the user a local password (asked for, or read from --new-password-fd).") var setPassword = false
        @Option(help: ArgumentHelp("Read the new password from this file descriptor.", valueName: "fd")) var newPasswordFd: Int32?

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let actor = try await auth.authenticate(registry)
                let der = try cert.map { try GovCLI.readCertificate($0).der }
                var pw: [UInt8]? = nil
                if setPassword || newPasswordFd != nil { pw = try GovCLI.secret(fd: newPasswordFd, prompt: "New password for \(id): ") }
                let u = try registry.createUser(id: id, name: name, organisation: org, certificateDER: der, password: pw, as: actor)
                GovCLI.print("user \(u.id) created in \(u.organisation ?? "(no organisation)")")
            }
        }
    }

    /// `sealbatch user grant`
    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a role (platform-admin, system-admin, seal-admin, seal-user).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "User id.") var id: String
        @Option(help: "Role.") var role: Role
        @Option(help: "Organisation.") var org: String?

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let actor = try await auth.authenticate(registry)
                try registry.grantRole(role, to: id, in: org, as: actor)
                GovCLI.print("\(role.rawValue)\(org.map { " of \($0)" } ?? "") granted to \(id)")
            }
        }
    }

    /// `sealbatch user ungrant`
    struct Ungrant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Withdraw a role.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "User id.") var id: String
        @Option(help: "Role.") var role: Role
        @Option(help: "Organisation.") var org: String?

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let actor = try await auth.authenticate(registry)
                try registry.revokeRole(role, from: id, in: org, as: actor)
                GovCLI.print("\(role.rawValue) withdrawn from \(id)")
            }
        }
    }

    /// `sealbatch user disable`
    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "User id.") var id: String
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                try registry.setUserStatus(id, .disabled, as: try await auth.authenticate(registry))
                GovCLI.print("user \(id) disabled")
            }
        }
    }

    /// `sealbatch user enable`
    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a user.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "User id.") var id: String
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                try registry.setUserStatus(id, .active, as: try await auth.authenticate(registry))
                GovCLI.print("user \(id) enabled")
            }
        }
    }

    /// `sealbatch user credentials`
    struct Credentials: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace a user's certificate and/or password (the user themself or a system administrator).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "User id.") var id: String
        @Option(help: ArgumentHelp("New certificate (PEM/DER).", valueName: "file")) var cert: String?
        @Flag(help: "Set a new local password.") var setPassword = false
        @Option(help: ArgumentHelp("Read the new password from this file descriptor.", valueName: "fd")) var newPasswordFd: Int32?
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let actor = try await auth.authenticate(registry)
                let der = try cert.map { try GovCLI.readCertificate($0).der }
                var pw: [UInt8]? = nil
                if setPassword || newPasswordFd != nil { pw = try GovCLI.secret(fd: newPasswordFd, prompt: "New password for \(id): ") }
                guard der != nil || pw != nil else { throw GovCLI.Failure(2, "give --cert or --set-password") }
                try registry.setUserCredentials(id, certificateDER: der, password: pw, as: actor)
                GovCLI.print("credentials of \(id) changed")
            }
        }
    }

    /// `sealbatch user list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users with their roles and seal rights.")
        @OptionGroup var reg: GovRegistryOptions
        @Option(help: "Organisation.") var org: String?
        @Option(help: "Output format.") var format: ListingFormat = .text

        struct Row: Encodable {
            let id: String, organisation: String?, name: String, status: String, roles: [String], sealRights: [String]
            let certificateSha256: String?, password: Bool
        }

        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                let rows = try registry.users(organisation: org).map { u -> Row in
                    let r = try registry.rights(of: u.id)
                    return Row(id: u.id, organisation: u.organisation, name: u.name, status: u.status.rawValue,
                               roles: r.roles.map { $0.role.rawValue + ($0.organisation.map { "@\($0)" } ?? "") },
                               sealRights: r.sealRights.map { "\($0.right.rawValue):\($0.seal)" },
                               certificateSha256: u.certificateSHA256, password: u.passwordHash != nil)
                }
                let cells = rows.map { [$0.id, $0.organisation ?? "-", $0.name, $0.status, $0.roles.joined(separator: " "),
                                        $0.sealRights.joined(separator: " "), $0.certificateSha256.map { String($0.prefix(16)) } ?? "-"] }
                let header = ["id", "organisation", "name", "status", "roles", "seal-rights", "certificate"]
                switch format {
                case .json: GovCLI.print(GovCLI.json(rows))
                case .csv: GovCLI.print(GovCLI.csv(header, cells))
                case .text: GovCLI.print(GovCLI.table(header.map { $0.uppercased() }, cells))
                }
            }
        }
    }
}
