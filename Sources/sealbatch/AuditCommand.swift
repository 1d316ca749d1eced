import ArgumentParser
import Foundation
import Governance
import Signing

/// `sealbatch audit` — verify, query and watch the audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify, query and watch the audit log.",
        subcommands: [Verify.self, Query.self, Tail.self, Checkpoint.self, PinSigners.self])

    static let header = ["seq", "time", "actor", "action", "organisation", "seal", "outcome", "reason", "approval", "token-serial",
                         "documents-before", "documents-after", "detail"]

    static func cells(_ r: AuditRecord, short: Bool) -> [String] {
        let e = r.entry
        let docs = { (l: [String]) in l.map { short ? String($0.prefix(12)) : $0 }.joined(separator: " ") }
        return ["\(r.seq)", GovCLI.iso(r.time), e.actor, e.action, e.organisation ?? "", e.seal ?? "", e.outcome.rawValue, e.reason ?? "",
                e.approval.map { short ? String($0.prefix(8)) : $0 } ?? "", e.tokenSerial ?? "", docs(e.documentsBefore), docs(e.documentsAfter), e.detail]
    }

    static func render(_ recs: [AuditRecord], _ format: ListingFormat) -> String {
        switch format {
        case .json: return GovCLI.json(recs)
        case .csv: return GovCLI.csv(header, recs.map { cells($0, short: false) })
        case .text: return GovCLI.table(header.map { $0.uppercased() }, recs.map { cells($0, short: true) })
        }
    }

    /// `sealbatch audit verify`
    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the hash chain and the signed checkpoints; name the first bad record.",
            discussion: "Exit 0 when intact, 1 when a record was edited, deleted or the log truncated.")
        @OptionGroup var reg: GovRegistryOptions
        @Option(help: ArgumentHelp("Accept only checkpoints signed by this certificate (PEM/DER) instead of the keys registered in the database.", valueName: "file"))
        var auditCert: [String] = []
        @Option(help: ArgumentHelp("Accept the signed list of checkpoint signers only from this administrator certificate (PEM/DER).", valueName: "file"))
        var adminCert: [String] = []
        @Option(help: ArgumentHelp("A witness of the audit head kept outside the registry (the witness file, or a syslog / journal export); repeatable. Also $SEALBATCH_AUDIT_WITNESS.", valueName: "file"))
        var witness: [String] = []
        @Option(help: "Output format.") var format: TextOrJSON = .text
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                if let bad = AuditWitness.environmentError() { throw GovCLI.Failure(2, bad) }
                let pinned = auditCert.isEmpty ? nil : try auditCert.map { try GovCLI.readCertificate($0).der }
                let admins = adminCert.isEmpty ? nil : try adminCert.map { try GovCLI.readCertificate($0).der }
                let v = try registry.audit.verify(trustedSigners: pinned, trustedAdministrators: admins, witnessFiles: witness)
                if format == .json {
                    struct Out: Encodable {
                        let ok: Bool; let problem: String?; let firstBadRecord: Int64?; let checkpoint: Int64?; let detail: String
                        let recordsChecked: Int; let checkpointsChecked: Int; let lastCheckpointedSeq: Int64; let uncheckpointedRecords: Int
                        let witnessedSeq: Int64?
                    }
                    GovCLI.print(GovCLI.json(Out(ok: v.ok, problem: v.problem?.rawValue, firstBadRecord: v.firstBadRecord, checkpoint: v.checkpoint,
                                                 detail: v.detail, recordsChecked: v.recordsChecked, checkpointsChecked: v.checkpointsChecked,
                                                 lastCheckpointedSeq: v.lastCheckpointedSeq, uncheckpointedRecords: v.uncheckpointedRecords,
                                                 witnessedSeq: v.witnessedSeq)))
                } else {
                    GovCLI.print(v.description)
                }
                if !v.ok { throw ExitCode(1) }
            }
        }
    }

    /// `sealbatch audit query`
    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search the audit log (seal administrators see their organisation, others their own records).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Option(help: "Only this seal.") var seal: String?
        @Option(help: "Only this acting user.") var user: String?
        @Option(help: "Only this organisation.") var org: String?
        @Option(help: "Only this action (or a prefix ending in '.', e.g. 'seal.').") var action: String?
        @Option(parsing: .unconditional, help: "From (inclusive): 2026-11-24, 2026-11-24T18:00:00Z, or an offset back from now (7d, -7d, 12h).") var since: String?
        @Option(parsing: .unconditional, help: "Until (exclusive): a date, a date-time, or an offset back from now.") var until: String?
        @Option(help: "Output format.") var format: ListingFormat = .text
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                let actor = try await auth.authenticate(registry)
                let q = AuditQuery(seal: seal, user: user, organisation: org, action: action,
                                   since: try since.map { try TimeSpec.parse($0, .past, option: "--since") },
                                   until: try until.map { try TimeSpec.parse($0, .either, option: "--until") })
                GovCLI.print(AuditCommand.render(try registry.auditRecords(q, as: actor), format))
            }
        }
    }

    /// `sealbatch audit tail`
    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the latest records; with --follow, keep printing new ones (live monitoring).")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Option(name: [.customShort("n"), .long], help: "How many of the latest records to show first.") var lines: Int = 20
        @Flag(name: .shortAndLong, help: "Keep watching for new records.") var follow = false
        @Option(help: "Only this seal.") var seal: String?
        @Option(help: "Output format: json is one object per line.") var format: ListingFormat = .text
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                let actor = try await auth.authenticate(registry)
                let visible = try registry.auditRecords(AuditQuery(seal: seal), as: actor)
                let recent = Array(visible.suffix(max(0, lines)))
                for r in recent { emit(r) }
                guard follow else { return }
                // watch everything after the current end, filtered by what this actor may see
                let end = try registry.store.lastAuditRecord()?.seq ?? 0
                for try await r in registry.audit.follow(after: end, query: AuditQuery(seal: seal)) {
                    if try registry.auditRecords(AuditQuery(seal: seal, afterSeq: r.seq - 1, limit: 1), as: actor).first?.seq == r.seq { emit(r) }
                }
            }
        }
        func emit(_ r: AuditRecord) {
            switch format {
            case .json:
                GovCLI.print(GovCLI.json(r, pretty: false))
            case .csv: GovCLI.print(GovCLI.csv([], [AuditCommand.cells(r, short: false)]).trimmingCharacters(in: .newlines))
            case .text: GovCLI.print(AuditCommand.cells(r, short: true).joined(separator: "  "))
            }
        }
    }

    /// `sealbatch audit pin-signers`
    struct PinSigners: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pin-signers",
            abstract: "Sign the list of accepted audit checkpoint keys (platform or system administrators, with their own key).",
            discussion: "Replaces the list: name every key whose checkpoints `audit verify` should accept. Default: the workspace audit key.")
        @OptionGroup var reg: GovRegistryOptions
        @OptionGroup var auth: GovAuthOptions
        @Option(help: ArgumentHelp("Certificate (PEM/DER) of an accepted checkpoint key; repeatable (default: the audit key's).", valueName: "file"))
        var cert: [String] = []
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(registry) {
                guard let identity = try auth.identity() else {
                    throw GovCLI.Failure(2, "the signer list is signed with the administrator's own key: pass --key FILE.p12")
                }
                var certs = try cert.map { try GovCLI.readCertificate($0).der }
                if certs.isEmpty {
                    guard let signer = try reg.auditSigner() else { throw GovCLI.Failure(2, "no audit key at \(reg.auditKeyPath): name the certificates with --cert") }
                    certs = [signer.certificateDER]
                }
                let actor = try await auth.authenticate(registry)
                let pin = try registry.pinAuditSigners(certs, identity: identity, as: actor)
                GovCLI.print("audit checkpoint signers pinned by \(pin.signedBy): " + pin.signers.map { String($0.prefix(16)) + "…" }.joined(separator: ", "))
            }
        }
    }

    /// `sealbatch audit checkpoint`
    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign a checkpoint over the current end of the log with the audit key.")
        @OptionGroup var reg: GovRegistryOptions
        func run() async throws {
            let registry = try reg.open()
            try await GovCLI.run(nil) {
                guard registry.audit.signer != nil else { throw GovCLI.Failure(2, "no audit key at \(reg.auditKeyPath)") }
                if let c = try await registry.audit.checkpoint() {
                    GovCLI.print("checkpoint \(c.id) covers records up to \(c.seq)")
                } else {
                    GovCLI.print("the log is already covered by a checkpoint")
                }
            }
        }
    }
}

