import Foundation
import Governance
import Signing
import Testing
import TestSupport

/// Trust in the audit log that does not live beside it: pinned checkpoint signers and the witness.
@Suite struct AuditTrustTests {
    /// A world with history, a witness file in another folder, and a checkpoint over everything.
    func witnessedWorld() async throws -> (World, String) {
        let w = try World()
        let witness = try TestSupport.tempDir("witness").appendingPathComponent("audit-witness.log").path
        w.registry.audit.useWitness(AuditWitness(targets: [.file(witness)]))
        let docs = World.documents(3)
        let signed = try w.approve(docs.map(\.doc))
        for (i, d) in docs.enumerated() {
            let g = try w.book.admit(documentSHA256: d.doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "job\(i)", at: w.now)
            try w.book.consume(g, at: w.now)
        }
        try await w.registry.audit.checkpoint()
        return (w, witness)
    }

    /// Deletes the latest checkpoint, every record after the previous one, and the head file beside the database.
    func truncateWithHeadFile(_ w: World) async throws -> Int64 {
        let covered = try #require(try w.registry.store.checkpoints().last?.seq)
        for i in 0..<4 { try w.registry.audit.append(AuditEntry(actor: "clerk", action: "stamp", detail: "late \(i)")) }
        try await w.registry.audit.checkpoint()
        try w.sqlite("DELETE FROM audit_checkpoint WHERE id = (SELECT max(id) FROM audit_checkpoint); DELETE FROM audit WHERE seq > \(covered)")
        try FileManager.default.removeItem(atPath: w.path + ".audit-head.json")
        return covered
    }

    @Test func truncationWithTheHeadFileDeletedIsDetectedThroughTheWitness() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let (w, witness) = try await witnessedWorld()
        #expect(try w.registry.audit.verify().ok)
        let covered = try await truncateWithHeadFile(w)
        // what is beside the database alone looks intact: the attack the witness exists for
        let blind = AuditLog(store: w.registry.store, headFile: URL(fileURLWithPath: w.path + ".audit-head.json"), witness: nil)
        #expect(try blind.verify().ok)
        // the witness on another file system still knows the tail
        let v = try blind.verify(witnessFiles: [witness])
        #expect(v.problem == .truncated, "\(v)")
        #expect(v.firstBadRecord == covered + 1)
        #expect(v.detail.contains("witness"))
        // a log configured with the witness reads it by itself
        #expect(try w.registry.audit.verify().problem == .truncated)
    }

    @Test func syslogLinesAreAWitnessToo() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let (w, witness) = try await witnessedWorld()
        w.registry.audit.useWitness(nil)
        // what `journalctl -t sealbatch-audit` or /var/log/auth.log shows: turn the file witness into syslog lines
        let entries = try AuditWitness.read(path: witness)
        let latest = try #require(entries.last)
        let syslogFile = try TestSupport.tempDir("syslog").appendingPathComponent("auth.log")
        let lines = ["Dec  3 08:00:00 host sshd[1]: unrelated line",
                     "Dec  3 08:00:01 host sealbatch-audit[42]: sealbatch-audit-head/1 log=\(latest.log) checkpoint=\(latest.checkpoint!) seq=\(latest.seq) hash=\(latest.hash) time=1"]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: syslogFile)
        #expect(try w.registry.audit.verify(witnessFiles: [syslogFile.path]).ok)
        // truncate below what syslog saw (the database and head file alone would not notice)
        try w.sqlite("DELETE FROM audit_checkpoint; DELETE FROM audit WHERE seq > \(latest.seq - 2)")
        try FileManager.default.removeItem(atPath: w.path + ".audit-head.json")
        let v = try w.registry.audit.verify(witnessFiles: [syslogFile.path])
        #expect(v.problem == .truncated, "\(v)")
        #expect(v.firstBadRecord == latest.seq - 1)
    }

    @Test func aRewrittenLogDiffersFromTheWitness() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let (w, witness) = try await witnessedWorld()
        let latest = try #require(try AuditWitness.read(path: witness).last)
        // rewrite the last record with a recomputed hash, drop the checkpoints and the head file
        let last = try #require(try w.registry.audit.query(AuditQuery()).last)
        var e = last.entry; e.detail = "nothing happened"
        let h = AuditLog.hash(seq: last.seq, time: last.time, entry: e, prevHash: last.prevHash)
        try w.sqlite("UPDATE audit SET detail = 'nothing happened', hash = '\(h)' WHERE seq = \(last.seq); DELETE FROM audit_checkpoint")
        try FileManager.default.removeItem(atPath: w.path + ".audit-head.json")
        let v = try AuditLog(store: w.registry.store).verify(witnessFiles: [witness])
        #expect(v.problem == .checkpointMismatch, "\(v)")
        #expect(v.firstBadRecord == latest.seq)
        // a witness that knows nothing of this log is no proof of it
        let foreign = try TestSupport.tempDir("foreign").appendingPathComponent("w.log")
        try Data("{\"format\":\"sealbatch-audit-witness/1\",\"log\":\"\(String(repeating: "ab", count: 32))\",\"checkpoint\":1,\"seq\":1,\"hash\":\"00\",\"time-ms\":1,\"signer\":\"\",\"signature\":\"\"}\n".utf8).write(to: foreign)
        let (w2, _) = try await witnessedWorld()
        #expect(try AuditLog(store: w2.registry.store).verify(witnessFiles: [foreign.path]).problem == .witnessInvalid)
        // an unreadable witness is a failure, not a pass
        #expect(try AuditLog(store: w2.registry.store).verify(witnessFiles: ["/nonexistent/witness.log"]).problem == .witnessInvalid)
    }

    @Test func aRogueCheckpointSignerInsertedInTheDatabaseFailsVerification() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let (w, _) = try await witnessedWorld()
        #expect(try w.registry.audit.verify().ok)
        // an insider adds their key's fingerprint to the signer list in the database
        let mallory = try w.identity("mallory")
        try w.sqlite("UPDATE meta SET value = value || ',\(mallory.certificate.sha256Fingerprint)' WHERE key = 'audit.signers'")
        let v = try w.registry.audit.verify()
        #expect(v.problem == .signerListUnsigned, "\(v)")
        #expect(v.detail.contains(String(mallory.certificate.sha256Fingerprint.prefix(16))))
        // … and signs checkpoints with it, as the log's own code would
        let (w2, _) = try await witnessedWorld()
        _ = try w2.registry.audit.append(AuditEntry(actor: "x", action: "test"))
        _ = try await AuditLog(store: w2.registry.store, signer: IdentityCheckpointSigner(mallory)).checkpoint()
        #expect(try w2.registry.audit.verify().problem == .signerListUnsigned)
    }

    @Test func theSignerListMustBeSignedByAnAdministrator() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try World()
        let auditCert = try w.identity("auditkey").certificate.der
        // a seal administrator may not pin, and the refusal is audited
        #expect(throws: GovernanceError.self) { try w.registry.pinAuditSigners([auditCert], identity: try w.identity("sadmin"), as: w.sadmin) }
        #expect(try w.registry.audit.query(AuditQuery(action: "audit.pin-signers")).contains { $0.entry.outcome == .refused && $0.entry.actor == "sadmin" })
        // nor may an administrator sign with a key that is not theirs
        #expect(throws: GovernanceError.self) { try w.registry.pinAuditSigners([auditCert], identity: try w.identity("mallory"), as: w.root) }
        // a list forged in the database: signed by a registered user who is no administrator
        let t = Date()
        let forgedFPs = [try w.identity("mallory").certificate.sha256Fingerprint]
        let stmt = AuditSignerPin.statement(signers: forgedFPs, signedBy: "sadmin", time: t)
        let forged = AuditSignerPin(signers: forgedFPs, signedBy: "sadmin", time: t, signature: try w.identity("sadmin").sign(stmt))
        try w.registry.store.setMeta(AuditSignerPin.metaKey, forged.encoded())
        try await w.registry.audit.checkpoint()
        #expect(try w.registry.audit.verify().problem == .signerListInvalid)
        // claiming to be root, signed by someone else
        let stmt2 = AuditSignerPin.statement(signers: forgedFPs, signedBy: "root", time: t)
        let forged2 = AuditSignerPin(signers: forgedFPs, signedBy: "root", time: t, signature: try w.identity("mallory").sign(stmt2))
        try w.registry.store.setMeta(AuditSignerPin.metaKey, forged2.encoded())
        #expect(try w.registry.audit.verify().problem == .signerListInvalid)
        // a tampered statement
        try w.registry.store.setMeta(AuditSignerPin.metaKey, "{\"statement\":\"eA==\",\"signature\":\"eA==\"}")
        #expect(try w.registry.audit.verify().problem == .signerListInvalid)
        // no list at all while checkpoints exist
        try w.sqlite("DELETE FROM meta WHERE key = '\(AuditSignerPin.metaKey)'")
        #expect(try w.registry.audit.verify().problem == .signerListUnsigned)
        // the platform administrator pins again: intact; a system administrator may too
        try w.registry.pinAuditSigners([auditCert], identity: try w.identity("sys"), as: w.sys)
        try await w.registry.audit.checkpoint()
        #expect(try w.registry.audit.verify().ok)
        // pinning the administrator from outside: sys's list is refused when only root is trusted
        let rootCert = try w.identity("root").certificate.der
        #expect(try w.registry.audit.verify(trustedAdministrators: [rootCert]).problem == .signerListInvalid)
        try w.registry.pinAuditSigners([auditCert], identity: try w.identity("root"), as: w.root)
        #expect(try w.registry.audit.verify(trustedAdministrators: [rootCert]).ok)
    }
}
