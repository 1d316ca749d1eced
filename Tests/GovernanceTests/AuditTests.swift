import Foundation
import Governance
import Signing
import Testing
import TestSupport

@Suite struct AuditTests {
    /// A world with some history and a checkpoint over all of it.
    func worldWithHistory() async throws -> World {
        let w = try World()
        let docs = World.documents(3)
        let signed = try w.approve(docs.map(\.doc))
        for (i, d) in docs.enumerated() {
            let g = try w.book.admit(documentSHA256: d.doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "job\(i)", at: w.now)
            try w.book.consume(g, at: w.now)
        }
        try await w.registry.audit.checkpoint()
        return w
    }

    @Test func intactLogVerifies() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try await worldWithHistory()
        let v = try w.registry.audit.verify()
        #expect(v.ok, "\(v)")
        #expect(v.recordsChecked > 20)
        #expect(v.checkpointsChecked == 1)
        #expect(v.uncheckpointedRecords == 0)
    }

    @Test func detectsEditedRecordAndNamesIt() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        try w.sqlite("UPDATE audit SET actor = 'nobody' WHERE seq = 7")
        let v = try w.registry.audit.verify()
        #expect(v.problem == .recordEdited)
        #expect(v.firstBadRecord == 7)
    }

    @Test func detectsEditedRecordWithRecomputedHashesThroughCheckpoint() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        // a careful forger rewrites record 5 and recomputes every later hash: the chain is consistent, the
        // signed checkpoint is not
        var recs = try w.registry.audit.query(AuditQuery())
        var prev = recs[3].hash
        for i in 4..<recs.count {
            if i == 4 { recs[i].entry.detail = "nothing happened" }
            let h = AuditLog.hash(seq: recs[i].seq, time: recs[i].time, entry: recs[i].entry, prevHash: prev)
            let detail = recs[i].entry.detail.replacingOccurrences(of: "'", with: "''")
            try w.sqlite("UPDATE audit SET detail = '\(detail)', prev_hash = '\(prev)', hash = '\(h)' WHERE seq = \(recs[i].seq)")
            prev = h
        }
        let v = try w.registry.audit.verify()
        #expect(v.problem == .checkpointMismatch)
        #expect(v.firstBadRecord == recs.last!.seq)
    }

    @Test func detectsDeletedRecordAndNamesTheFirstMissing() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        try w.sqlite("DELETE FROM audit WHERE seq IN (9, 10)")
        let v = try w.registry.audit.verify()
        #expect(v.problem == .recordMissing)
        #expect(v.firstBadRecord == 9)
    }

    @Test func detectsDeletionWithRenumbering() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        try w.sqlite("DELETE FROM audit WHERE seq = 4; UPDATE audit SET seq = seq - 1 WHERE seq > 4")
        let v = try w.registry.audit.verify()
        #expect(!v.ok)
        #expect(v.firstBadRecord == 4)
    }

    @Test func detectsInsertedRecord() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        try w.sqlite("INSERT INTO audit SELECT 0, time, 'ghost', action, organisation, seal, documents_before, documents_after, approval, token_serial, outcome, reason, detail, prev_hash, hash FROM audit WHERE seq = 1")
        let v = try w.registry.audit.verify()
        #expect(v.problem == .chainBroken)
        #expect(v.firstBadRecord == 0)
    }

    @Test func detectsTruncation() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        let last = try #require(try w.registry.audit.query(AuditQuery()).last?.seq)
        try w.sqlite("DELETE FROM audit WHERE seq > \(last - 3)")
        let v = try w.registry.audit.verify()
        #expect(v.problem == .truncated)
        #expect(v.firstBadRecord == last - 2)
    }

    @Test func detectsTruncationThatAlsoDeletesTheLatestCheckpoint() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        let covered = try #require(try w.registry.store.checkpoints().last?.seq)
        for i in 0..<4 { try w.registry.audit.append(AuditEntry(actor: "clerk", action: "stamp", detail: "late \(i)")) }
        try await w.registry.audit.checkpoint()
        // remove the last checkpoint and every record after the previous one: the database alone looks consistent
        try w.sqlite("DELETE FROM audit_checkpoint WHERE id = (SELECT max(id) FROM audit_checkpoint); DELETE FROM audit WHERE seq > \(covered)")
        #expect(try AuditLog(store: w.registry.store, headFile: nil).verify().ok)
        // the head file outside the database still knows
        let v = try w.registry.audit.verify()
        #expect(v.problem == .truncated)
        #expect(v.firstBadRecord == covered + 1)
        // deleting only the latest checkpoint is noticed too
        let w2 = try await worldWithHistory()
        try w2.sqlite("DELETE FROM audit_checkpoint")
        #expect(try w2.registry.audit.verify().problem == .checkpointMissing)
    }

    @Test func detectsForgedOrForeignCheckpoint() async throws {
        guard try TestSupport.haveTool("sqlite3") else { return }
        let w = try await worldWithHistory()
        try w.sqlite("UPDATE audit_checkpoint SET seq = seq - 1")
        #expect(try w.registry.audit.verify().problem == .checkpointSignatureInvalid)
        // a checkpoint signed by an unregistered key is not accepted either
        let w2 = try await worldWithHistory()
        let mallory = AuditLog(store: w2.registry.store, signer: IdentityCheckpointSigner(try w2.identity("mallory")))
        _ = try w2.registry.audit.append(AuditEntry(actor: "x", action: "test"))
        _ = try await mallory.checkpoint()
        // pinning the audit key excludes mallory's checkpoint even though it registered itself in the store
        let pinned = try w2.registry.audit.verify(trustedSigners: [try w2.identity("auditkey").certificate.der])
        #expect(pinned.problem == .checkpointSignatureInvalid)
    }

    @Test func checkpointsAreMadeEveryIntervalRecords() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World(checkpointInterval: 5)
        for i in 0..<12 { try await w.registry.audit.appendAndCheckpoint(AuditEntry(actor: "t", action: "test", detail: "\(i)")) }
        let cps = try w.registry.store.checkpoints()
        #expect(cps.count >= 2)
        let v = try w.registry.audit.verify()
        #expect(v.ok)
        #expect(v.uncheckpointedRecords < 5)
    }

    @Test func queriesFilterBySealUserActionAndTime() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try await worldWithHistory()
        let consumed = try w.registry.audit.query(AuditQuery(seal: World.sealID, user: "clerk", action: "approval.consume"))
        #expect(consumed.count == 3)
        #expect(consumed.allSatisfy { $0.entry.outcome == .ok && $0.entry.documentsBefore.count == 1 })
        let seals = try w.registry.audit.query(AuditQuery(action: "seal."))
        #expect(seals.contains { $0.entry.action == "seal.register" })
        let future = try w.registry.audit.query(AuditQuery(since: Date().addingTimeInterval(3600)))
        #expect(future.isEmpty)
        // a seal user sees only their own records; a seal admin sees the organisation's
        let own = try w.registry.auditRecords(AuditQuery(), as: w.clerk)
        #expect(!own.isEmpty && own.allSatisfy { $0.entry.actor == "clerk" })
        #expect(throws: GovernanceError.self) { try w.registry.auditRecords(AuditQuery(user: "boss"), as: w.clerk) }
        let org = try w.registry.auditRecords(AuditQuery(), as: w.sadmin)
        #expect(Set(org.map(\.entry.actor)).isSuperset(of: ["clerk", "boss", "sadmin"]))
    }

    /// The console's audit filters run in SQL: a document hash prefix (before or after), an outcome, the
    /// latest N newest first, and a count of everything matching, each within the reader's scope.
    @Test func queriesFilterByDocumentOutcomeAndCountNewestFirst() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try await worldWithHistory()
        let all = try w.registry.audit.query(AuditQuery())
        let sha = try #require(all.last { $0.entry.action == "approval.consume" }?.entry.documentsBefore.first)
        let expected = all.filter { ($0.entry.documentsBefore + $0.entry.documentsAfter).contains { $0.hasPrefix(sha) } }
        #expect(!expected.isEmpty)
        #expect(try w.registry.audit.query(AuditQuery(document: sha)).map(\.seq) == expected.map(\.seq))
        #expect(try w.registry.audit.query(AuditQuery(document: String(sha.prefix(12)))).map(\.seq) == expected.map(\.seq))
        #expect(try w.registry.audit.query(AuditQuery(document: "%")).isEmpty)      // LIKE wildcards are literal
        #expect(try w.registry.audit.query(AuditQuery(document: "_")).isEmpty)
        // a refusal, then the outcome filter finds it and only it
        #expect(throws: GovernanceError.self) { try w.registry.auditRecords(AuditQuery(user: "boss"), as: w.clerk) }
        let refused = try w.registry.audit.query(AuditQuery(outcome: .refused))
        #expect(!refused.isEmpty && refused.allSatisfy { $0.entry.outcome == .refused })
        #expect(try w.registry.audit.count(AuditQuery(outcome: .refused)) == refused.count)
        // the latest 5, newest first, and the count ignores the limit
        let now = try w.registry.audit.query(AuditQuery())
        let latest = try w.registry.audit.query(AuditQuery(limit: 5, newestFirst: true))
        #expect(latest.map(\.seq) == now.suffix(5).reversed().map(\.seq))
        #expect(try w.registry.audit.count(AuditQuery(limit: 5)) == now.count)
        // scoped as the listing: the seal user counts only their own records
        let own = try w.registry.auditRecords(AuditQuery(), as: w.clerk)
        #expect(try w.registry.auditCount(AuditQuery(), as: w.clerk) == own.count)
        #expect(throws: GovernanceError.self) { try w.registry.auditCount(AuditQuery(user: "boss"), as: w.clerk) }
    }

    @Test func commandsFlushEachCommitAndThePipelineLeavesItToItsBarrier() throws {
        let dir = try TestSupport.tempDir("sync")
        let path = dir.appendingPathComponent("registry.sqlite").path
        #expect(try SQLiteGovernanceStore(path: path).synchronousMode() == 2) // FULL: a returned command is on disk
        #expect(try SQLiteGovernanceStore(path: path, flushEachCommit: false).synchronousMode() == 1) // NORMAL, WAL
    }

    @Test func followYieldsRecordsAppendedLater() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        // a second store on the same file, as another process would have
        let other = AuditLog(store: try SQLiteGovernanceStore(path: w.path))
        let stream = w.registry.audit.follow(pollInterval: .milliseconds(20))
        let reader = Task { () -> [String] in
            var seen: [String] = []
            for try await r in stream {
                seen.append(r.entry.detail)
                if seen.count == 3 { break }
            }
            return seen
        }
        try await Task.sleep(for: .milliseconds(100))
        for i in 0..<3 { try other.append(AuditEntry(actor: "pipeline", action: "stamp", detail: "doc \(i)")) }
        let seen = try await reader.value
        #expect(seen == ["doc 0", "doc 1", "doc 2"])
    }
}

@Suite struct WorkspaceTests {
    @Test func pipelineOpensTheWorkspaceWithItsAuditKeyAndStampsAreCheckpointed() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        // the workspace audit key next to the registry, as `sealbatch org init` writes it
        let audit = try DetachedSignature.Identity.selfSigned(commonName: "ws audit")
        try Data(try audit.privateKeyPEM() + Array(audit.certificate.pem.utf8)).write(to: URL(fileURLWithPath: w.path + ".audit-key.pem"))
        let registry = try GovernanceWorkspace.open(registryPath: w.path, checkpointInterval: 4)
        #expect(registry.audit.signer?.certificateDER == audit.certificate.der)
        #expect(try Registry(path: w.path).audit.signer?.certificateDER == audit.certificate.der)
        // a new audit key is accepted once the platform administrator pins it
        try registry.pinAuditSigners([audit.certificate.der, try w.identity("auditkey").certificate.der], identity: try w.identity("root"), as: w.root)
        let book = ApprovalBook(registry: registry)
        let docs = World.documents(3)
        _ = try w.approve(docs.map(\.doc))
        for (i, d) in docs.enumerated() {
            let g = try book.admit(documentSHA256: d.doc.sha256, fileName: d.doc.name, seal: World.sealID, user: "clerk", job: "p\(i)", at: w.now)
            try book.consume(g, at: w.now)
            try registry.audit.recordStamp(g, outputSHA256: String(repeating: "ab", count: 32), tokenSerial: "SOFTHSM-1", at: w.now)
        }
        let stamps = try registry.audit.query(AuditQuery(seal: World.sealID, action: "stamp"))
        #expect(stamps.count == 3)
        #expect(stamps.allSatisfy { $0.entry.tokenSerial == "SOFTHSM-1" && $0.entry.documentsAfter.count == 1 && $0.entry.organisation == "acme" })
        // checkpoints were made by append itself (no async call)
        let v = try registry.audit.verify()
        #expect(v.ok, "\(v)")
        #expect(v.checkpointsChecked >= 1)
        #expect(v.uncheckpointedRecords < 4)
        #expect(throws: GovernanceError.self) { try GovernanceWorkspace.open(registryPath: w.dir.appendingPathComponent("none.sqlite").path) }
    }
}
