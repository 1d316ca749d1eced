import Foundation
import Testing
import TestSupport
import Token
@testable import Signing

/// Adapter: the token actor as a Signing `SignatureKey` (Signing itself does not depend on Token;
/// the Stages module wires the real one the same way).
struct TokenSignatureKey: SignatureKey {
    let token: SealToken
    let certificateChainDER: [[UInt8]]
    let signatureAlgorithm: SignatureAlgorithm

    init(token: SealToken, chain: [[UInt8]]) throws {
        self.token = token
        self.certificateChainDER = [token.certificateDER] + chain
        switch token.keyAlgorithm {
        case .rsa: signatureAlgorithm = .rsaPKCS1SHA256
        case .ec(let curve): signatureAlgorithm = "\(curve)".contains("384") ? .ecdsaSHA384 : .ecdsaSHA256
        }
    }

    func sign(_ message: [UInt8]) async throws -> [UInt8] {
        switch signatureAlgorithm {
        case .rsaPKCS1SHA256: return try await token.sign(message, algorithm: .rsaPKCS1v15(.sha256))
        case .ecdsaSHA256: return try await token.sign(message, algorithm: .ecdsa(.sha256))
        case .ecdsaSHA384: return try await token.sign(message, algorithm: .ecdsa(.sha384))
        }
    }
}

@Suite("Sealing with the SoftHSM token")
struct TokenKeyTests {
    @Test(arguments: [DevToken.KeyType.rsa2048, .ecP256])
    func sealMadeOnTheTokenIsAcceptedByPyHankoAndPdfsig(_ keyType: DevToken.KeyType) async throws {
        guard try SealerTests.tools(), try TestSupport.haveTool("softhsm2-util"),
              FileManager.default.fileExists(atPath: DevToken.defaultModulePath) else { return }
        let dir = try TestSupport.tempDir("sealbatch-token")
        let info = try DevToken.create(in: dir, label: "sig-\(keyType.rawValue)", keyType: keyType, pin: PIN("123456"))
        let token = try await SealToken.open(info.configuration)
        try await token.login(pin: PIN("123456"))
        func der(_ u: URL) throws -> [[UInt8]] { OSSLCert.loadPEMs(try [UInt8](Data(contentsOf: u))).map(\.der) }
        let key = try TokenSignatureKey(token: token, chain: try der(info.intermediateCertificate) + der(info.caCertificate))
        let out = dir.appendingPathComponent("sealed.pdf")
        var o = SealerTests.options()
        o.name = "Token Seal"
        _ = try await PAdESSealer().seal(input: SealerTests.corpus("xrefstream-minimal-pyhanko.pdf"), output: out, key: key, options: o)
        let ph = try Validators.pyhanko([out], root: info.caCertificate)
        #expect(ph[out.path]?.allPass == true, "\(String(describing: ph[out.path]))")
        let ps = try Validators.pdfsig(out, nssDir: try Validators.nssDB(in: dir, root: info.caCertificate))
        #expect(ps.count == 1 && ps[0].valid && ps[0].trusted, "\(ps.map(\.raw))")
        var vo = Verifier.Options()
        vo.revocation = .off
        let report = await (try Verifier(trust: [info.caCertificate], options: vo)).verify(url: out)
        #expect(report.passed, "\(report.signatures.map(\.summary))")
    }
}
