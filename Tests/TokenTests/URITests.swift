import Foundation
import Testing
@testable import Token

@Suite("RFC 7512 PKCS#11 URIs and token configuration")
struct URITests {
    @Test func parsesPathAttributesWithPercentEncoding() throws {
        let u = try PKCS11URI("pkcs11:token=My%20Seal;manufacturer=SoftHSM%20project;serial=abc123;object=seal%2Dkey;type=private;id=%01%02%ff;slot-id=7")
        #expect(u.token == "My Seal")
        #expect(u.manufacturer == "SoftHSM project")
        #expect(u.serial == "abc123")
        #expect(u.object == "seal-key")
        #expect(u.type == .private)
        #expect(u.id == [1, 2, 255])
        #expect(u.slotID == 7)
    }

    @Test func roundTripsThroughItsTextForm() throws {
        let u = try PKCS11URI("pkcs11:token=Seal%3BOffice;object=k;id=%AB;type=private?module-path=/usr/lib/x.so")
        let again = try PKCS11URI(u.description)
        #expect(again == u)
        #expect(u.modulePath == "/usr/lib/x.so")
        #expect(u.token == "Seal;Office")
    }

    @Test func rejectsPINValueInTheURI() {
        #expect { try PKCS11URI("pkcs11:token=a;object=b?pin-value=1234") } throws: { e in
            let t = e as? TokenError
            return t?.code == .invalidURI && !(t?.description.contains("1234") ?? true)
        }
    }

    @Test func rejectsNonPKCS11SchemeAndBadEncoding() {
        #expect(throws: TokenError.self) { try PKCS11URI("file:///etc/passwd") }
        #expect(throws: TokenError.self) { try PKCS11URI("pkcs11:token=%zz") }
        #expect(throws: TokenError.self) { try PKCS11URI("pkcs11:slot-id=abc") }
        #expect(throws: TokenError.self) { try PKCS11URI("pkcs11:type=key") }
        #expect(throws: TokenError.self) { try PKCS11URI("pkcs11:frobnicate=1") }
    }

    @Test func ignoresVendorAttributes() throws {
        let u = try PKCS11URI("pkcs11:token=a;x-vendor=z;object=b")
        #expect(u.token == "a" && u.object == "b")
    }

    @Test func configurationRejectsUnknownKeysAndNamesThePath() throws {
        let json = #"{"module": "/usr/lib/softhsm/libsofthsm2.so", "key": "pkcs11:token=a;object=b", "modul-path": "x"}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(TokenConfiguration.self, from: Data(json.utf8)) }
        let bad = #"{"module": "/x.so", "key": "pkcs11:token=a;object=b?pin-value=735194"}"#
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString).json")
        try Data(bad.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect { try TokenConfiguration.load(from: url) } throws: { e in
            let t = e as? TokenError
            return t?.code == .invalidConfiguration && (t?.message.contains("key") ?? false) && !(t?.description.contains("735194") ?? true)
        }
    }

    @Test func configurationDecodesKebabCaseAndValidates() throws {
        let json = #"{"module": "/usr/lib/softhsm/libsofthsm2.so", "key": "pkcs11:token=a;object=b;type=private", "presence-reader": "Virtual PCD 00 00", "allow-final-try": true, "module-environment": {"SOFTHSM2_CONF": "/tmp/x"}}"#
        let c = try JSONDecoder().decode(TokenConfiguration.self, from: Data(json.utf8))
        #expect(c.presenceReader == "Virtual PCD 00 00")
        #expect(c.allowFinalTry)
        #expect(c.moduleEnvironment["SOFTHSM2_CONF"] == "/tmp/x")
        var d = c; d.key = try PKCS11URI("pkcs11:token=a;type=cert")
        #expect(throws: TokenError.self) { try d.validate() }
    }

    @Test func mechanismChoiceFallsBackAndReportsWhenNothingFits() throws {
        let p = try SigningPlan.choose(.rsaPKCS1v15(.sha256), key: .rsa(bits: 2048), available: [0x1])
        #expect(p.mechanism.type == 0x1 && p.input == .digestInfo)
        let q = try SigningPlan.choose(.rsaPKCS1v15(.sha384), key: .rsa(bits: 2048), available: [0x1, 0x41])
        #expect(q.mechanism.type == 0x41 && q.input == .message)
        let e = try SigningPlan.choose(.ecdsa(.sha256), key: .ec(curve: .p256), available: [0x1041, 0x1044])
        #expect(e.mechanism.type == 0x1041 && e.input == .hash)
        #expect { try SigningPlan.choose(.rsaPSS(.sha256), key: .rsa(bits: 2048), available: [0x1, 0x40]) } throws: { err in
            let t = err as? TokenError
            return t?.code == .mechanismUnsupported && (t?.message.contains("CKM_RSA_PKCS_PSS") ?? false)
        }
        #expect(throws: TokenError.self) { try SigningPlan.choose(.ecdsa(.sha256), key: .rsa(bits: 2048), available: [0x1041]) }
    }

    @Test func ecdsaRawSignatureBecomesDERWithMinimalIntegers() throws {
        var raw = [UInt8](repeating: 0, count: 64)
        raw[0] = 0x80; raw[31] = 1   // r has the high bit set → leading 0x00
        raw[32] = 0; raw[33] = 0; raw[34] = 0x11; raw[63] = 5 // s has leading zeros → stripped
        let der = try DER.ecdsaSignature(rawRS: raw)
        #expect(der[0] == 0x30)
        #expect(der[2] == 0x02 && der[3] == 33 && der[4] == 0x00 && der[5] == 0x80)
        let sOff = 4 + 33
        #expect(der[sOff] == 0x02)
        #expect(der[sOff + 1] == 30)
    }

    @Test func randomAndMutatedInputNeverCrashesTheParsers() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("pkcs11:;=?&%0123456789abcdefABCDEF-_.~token object type id slot-id serial".utf8)
        var parsed = 0
        for _ in 0..<5000 {
            let n = Int.random(in: 0..<80, using: &rng)
            let bytes = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
            if (try? PKCS11URI("pkcs11:" + String(decoding: bytes, as: UTF8.self))) != nil { parsed += 1 }
        }
        #expect(parsed > 0)
        // Truncated and bit-flipped certificates / keys: errors, never traps.
        let cert: [UInt8] = DER.sequence(DER.sequence([0xa0, 0x03, 0x02, 0x01, 0x02], DER.integer([1]), DER.sequence(), DER.sequence(), DER.sequence(), DER.sequence(),
                                                      DER.rsaSPKI(modulus: [0xc1] + [UInt8](repeating: 7, count: 255), exponent: [1, 0, 1])))
        #expect(try SealToken.keyAlgorithm(spki: DER.certificateParts(cert).spki) == .rsa(bits: 2048))
        for _ in 0..<5000 {
            var m = cert
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: m = Array(m.prefix(Int.random(in: 0..<m.count, using: &rng)))
            case 1: let i = Int.random(in: 0..<m.count, using: &rng); m[i] ^= UInt8.random(in: 1...255, using: &rng)
            default: m = (0..<Int.random(in: 0..<64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            if let parts = try? DER.certificateParts(m) { _ = try? SealToken.keyAlgorithm(spki: parts.spki) }
            _ = try? DER.ecdsaSignature(rawRS: m)
        }
    }
}
