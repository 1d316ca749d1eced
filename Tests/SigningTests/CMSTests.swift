import Foundation
import Testing
import TestSupport
@testable import Signing

@Suite("CMS, time-stamps and revocation")
struct CMSTests {
    @Test func softwareKeyLoadsFromPEMAndPKCS12() throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.get()
        let pem = try pki.key()
        let p12 = try SoftwareKey(pkcs12: pki.url("leaf.p12"), password: "test")
        #expect(pem.signatureAlgorithm == .rsaPKCS1SHA256)
        #expect(p12.certificateChainDER.first == pem.certificateChainDER.first)
        #expect(p12.certificateChainDER.count == 3)
        #expect(throws: SigningError.self) { try SoftwareKey(pkcs12: pki.url("leaf.p12"), password: "wrong") }
    }

    @Test func cadesSignedDataHasBaselineAttributesAndNoSigningTime() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.get()
        for name in ["leaf", "leaf-ec"] {
            let key = try pki.key(name)
            let digest = sha256(Array("hello".utf8))
            let built = try await CAdESBuilder.build(contentDigest: digest, key: key)
            let cms = try #require(CMSSignature(der: built.der))
            #expect(cms.messageDigest == digest)
            #expect(cms.signingTime == nil)
            #expect(cms.hasSigningCertificateV2)
            #expect(cms.hasAlgorithmProtection)
            #expect(cms.signatureIsValid())
            #expect(cms.essCertificateMatches() == true)
            #expect(cms.certificates.count == 3)
            // parsed without its certificates (which come from the shared cache), it reads the same as whole
            let split = try #require(CMSSignature.splitCertificates(built.der))
            #expect(split.certificates == cms.certificates.map(\.der))
            #expect(split.stripped.count < built.der.count - split.certificates.reduce(0) { $0 + $1.count } + 16)
            #expect(CMSSignature.splitCertificates(split.stripped) == nil) // nothing left to split
            #expect(CMSSignature.splitCertificates(Array(built.der.prefix(built.der.count / 2))) == nil) // truncated
            let again = try #require(CMSSignature(der: built.der + [UInt8](repeating: 0, count: 64))) // /Contents padding
            #expect(again.signatureIsValid() && again.signer?.der == cms.signer?.der && again.signatureValue == cms.signatureValue)
            // openssl itself agrees (detached content, full path to the test root).
            let dir = try TestSupport.tempDir()
            try Data(built.der).write(to: dir.appendingPathComponent("s.der"))
            try Data("hello".utf8).write(to: dir.appendingPathComponent("c"))
            let r = try TestSupport.run("openssl", ["cms", "-verify", "-inform", "DER", "-in", dir.appendingPathComponent("s.der").path,
                                                    "-content", dir.appendingPathComponent("c").path, "-binary", "-CAfile", pki.root.path,
                                                    "-purpose", "any", "-out", "/dev/null"])
            #expect(r.status == 0, "\(r.err)")
        }
    }

    @Test func timeStampIsCheckedAndEmbedded() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.get()
        let client = TimeStampClient(urls: [URL(string: pki.base + "/tsa-refuse")!, pki.tsaURL])
        let built = try await CAdESBuilder.build(contentDigest: sha256([1, 2, 3]), key: try pki.key()) { sig in
            try await client.timestamp(sha256Digest: sig).der
        }
        let cms = try #require(CMSSignature(der: built.der))
        let tst = try #require(cms.timeStampToken.flatMap { TimeStampInfo(der: $0) })
        #expect(tst.signatureValid)
        #expect(tst.covers(cms.signatureValue))
        #expect(abs(tst.time.timeIntervalSinceNow) < 300)
    }

    @Test func timeStampForAnotherDigestIsRejectedAndAllFailuresAreListed() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.get()
        let client = TimeStampClient(urls: [URL(string: pki.base + "/tsa-wrong")!, URL(string: pki.base + "/tsa-refuse")!], timeout: 5)
        do {
            _ = try await client.timestamp(sha256Digest: sha256([9]))
            Issue.record("expected tsaUnavailable")
        } catch let e as SigningError {
            #expect(e.code == .tsaUnavailable)
            #expect(e.message.contains("tsa-wrong") && e.message.contains("different digest"))
            #expect(e.message.contains("tsa-refuse"))
        }
    }

    @Test func revocationDataIsFetchedOnceAndShowsRevokedLeaf() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let pki = try TestPKI.get()
        let cache = RevocationCache()
        let good = try pki.key("leaf").certificateChainDER
        let bad = try pki.key("leaf-revoked").certificateChainDER
        let d1 = try await cache.collect(chainDER: good)
        let before = await cache.fetchCount
        _ = try await cache.collect(chainDER: good)
        #expect(await cache.fetchCount == before, "second collection must come from the cache")
        #expect(!d1.ocspResponses.isEmpty && d1.crls.count == 2)
        let d2 = try await cache.collect(chainDER: bad)
        let leaf = try #require(OSSLCert(der: bad[0])), inter = try #require(OSSLCert(der: bad[1])), root = try #require(OSSLCert(der: bad[2]))
        let crls = d2.crls.compactMap { OSSLCRL(der: $0) }
        if case .revoked(let src, _) = revocationStatus(cert: leaf, issuer: inter, crls: crls, ocsps: d2.ocspResponses, anchors: [root]) {
            #expect(src == "OCSP")
        } else { Issue.record("revoked leaf not reported revoked by OCSP") }
        if case .revoked(let src, _) = revocationStatus(cert: leaf, issuer: inter, crls: crls, ocsps: [], anchors: [root]) {
            #expect(src == "CRL")
        } else { Issue.record("revoked leaf not reported revoked by CRL") }
        if case .good = revocationStatus(cert: inter, issuer: root, crls: crls, ocsps: [], anchors: [root]) {} else {
            Issue.record("intermediate should be good by the root CRL")
        }
    }
}
