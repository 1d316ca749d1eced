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

    /// One-paragraph summary.
    public var description: String {
        if ok {
            return "audit log intact: \(recordsChecked) records, \(checkpointsChecked) signed checkpoints (last covers record \(lastCheckpointedSeq)), \(uncheckpointedRecords) records after the last checkpoint"
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

    /// Creates the log over a store.
    public init(store: any GovernanceStore, signer: (any AuditCheckpointSigner)? = nil, checkpointInterval: Int = 100, headFile: URL? = nil) {
        self.store = store; self.signer = signer; self.checkpointInterval = max(1, checkpointInterval); self.headFile = headFile
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

    func readHead() -> AuditCheckpoint? {
        guard let headFile, let data = try? Data(contentsOf: headFile), let h = try? JSONDecoder().decode(Head.self, from: data),
              let signer = Data(base64Encoded: h.signer), let sig = Data(base64Encoded: h.signature) else { return nil }
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
    /// `checkpointInterval` records) is made right away.
    public func appended(_ rec: AuditRecord) {
        if let sync = signer as? any SynchronousAuditCheckpointSigner, rec.seq % Int64(checkpointInterval) == 0 {
            _ = try? checkpointNow(with: sync)
        }
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
        return c
    }

    /// Adds a certificate to the accepted checkpoint signers.
    public func registerSigner(_ der: [UInt8]) throws {
        let fp = DetachedSignature.hex(DetachedSignature.sha256(der))
        var list = (try store.meta(Self.signersMetaKey) ?? "").split(separator: ",").map(String.init)
        if !list.contains(fp) { list.append(fp); try store.setMeta(Self.signersMetaKey, list.joined(separator: ",")) }
    }

    /// Records matching a query, oldest first.
    public func query(_ q: AuditQuery) throws -> [AuditRecord] { try store.auditRecords(q) }

    /// Checks the whole log. `trustedSigners` (DER) pins the checkpoint keys; by default the audit
    /// signers registered in the store are accepted.
    public func verify(trustedSigners: [[UInt8]]? = nil) throws -> AuditVerification {
        let checkpoints = try store.checkpoints()
        let wanted = Set(checkpoints.map(\.seq) + (readHead().map { [$0.seq] } ?? []))
        let accepted: Set<String> = try {
            if let trustedSigners { return Set(trustedSigners.map { DetachedSignature.hex(DetachedSignature.sha256($0)) }) }
            return Set((try store.meta(Self.signersMetaKey) ?? "").split(separator: ",").map(String.init))
        }()
        var v = AuditVerification(problem: nil, firstBadRecord: nil, checkpoint: nil, detail: "", recordsChecked: 0,
                                  checkpointsChecked: 0, lastCheckpointedSeq: 0, uncheckpointedRecords: 0)
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
        let head = readHead()
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
        v.uncheckpointedRecords = Int(lastSeq - v.lastCheckpointedSeq)
        return v
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
