import Foundation
import Governance
import Pipeline
import Signing

/// The receipt written beside each archived document (`receipt.json`).
public struct Receipt: Codable, Sendable, Equatable {
    public var schema = "sealbatch.receipt/2" // /2: the verify report inside is kebab-case, as `verify --format json` writes it
    /// File name as dropped.
    public var document: String
    /// Journal id.
    public var documentID: String
    /// Pipeline.
    public var pipeline: String
    /// Claim time (ISO 8601).
    public var claimedAt: String
    /// SHA-256 of the original.
    public var sha256Before: String?
    /// SHA-256 of the delivered document.
    public var sha256After: String?
    /// Approval id, approver and requester.
    public var approval: String?
    public var approver: String?
    public var requester: String?
    /// Seal id and the user who stamped.
    public var seal: String?
    public var user: String?
    /// SHA-256 fingerprint of the signer certificate, and the token serial.
    public var signerCertificateSHA256: String?
    public var tokenSerial: String?
    /// Signing time (/M), signature time-stamp time, PAdES level.
    public var signingTime: String?
    public var timestampTime: String?
    public var level: String?
    /// Where the seal appears.
    public var placements: [String]?
    /// Verification outcome and report.
    public var verificationPassed: Bool?
    public var verification: VerifySummary?
    /// What a clerk should know about this seal: an existing signature field used, an invisible seal where a
    /// visible one was configured, earlier signatures that were already broken (when the pipeline allows it).
    public var warnings: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case schema, document, documentID = "document-id", pipeline, claimedAt = "claimed-at", sha256Before = "sha256-before"
        case sha256After = "sha256-after", approval, approver, requester, seal, user, signerCertificateSHA256 = "signer-certificate-sha256"
        case tokenSerial = "token-serial", signingTime = "signing-time", timestampTime = "timestamp-time", level, placements
        case verificationPassed = "verification-passed", verification, warnings
    }
}

/// Keeps a copy of the delivered document and a receipt in the dated archive folder reserved for the
/// job (the engine adds the untouched original there), and records the step in the audit log.
public struct ArchiveStage: Stage {
    public static let kind: StageKind = "archive"
    public static let requires: Set<Fact> = [.ingested]
    public static let produces: Set<Fact> = [.archived]
    let runtime: StagesRuntime?
    /// The registry's folder: the stamp is audited there.
    public var durableFolders: [URL] { runtime?.registryFolder.map { [$0] } ?? [] }

    /// Keep the copies and the receipt (false: `sealbatch stamp` without `--archive`, which only needs the
    /// stage's audit record; nothing is written into an archive that would be thrown away).
    public var keepsCopies = true

    /// Creates the stage.
    public init(runtime: StagesRuntime?, keepsCopies: Bool = true) { self.runtime = runtime; self.keepsCopies = keepsCopies }

    public func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        let iso = Date.ISO8601FormatStyle() // a value type: no ICU formatter opened per document
        let signed = job.currentURL.path != job.originalURL.path
        let grant = job.facts[StageFacts.grant]
        let seal = job.facts[StageFacts.seal]
        let report = job.facts[StageFacts.verification]
        var after = job.digest
        // What the verify stage read of the sealed output, if it is still that file: its first bytes are the
        // approved original, checked then, and its hash is known.
        let verified = job.facts[StageFacts.verifiedOutput].flatMap { v -> VerifiedOutput? in
            signed && v.path == job.currentURL.path && FileIdentity(url: job.currentURL)?.size == Int64(v.size) ? v : nil
        }
        if !keepsCopies {
            after = try signed ? (verified?.sha256 ?? SHA256Stream.hexDigest(ofFile: job.currentURL)) : job.digest
        } else { do {
            try FileManager.default.createDirectory(at: job.archiveDir, withIntermediateDirectories: true)
            // Written without flushing: the engine's durability barrier before delivery (one syncfs shared
            // by the documents delivering together) makes the entry durable before the work folder goes.
            // A crash before that restarts the document's stages, which write the entry again.
            // The original first, copied and hashed in one pass: the archive holds exactly the bytes taken in
            // at ingest (and admitted), whatever a program still writing to the claimed file does later. A
            // hard link would share the file with such a writer.
            let changed = "\(job.sourceName) changed while it was being processed (a program was still writing to it); the sealed copy was not delivered"
            let originalCopy = job.archiveDir.appendingPathComponent(job.originalURL.lastPathComponent)
            if let verified, let before = job.facts[StageFacts.inputIdentity] {
                // Sealed and verified: both copies come from the output without reading it again (a reflink, or a
                // copy in the kernel): its first bytes are the approved original (the verify stage read and
                // hashed them), the whole of it is the sealed document. The claimed file is not read either:
                // that nobody wrote to it since ingest shows in its size and change times.
                guard FileIdentity(url: job.originalURL) == before else { throw StageRejection(.documentAltered, changed) }
                try FileOps.copyWithoutReading(job.currentURL, to: originalCopy, length: verified.originalLength)
                try FileOps.copyWithoutReading(job.currentURL, to: job.archiveDir.appendingPathComponent("sealed.pdf"))
                after = verified.sha256
            } else {
                do {
                    try FileOps.copyHashing(job.originalURL, to: originalCopy, expected: job.digest)
                } catch let e as PipelineError where e.code == .contentChanged {
                    throw StageRejection(.documentAltered, changed)
                }
                // the sealed copy, hashed as it is copied (one read of the output for both)
                if signed { after = try FileOps.copyHashing(job.currentURL, to: job.archiveDir.appendingPathComponent("sealed.pdf")) }
            }
            let receipt = Receipt(document: job.sourceName, documentID: job.id, pipeline: context.pipeline,
                                  claimedAt: iso.format(job.claimedAt), sha256Before: job.digest, sha256After: after,
                                  approval: grant?.approval, approver: grant?.approver, requester: grant?.requester,
                                  seal: seal?.sealID ?? grant?.seal, user: grant?.user, signerCertificateSHA256: seal?.certificateSHA256,
                                  tokenSerial: seal?.tokenSerial, signingTime: seal.map { iso.format($0.result.signingTime) },
                                  timestampTime: seal?.result.timestampTime.map { iso.format($0) }, level: seal?.result.level.rawValue,
                                  placements: job.facts[StageFacts.appearance]?.placements, verificationPassed: report?.passed, verification: report,
                                  warnings: job.facts[StageFacts.warnings].flatMap { $0.isEmpty ? nil : $0 })
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]; enc.dateEncodingStrategy = .iso8601
            try FileOps.writeAtomically(try enc.encode(receipt), to: job.archiveDir.appendingPathComponent("receipt.json"),
                                        syncFolder: false, syncFile: false)
        } catch let r as StageRejection { throw r } catch {
            throw StageRejection(.archive, "\(job.sourceName): the archive copy could not be written: \(error)")
        } }
        job.facts[StageFacts.outputDigest] = after
        if let runtime, runtime.governanceSection != nil || runtime.registryIfOpen != nil {
            // The audit record of this use is written when the document is delivered (`delivering`), not
            // here: a crash between here and the delivery would leave a record of a stamp that never left,
            // and the document, processed again, a second one. Kept in the work folder for recovery (the
            // delivery barrier makes it durable before the journal says `delivering`).
            let entry: AuditEntry
            if let grant {
                entry = AuditEntry(actor: grant.user, action: "stamp", organisation: grant.organisation, seal: grant.seal,
                                   documentsBefore: [grant.documentSHA256], documentsAfter: after.map { [$0] } ?? [],
                                   approval: grant.approval, tokenSerial: seal?.tokenSerial, outcome: .ok,
                                   detail: "\(job.sourceName) stamped by pipeline \(context.pipeline) (job \(job.id)), archived in \(job.archiveDir.lastPathComponent)")
            } else {
                entry = AuditEntry(actor: "pipeline:\(context.pipeline)", action: signed ? "stamp" : "pipeline.verify",
                                   documentsBefore: job.digest.map { [$0] } ?? [], documentsAfter: after.map { [$0] } ?? [],
                                   tokenSerial: seal?.tokenSerial, outcome: .ok,
                                   detail: "\(job.sourceName) (job \(job.id)) archived in \(job.archiveDir.lastPathComponent)")
            }
            let pending = PendingAuditRecord(entry)
            do {
                try FileOps.writeAtomically(try JSONEncoder().encode(pending), to: job.workDir.appendingPathComponent(Self.pendingRecordFile),
                                            syncFolder: false, syncFile: false)
            } catch { throw StageRejection(.archive, "\(job.sourceName): the audit record of its delivery could not be prepared: \(error)") }
            job.facts[Self.pendingRecord] = pending
        }
        return job
    }

    /// The job's audit record waiting for its delivery, in the work folder (`Stage.delivering` reads it
    /// after a crash) and as a fact.
    static let pendingRecordFile = "audit-record.json"
    static let pendingRecord = FactKey<PendingAuditRecord>("archive.pending-record")

    /// Writes the document's `stamp` (or `pipeline.verify`) audit record just before the engine renames
    /// it into the outbox (the engine flushes the registry in between): exactly one record per delivered
    /// document, and none for a signed copy that never left. After a crash before the rename, recovery
    /// calls this again: the record prepared in the work folder is written unless it already was (same
    /// action, output hash and job).
    public func delivering(_ job: Job, recovered: Bool, context: StageContext) throws {
        guard let runtime, runtime.governanceSection != nil || runtime.registryIfOpen != nil else { return }
        let pending: PendingAuditRecord
        if let p = job.facts[Self.pendingRecord] {
            pending = p
        } else {
            let file = job.workDir.appendingPathComponent(Self.pendingRecordFile)
            guard FileOps.exists(file) else {
                // recovery of a delivery begun by a version that wrote the record in the archive stage
                if recovered { return }
                throw StageRejection(.archive, "\(job.sourceName): no audit record was prepared for its delivery")
            }
            do { pending = try JSONDecoder().decode(PendingAuditRecord.self, from: Data(contentsOf: file)) } catch {
                throw StageRejection(.archive, "\(job.sourceName): the audit record prepared for its delivery cannot be read: \(error)")
            }
        }
        let registry = try runtime.registry()
        do {
            if recovered, try pending.isRecorded(in: registry.audit, since: job.claimedAt) { return }
            try registry.audit.append(pending.entry)
        } catch {
            // A stamp whose record cannot be written does not happen: nothing is delivered, and as the
            // registry (not the document) is at fault, the batch stops and the document goes back to the inbox.
            throw StageRejection(.auditUnavailable, "\(job.sourceName) was not delivered: its stamp could not be written to the audit log (\(error))",
                                 routing: .stopBatch)
        }
    }

    /// A document returned to the inbox (the batch stopped) leaves no archive entry behind either.
    public func returned(_ job: Job, reason: String, context: StageContext) {
        removeEntry(job, context: context)
    }

    /// A document quarantined after (or while) its archive entry was written leaves no entry behind: the
    /// archive holds delivered documents only. The entry's folder belongs to this job alone.
    public func quarantined(_ job: Job, code: String, context: StageContext) {
        runtime?.recordQuarantine(job, code: code, context: context)
        removeEntry(job, context: context)
    }

    private func removeEntry(_ job: Job, context: StageContext) {
        guard FileOps.exists(job.archiveDir) else { return }
        do { try FileManager.default.removeItem(at: job.archiveDir) } catch {
            context.logger.error("cannot remove the archive entry of a quarantined document",
                                 metadata: ["file": "\(job.sourceName)", "entry": "\(job.archiveDir.path)", "error": "\(error)"])
        }
    }

    static func descriptor() -> StageDescriptor {
        StageDescriptor(ArchiveStage.self, defaultConcurrency: 4) { _, _, env in
            ArchiveStage(runtime: try StandardStages.runtime(env))
        }
    }
}

/// An audit entry prepared by the archive stage and written at delivery (`ArchiveStage.delivering`).
struct PendingAuditRecord: Codable, Sendable {
    var actor: String
    var action: String
    var organisation: String?
    var seal: String?
    var documentsBefore: [String]
    var documentsAfter: [String]
    var approval: String?
    var tokenSerial: String?
    var detail: String

    init(_ e: AuditEntry) {
        actor = e.actor; action = e.action; organisation = e.organisation; seal = e.seal; documentsBefore = e.documentsBefore
        documentsAfter = e.documentsAfter; approval = e.approval; tokenSerial = e.tokenSerial; detail = e.detail
    }

    var entry: AuditEntry {
        AuditEntry(actor: actor, action: action, organisation: organisation, seal: seal, documentsBefore: documentsBefore,
                   documentsAfter: documentsAfter, approval: approval, tokenSerial: tokenSerial, outcome: .ok, detail: detail)
    }

    /// True when the log already holds this record (written before a crash interrupted the delivery): same
    /// action, seal, documents and detail (which names the job), since the document was claimed.
    func isRecorded(in audit: AuditLog, since claimed: Date) throws -> Bool {
        try audit.query(AuditQuery(seal: seal, action: action, since: claimed.addingTimeInterval(-1))).contains {
            $0.entry.outcome == .ok && $0.entry.documentsAfter == documentsAfter && $0.entry.documentsBefore == documentsBefore && $0.entry.detail == detail
        }
    }
}
