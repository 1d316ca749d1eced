import Foundation
import Testing
@testable import PDF

private func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
private func unhex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []; var it = s.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

@Suite struct CryptoTests {
    @Test func hashesMatchStandardTestVectors() {
        let abc = Array("abc".utf8)
        #expect(hex(MD5.hash(abc)) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex(SHA256.hash(abc)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA512.hash(abc, is384: true)) == "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")
        #expect(hex(SHA512.hash(abc)).hasPrefix("ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"))
        // Streaming in odd chunks gives the same digest as one call.
        let big = (0..<100_003).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var h = SHA256()
        var i = 0
        while i < big.count { let n = min(777, big.count - i); h.update(Array(big[i..<(i + n)])); i += n }
        #expect(h.finalize() == SHA256.hash(big))
    }

    @Test func aesMatchesFIPS197() {
        let key = unhex("000102030405060708090a0b0c0d0e0f")
        var block = unhex("00112233445566778899aabbccddeeff")
        let c = AESCipher(key: key)!
        c.encryptBlock(&block)
        #expect(hex(block) == "69c4e0d86a7b0430d8cdb78070b4c55a")
        c.decryptBlock(&block)
        #expect(hex(block) == "00112233445566778899aabbccddeeff")
        let c256 = AESCipher(key: unhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"))!
        var b2 = unhex("00112233445566778899aabbccddeeff")
        c256.encryptBlock(&b2)
        #expect(hex(b2) == "8ea2b7ca516745bfeafc49904b496089")
    }

    @Test func rc4MatchesKnownVector() {
        #expect(hex(RC4.apply(key: Array("Key".utf8), Array("Plaintext".utf8))) == "bbf316e8d940af0ad3")
    }
}
