import Foundation
import TestSupport
import Testing
@testable import Token

@Suite("Signing through the token actor (SoftHSM2)", .serialized)
struct TokenSigningTests {
    @Test func rsaPKCS1SignatureVerifiesWithOpenSSL() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let (token, info) = try await Fixture.loggedIn(.rsa2048)
        #expect(token.keyAlgorithm == .rsa(bits: 2048))
        let msg = Array("contract 1".utf8)
        let sig = try await token.sign(msg, algorithm: .rsaPKCS1v15(.sha256))
        #expect(sig.count == 256)
        #expect(try Fixture.opensslVerifies(certificate: info.certificate, message: msg, signature: sig))
        #expect(try !Fixture.opensslVerifies(certificate: info.certificate, message: msg + [0], signature: sig))
        await token.close()
    }

    @Test func rsaPKCS1OverDigestInfoWhenTokenOnlyHasRawRSA() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let (token, info) = try await Fixture.loggedIn(.rsa2048)
        await token.limitMechanisms(to: [0x1])   // CKM_RSA_PKCS only
        #expect(try await token.plan(for: .rsaPKCS1v15(.sha256)).input == .digestInfo)
        let msg = Array("contract via DigestInfo".utf8)
        for h in HashAlgorithm.allCases {
            let sig = try await token.sign(msg, algorithm: .rsaPKCS1v15(h))
            #expect(try Fixture.opensslVerifies(certificate: info.certificate, message: msg, signature: sig, hash: h.rawValue))
        }
        await token.close()
    }

    @Test func rsaPSSSignatureVerifiesWithOpenSSLForEveryHash() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let (token, info) = try await Fixture.loggedIn(.rsa2048)
        let msg = Array("contract PSS".utf8)
        for h in HashAlgorithm.allCases {
            let sig = try await token.sign(msg, algorithm: .rsaPSS(h))
            #expect(try Fixture.opensslVerifies(certificate: info.certificate, message: msg, signature: sig, hash: h.rawValue, pss: true))
        }
        // The raw CKM_RSA_PKCS_PSS path (our hash) gives verifiable signatures too.
        await token.limitMechanisms(to: [0xD])
        let sig = try await token.sign(msg, algorithm: .rsaPSS(.sha256))
        #expect(try Fixture.opensslVerifies(certificate: info.certificate, message: msg, signature: sig, pss: true))
        await token.close()
    }

    @Test func ecdsaP256SignatureIsDERAndVerifiesWithOpenSSL() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let (token, info) = try await Fixture.loggedIn(.ecP256)
        #expect(token.keyAlgorithm == .ec(curve: .p256))
        let msg = Array("contract 2".utf8)
        let sig = try await token.sign(msg, algorithm: .ecdsa(.sha256))
        #expect(sig.first == 0x30)
        #expect(try Fixture.opensslVerifies(certificate: info.certificate, message: msg, signature: sig))
        #expect(token.verify(sig, message: msg, algorithm: .ecdsa(.sha256)))
        #expect(!token.verify(sig, message: msg + [1], algorithm: .ecdsa(.sha256)))
        await token.close()
    }

    @Test func ecdsaP384WithSHA384VerifiesWithOpenSSL() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let (token, info) = try await Fixture.loggedIn(.ecP384)
        #expect(token.keyAlgorithm == .ec(curve: .p384))
        #expect(token.keyAlgorithm.defaultSigningAlgorithm == .ecdsa(.sha384))
        let msg = Array("contract 384".utf8)
        let sig = try await token.sign(msg)
        #expect(try Fixture.opensslVerifies(certificate: info.certificate, message: msg, signature: sig, hash: "sha384"))
        await token.close()
    }

    @Test func ecdsaOnAnRSAKeyIsReportedAsUnsupported() async throws {
        let (token, _) = try await Fixture.loggedIn(.rsa2048)
        await #expect { try await token.sign([1, 2, 3], algorithm: .ecdsa(.sha256)) } throws: { e in
            (e as? TokenError)?.code == .mechanismUnsupported
        }
        await token.limitMechanisms(to: [])
        await #expect { try await token.sign([1, 2, 3], algorithm: .rsaPKCS1v15(.sha256)) } throws: { e in
            let t = e as? TokenError
            return t?.code == .mechanismUnsupported && (t?.message.contains("CKM_SHA256_RSA_PKCS") ?? false)
        }
        await token.close()
    }

    @Test func exposesCertificateAndDevCAChainFromTheToken() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let info = try Fixture.devToken(.ecP256)
        let token = try await SealToken.open(info.configuration)
        #expect(try DevToken.derFromPEM(info.certificate) == token.certificateDER)
        #expect(token.chainDER == [try DevToken.derFromPEM(info.intermediateCertificate), try DevToken.derFromPEM(info.caCertificate)])
        let v = try TestSupport.run("openssl", ["verify", "-CAfile", info.caCertificate.path, "-untrusted", info.intermediateCertificate.path, info.certificate.path])
        #expect(v.status == 0, "\(v.err)")
        let subj = try TestSupport.run("openssl", ["x509", "-in", info.certificate.path, "-noout", "-subject", "-issuer"]).out
        #expect(subj.contains("DEV-ONLY") && subj.contains("NOT FOR PRODUCTION"))
        await token.close()
    }

    @Test func selectsKeyByURIWithIdSerialAndSlotId() async throws {
        let info = try Fixture.devToken(.ecP256, label: "uri-test")
        let m = try PKCS11Module.load(path: info.modulePath, environment: info.configuration.moduleEnvironment)
        let (slot, tinfo) = try SealToken.findToken(module: m, uri: info.keyURI)
        var c = info.configuration
        c.key = try PKCS11URI("pkcs11:serial=\(tinfo.serial);slot-id=\(slot);id=%73%65%61%6C%2D%73%65%61%6C;type=private")
        let token = try await SealToken.open(c)
        try await token.login(pin: Fixture.pin)
        let sig = try await token.sign([9, 9, 9])
        #expect(token.verify(sig, message: [9, 9, 9], algorithm: .ecdsa(.sha256)))
        await token.close()

        var wrongToken = info.configuration
        wrongToken.key = try PKCS11URI("pkcs11:token=no-such-token;object=seal;type=private")
        await #expect { _ = try await SealToken.open(wrongToken) } throws: { e in
            let t = e as? TokenError
            return t?.code == .tokenNotFound && (t?.message.contains("uri-test") ?? false)
        }
        var wrongKey = info.configuration
        wrongKey.key = try PKCS11URI("pkcs11:token=uri-test;object=other;type=private")
        wrongKey.certificate = try PKCS11URI("pkcs11:token=uri-test;object=seal;type=cert")
        let t2 = try await SealToken.open(wrongKey)
        await #expect { try await t2.login(pin: Fixture.pin) } throws: { e in (e as? TokenError)?.code == .keyNotFound }
        await t2.close()
    }

    @Test(.timeLimit(.minutes(1)))
    func closingOneActorDoesNotLogOutAnotherOnTheSameToken() async throws {
        let info = try Fixture.devToken(.ecP256)
        let a = try await SealToken.open(info.configuration)
        try await a.login(pin: Fixture.pin)
        let b = try await SealToken.open(info.configuration)
        try await b.login(pin: Fixture.pin)
        await a.close()
        #expect(await a.presence == .closed)
        await #expect(throws: TokenError.self) { try await a.sign([5]) }
        let sig = try await b.sign([5])
        #expect(b.verify(sig, message: [5], algorithm: .ecdsa(.sha256)))
        #expect(await b.stats.removals == 0)
        await b.close()
    }

    @Test func hundredConcurrentSignRequestsThroughTheActorAllSucceed() async throws {
        let (token, _) = try await Fixture.loggedIn(.rsa2048)
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for i in 0..<100 {
                group.addTask { (i, try await token.sign(Array("document \(i)".utf8), algorithm: .rsaPKCS1v15(.sha256))) }
            }
            var out: [(Int, [UInt8])] = []
            for try await r in group { out.append(r) }
            return out
        }
        #expect(results.count == 100)
        for (i, sig) in results {
            #expect(token.verify(sig, message: Array("document \(i)".utf8), algorithm: .rsaPKCS1v15(.sha256)))
        }
        let stats = await token.stats
        #expect(stats.count == 100)
        #expect(stats.failures == 0)
        #expect(stats.totalMilliseconds > 0)
        await token.close()
    }

    @Test func alwaysAuthenticateKeySignsFiftyDocumentsInARow() async throws {
        let (token, _) = try await Fixture.loggedIn(.rsa2048, alwaysAuthenticate: true)
        #expect(await token.alwaysAuthenticate)
        for i in 0..<50 {
            let msg = Array("doc \(i)".utf8)
            let sig = try await token.sign(msg, algorithm: .rsaPKCS1v15(.sha256))
            #expect(token.verify(sig, message: msg, algorithm: .rsaPKCS1v15(.sha256)))
        }
        #expect(await token.stats.count == 50)
        // The module really demands the context-specific login: without it, C_Sign is refused.
        let m = token.module
        let (slot, _) = try SealToken.findToken(module: m, uri: token.configuration.key)
        let raw = try m.openSession(slot: slot)
        let key = try raw.findObjects([.ulong(0, 3), .string(3, "seal")]).first!
        try raw.signInit(mechanism: P11Mechanism(0x40), key: key)
        #expect(throws: TokenError.self) { try raw.signFinal([1, 2, 3]) }
        raw.close()
        await token.close()
    }

    @Test func devTokenIsReusedForTheSameLabelAndWritesAUsableConfiguration() async throws {
        let dir = try Fixture.tempDir("sealbatch-token")
        let a = try DevToken.create(in: dir, label: "reuse", keyType: .ecP256, pin: Fixture.pin)
        let b = try DevToken.create(in: dir, label: "reuse", keyType: .ecP256, pin: Fixture.pin)
        #expect(try DevToken.derFromPEM(a.certificate) == DevToken.derFromPEM(b.certificate))
        let conf = try TokenConfiguration.load(from: dir.appendingPathComponent("token.json"))
        #expect(conf == a.configuration)
        let token = try await SealToken.open(conf)
        try await token.login(pin: Fixture.pin)
        #expect(token.verify(try await token.sign([1]), message: [1], algorithm: .ecdsa(.sha256)))
        await token.close()
    }

    /// `token list --objects`: without a PIN, the seal's certificate names the key URI that opens the seal
    /// key, and CA certificates (no key on the token) name none.
    @Test func publicObjectsNameTheSealKeyURIWithoutALogin() async throws {
        let dir = try Fixture.tempDir("sealbatch-token-objects")
        let dev = try DevToken.create(in: dir, label: "objects", keyType: .ecP256, pin: Fixture.pin)
        let module = try PKCS11Module.load(path: dev.modulePath, environment: dev.configuration.moduleEnvironment)
        let slot = try #require(try module.slots().first { try module.tokenInfo($0).label == "objects" })
        let objects = try module.publicObjects(slot: slot)
        let sealCert = try #require(objects.first { $0.kind == .cert && $0.label == dev.keyURI.object })
        let key = try #require(sealCert.privateKeyURI, "the seal certificate names its key")
        #expect(key.token == "objects" && key.object == dev.keyURI.object && key.type == .private)
        #expect(objects.filter { $0.kind == .cert && $0 != sealCert }.allSatisfy { $0.privateKeyURI == nil }, "CA certificates name no key")
        #expect(objects.contains { $0.kind == .public && $0.keyType == "EC" })
        // The URI it prints opens the key that signs.
        var conf = dev.configuration
        conf.key = key
        let token = try await SealToken.open(conf)
        try await token.login(pin: Fixture.pin)
        #expect(token.verify(try await token.sign([2]), message: [2], algorithm: .ecdsa(.sha256)))
        await token.close()
    }
}
