import Foundation
import PDF
import Pipeline
import Signing

/// Hashes the claimed original (streaming SHA-256) and sniffs it with the PDF core: not a PDF,
/// truncated, damaged, encrypted and certified-no-changes documents are rejected with their own code.
/// Earlier signatures are checked here (integrity, cryptography, changes after them against their DocMDP
/// level; trust is not asked, their authorities are not ours): a document whose earlier signature is already
/// broken is quarantined (`earlier-signature-broken`) before an approval use or a token signature is spent
/// on it, unless the pipeline allows sealing over broken signatures (`allow-broken-signatures`).
public struct IngestStage: Stage {
    public static let kind: StageKind = "ingest"
    public static let requires: Set<Fact> = []
    public static let produces: Set<Fact> = [.ingested]
    /// Reject files larger than this (`max-size-mb`, default 2048: large scans).
    public var maxBytes: Int = IngestStage.defaultMaxBytes
    /// The default limit: 2 GiB.
    public static let defaultMaxBytes = 2048 << 20
    /// How the refusal of a too-large file tells the clerk to raise the limit.
    public var limitHint = "raise max-size-mb in the pipeline's ingest stage if it must be sealed"
    /// `false` for verify-only pipelines: signed/certified/encrypted documents are accepted as they are.
    public var requireSealable = true

    /// Seal documents whose earlier signatures are already broken (the receipt names them) instead of
    /// quarantining them.
    public var allowBrokenSignatures = false

    /// Creates the stage.
    public init(maxBytes: Int = IngestStage.defaultMaxBytes, requireSealable: Bool = true, allowBrokenSignatures: Bool = false) {
        self.maxBytes = maxBytes; self.requireSealable = requireSealable; self.allowBrokenSignatures = allowBrokenSignatures
    }

    public func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        guard let info = FileOps.regularFileInfo(job.originalURL) else {
            throw StageRejection(.unreadable, "\(job.sourceName) could not be read.")
        }
        if info.size > Int64(maxBytes) {
            throw StageRejection(.tooLarge, "\(job.sourceName) is \(info.size >> 20) MB, above the limit of \(maxBytes >> 20) MB (\(limitHint)).")
        }
        // One read: the digest the approval is checked against, and the unfinished state the sign stage
        // continues into the signed digest; the file's identity is taken first, so a write during the read
        // shows as a change.
        var identity: FileIdentity? = nil
        let state: SHA256Prefix
        do { state = try SHA256Prefix(file: job.originalURL) { identity = FileIdentity(fd: $0) } } catch {
            throw StageRejection(.unreadable, "\(job.sourceName) could not be read: \(error)")
        }
        job.digest = SHA256Stream.hex(state.digest)
        job.facts[StageFacts.inputHash] = state
        job.facts[StageFacts.inputIdentity] = identity
        let doc: PDFDocument
        do {
            doc = try PDFDocument(url: job.originalURL)
            if requireSealable { try doc.checkSealable() }
        } catch let e as PDFError {
            throw Self.rejection(e, name: job.sourceName)
        }
        let signed = doc.signatureFields.filter(\.isSigned).count
        var sniff = SniffResult(pages: doc.pages.count, version: doc.version, existingSignatures: signed, size: Int(info.size))
        if requireSealable && signed > 0 {
            let broken = await Self.brokenSignatures(job.originalURL)
            if !broken.isEmpty {
                let what = broken.map { "\($0.field) (\($0.why))" }.joined(separator: "; ")
                guard allowBrokenSignatures else {
                    throw StageRejection(.earlierSignatureBroken,
                        "\(job.sourceName): an earlier signature is already broken: \(what). Sealing it would certify a document whose signatures do not hold; "
                        + "ask the sender for an intact copy (or allow-broken-signatures in the ingest stage)")
                }
                sniff.brokenSignatures = broken.map(\.field)
                let w = "sealed over broken earlier signature(s), allowed by the pipeline: \(what)"
                job.facts[StageFacts.warnings] = (job.facts[StageFacts.warnings] ?? []) + [w]
                job.notes["warning"] = job.notes["warning"].map { $0 + "; " + w } ?? w // the run's summary and the report
                context.logger.warning("earlier signature broken", metadata: ["file": "\(job.sourceName)", "signatures": "\(what)"])
            }
        }
        job.facts[StageFacts.sniff] = sniff
        job.notes["pages"] = "\(doc.pages.count)"
        return job
    }

    /// Earlier signatures that are broken: not intact, cryptographically invalid, or followed by changes
    /// their DocMDP level (or an approval signature's default) does not allow. Trust and revocation are not asked.
    static func brokenSignatures(_ url: URL) async -> [(field: String, why: String)] {
        var o = Verifier.Options()
        o.revocation = .off
        o.fetchRevocation = false
        let report = await Verifier(trustAnchorsDER: [], options: o).verify(url: url)
        var out: [(String, String)] = []
        for s in report.signatures {
            if !s.integrity.ok { out.append((s.field, "not intact: \(s.integrity.detail)")) }
            else if !s.cryptographic.ok { out.append((s.field, "signature value invalid: \(s.cryptographic.detail)")) }
            else if !s.modifications.allowed {
                out.append((s.field, "changed after signing beyond what it allows (\(s.modifications.level.rawValue), permitted \(s.modifications.permitted.rawValue))"))
            }
        }
        return out
    }

    static func rejection(_ e: PDFError, name: String) -> StageRejection {
        let at = e.offset.map { " (at byte \($0))" } ?? ""
        switch e.code {
        case .notAPDF: return StageRejection(.notAPDF, "\(name) is not a PDF file.")
        case .truncated: return StageRejection(.truncated, "\(name) is cut off: its end is missing\(at).")
        case .damaged: return StageRejection(.damaged, "\(name) is damaged: \(e.message)\(at).")
        case .encrypted(let needsPassword):
            return needsPassword ? StageRejection(.encryptedPasswordRequired, "\(name) is protected by a password.")
                                 : StageRejection(.encrypted, "\(name): \(e.message).")
        case .certifiedNoChanges: return StageRejection(.certifiedNoChanges, "\(name) is certified by its author to allow no changes.")
        case .unsupported: return StageRejection(.unsupported, "\(name) uses a PDF feature we do not handle: \(e.message).")
        case .io: return StageRejection(.unreadable, "\(name) could not be read: \(e.message).")
        case .invalidArgument: return StageRejection(.damaged, "\(name): \(e.message)\(at).")
        }
    }

    static func descriptor() -> StageDescriptor {
        StageDescriptor(IngestStage.self, defaultConcurrency: 2, settingsKeys: ["max-size-mb", "require-sealable", "allow-broken-signatures"]) { s, path, _ in
            var st = IngestStage()
            if let v = s["max-size-mb"] { st.maxBytes = try v.decode(Int.self, path: path + ".max-size-mb") << 20 }
            if let v = s["require-sealable"] { st.requireSealable = try v.decode(Bool.self, path: path + ".require-sealable") }
            if let v = s["allow-broken-signatures"] { st.allowBrokenSignatures = try v.decode(Bool.self, path: path + ".allow-broken-signatures") }
            return st
        }
    }
}
