import Foundation
import Governance
import Signing
import Testing
import TestSupport

@Suite struct ApprovalTests {
    func refusal(_ body: () throws -> ApprovalGrant) -> ApprovalRefusal.Code? {
        do { _ = try body(); return nil } catch let e as ApprovalRefusal { return e.code } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func admitsListedDocumentUnderValidApprovalAndConsumesOnce() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents()
        let signed = try w.approve(docs.map(\.doc))
        let parsed = try SignedApprovalManifest.parse(signed.fileBytes())
        let g = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: parsed, job: "j1", at: w.now)
        #expect(g.approval == signed.manifest.id)
        #expect(g.usesRemaining == 3)
        #expect(!g.alreadyConsumed)
        try w.book.consume(g, at: w.now)
        try w.book.consume(g, at: w.now) // idempotent
        #expect(try w.book.show(g.approval)?.1.count == 1)
        // a retry of the same job is admitted again without a new use
        let again = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", job: "j1", at: w.now)
        #expect(again.alreadyConsumed)
        // lookup by hash alone finds the registered manifest
        let g2 = try w.book.admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", job: "j2", at: w.now)
        #expect(g2.usesRemaining == 2)
    }

    @Test func aUseAndItsAuditRecordAreWrittenTogetherOrNotAtAll() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents()
        let signed = try w.approve(docs.map(\.doc))
        let g = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "j1", at: w.now)
        struct Refused: Error {}
        let use = ApprovalUse(approval: g.approval, documentSHA256: g.documentSHA256, job: "j1", user: "clerk", usedAt: w.now)
        let before = try w.registry.audit.query(AuditQuery()).count
        // the audit record cannot be made: the use is not recorded either
        #expect(throws: GovernanceError.self) { try w.registry.store.recordUse(use, limit: 3) { _ in { _, _ in throw Refused() } } }
        #expect(try w.book.show(g.approval)?.1.isEmpty == true)
        #expect(try w.registry.audit.query(AuditQuery()).count == before)
        // recorded with its record; the record is the chain's next one and the chain verifies
        try w.book.consume(g, at: w.now)
        let consumed = try w.registry.audit.query(AuditQuery(action: "approval.consume"))
        #expect(consumed.count == 1 && consumed[0].seq == Int64(before + 1))
        #expect(try w.book.show(g.approval)?.1.count == 1)
        // giving it back: the same, the deletion fails with its record
        #expect(throws: GovernanceError.self) {
            try w.registry.store.deleteUse(approval: g.approval, documentSHA256: g.documentSHA256, job: "j1") { _, _ in throw Refused() }
        }
        #expect(try w.book.show(g.approval)?.1.count == 1)
        #expect(try w.book.release(g, reason: "test"))
        #expect(try w.book.show(g.approval)?.1.isEmpty == true)
        #expect(try w.registry.audit.query(AuditQuery(action: "approval.release")).count == 1)
        #expect(try !w.book.release(g, reason: "again"), "nothing left to give back, nothing audited")
        #expect(try w.registry.audit.query(AuditQuery(action: "approval.release")).count == 1)
        #expect(try w.registry.audit.verify().ok)
    }

    @Test func refusesUnlistedDocument() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(2)
        let signed = try w.approve([docs[0].doc])
        #expect(refusal { try w.book.admit(documentSHA256: docs[1].doc.sha256, fileName: "other.pdf", seal: World.sealID, user: "clerk", manifest: signed, at: w.now) } == .notListed)
        #expect(refusal { try w.book.admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", at: w.now) } == .notListed)
    }

    @Test func refusesDocumentAlteredAfterApproval() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        let signed = try w.approve([docs[0].doc])
        var altered = docs[0].bytes
        altered[altered.count - 8] ^= 0x01
        let sha = DetachedSignature.hex(DetachedSignature.sha256(altered))
        #expect(refusal { try w.book.admit(documentSHA256: sha, fileName: "contract-1.pdf", seal: World.sealID, user: "clerk", manifest: signed, at: w.now) } == .documentAltered)
        #expect(refusal { try w.book.admit(documentSHA256: sha, fileName: "contract-1.pdf", seal: World.sealID, user: "clerk", at: w.now) } == .documentAltered)
    }

    @Test func refusesUnsignedManifest() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        let m = ApprovalManifest(seal: World.sealID, purpose: "p", requester: "clerk", approver: "boss", issuedAt: w.now,
                                 validUntil: w.now.addingTimeInterval(3600), documents: [docs[0].doc])
        let unsigned = try SignedApprovalManifest.parse(SignedApprovalManifest.unsigned(m).fileBytes())
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: unsigned, at: w.now) } == .unsigned)
        // a bare manifest JSON without an envelope is unsigned too
        let bare = try SignedApprovalManifest.parse(m.encoded())
        #expect(bare.signature == nil)
    }

    @Test func refusesForgedSignature() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(2)
        let signed = try w.approve([docs[0].doc])
        // the manifest is edited to list another document, keeping boss's signature
        var m = signed.manifest
        m.documents.append(docs[1].doc)
        m.uses = 2
        let forged = SignedApprovalManifest(manifest: m, payload: m.encoded(), signature: signed.signature)
        #expect(refusal { try w.book.admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", manifest: forged, at: w.now) } == .signatureInvalid)
        // mallory (self-signed, unregistered) signs a manifest naming boss as approver
        var m2 = signed.manifest
        m2.id = UUID().uuidString.lowercased()
        let byMallory = try SignedApprovalManifest.sign(m2, with: try w.identity("mallory"))
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: byMallory, at: w.now) } == .signerNotApprover)
        // garbage in the signature field
        let junk = SignedApprovalManifest(manifest: m2, payload: m2.encoded(), signature: Array("not a cms".utf8))
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: junk, at: w.now) } == .signatureInvalid)
    }

    @Test func refusesApproverWithoutRightsForThatSeal() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        // boss2 is a registered user with a certificate but holds no approve right on the seal
        let m = ApprovalManifest(seal: World.sealID, purpose: "p", requester: "clerk", approver: "boss2", issuedAt: w.now,
                                 validUntil: w.now.addingTimeInterval(3600), documents: [docs[0].doc])
        let signed = try SignedApprovalManifest.sign(m, with: try w.identity("boss2"))
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, at: w.now) } == .approverLacksRight)
        // and the registry refuses to let boss2 create one
        let boss2 = try w.registry.authenticate(.identity(user: "boss2", try w.identity("boss2")))
        #expect(throws: GovernanceError.self) {
            try w.book.approve(documents: [docs[0].doc], seal: World.sealID, purpose: "p", requester: "clerk",
                               validUntil: w.now.addingTimeInterval(60), identity: try w.identity("boss2"), as: boss2, at: w.now)
        }
        // a right withdrawn after approval makes the approval unusable
        let signedByBoss = try w.approve([docs[0].doc])
        try w.registry.revokeSealRight(.approve, on: World.sealID, from: "boss", as: w.sadmin)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signedByBoss, at: w.now) } == .approverLacksRight)
    }

    @Test func aVerificationReusedAcrossABatchIsRedoneWhenTheRegistryChanges() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(6)
        _ = try w.approve(docs.map(\.doc))
        // admitted by hash: the manifest is verified once, then reused for the next documents
        _ = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", job: "j", at: w.now)
        _ = try w.book.admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", job: "j", at: w.now)
        // the approver's right withdrawn through the API: the next document of the batch is refused
        try w.registry.revokeSealRight(.approve, on: World.sealID, from: "boss", as: w.sadmin)
        #expect(refusal { try w.book.admit(documentSHA256: docs[2].doc.sha256, seal: World.sealID, user: "clerk", job: "j", at: w.now) } == .approverLacksRight)
        try w.registry.grantSealRight(.approve, on: World.sealID, to: "boss", as: w.sadmin)
        _ = try w.book.admit(documentSHA256: docs[3].doc.sha256, seal: World.sealID, user: "clerk", job: "j", at: w.now)
        // the approver disabled by another process writing the registry file directly
        try w.sqlite("UPDATE user SET status = 'disabled' WHERE id = 'boss'")
        #expect(refusal { try w.book.admit(documentSHA256: docs[4].doc.sha256, seal: World.sealID, user: "clerk", job: "j", at: w.now) } == .approverLacksRight)
        // the approval revoked in the file: refused although its manifest is cached
        try w.sqlite("UPDATE user SET status = 'active' WHERE id = 'boss'; UPDATE approval SET status = 'revoked', revoked_by = 'x', revoked_at = 0")
        #expect(refusal { try w.book.admit(documentSHA256: docs[5].doc.sha256, seal: World.sealID, user: "clerk", job: "j", at: w.now) } == .revoked)
    }

    @Test func refusesExpiredApproval() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        let signed = try w.approve([docs[0].doc], validFor: 60)
        let later = w.now.addingTimeInterval(61)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, at: later) } == .expired)
    }

    @Test func refusesRevokedApproval() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        let signed = try w.approve([docs[0].doc])
        try w.book.revoke(signed.manifest.id, reason: "contract withdrawn", as: w.boss, at: w.now)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, at: w.now) } == .revoked)
        // clerk may not revoke (not the approver, not a seal admin)
        let s2 = try w.approve([World.documents(1)[0].doc])
        #expect(throws: GovernanceError.self) { try w.book.revoke(s2.manifest.id, as: w.clerk, at: w.now) }
    }

    @Test func refusesReplayAndUsedUpApproval() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(3)
        let signed = try w.approve(docs.map(\.doc), uses: 2)
        let g1 = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "a", at: w.now)
        try w.book.consume(g1, at: w.now)
        // replay: same document, another job
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "b", at: w.now) } == .replay)
        let g2 = try w.book.admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "c", at: w.now)
        // a grant for the third document, admitted before the second one is consumed, loses the race
        let g3 = try w.book.admit(documentSHA256: docs[2].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "d", at: w.now)
        try w.book.consume(g2, at: w.now)
        #expect(throws: ApprovalRefusal(.usedUp, "approval \(signed.manifest.id) allows 2 use(s), all consumed", approval: signed.manifest.id)) {
            try w.book.consume(g3, at: w.now)
        }
        #expect(refusal { try w.book.admit(documentSHA256: docs[2].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "e", at: w.now) } == .usedUp)
        // consuming a replay grant is refused too
        var replayGrant = g1
        replayGrant.job = "zzz"
        #expect(throws: ApprovalRefusal.self) { try w.book.consume(replayGrant, at: w.now) }
    }

    @Test func aQuarantinedJobGivesItsUseBack() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        let signed = try w.approve(docs.map(\.doc))
        let g = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "a", at: w.now)
        try w.book.consume(g, at: w.now)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "b", at: w.now) } == .replay)
        // another job cannot release it
        var other = g; other.job = "b"
        #expect(try !w.book.release(other, reason: "x", at: w.now))
        #expect(try w.book.release(g, reason: "signing failed, quarantined", at: w.now))
        let again = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "b", at: w.now)
        try w.book.consume(again, at: w.now)
        #expect(try w.book.show(signed.manifest.id)?.1.map(\.job) == ["b"])
        #expect(try w.registry.audit.query(AuditQuery(action: "approval.release")).count == 1)
    }

    @Test func admissionsWithoutAJobIdNeverPassAsRetries() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(2)
        let signed = try w.approve(docs.map(\.doc))
        let g = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, at: w.now)
        try w.book.consume(g, at: w.now)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, at: w.now) } == .replay)
    }

    @Test func refusesSelfApproval() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        // the registry refuses boss approving his own request
        #expect(throws: GovernanceError.self) {
            try w.book.approve(documents: [docs[0].doc], seal: World.sealID, purpose: "p", requester: "boss",
                               validUntil: w.now.addingTimeInterval(60), identity: try w.identity("boss"), as: w.boss, at: w.now)
        }
        // and a manifest made outside the registry with requester == approver is refused at admission
        let m = ApprovalManifest(seal: World.sealID, purpose: "p", requester: "boss", approver: "boss", issuedAt: w.now,
                                 validUntil: w.now.addingTimeInterval(3600), documents: [docs[0].doc])
        let signed = try SignedApprovalManifest.sign(m, with: try w.identity("boss"))
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, at: w.now) } == .selfApproval)
    }

    @Test func refusesWrongSealSuspendedSealAndUserWithoutUseRight() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        let signed = try w.approve([docs[0].doc])
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: "other-seal", user: "clerk", manifest: signed, at: w.now) } == .wrongSeal)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk2", manifest: signed, at: w.now) } == .userNotAllowed)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "sadmin", manifest: signed, at: w.now) } == .separationOfDuties)
        try w.registry.setSealStatus(World.sealID, .suspended, as: w.sadmin)
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, at: w.now) } == .sealNotUsable)
    }

    @Test func refusesManifestTamperedInsideTheRegistry() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(2)
        let signed = try w.approve([docs[0].doc])
        // someone adds a document row to the stored approval directly in the database
        try w.sqlite("INSERT INTO approval_document(approval, sha256) VALUES ('\(signed.manifest.id)', '\(docs[1].doc.sha256)')")
        #expect(refusal { try w.book.admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", at: w.now) } == .notListed)
        try w.sqlite("UPDATE approval SET uses = 99, payload = X'7B7D' WHERE id = '\(signed.manifest.id)'")
        #expect(refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", at: w.now) } == .malformedManifest)
    }

    @Test func concurrentConsumersFromSeparateConnectionsNeverExceedTheUseCount() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(6)
        let signed = try w.approve(docs.map(\.doc), uses: 3)
        var grants: [ApprovalGrant] = []
        for (i, d) in docs.enumerated() {
            grants.append(try w.book.admit(documentSHA256: d.doc.sha256, seal: World.sealID, user: "clerk", manifest: signed, job: "job\(i)", at: w.now))
        }
        // six "processes" (own connections to the same file) race to consume
        let path = w.path
        let now = w.now
        let results = await withTaskGroup(of: Bool.self) { group in
            for g in grants {
                group.addTask {
                    guard let store = try? SQLiteGovernanceStore(path: path) else { return false }
                    let book = ApprovalBook(registry: Registry(store: store))
                    do { try book.consume(g, at: now); return true } catch { return false }
                }
            }
            var out: [Bool] = []
            for await r in group { out.append(r) }
            return out
        }
        #expect(results.filter { $0 }.count == 3)
        #expect(try w.book.show(signed.manifest.id)?.1.count == 3)
        #expect(try w.registry.audit.verify().ok)
    }

    @Test func mutatedManifestFilesAreRefusedNeverCrash() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        let good = try w.approve([docs[0].doc]).fileBytes()
        let env = ProcessInfo.processInfo.environment
        var rng = SplitMix(seed: env["GOV_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EA1)
        let iterations = env["GOV_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 300
        var admitted = 0
        for i in 0..<iterations {
            var b = good
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let pos = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[pos] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b.remove(at: pos)
                default: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
                }
            }
            if i % 50 == 0 { b = Array(b.prefix(Int(rng.next() % UInt64(b.count)))) }
            do {
                let m = try SignedApprovalManifest.parse(b)
                _ = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", manifest: m, job: "f\(i)", at: w.now)
                admitted += 1 // base64 mutations that decode to the same bytes, or whitespace
            } catch {
                #expect(!error.code.rawValue.isEmpty) // typed: only an ApprovalRefusal can arrive here
            }
        }
        #expect(admitted < iterations)
    }

    @Test func everyRefusalIsAuditedWithItsReasonCode() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let docs = World.documents(1)
        _ = refusal { try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", at: w.now) }
        let recs = try w.registry.audit.query(AuditQuery(action: "approval.admit"))
        #expect(recs.last?.entry.outcome == .refused)
        #expect(recs.last?.entry.reason == ApprovalRefusal.Code.notListed.rawValue)
        #expect(recs.last?.entry.documentsBefore == [docs[0].doc.sha256])
    }
}

/// Deterministic PRNG for mutation tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
