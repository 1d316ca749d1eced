import Foundation
import Signing
import Testing
import TestSupport

@Suite struct DetachedSignatureTests {
    @Test func signsAndVerifiesDetachedCMSAndOpenSSLAgrees() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.shared()
        let id = try pki.identity("boss")
        let data = Array("approve three contracts".utf8)
        let sig = try id.sign(data)
        let v = try DetachedSignature.verify(sig, over: data)
        #expect(v.signer == id.certificate)
        #expect(v.certificates.count == 2) // signer + CA from the .p12
        // an independent verifier: openssl cms -verify with the CA as trust anchor
        let dir = try TestSupport.tempDir("gov-cms")
        try Data(sig).write(to: dir.appendingPathComponent("s.der"))
        try Data(data).write(to: dir.appendingPathComponent("d.bin"))
        let r = try TestSupport.run("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", "s.der", "-content", "d.bin",
                                                "-CAfile", pki.caCert.path, "-purpose", "any", "-out", "/dev/null"], cwd: dir)
        #expect(r.status == 0, "\(r.err)")
        // altered data
        #expect(throws: DetachedSignature.Error.self) { try DetachedSignature.verify(sig, over: data + [0x20]) }
        // altered signature
        var bad = sig
        bad[bad.count - 5] ^= 0xff
        #expect(throws: DetachedSignature.Error.self) { try DetachedSignature.verify(bad, over: data) }
        #expect(throws: DetachedSignature.Error.self) { try DetachedSignature.verify([1, 2, 3], over: data) }
    }

    @Test func readsCertificateBasicsLikeOpenSSL() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.shared()
        let crt = pki.dir.appendingPathComponent("clerk.crt")
        let c = try DetachedSignature.Certificate(pemOrDER: Array(Data(contentsOf: crt)))
        #expect(c.commonName == "clerk")
        #expect(c.subject.contains("CN=clerk"))
        #expect(c.issuer.contains("CN=ACME Test Users CA"))
        let fp = try TestSupport.run("openssl", ["x509", "-in", crt.path, "-noout", "-fingerprint", "-sha256", "-serial"]).out
        #expect(fp.lowercased().replacingOccurrences(of: ":", with: "").contains(c.sha256Fingerprint))
        #expect(fp.contains("serial=\(c.serialHex)"))
        #expect(c.notAfter.timeIntervalSince(c.notBefore) > 364 * 86400)
        #expect(!c.publicKeyDER.isEmpty)
    }

    @Test func verifiesChainsAtAGivenTime() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.shared()
        let ca = try DetachedSignature.Certificate(pemOrDER: Array(Data(contentsOf: pki.caCert)))
        let leaf = try pki.identity("clerk").certificate
        try DetachedSignature.verifyChain(leaf: leaf, intermediates: [], anchors: [ca], at: Date().addingTimeInterval(60))
        // after expiry
        #expect(throws: DetachedSignature.Error.self) {
            try DetachedSignature.verifyChain(leaf: leaf, intermediates: [], anchors: [ca], at: Date().addingTimeInterval(400 * 86400))
        }
        // a self-signed key does not chain to the CA
        let mallory = try pki.identity("mallory").certificate
        #expect(throws: DetachedSignature.Error.self) {
            try DetachedSignature.verifyChain(leaf: mallory, intermediates: [], anchors: [ca], at: Date())
        }
    }

    @Test func refusesWrongPKCS12Password() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.shared()
        let data = Array(try Data(contentsOf: pki.dir.appendingPathComponent("boss.p12")))
        do {
            _ = try DetachedSignature.Identity.pkcs12(data, password: Array("wrong".utf8))
            Issue.record("wrong password accepted")
        } catch {
            #expect(error.code == .wrongPassword)
            #expect(!error.detail.contains("wrong\u{0}"))
        }
        #expect(throws: DetachedSignature.Error.self) { try DetachedSignature.Identity.pkcs12([0x30, 0x03, 1, 2, 3], password: []) }
    }

    @Test func scryptHashesVerifyOnlyTheRightPassword() throws {
        let cheap = DetachedSignature.PasswordHash.Cost(logN: 10, r: 8, p: 1)
        let h = try DetachedSignature.PasswordHash.hash(Array("s3cret-pass".utf8), cost: cheap)
        #expect(DetachedSignature.PasswordHash.verify(Array("s3cret-pass".utf8), encoded: h))
        #expect(!DetachedSignature.PasswordHash.verify(Array("s3cret-pasS".utf8), encoded: h))
        #expect(!DetachedSignature.PasswordHash.verify(Array("s3cret-pass".utf8), encoded: "scrypt$10$8$1$AAAA$"))
        #expect(!DetachedSignature.PasswordHash.verify([], encoded: "garbage"))
        // same password, different salt, different hash
        #expect(try DetachedSignature.PasswordHash.hash(Array("s3cret-pass".utf8), cost: cheap) != h)
    }

    @Test func selfSignedAuditKeyRoundTripsThroughPEM() throws {
        let id = try DetachedSignature.Identity.selfSigned(commonName: "sealbatch audit 审计")
        #expect(id.certificate.commonName == "sealbatch audit 审计")
        let again = try DetachedSignature.Identity.pem(key: try id.privateKeyPEM(), certificate: Array(id.certificate.pem.utf8))
        let sig = try again.sign([1, 2, 3])
        #expect(try DetachedSignature.verify(sig, over: [1, 2, 3]).signer == id.certificate)
    }
}
