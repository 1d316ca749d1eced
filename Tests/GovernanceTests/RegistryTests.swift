import Foundation
import SealModel
import Governance
import Signing
import Testing
import TestSupport

@Suite struct RegistryTests {
    @Test func bootstrapOnlyInAnEmptyRegistry() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        #expect(throws: GovernanceError.self) { try w.registry.bootstrap(userID: "root2", name: "x", password: Array("long enough pw".utf8)) }
        do { try w.registry.bootstrap(userID: "root2", name: "x", password: Array("long enough pw".utf8)) }
        catch let e as GovernanceError { #expect(e.code == .registryNotEmpty) }
    }

    @Test func passwordAccountsAuthenticateWithScryptAndRefuseWrongPasswords() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        try w.registry.createUser(id: "pat", name: "Pat", organisation: "acme", password: Array("correct horse".utf8), as: w.sys)
        let stored = try #require(try w.registry.user("pat")?.passwordHash)
        #expect(stored.hasPrefix("scrypt$15$8$1$"))
        #expect(!stored.contains("correct horse"))
        let pat = try w.registry.authenticate(.password(user: "pat", password: Array("correct horse".utf8)))
        #expect(pat.method == "password")
        #expect(throws: GovernanceError.self) { try w.registry.authenticate(.password(user: "pat", password: Array("correct horsf".utf8))) }
        let refused = try w.registry.audit.query(AuditQuery(user: "pat", action: "auth"))
        #expect(refused.count == 1 && refused[0].entry.outcome == .refused)
        // disabled accounts cannot act
        try w.registry.setUserStatus("pat", .disabled, as: w.sys)
        #expect(throws: GovernanceError.self) { try w.registry.authenticate(.password(user: "pat", password: Array("correct horse".utf8))) }
    }

    @Test func keyAuthenticationNeedsTheRegisteredKey() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        // mallory's key claiming to be boss
        #expect(throws: GovernanceError.self) { try w.registry.authenticate(.identity(user: "boss", try w.identity("mallory"))) }
        // a challenge signed elsewhere (as a token would) authenticates
        let ch = w.registry.challenge(for: "boss")
        let sig = try w.identity("boss").sign(ch)
        let boss = try w.registry.authenticate(.signedChallenge(user: "boss", challenge: ch, signature: sig))
        #expect(boss.id == "boss" && boss.method == "signature")
        // the same signature over another user's challenge does not
        #expect(throws: GovernanceError.self) {
            try w.registry.authenticate(.signedChallenge(user: "clerk", challenge: ch, signature: sig))
        }
        // with the organisation's CA registered as anchor, a CA-issued key still authenticates
        try w.registry.addTrustAnchor(organisation: "acme", certificateDER: try DetachedSignature.Certificate(pemOrDER: Array(Data(contentsOf: w.pki.caCert))).der, as: w.sys)
        _ = try w.registry.authenticate(.identity(user: "boss", try w.identity("boss")))
    }

    @Test func tokenStyleRawSignaturesAuthenticate() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let dir = try TestSupport.tempDir("gov-raw")
        let ch = w.registry.challenge(for: "clerk")
        try Data(ch).write(to: dir.appendingPathComponent("ch"))
        // what a PKCS#11 token returns for CKM_ECDSA_SHA256 (DER): made here with openssl dgst
        try TestPKI.openssl(["dgst", "-sha256", "-sign", w.pki.dir.appendingPathComponent("clerk.key").path, "-out", "sig", "ch"], cwd: dir)
        let sig = Array(try Data(contentsOf: dir.appendingPathComponent("sig")))
        let clerk = try w.registry.authenticate(.tokenSignedChallenge(user: "clerk", challenge: ch, signature: sig))
        #expect(clerk.method == "token")
        #expect(throws: GovernanceError.self) { try w.registry.authenticate(.tokenSignedChallenge(user: "boss", challenge: ch, signature: sig)) }
        var bad = sig; bad[bad.count - 1] ^= 1
        #expect(throws: GovernanceError.self) { try w.registry.authenticate(.tokenSignedChallenge(user: "clerk", challenge: ch, signature: bad)) }
        // RSA PKCS#1 v1.5 and PSS keys verify too
        try TestPKI.openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key", "-out", "rsa.crt", "-days", "2", "-subj", "/CN=rsa"], cwd: dir)
        let rsa = try DetachedSignature.Certificate(pemOrDER: Array(Data(contentsOf: dir.appendingPathComponent("rsa.crt"))))
        try TestPKI.openssl(["dgst", "-sha256", "-sign", "rsa.key", "-out", "rsa.sig", "ch"], cwd: dir)
        try TestPKI.openssl(["dgst", "-sha256", "-sign", "rsa.key", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-out", "pss.sig", "ch"], cwd: dir)
        #expect(DetachedSignature.verifyRaw(Array(try Data(contentsOf: dir.appendingPathComponent("rsa.sig"))), over: ch, certificate: rsa))
        #expect(DetachedSignature.verifyRaw(Array(try Data(contentsOf: dir.appendingPathComponent("pss.sig"))), over: ch, certificate: rsa))
        #expect(!DetachedSignature.verifyRaw(sig, over: ch, certificate: rsa))
    }

    /// Each role tries each registry action for real: allowed ones succeed, refused ones throw, name the
    /// missing right, and leave a `refused` audit record.
    @Test func everyRoleTriesEveryRegistryActionThroughTheRegistry() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let actors: [String: AuthenticatedUser] = ["root": w.root, "sys": w.sys, "sadmin": w.sadmin, "clerk": w.clerk, "boss": w.boss]
        let sealCert = try w.identity("sealcert").certificate.der
        var n = 0
        func attempt(_ name: String, _ allowed: Set<String>, _ body: (AuthenticatedUser) throws -> Void) throws {
            for (who, actor) in actors.sorted(by: { $0.key < $1.key }) {
                n += 1
                let before = try w.registry.audit.query(AuditQuery()).count
                do {
                    try body(actor)
                    #expect(allowed.contains(who), "\(who) was allowed to \(name)")
                } catch let e as GovernanceError {
                    #expect(!allowed.contains(who), "\(who) was refused \(name): \(e)")
                    #expect(e.code == .notAuthorised || e.code == .separationOfDuties, "\(who) \(name): \(e)")
                    #expect(e.missingRight != nil)
                    let last = try w.registry.audit.query(AuditQuery()).last
                    #expect(try w.registry.audit.query(AuditQuery()).count == before + 1)
                    #expect(last?.entry.outcome == .refused && last?.entry.actor == actor.id)
                }
            }
        }
        try attempt("create an organisation", ["root"]) { try w.registry.createOrganisation(id: "org-\($0.id)", name: "x", as: $0) }
        try attempt("create a user", ["root", "sys"]) {
            try w.registry.createUser(id: "u-\($0.id)", name: "x", organisation: "acme", certificateDER: try w.identity("boss2").certificate.der, as: $0)
        }
        try attempt("appoint a system admin", ["root"]) { try w.registry.grantRole(.systemAdmin, to: "u-root", in: "acme", as: $0) }
        try attempt("grant seal-user", ["sys"]) { try w.registry.grantRole(.sealUser, to: "u-sys", in: "acme", as: $0) }
        try attempt("register a seal", ["sadmin"]) {
            try w.registry.registerSeal(id: "seal-\($0.id)", name: "x", kind: .finance, organisation: "acme", certificateDER: sealCert,
                                        tokenURI: "pkcs11:token=t;object=seal", design: .round(RoundSeal(organisation: "x")), as: $0)
        }
        try attempt("grant a use right", ["sadmin"]) { try w.registry.grantSealRight(.use, on: "seal-sadmin", to: "u-sys", as: $0) }
        try attempt("suspend a seal", ["sadmin"]) { try w.registry.setSealStatus("seal-sadmin", .suspended, as: $0) }
        try attempt("disable a user", ["root", "sys"]) { try w.registry.setUserStatus("u-sys", .disabled, as: $0) }
        try attempt("read the organisation's audit log", ["sadmin"]) { _ = try w.registry.auditRecords(AuditQuery(user: $0.id == "clerk" ? "boss" : "clerk"), as: $0).count }
        let docs = World.documents(5)
        try attempt("approve a request", ["boss"]) { actor in
            _ = try w.book.approve(documents: [docs[0].doc], seal: World.sealID, purpose: "p", requester: "clerk",
                                   validUntil: w.now.addingTimeInterval(600), identity: try w.identity(actor.id), as: actor, at: w.now)
        }
        var toRevoke: [String] = []
        for _ in 0..<actors.count { toRevoke.append(try w.approve([docs[1].doc]).manifest.id) }
        try attempt("revoke an approval", ["boss", "sadmin"]) { actor in
            let id = toRevoke.removeFirst()
            try w.book.revoke(id, as: actor, at: w.now)
        }
        #expect(n == 55)
        // stamping: admission for each role (an approval lists the document; only the seal user may stamp)
        let signed = try w.approve([docs[2].doc])
        for (who, _) in actors.sorted(by: { $0.key < $1.key }) {
            do {
                _ = try w.book.admit(documentSHA256: docs[2].doc.sha256, seal: World.sealID, user: who, manifest: signed, job: "j-\(who)", at: w.now)
                #expect(who == "clerk", "\(who) was admitted to stamp")
            } catch {
                #expect(who != "clerk", "clerk was refused: \(error)")
                #expect(error.code == (who == "sadmin" || who == "sys" || who == "root" ? .separationOfDuties : .userNotAllowed), "\(who): \(error)")
            }
        }
    }

    @Test func grantsThatMergeDutiesAreRefusedAndAudited() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        // a seal admin cannot also become a seal user, nor get a use right
        #expect(throws: GovernanceError.self) { try w.registry.grantRole(.sealUser, to: "sadmin", in: "acme", as: w.sys) }
        #expect(throws: GovernanceError.self) { try w.registry.grantSealRight(.use, on: World.sealID, to: "sadmin", as: w.sadmin) }
        // a system admin cannot get seal rights
        #expect(throws: GovernanceError.self) { try w.registry.grantSealRight(.approve, on: World.sealID, to: "sys", as: w.sadmin) }
        // a use right needs the seal-user role
        #expect(throws: GovernanceError.self) { try w.registry.grantSealRight(.use, on: World.sealID, to: "boss2", as: w.sadmin) }
        let refused = try w.registry.audit.query(AuditQuery(action: "seal.grant")).filter { $0.entry.outcome == .refused }
        #expect(refused.count == 3)
        #expect(refused.allSatisfy { $0.entry.detail.contains("missing") })
    }

    @Test func revokedSealsStayRevoked() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        try w.registry.setSealStatus(World.sealID, .revoked, as: w.sadmin)
        #expect(throws: GovernanceError.self) { try w.registry.setSealStatus(World.sealID, .active, as: w.sadmin) }
        #expect(try w.registry.seal(World.sealID)?.status == .revoked)
    }

    /// `org anchor` / `org anchor remove` refuse a set of anchors under which the acting system administrator's
    /// own certificate would not be trusted (they could not log in with their key to undo it); both are audited.
    @Test func anchorChangesThatWouldLockOutTheActingAdminAreRefused() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let w = try World()
        let acme = try DetachedSignature.Certificate(pemOrDER: Array(try Data(contentsOf: w.pki.caCert)))
        let otherPKI = try TestPKI() // another CA, which did not issue sys's certificate
        let other = try DetachedSignature.Certificate(pemOrDER: Array(try Data(contentsOf: otherPKI.caCert)))
        // The first anchor being a CA that does not cover sys: refused, nothing stored, audited.
        do {
            try w.registry.addTrustAnchor(organisation: "acme", certificateDER: other.der, as: w.sys)
            Issue.record("an anchor set that locks sys out was accepted")
        } catch let e as GovernanceError {
            #expect(e.code == .invalidInput && e.detail.contains("lock you (sys) out"), "\(e)")
        }
        #expect(try w.registry.trustAnchors(organisation: "acme").isEmpty)
        let refusal = try w.registry.audit.query(AuditQuery(action: "user.manage")).last
        #expect(refusal?.entry.outcome == .refused && refusal?.entry.detail.contains("would lock sys out") == true, "\(String(describing: refusal))")
        // With the CA that issued sys's certificate first, the other CA may be added too.
        try w.registry.addTrustAnchor(organisation: "acme", certificateDER: acme.der, as: w.sys)
        try w.registry.addTrustAnchor(organisation: "acme", certificateDER: other.der, as: w.sys)
        #expect(try w.registry.trustAnchors(organisation: "acme").count == 2)
        // Removing the CA that covers sys while another remains: refused.
        #expect(throws: GovernanceError.self) { try w.registry.removeTrustAnchor(organisation: "acme", certificateDER: acme.der, as: w.sys) }
        // Removing the other one, then the last: allowed (no anchors: no chain check).
        try w.registry.removeTrustAnchor(organisation: "acme", certificateDER: other.der, as: w.sys)
        try w.registry.removeTrustAnchor(organisation: "acme", certificateDER: acme.der, as: w.sys)
        #expect(try w.registry.trustAnchors(organisation: "acme").isEmpty)
        #expect(throws: GovernanceError.self) { try w.registry.removeTrustAnchor(organisation: "acme", certificateDER: acme.der, as: w.sys) }
        let last = try w.registry.audit.query(AuditQuery(action: "user.manage")).last
        #expect(last?.entry.detail.contains("no anchors left") == true)
        // sys still logs in with the key.
        _ = try w.registry.authenticate(.identity(user: "sys", try w.pki.identity("sys")))
    }
}
