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

    @Test func ecdsaP256SignatureIsDERAndVerifiesWithOpenSSL() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let (token, info) = try await Fixture.loggedIn(.ecP256)
        #expect(token.keyAlgorithm == .ec(curve: .p256))
        let msg = Array("contract 2".utf8)
        let sig = try await token.sign(msg, algorithm: .ecdsa(.sha256))
        #expect(sig.first == 0x30)
        #expect(try Fixture.opensslVerifies(certificate: info.certificate, message: msg, signature: sig))
        await token.close()
    }
}
