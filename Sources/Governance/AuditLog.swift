import Foundation
import Signing

/// Signs audit checkpoints. The default is a software key (`IdentityCheckpointSigner`); a token-backed
/// signer implements the same protocol and returns a detached CMS SignedData over the statement.
public protocol AuditCheckpointSigner: Sendable {
    /// DER certificate of the signing key.
    var certificateDER: [UInt8] { get }
    /// Detached CMS SignedData (SHA-256) over `statement`.
    func sign(_ statement: [UInt8]) async throws -> [UInt8]
}

/// A checkpoint signer that can sign without suspending (a key in memory): `AuditLog.append` then makes
/// due checkpoints by itself.
public protocol SynchronousAuditCheckpointSigner: AuditCheckpointSigner {
    /// Detached CMS SignedData (SHA-256) over `statement`.
    func signNow(_ statement: [UInt8]) throws -> [UInt8]
}

/// An `AuditCheckpointSigner` over a PKCS#12 / PEM identity (the workspace's audit key).
public struct IdentityCheckpointSigner: SynchronousAuditCheckpointSigner {
    /// The key.
    public let identity: DetachedSignature.Identity
    /// Wraps an identity.
    public init(_ identity: DetachedSignature.Identity) { self.identity = identity }
    /// The certificate.
    public var certificateDER: [UInt8] { identity.certificate.der }
    /// Signs.
    public func sign(_ statement: [UInt8]) async throws -> [UInt8] { try identity.sign(statement) }
    /// Signs now.
    public func signNow(_ statement: [UInt8]) throws -> [UInt8] { try identity.sign(statement) }
}

/// Result of `AuditLog.verify()`.
public struct AuditVerification: Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the first bad record or checkpoint.
    public enum Problem: String, Sendable, Codable {
        /// A record's content no longer matches its hash (edited).
        case recordEdited = "record-edited"
        /// A record's link to its predecessor is broken (a record before it was deleted or replaced).
        case chainBroken = "chain-broken"
        /// Sequence numbers jump: records are missing (deleted).
        case recordMissing = "record-missing"
        /// A checkpoint covers records that are no longer there (truncated).
        case truncated
        /// A checkpoint names a hash that differs from the record it covers (records rewritten).
        case checkpointMismatch = "checkpoint-mismatch"
        /// A checkpoint's signature does not verify, or its signer is not a registered audit key.
        case checkpointSignatureInvalid = "checkpoint-signature-invalid"
        /// A checkpoint recorded in the head file outside the database is missing from the database.
        case checkpointMissing = "checkpoint-missing"
        /// Checkpoints exist but no administrator signed the list of checkpoint signers, or a signer was
        /// added to the list in the database without an administrator's signature.
        case signerListUnsigned = "signer-list-unsigned"
        /// The signed list of checkpoint signers does not verify, or its signer is not a platform or
        /// system administrator (or not one of the pinned administrator certificates).
        case signerListInvalid = "signer-list-invalid"
        /// The witness (or the head file) cannot be read, holds nothing for this log, or an entry in it
        /// does not verify.
        case witnessInvalid = "witness-invalid"
    }
    /// True when every record and checkpoint checks out.
    public var ok: Bool { problem == nil }
    /// The first problem found.
    public var problem: Problem?
    /// Sequence number of the first bad (or first missing) record.
    public var firstBadRecord: Int64?
    /// Checkpoint id concerned, if any.
    public var checkpoint: Int64?
    /// Explanation for the clerk.
    public var detail: String
    /// Records read.
    public var recordsChecked: Int
    /// Checkpoints whose signatures were verified.
    public var checkpointsChecked: Int
    /// Last sequence number covered by a valid checkpoint.
    public var lastCheckpointedSeq: Int64
    /// Records after the last checkpoint (not yet protected against truncation).
    public var uncheckpointedRecords: Int
    /// Last record of this log the witness holds a head for (nil: no witness read).
    public var witnessedSeq: Int64? = nil

    /// One-paragraph summary.
    public var description: String {
        if ok {
            return "audit log intact: \(recordsChecked) records, \(checkpointsChecked) signed checkpoints (last covers record \(lastCheckpointedSeq)), \(uncheckpointedRecords) records after the last checkpoint"
                + (witnessedSeq.map { "; the witness agrees up to record \($0)" } ?? "")
        }
        return "audit log damaged: \(problem!.rawValue) at record \(firstBadRecord.map(String.init) ?? "?"): \(detail)"
    }
}

/// The append-only audit log: hash-chained records and signed checkpoints, in the registry's store.
///
/// Each record's hash is SHA-256 over the previous record's hash and the record's canonical encoding,
/// so editing a record breaks its own hash, deleting one breaks the sequence and the next link, and
/// truncation is caught by the signed checkpoints (every `checkpointInterval` records, and whenever
/// `checkpoint()` is called — the CLI does so after each command).
public final class AuditLog: Sendable {
    /// The store.
    public let store: any GovernanceStore
    /// Signer for checkpoints (nil: records are chained but no checkpoint can be made).
    public let signer: (any AuditCheckpointSigner)?
    /// A checkpoint is due after this many unprotected records.
    public let checkpointInterval: Int
    /// Meta key listing accepted checkpoint signer fingerprints (comma separated SHA-256 hex).
    public static let signersMetaKey = "audit.signers"

    /// A file outside the database holding a copy of the latest checkpoint (`<registry>.audit-head.json`):
    /// deleting the latest checkpoint together with the records after the previous one is then detected.
    public let headFile: URL?

    private let witnessBox: WitnessBox

    /// Creates the log over a store. `witness` (default: `$SEALBATCH_AUDIT_WITNESS`, when set and valid)
    /// also receives every checkpoint.
    public init(store: any GovernanceStore, signer: (any AuditCheckpointSigner)? = nil, checkpointInterval: Int = 100, headFile: URL? = nil,
                witness: AuditWitness? = nil) {
        self.store = store; self.signer = signer; self.checkpointInterval = max(1, checkpointInterval); self.headFile = headFile
        if let witness {
            self.witnessBox = WitnessBox(witness)
        } else {
            // An unparsable `$SEALBATCH_AUDIT_WITNESS` is kept as an error: no checkpoint is made (and so no
            // command or batch ends well) until the variable is fixed or a witness is given explicitly.
            do { self.witnessBox = WitnessBox(try AuditWitness.fromEnvironment()) } catch {
                self.witnessBox = WitnessBox(nil, error: "\(AuditWitness.environmentKey): \(error)")
            }
        }
    }

    /// Where checkpoints are also written (nil: nowhere but the database and the head file).
    public var witness: AuditWitness? { witnessBox.value }

    /// Why the configured witness cannot be used (`$SEALBATCH_AUDIT_WITNESS` names nothing usable); nil when fine.
    public var witnessConfigurationError: String? { witnessBox.error }

    /// Writes checkpoints to `witness` from now on (the pipeline's `governance.audit-witness`, `--audit-witness`).
    public func useWitness(_ witness: AuditWitness?) { witnessBox.set(witness) }

    final class WitnessBox: @unchecked Sendable {
        private let lock = NSLock()
        private var w: AuditWitness?
        private var e: String?
        init(_ w: AuditWitness?, error: String? = nil) { self.w = w; self.e = error }
        var value: AuditWitness? { lock.lock(); defer { lock.unlock() }; return w }
        var error: String? { lock.lock(); defer { lock.unlock() }; return e }
        func set(_ witness: AuditWitness?) { lock.lock(); w = witness; e = nil; lock.unlock() }
    }

    /// A periodic checkpoint that failed (nil: none pending). While set, nothing more is appended until a
    /// checkpoint succeeds (`requireCheckpointed`).
    private let pendingFailure = FailureBox()

    final class FailureBox: @unchecked Sendable {
        private let lock = NSLock()
        private var text: String?
        var value: String? {
            get { lock.lock(); defer { lock.unlock() }; return text }
            set { lock.lock(); text = newValue; lock.unlock() }
        }
    }

    /// The log's identity in a witness: the hash of its first record (nil while the log is empty).
    public func logID() throws -> String? { try store.auditRecords(AuditQuery(limit: 1)).first?.hash }

    func writeWitness(_ c: AuditCheckpoint) throws {
        if let bad = witnessConfigurationError { throw GovernanceError(.invalidInput, "the audit witness is misconfigured, so the checkpoint was not witnessed: \(bad)") }
        guard let w = witness, let id = try logID() else { return }
        try w.record(c, log: id)
    }

    struct Head: Codable {
        var id: Int64
        var seq: Int64
        var hash: String
        var timeMs: Int64
        var signer: String
        var signature: String
    }

    func writeHead(_ c: AuditCheckpoint) throws {
        guard let headFile else { return }
        let h = Head(id: c.id, seq: c.seq, hash: c.recordHash, timeMs: Int64((c.time.timeIntervalSince1970 * 1000).rounded()),
                     signer: Data(c.signerCertificateDER).base64EncodedString(), signature: Data(c.signature).base64EncodedString())
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        try enc.encode(h).write(to: headFile, options: .atomic)
    }

    /// The head file's checkpoint: nil when there is no head file; an error when it exists but cannot be read.
    func readHead() throws -> AuditCheckpoint? {
        guard let headFile, FileManager.default.fileExists(atPath: headFile.path) else { return nil }
        let h: Head
        do { h = try JSONDecoder().decode(Head.self, from: try Data(contentsOf: headFile)) } catch {
            throw GovernanceError(.storage, "the audit head file \(headFile.path) exists but cannot be read: \(error)")
        }
        guard let signer = Data(base64Encoded: h.signer), let sig = Data(base64Encoded: h.signature) else {
            throw GovernanceError(.storage, "the audit head file \(headFile.path) exists but cannot be read")
        }
        return AuditCheckpoint(id: h.id, seq: h.seq, recordHash: h.hash, time: Date(timeIntervalSince1970: Double(h.timeMs) / 1000),
                               signerCertificateDER: Array(signer), signature: Array(sig))
    }

    /// The hash of an empty chain's predecessor.
    public static let genesisHash = String(repeating: "0", count: 64)

    /// Canonical encoding of a record (everything but its own hash), length-prefixed fields.
    public static func canonicalBytes(seq: Int64, time: Date, entry e: AuditEntry, prevHash: String) -> [UInt8] {
        let fields: [String?] = [
            "sealbatch-audit/1", String(seq), String(Int64((time.timeIntervalSince1970 * 1000).rounded())), e.actor, e.action,
            e.organisation, e.seal, e.documentsBefore.joined(separator: ","), e.documentsAfter.joined(separator: ","),
            e.approval, e.tokenSerial, e.outcome.rawValue, e.reason, e.detail, prevHash,
        ]
        var out: [UInt8] = []
        for f in fields {
            guard let f else { out += Array("-\n".utf8); continue }
            let b = Array(f.utf8)
            out += Array("\(b.count):".utf8) + b + [0x0a]
        }
        return out
    }

    /// The hash a record must carry.
    public static func hash(seq: Int64, time: Date, entry: AuditEntry, prevHash: String) -> String {
        DetachedSignature.hex(DetachedSignature.sha256(canonicalBytes(seq: seq, time: time, entry: entry, prevHash: prevHash)))
    }

    /// Appends a record (atomically, also across processes) and returns it. With a synchronous signer a
    /// due checkpoint (every `checkpointInterval` records) is made right away.
    @discardableResult
    public func append(_ entry: AuditEntry, at time: Date = Date()) throws -> AuditRecord {
        try requireCheckpointed()
        let rec = try store.appendAudit(maker(entry, at: time))
        appended(rec)
        return rec
    }

    /// The record for `entry` as the next one of the chain, for a store call that appends it in the same
    /// transaction as the change it records (`recordUse`, `deleteUse`). Call `appended` with the result.
    public func maker(_ entry: AuditEntry, at time: Date = Date()) -> AuditRecordMaker {
        let t = Date(timeIntervalSince1970: (time.timeIntervalSince1970 * 1000).rounded() / 1000)
        return { lastSeq, lastHash in
            let seq = lastSeq + 1
            let prev = lastHash ?? Self.genesisHash
            return AuditRecord(seq: seq, time: t, entry: entry, prevHash: prev,
                               hash: Self.hash(seq: seq, time: t, entry: entry, prevHash: prev))
        }
    }

    /// After a record was appended: with a synchronous signer a due checkpoint (every
    /// `checkpointInterval` records) is made right away. The record is committed whatever happens here;
    /// a checkpoint that fails is remembered, and nothing more is appended (`requireCheckpointed`, which
    /// `append` and the approval book's transactional writes call first) until one succeeds: a log that can
    /// no longer be protected against truncation records nothing more, so nothing more happens.
    public func appended(_ rec: AuditRecord) {
        guard let sync = signer as? any SynchronousAuditCheckpointSigner, rec.seq % Int64(checkpointInterval) == 0 else { return }
        do { try checkpointNow(with: sync); pendingFailure.value = nil } catch {
            pendingFailure.value = "the periodic audit checkpoint after record \(rec.seq) failed: \(error)"
        }
    }

    /// Throws while a periodic checkpoint is pending after a failure, trying it again first (so a fixed
    /// cause, e.g. a witness folder mounted again, lets the log go on). Call before writing a record.
    public func requireCheckpointed() throws {
        guard let failure = pendingFailure.value else { return }
        if let sync = signer as? any SynchronousAuditCheckpointSigner {
            do {
                // the checkpoint may be in the database already, its head file or witness not: write them again
                if let c = try store.checkpoints().last, let last = try store.lastAuditRecord(), c.seq >= last.seq {
                    try writeHead(c)
                    try writeWitness(c)
                } else {
                    try checkpointNow(with: sync)
                }
                pendingFailure.value = nil
                return
            } catch {
                throw GovernanceError(.storage, "the audit log cannot be checkpointed, so nothing more is recorded or done until it can (\(failure); again: \(error))")
            }
        }
        throw GovernanceError(.storage, "the audit log cannot be checkpointed, so nothing more is recorded or done until it can (\(failure))")
    }

    /// Signs a checkpoint over the last record now (synchronous signer), unless it is already covered.
    @discardableResult
    public func checkpointNow(with signer: any SynchronousAuditCheckpointSigner, at time: Date = Date()) throws -> AuditCheckpoint? {
        guard let last = try store.lastAuditRecord() else { return nil }
        if let c = try store.checkpoints().last, c.seq >= last.seq { return nil }
        let t = Date(timeIntervalSince1970: (time.timeIntervalSince1970 * 1000).rounded() / 1000)
        let sig = try signer.signNow(AuditCheckpoint.statement(seq: last.seq, recordHash: last.hash, time: t))
        try registerSigner(signer.certificateDER)
        let c = try store.insertCheckpoint(AuditCheckpoint(id: 0, seq: last.seq, recordHash: last.hash, time: t,
                                                           signerCertificateDER: signer.certificateDER, signature: sig))
        try writeHead(c)
        try writeWitness(c)
        return c
    }

    /// Appends and then makes a checkpoint if one is due.
    @discardableResult
    public func appendAndCheckpoint(_ entry: AuditEntry, at time: Date = Date()) async throws -> AuditRecord {
        let r = try append(entry, at: time)
        try await checkpointIfDue()
        return r
    }

    /// Makes a checkpoint when `checkpointInterval` records are unprotected.
    public func checkpointIfDue() async throws {
        let last = try store.lastAuditRecord()?.seq ?? 0
        let covered = try store.checkpoints().last?.seq ?? 0
        if last - covered >= Int64(checkpointInterval) { try await checkpoint() }
    }

    /// Signs a checkpoint over the last record if it is not covered yet. Returns it (nil if nothing to do
    /// or no signer).
    @discardableResult
    public func checkpoint(at time: Date = Date()) async throws -> AuditCheckpoint? {
        guard let signer, let last = try store.lastAuditRecord() else { return nil }
        if let c = try store.checkpoints().last, c.seq >= last.seq { return nil }
        let t = Date(timeIntervalSince1970: (time.timeIntervalSince1970 * 1000).rounded() / 1000)
        let statement = AuditCheckpoint.statement(seq: last.seq, recordHash: last.hash, time: t)
        let sig = try await signer.sign(statement)
        try registerSigner(signer.certificateDER)
        let c = try store.insertCheckpoint(AuditCheckpoint(id: 0, seq: last.seq, recordHash: last.hash, time: t,
                                                           signerCertificateDER: signer.certificateDER, signature: sig))
        try writeHead(c)
        try writeWitness(c)
        pendingFailure.value = nil
        return c
    }

    /// Adds a certificate to the accepted checkpoint signers.
    public func registerSigner(_ der: [UInt8]) throws {
        let fp = DetachedSignature.hex(DetachedSignature.sha256(der))
        var list = (try store.meta(Self.signersMetaKey) ?? "").split(separator: ",").map(String.init)
        if !list.contains(fp) { list.append(fp); try store.setMeta(Self.signersMetaKey, list.joined(separator: ",")) }
    }

    /// Records matching a query, oldest first (newest first with `newestFirst`).
    public func query(_ q: AuditQuery) throws -> [AuditRecord] { try store.auditRecords(q) }

    /// How many records match a query (its `limit` ignored).
    public func count(_ q: AuditQuery) throws -> Int { try store.auditCount(q) }

    /// Checks the whole log.
    ///
    /// Checkpoint signers: `trustedSigners` (DER) pins them from outside; by default only the signers in
    /// the administrator-signed list (`AuditSignerPin`) are accepted, and that list must verify, be signed
    /// by a platform or system administrator's registered key (one of `trustedAdministrators` when
    /// given), and cover every signer the database lists. `witnessFiles` (and the file targets of the
    /// configured `witness`) are read for the latest head kept outside the database: a log that ends before
    /// it, or differs from it, was truncated or rewritten.
    public func verify(trustedSigners: [[UInt8]]? = nil, trustedAdministrators: [[UInt8]]? = nil,
                       witnessFiles: [String] = []) throws -> AuditVerification {
        let checkpoints = try store.checkpoints()
        var v0 = AuditVerification(problem: nil, firstBadRecord: nil, checkpoint: nil, detail: "", recordsChecked: 0,
                                   checkpointsChecked: 0, lastCheckpointedSeq: 0, uncheckpointedRecords: 0)
        func early(_ p: AuditVerification.Problem, _ detail: String) -> AuditVerification {
            v0.problem = p; v0.detail = detail; return v0
        }
        let head: AuditCheckpoint?
        do { head = try readHead() } catch let e as GovernanceError { return early(.witnessInvalid, e.detail) }
        // the witness files: explicit ones and those of the configured witness
        var files = witnessFiles
        for t in witness?.targets ?? [] { if case .file(let p) = t, !files.contains(p) { files.append(p) } }
        var witnessEntries: [(file: String, entry: AuditWitness.Entry)] = []
        for f in files {
            do { witnessEntries += try AuditWitness.read(path: f).map { (f, $0) } }
            catch let e as GovernanceError { return early(.witnessInvalid, e.detail) }
        }
        let accepted: Set<String>
        if let trustedSigners {
            accepted = Set(trustedSigners.map { DetachedSignature.hex(DetachedSignature.sha256($0)) })
        } else {
            switch try pinnedSigners(trustedAdministrators: trustedAdministrators, needed: !checkpoints.isEmpty || head != nil || !witnessEntries.isEmpty) {
            case .success(let s): accepted = s
            case .failure(let f): return early(f.problem, f.detail)
            }
        }
        let wanted = Set(checkpoints.map(\.seq) + (head.map { [$0.seq] } ?? []) + witnessEntries.map(\.entry.seq))
        var v = v0
        func fail(_ p: AuditVerification.Problem, _ seq: Int64?, _ detail: String, checkpoint: Int64? = nil) -> AuditVerification {
            var out = v
            out.problem = p; out.firstBadRecord = seq; out.detail = detail; out.checkpoint = checkpoint
            return out
        }
        // 1. the chain, record by record
        var prevHash = Self.genesisHash
        var expectedSeq: Int64 = 1
        var bySeq: [Int64: String] = [:]  // only the hashes checkpoints refer to: memory stays flat
        var cursor = Int64.min
        while true {
        let page = try store.auditRecords(AuditQuery(afterSeq: cursor, limit: 2000))
        if page.isEmpty { break }
        cursor = page.last!.seq
        for r in page {
            if r.seq < expectedSeq {
                return fail(.chainBroken, r.seq, "record \(r.seq) does not belong to the chain (numbers start at 1): it was inserted")
            }
            if r.seq != expectedSeq {
                return fail(.recordMissing, expectedSeq, "record \(expectedSeq) is missing (next present record is \(r.seq)): records were deleted")
            }
            let h = Self.hash(seq: r.seq, time: r.time, entry: r.entry, prevHash: r.prevHash)
            if h != r.hash {
                return fail(.recordEdited, r.seq, "record \(r.seq) (\(r.entry.action) by \(r.entry.actor)) does not match its hash: it was edited")
            }
            if r.prevHash != prevHash {
                return fail(.chainBroken, r.seq, "record \(r.seq) does not link to record \(r.seq - 1): records were replaced or removed")
            }
            prevHash = r.hash
            if wanted.contains(r.seq) { bySeq[r.seq] = r.hash }
            expectedSeq += 1
            v.recordsChecked += 1
        }
        }
        let lastSeq = expectedSeq - 1
        // 2. the checkpoints, then the head file's copy of the latest one (it survives deletions in the database)
        let all = checkpoints + (head.map { [$0] } ?? [])
        for c in all {
            let signerFP = DetachedSignature.hex(DetachedSignature.sha256(c.signerCertificateDER))
            guard accepted.contains(signerFP) else {
                return fail(.checkpointSignatureInvalid, nil, "checkpoint \(c.id) is signed by a key that is not a registered audit key", checkpoint: c.id)
            }
            do {
                let ver = try DetachedSignature.verify(c.signature, over: c.statement)
                guard ver.signer.der == c.signerCertificateDER else {
                    return fail(.checkpointSignatureInvalid, nil, "checkpoint \(c.id) names a different signer than the one that signed it", checkpoint: c.id)
                }
            } catch {
                return fail(.checkpointSignatureInvalid, nil, "checkpoint \(c.id) signature does not verify: \(error)", checkpoint: c.id)
            }
            if c.seq > lastSeq {
                return fail(.truncated, lastSeq + 1, "checkpoint \(c.id) covers records up to \(c.seq) but the log ends at \(lastSeq): records \(lastSeq + 1)…\(c.seq) were removed", checkpoint: c.id)
            }
            if bySeq[c.seq] != c.recordHash {
                return fail(.checkpointMismatch, c.seq, "record \(c.seq) differs from what checkpoint \(c.id) signed: records up to \(c.seq) were rewritten", checkpoint: c.id)
            }
            v.checkpointsChecked += 1
            v.lastCheckpointedSeq = max(v.lastCheckpointedSeq, c.seq)
        }
        if let head {
            v.checkpointsChecked -= 1
            if !checkpoints.contains(where: { $0.seq >= head.seq }) {
                return fail(.checkpointMissing, nil, "the latest checkpoint (records up to \(head.seq), kept in \(headFile?.lastPathComponent ?? "the head file")) was removed from the database")
            }
        }
        // 3. the witness: the latest head it holds for this log must still be there, unchanged
        if !files.isEmpty {
            let firstHash = lastSeq >= 1 ? try store.auditRecords(AuditQuery(limit: 1)).first?.hash : nil
            let mine = witnessEntries.filter { $0.entry.log == firstHash }
            if let latest = mine.max(by: { $0.entry.seq < $1.entry.seq }) {
                let e = latest.entry
                let whereText = "\(latest.file) line \(e.line)"
                if let c = e.signed {
                    let fp = DetachedSignature.hex(DetachedSignature.sha256(c.signerCertificateDER))
                    let signedByAccepted: Bool
                    do { signedByAccepted = try accepted.contains(fp) && DetachedSignature.verify(c.signature, over: c.statement).signer.der == c.signerCertificateDER }
                    catch { return fail(.witnessInvalid, nil, "the witness entry at \(whereText) does not verify: \(error)") }
                    guard signedByAccepted else {
                        return fail(.witnessInvalid, nil, "the witness entry at \(whereText) is not signed by an accepted audit key")
                    }
                }
                if e.seq > lastSeq {
                    return fail(.truncated, lastSeq + 1, "the witness (\(whereText)) saw records up to \(e.seq) but the log ends at \(lastSeq): records \(lastSeq + 1)…\(e.seq) were removed")
                }
                for (f, w) in mine where bySeq[w.seq] != w.hash {
                    return fail(.checkpointMismatch, w.seq, "record \(w.seq) differs from what the witness (\(f) line \(w.line)) recorded: records up to \(w.seq) were rewritten")
                }
                v.lastCheckpointedSeq = max(v.lastCheckpointedSeq, e.seq)
                v.witnessedSeq = e.seq
            } else if !witnessEntries.isEmpty && firstHash == nil {
                return fail(.truncated, 1, "the log is empty but the witness holds heads: every record was removed")
            } else if !checkpoints.isEmpty {
                return fail(.witnessInvalid, nil, "the witness (\(files.joined(separator: ", "))) holds no head for this log although it has checkpoints: the log was replaced, or the witness is not this registry's")
            }
        }
        v.uncheckpointedRecords = Int(lastSeq - v.lastCheckpointedSeq)
        return v
    }

    struct TrustFailure: Error { let problem: AuditVerification.Problem; let detail: String }

    /// The checkpoint signers the administrator-signed list accepts. `needed`: checkpoints exist, so a
    /// missing list is a failure (otherwise an empty log needs none).
    func pinnedSigners(trustedAdministrators: [[UInt8]]?, needed: Bool) throws -> Result<Set<String>, TrustFailure> {
        let listed = Set((try store.meta(Self.signersMetaKey) ?? "").split(separator: ",").map(String.init))
        guard let text = try store.meta(AuditSignerPin.metaKey) else {
            if !needed && listed.isEmpty { return .success([]) }
            return .failure(TrustFailure(problem: .signerListUnsigned, detail:
                "no administrator has signed the list of audit checkpoint signers: a platform or system administrator pins it with `sealbatch audit pin-signers` (or pass --audit-cert)"))
        }
        guard let pin = AuditSignerPin.decode(text) else {
            return .failure(TrustFailure(problem: .signerListInvalid, detail: "the signed list of audit checkpoint signers is malformed"))
        }
        let ver: DetachedSignature.Verified
        do { ver = try DetachedSignature.verify(pin.signature, over: pin.statement) } catch {
            return .failure(TrustFailure(problem: .signerListInvalid, detail: "the signature over the list of audit checkpoint signers does not verify: \(error)"))
        }
        if let admins = trustedAdministrators {
            guard admins.contains(ver.signer.der) else {
                return .failure(TrustFailure(problem: .signerListInvalid, detail:
                    "the list of audit checkpoint signers is signed by \(ver.signer.subject) (sha256 \(ver.signer.sha256Fingerprint.prefix(16))…), not by a pinned administrator certificate"))
            }
        }
        guard let user = try store.user(pin.signedBy), user.status == .active, user.certificateSHA256 == ver.signer.sha256Fingerprint else {
            return .failure(TrustFailure(problem: .signerListInvalid, detail:
                "the list of audit checkpoint signers names \(pin.signedBy) as its signer, but was not signed with that active user's registered key"))
        }
        let roles = try store.roleGrants(user: user.id).map(\.role)
        guard roles.contains(.platformAdmin) || roles.contains(.systemAdmin) else {
            return .failure(TrustFailure(problem: .signerListInvalid, detail:
                "the list of audit checkpoint signers is signed by \(user.id), who is neither a platform nor a system administrator"))
        }
        let accepted = Set(pin.signers)
        if let extra = listed.subtracting(accepted).sorted().first {
            return .failure(TrustFailure(problem: .signerListUnsigned, detail:
                "the checkpoint key sha256 \(extra.prefix(16))… was added to the signer list in the database without an administrator's signature (pin it again with `sealbatch audit pin-signers` if it is genuine)"))
        }
        return .success(accepted)
    }

    /// Live records: yields every record after `afterSeq` (default: the current end), polling the store.
    /// Works across processes (the pipeline appends, `audit tail --follow` watches).
    public func follow(after afterSeq: Int64? = nil, query: AuditQuery = AuditQuery(),
                       pollInterval: Duration = .milliseconds(250)) -> AsyncThrowingStream<AuditRecord, Error> {
        let store = self.store
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    var cursor = try afterSeq ?? store.lastAuditRecord()?.seq ?? 0
                    while !Task.isCancelled {
                        // read the end first: records appended after it are picked up next round
                        let end = try store.lastAuditRecord()?.seq ?? cursor
                        var q = query
                        q.afterSeq = cursor
                        q.limit = 500
                        let batch = try store.auditRecords(q)
                        for r in batch { continuation.yield(r) }
                        if batch.count == 500 {
                            cursor = batch.last!.seq
                        } else {
                            cursor = max(batch.last?.seq ?? cursor, end, cursor)
                            try await Task.sleep(for: pollInterval)
                        }
                    }
                    continuation.finish()
                } catch is CancellationError {
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
