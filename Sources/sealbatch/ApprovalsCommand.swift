import ArgumentParser
import Foundation
import Governance
import Signing

/// `sealbatch approvals` — registered approval manifests.
struct ApprovalsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approvals", abstract: "List, show, import, check and revoke approval manifests.",
        subcommands: [List.self, Show.self, Import.self, Check.self, Revoke.self])

    struct Summary: Encodable {
        let id: String, seal: String, requester: String, approver: String, purpose: String, issuedAt: Date, validUntil: Date
        let uses: Int, used: Int, status: String, documents: [ApprovalManifest.Document], revokedBy: String?, revokedAt: Date?
        let consumed: [Consumed]
        struct Consumed: Encodable { let sha256: String; let job: String; let user: String; let at: Date }
        init(_ r: ApprovalRecord, _ u: [ApprovalUse], now: Date = Date()) {
            id = r.id; seal = r.seal; requester = r.requester; approver = r.approver; purpose = r.purpose; issuedAt = r.issuedAt
            validUntil = r.validUntil; uses = r.uses; used = u.count; documents = r.documents; revokedBy = r.revokedBy; revokedAt = r.revokedAt
            status = r.status == .revoked ? "revoked" : (now > r.validUntil ? "expired" : (u.count >= r.uses ? "used-up" : "active"))
            consumed = u.map { Consumed(sha256: $0.documentSHA256, job: $0.job, user: $0.user, at: $0.usedAt) }
        }
    }

    /// `sealbatch approvals list`
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered approvals, newest first.")
        @OptionGroup var reg: GovRegistryOptions
        @Option(help: "Only this seal.") var seal: String?
        @Option(help: "Output format.") var format: ListingFormat = .text
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                let book = ApprovalBook(registry: registry)
                let rows = try book.list(seal: seal).map { Summary($0, try registry.store.uses(approval: $0.id)) }
                let header = ["id", "seal", "status", "used", "requester", "approver", "valid-until", "purpose"]
                let cells = rows.map { [$0.id, $0.seal, $0.status, "\($0.used)/\($0.uses)", $0.requester, $0.approver, GovCLI.iso($0.validUntil), $0.purpose] }
                switch format {
                case .json: GovCLI.print(GovCLI.json(rows))
                case .csv: GovCLI.print(GovCLI.csv(header, cells))
                case .text: GovCLI.print(GovCLI.table(header.map { $0.uppercased() }, cells))
                }
            }
        }
    }

    /// `sealbatch approvals show`
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an approval (by id, or a manifest file) as JSON, with its uses.")
        @OptionGroup var reg: GovRegistryOptions
        @Argument(help: "Approval id or manifest file.") var approval: String
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                var id = approval
                if FileManager.default.fileExists(atPath: approval) {
                    id = try SignedApprovalManifest.parse(Array(Data(contentsOf: URL(fileURLWithPath: approval)))).manifest.id
                }
                guard let (r, u) = try ApprovalBook(registry: registry).show(id) else { throw GovCLI.Failure(2, "no approval '\(id)' in the registry") }
                GovCLI.print(GovCLI.json(Summary(r, u)))
            }
        }
    }

    /// `sealbatch approvals import`
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify a manifest received from elsewhere and register it.")
        @OptionGroup var reg: GovRegistryOptions
        @Argument(help: "Manifest files.") var files: [String]
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let book = ApprovalBook(registry: registry)
                var failed = 0
                for f in files {
                    do {
                        let signed = try SignedApprovalManifest.parse(Array(try Data(contentsOf: URL(fileURLWithPath: f))))
                        let r = try book.register(signed)
                        GovCLI.print("\(f): approval \(r.id) registered (seal \(r.seal), approver \(r.approver))")
                    } catch let e as ApprovalRefusal {
                        failed += 1
                        CLIMessage.write(e.code.rawValue, "\(f): \(e.detail)")
                        // a refusal whose record cannot be written stops the import (exit 2), never silently
                        do {
                            try registry.audit.append(AuditEntry(actor: "import", action: "approval.import", approval: e.approval, outcome: .refused,
                                                                 reason: e.code.rawValue, detail: "\(URL(fileURLWithPath: f).lastPathComponent): \(e.detail)"))
                        } catch {
                            throw GovCLI.Failure(2, "\(f): the refusal could not be written to the audit log: \(error)")
                        }
                    }
                }
                if failed > 0 { throw ExitCode(1) }
            }
        }
    }

    /// `sealbatch approvals check`
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dry run of the admission check: would these documents be stamped? (consumes nothing)")
        @OptionGroup var reg: GovRegistryOptions
        @Argument(help: "Documents.") var files: [String]
        @Option(help: "Seal id.") var seal: String
        @Option(help: "The stamping user.") var user: String
        @Option(help: ArgumentHelp("Approval manifest (default: look up registered approvals by hash).", valueName: "file")) var approval: String?
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                let book = ApprovalBook(registry: registry)
                let manifest = try approval.map { try SignedApprovalManifest.parse(Array(Data(contentsOf: URL(fileURLWithPath: $0)))) }
                var refused = 0
                for f in files {
                    let url = URL(fileURLWithPath: f)
                    let sha = DetachedSignature.hex(try DetachedSignature.sha256(fileAt: url))
                    do {
                        let g = try book.admit(documentSHA256: sha, fileName: url.lastPathComponent, seal: seal, user: user, manifest: manifest,
                                               job: "check-\(UUID().uuidString.prefix(8))")
                        GovCLI.print("\(f): admitted under approval \(g.approval) (\(g.usesRemaining) use(s) left)")
                    } catch let e as ApprovalRefusal {
                        refused += 1
                        GovCLI.print("\(f): refused \(e.code.rawValue): \(e.detail)")
                    }
                }
                if refused > 0 { throw ExitCode(1) }
            }
        }
    }

    /// `sealbatch approvals revoke`
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an approval (its approver or a seal administrator).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Argument(help: "Approval id.") var id: String
        @Option(help: "Why.") var reason: String = ""
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                try ApprovalBook(registry: registry).revoke(id, reason: reason, as: try await auth.authenticate(registry))
                GovCLI.print("approval \(id) revoked")
            }
        }
    }
}
