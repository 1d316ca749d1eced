import Foundation
import SealModel
import Governance
import Signing
import Testing
import TestSupport

/// Issue #13 item 3: nothing that decides is skipped when the registry fails. Unreadable trust anchors
/// refuse (they used to become an empty list, which switched the chain check off); an admission or a
/// registration whose audit record cannot be written does not happen; a refusal whose record cannot be
/// written still refuses and says so.
@Suite struct FailClosedTests {
    /// Makes every audit insert fail, as a locked or read-only audit table would.
    func lockAudit(_ w: World) throws {
        try w.sqlite("CREATE TRIGGER test_lock_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit table locked'); END;")
    }
    func unlockAudit(_ w: World) throws { try w.sqlite("DROP TRIGGER test_lock_audit;") }

    @Test func unreadableTrustAnchorsRefuseTheApprovalInsteadOfSkippingTheChainCheck() throws {
        guard try TestSupport.haveTool("openssl"), try TestSupport.haveTool("sqlite3") else { return }
        let w = try World()
        let ca = try DetachedSignature.Certificate(pemOrDER: Array(try Data(contentsOf: w.pki.caCert)))
        try w.registry.addTrustAnchor(organisation: "acme", certificateDER: ca.der, as: w.sys)
        let docs = World.documents(2)
        let signed = try w.approve(docs.map(\.doc))
        let g = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", job: "j1", at: w.now)
        #expect(g.approval == signed.manifest.id)
        // the anchor row is damaged: no longer a certificate
        try w.sqlite("UPDATE org_anchor SET der = x'3003020100';")
        #expect(throws: GovernanceError.self) { try w.registry.trustAnchors(organisation: "acme") }
        let book = ApprovalBook(registry: w.registry)
        do {
            _ = try book.admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", job: "j2", at: w.now)
            Issue.record("admitted although the organisation's trust anchors cannot be read")
        } catch {
            #expect(error.code == .storage)
            #expect(error.detail.contains("trust anchor"), "\(error)")
        }
        let refused = try w.registry.audit.query(AuditQuery(action: "approval.admit")).last
        #expect(refused?.entry.outcome == .refused && refused?.entry.reason == "storage")
        // the same for logging in with a key: the chain check cannot be done, so the login is refused
        #expect(throws: GovernanceError.self) { try w.registry.authenticate(.identity(user: "boss", try w.identity("boss"))) }
        // anchors gone altogether (the table cannot be read): refused, not "no anchors"
        try w.sqlite("ALTER TABLE org_anchor RENAME TO org_anchor_gone;")
        #expect(throws: GovernanceError.self) { try w.registry.trustAnchors(organisation: "acme") }
        #expect(throws: ApprovalRefusal.self) {
            try ApprovalBook(registry: w.registry).admit(documentSHA256: docs[1].doc.sha256, seal: World.sealID, user: "clerk", job: "j3", at: w.now)
        }
    }

    @Test func anAdmissionWhoseAuditRecordCannotBeWrittenDoesNotHappen() throws {
        guard try TestSupport.haveTool("openssl"), try TestSupport.haveTool("sqlite3") else { return }
        let w = try World()
        let docs = World.documents(2)
        let signed = try w.approve(docs.map(\.doc))
        try lockAudit(w)
        do {
            _ = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", job: "j1", at: w.now)
            Issue.record("admitted although the admission could not be audited")
        } catch {
            #expect(error.code == .storage)
            #expect(error.detail.contains("audit log"), "\(error)")
        }
        // a refusal still refuses, and says its record is missing
        do {
            _ = try w.book.admit(documentSHA256: String(repeating: "ab", count: 32), seal: World.sealID, user: "clerk", job: "j2", at: w.now)
            Issue.record("an unlisted document was admitted")
        } catch {
            #expect(error.code == .notListed)
            #expect(error.detail.contains("could not be written to the audit log"), "\(error)")
        }
        #expect(try w.book.show(signed.manifest.id)?.1.isEmpty == true, "no use was recorded")
        try unlockAudit(w)
        let g = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", job: "j1", at: w.now)
        try w.book.consume(g, at: w.now)
        #expect(try w.book.show(signed.manifest.id)?.1.count == 1)
        #expect(try w.registry.audit.verify().ok)
    }

    @Test func aRegistrationWhoseAuditRecordCannotBeWrittenRegistersNothing() throws {
        guard try TestSupport.haveTool("openssl"), try TestSupport.haveTool("sqlite3") else { return }
        let w = try World()
        let docs = World.documents(1)
        let m = ApprovalManifest(seal: World.sealID, purpose: "p", requester: "clerk", approver: "boss", issuedAt: w.now,
                                 validUntil: w.now.addingTimeInterval(3600), documents: docs.map(\.doc))
        let signed = try SignedApprovalManifest.sign(m, with: try w.identity("boss"))
        try lockAudit(w)
        #expect(throws: ApprovalRefusal.self) { try w.book.register(signed, at: w.now) }
        #expect(try w.book.show(m.id) == nil, "registered without its audit record")
        // approving (create + register) is all or nothing too
        #expect(throws: GovernanceError.self) { try w.approve(docs.map(\.doc)) }
        #expect(try w.book.list().isEmpty)
        // a wrong password is refused, and the refusal says its record could not be written
        do {
            _ = try w.registry.authenticate(.password(user: "clerk", password: Array("wrong-password".utf8)))
            Issue.record("authenticated")
        } catch let e as GovernanceError {
            #expect(e.code == .authenticationFailed)
            #expect(e.detail.contains("could not be written to the audit log"), "\(e)")
        }
        try unlockAudit(w)
        _ = try w.book.register(signed, at: w.now)
        #expect(try w.registry.audit.query(AuditQuery(action: "approval.register")).count == 1)
        #expect(try w.book.show(m.id) != nil)
    }

    @Test func aNamedAuditKeyThatDoesNotExistIsAnErrorNotAnUncheckpointedLog() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        #expect(throws: GovernanceError.self) { try GovernanceWorkspace.open(registryPath: w.path, auditKeyPath: w.dir.appendingPathComponent("missing.pem").path) }
        _ = try GovernanceWorkspace.open(registryPath: w.path) // no key named, none at the default place: a log without checkpoints
    }

    @Test func aSealTokenURIThatNamesNoKeyIsRefused() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let cert = try w.identity("sealcert").certificate.der
        for uri in ["pkcs11:token=seal", "pkcs11:token=seal;type=private", "pkcs11:token=seal?module-path=/x;object=y"] {
            do {
                try w.registry.registerSeal(id: "s-\(abs(uri.hashValue))", name: "x", kind: .finance, organisation: "acme", certificateDER: cert,
                                            tokenURI: uri, design: .round(RoundSeal(organisation: "x")), as: w.sadmin)
                Issue.record("registered \(uri)")
            } catch let e as GovernanceError {
                #expect(e.code == .invalidInput && e.detail.contains("names no key"), "\(e)")
            }
        }
        try w.registry.registerSeal(id: "by-id", name: "x", kind: .finance, organisation: "acme", certificateDER: cert,
                                    tokenURI: "pkcs11:token=seal;id=%01", design: .round(RoundSeal(organisation: "x")), as: w.sadmin)
        #expect(throws: GovernanceError.self) { try w.registry.rebindSeal("by-id", tokenURI: "pkcs11:token=other", as: w.sadmin) }
        #expect(try w.registry.seal("by-id")?.tokenURI == "pkcs11:token=seal;id=%01")
    }

    /// The periodic checkpoint (every `checkpointInterval` records) used to be `try?`: a checkpoint that
    /// could not be made (here: its witness cannot be written) let the log grow unprotected. Now nothing
    /// more is recorded, so nothing more is admitted, until a checkpoint succeeds again.
    @Test func aFailedPeriodicCheckpointStopsFurtherRecordsUntilOneSucceeds() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World(checkpointInterval: 4)
        let docs = World.documents(2)
        _ = try w.approve(docs.map(\.doc))
        w.registry.audit.useWitness(AuditWitness(targets: [.file("/nonexistent/witness-folder/audit.log")]))
        // append until a periodic checkpoint is due: that append itself is committed
        var appended = 0
        while appended < 8 {
            let rec = try w.registry.audit.append(AuditEntry(actor: "clerk", action: "test", detail: "record \(appended)"))
            appended += 1
            if rec.seq % 4 == 0 { break }
        }
        let before = try #require(try w.registry.audit.query(AuditQuery()).last?.seq)
        #expect(throws: GovernanceError.self) { try w.registry.audit.append(AuditEntry(actor: "clerk", action: "test", detail: "one more")) }
        do {
            _ = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", job: "j1", at: w.now)
            Issue.record("admitted while the audit log cannot be checkpointed")
        } catch {
            #expect(error.code == .storage, "\(error)")
        }
        #expect(try w.registry.audit.query(AuditQuery()).last?.seq == before, "nothing was recorded after the failed checkpoint")
        // the witness is back: the pending checkpoint is written to it first, then the log goes on
        let witness = try TestSupport.tempDir("witness-back").appendingPathComponent("audit.log").path
        w.registry.audit.useWitness(AuditWitness(targets: [.file(witness)]))
        let g = try w.book.admit(documentSHA256: docs[0].doc.sha256, seal: World.sealID, user: "clerk", job: "j1", at: w.now)
        #expect(g.documentSHA256 == docs[0].doc.sha256)
        #expect(try AuditWitness.read(path: witness).last?.seq == before)
        #expect(try w.registry.audit.verify(witnessFiles: [witness]).ok)
    }

    /// `$SEALBATCH_AUDIT_WITNESS` naming nothing usable used to be dropped (`try?`) and the log went on
    /// without its witness: now a command cannot end with a checkpoint, and says why (exit 2).
    @Test func aMisconfiguredWitnessVariableFailsTheCommand() throws {
        guard try TestSupport.haveTool("openssl"), FileManager.default.isExecutableFile(atPath: TestSupport.sealbatchBinary.path) else { return }
        let w = try World()
        let key = w.dir.appendingPathComponent("audit-key.pem")
        // the world's audit key as a PEM key + certificate file for the command line
        let p12 = w.pki.dir.appendingPathComponent("auditkey.p12").path
        let pem = try TestSupport.run("openssl", ["pkcs12", "-in", p12, "-nodes", "-clcerts", "-passin", "pass:\(TestPKI.password)", "-out", key.path])
        try #require(pem.status == 0, "\(pem.err)")
        let args = ["org", "create", "beta", "--registry", w.path, "--audit-key", key.path, "--as", "root",
                    "--key", w.pki.dir.appendingPathComponent("root.p12").path, "--key-password-fd", "0"]
        let bad = try TestSupport.run(TestSupport.sealbatchBinary.path, args, env: ["SEALBATCH_AUDIT_WITNESS": " , "], stdin: Data((TestPKI.password + "\n").utf8))
        #expect(bad.status == 2, "\(bad.out)\n\(bad.err)")
        #expect(bad.err.contains("SEALBATCH_AUDIT_WITNESS"), "\(bad.err)")
        let witness = try TestSupport.tempDir("witness-cli").appendingPathComponent("audit.log").path
        let good = try TestSupport.run(TestSupport.sealbatchBinary.path, ["org", "create", "gamma"] + args.dropFirst(3) + ["--audit-witness", witness],
                                       env: ["SEALBATCH_AUDIT_WITNESS": " , "], stdin: Data((TestPKI.password + "\n").utf8))
        #expect(good.status == 0, "--audit-witness overrides the variable: \(good.err)")
        #expect(try AuditWitness.read(path: witness).isEmpty == false)
    }
}
