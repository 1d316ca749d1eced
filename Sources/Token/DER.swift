/// Minimal DER reading and writing for the few structures the token layer touches
/// (SubjectPublicKeyInfo, ECDSA-Sig-Value, certificate subject/issuer/serial).
enum DER {
    struct Node {
        let tag: UInt8
        let header: Int
        let content: ArraySlice<UInt8>
        let all: ArraySlice<UInt8>
    }

    /// Reads one TLV at the start of `bytes`.
    static func read(_ bytes: ArraySlice<UInt8>) throws -> (Node, rest: ArraySlice<UInt8>) {
        var i = bytes.startIndex
        guard i < bytes.endIndex else { throw TokenError(.pkcs11Failed, "truncated DER") }
        let tag = bytes[i]; i += 1
        guard i < bytes.endIndex else { throw TokenError(.pkcs11Failed, "truncated DER") }
        var len = Int(bytes[i]); i += 1
        if len & 0x80 != 0 {
            let n = len & 0x7f
            guard n >= 1, n <= 4, i + n <= bytes.endIndex else { throw TokenError(.pkcs11Failed, "bad DER length") }
            len = 0
            for _ in 0..<n { len = len << 8 | Int(bytes[i]); i += 1 }
        }
        guard len >= 0, i + len <= bytes.endIndex else { throw TokenError(.pkcs11Failed, "DER length beyond end") }
        let header = i - bytes.startIndex
        return (Node(tag: tag, header: header, content: bytes[i..<(i + len)], all: bytes[bytes.startIndex..<(i + len)]), bytes[(i + len)...])
    }

    /// All children of a constructed node's content.
    static func children(_ content: ArraySlice<UInt8>) throws -> [Node] {
        var out: [Node] = []
        var rest = content
        while !rest.isEmpty { let (n, r) = try read(rest); out.append(n); rest = r }
        return out
    }

    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var b: [UInt8] = []
        var v = n
        while v > 0 { b.insert(UInt8(v & 0xff), at: 0); v >>= 8 }
        return [0x80 | UInt8(b.count)] + b
    }

    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }
    static func sequence(_ parts: [UInt8]...) -> [UInt8] { tlv(0x30, parts.flatMap { $0 }) }

    /// A positive INTEGER from unsigned big-endian bytes.
    static func integer(_ unsigned: ArraySlice<UInt8>) -> [UInt8] {
        var v = Array(unsigned.drop(while: { $0 == 0 }))
        if v.isEmpty { v = [0] }
        if v[0] & 0x80 != 0 { v.insert(0, at: 0) }
        return tlv(0x02, v)
    }

    /// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3) from raw r‖s.
    static func ecdsaSignature(rawRS: [UInt8]) throws -> [UInt8] {
        guard rawRS.count % 2 == 0, !rawRS.isEmpty else { throw TokenError(.pkcs11Failed, "the token returned an ECDSA signature of odd length \(rawRS.count)") }
        let half = rawRS.count / 2
        return sequence(integer(rawRS[0..<half]), integer(rawRS[half...]))
    }

    /// SubjectPublicKeyInfo for an RSA key (RFC 8017 A.1.1, RFC 5280 §4.1).
    static func rsaSPKI(modulus: [UInt8], exponent: [UInt8]) -> [UInt8] {
        let algId = sequence([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01], [0x05, 0x00])
        let key = sequence(integer(modulus[...]), integer(exponent[...]))
        return sequence(algId, tlv(0x03, [0] + key))
    }

    /// SubjectPublicKeyInfo for an EC key (RFC 5480 §2).
    static func ecSPKI(curveOID: [UInt8], point: [UInt8]) -> [UInt8] {
        let algId = sequence([0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01], curveOID)
        return sequence(algId, tlv(0x03, [0] + point))
    }

    /// (serial INTEGER DER, issuer Name DER, subject Name DER, SPKI DER) of an X.509 certificate.
    static func certificateParts(_ cert: [UInt8]) throws -> (serial: [UInt8], issuer: [UInt8], subject: [UInt8], spki: [UInt8]) {
        let (c, _) = try read(cert[...])
        let top = try children(c.content)
        guard top.count >= 1 else { throw TokenError(.pkcs11Failed, "not a certificate") }
        var tbs = try children(top[0].content)
        if tbs.first?.tag == 0xa0 { tbs.removeFirst() }
        guard tbs.count >= 6 else { throw TokenError(.pkcs11Failed, "certificate too short") }
        return (Array(tbs[0].all), Array(tbs[2].all), Array(tbs[4].all), Array(tbs[5].all))
    }
}

