import Foundation

/// AES-128/256 (FIPS 197) block cipher with CBC, for reading AES-encrypted PDFs and for the
/// revision-6 password hash (§7.6.4.3.4). Not constant-time; never used for new secrets.
struct AESCipher {
    private static let sbox: [UInt8] = {
        var s = [UInt8](repeating: 0, count: 256)
        var p: UInt8 = 1, q: UInt8 = 1
        repeat {
            p = p ^ (p << 1) ^ ((p & 0x80) != 0 ? 0x1B : 0)
            q ^= q << 1; q ^= q << 2; q ^= q << 4
            if (q & 0x80) != 0 { q ^= 0x09 }
            let x = q ^ rotl(q, 1) ^ rotl(q, 2) ^ rotl(q, 3) ^ rotl(q, 4)
            s[Int(p)] = x ^ 0x63
        } while p != 1
        s[0] = 0x63
        return s
    }()
    private static let inv: [UInt8] = {
        var i = [UInt8](repeating: 0, count: 256)
        for (k, v) in sbox.enumerated() { i[Int(v)] = UInt8(k) }
        return i
    }()
    private static func rotl(_ x: UInt8, _ n: UInt8) -> UInt8 { (x << n) | (x >> (8 - n)) }
    @inline(__always) private static func xtime(_ x: UInt8) -> UInt8 { (x << 1) ^ ((x & 0x80) != 0 ? 0x1B : 0) }
    @inline(__always) private static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a, b = b, r: UInt8 = 0
        while b != 0 { if b & 1 != 0 { r ^= a }; a = xtime(a); b >>= 1 }
        return r
    }

    // T-tables (FIPS 197 §5.2 "implementation suggestions"): one lookup per byte per round.
    private static let te: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 256)
        for i in 0..<256 {
            let s = sbox[i]
            let s2 = xtime(s), s3 = s2 ^ s
            t[i] = UInt32(s2) << 24 | UInt32(s) << 16 | UInt32(s) << 8 | UInt32(s3)
        }
        return t
    }()
    private static let td: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 256)
        for i in 0..<256 {
            let s = inv[i]
            t[i] = UInt32(mul(s, 14)) << 24 | UInt32(mul(s, 9)) << 16 | UInt32(mul(s, 13)) << 8 | UInt32(mul(s, 11))
        }
        return t
    }()
    @inline(__always) private static func ror(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }

    private let rounds: Int
    private var ek: [UInt32] = [] // encryption round keys, 4 * (rounds + 1) big-endian words
    private var dk: [UInt32] = [] // decryption round keys (equivalent inverse cipher)

    init?(key: [UInt8]) {
        guard key.count == 16 || key.count == 24 || key.count == 32 else { return nil }
        let nk = key.count / 4
        rounds = nk + 6
        var w = key
        var rcon: UInt8 = 1
        var i = nk
        while i < 4 * (rounds + 1) {
            var t = Array(w[(4 * (i - 1))..<(4 * i)])
            if i % nk == 0 {
                t = [Self.sbox[Int(t[1])] ^ rcon, Self.sbox[Int(t[2])], Self.sbox[Int(t[3])], Self.sbox[Int(t[0])]]
                rcon = Self.xtime(rcon)
            } else if nk > 6 && i % nk == 4 {
                t = t.map { Self.sbox[Int($0)] }
            }
            for k in 0..<4 { w.append(w[4 * (i - nk) + k] ^ t[k]) }
            i += 1
        }
        ek = (0..<(4 * (rounds + 1))).map { j in UInt32(w[4 * j]) << 24 | UInt32(w[4 * j + 1]) << 16 | UInt32(w[4 * j + 2]) << 8 | UInt32(w[4 * j + 3]) }
        // Decryption keys: reversed round order, InvMixColumns applied to the middle rounds.
        dk = []
        for r in stride(from: rounds, through: 0, by: -1) {
            for c in 0..<4 {
                let v = ek[4 * r + c]
                if r == 0 || r == rounds { dk.append(v); continue }
                let b0 = Int(v >> 24), b1 = Int((v >> 16) & 0xFF), b2 = Int((v >> 8) & 0xFF), b3 = Int(v & 0xFF)
                let s0 = Self.sbox[b0], s1 = Self.sbox[b1], s2 = Self.sbox[b2], s3 = Self.sbox[b3]
                dk.append(Self.td[Int(s0)] ^ Self.ror(Self.td[Int(s1)], 8) ^ Self.ror(Self.td[Int(s2)], 16) ^ Self.ror(Self.td[Int(s3)], 24))
            }
        }
    }

    @inline(__always) private static func load(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
    }
    @inline(__always) private static func store(_ v: UInt32, _ b: inout [UInt8], _ o: Int) {
        b[o] = UInt8(v >> 24); b[o + 1] = UInt8((v >> 16) & 0xFF); b[o + 2] = UInt8((v >> 8) & 0xFF); b[o + 3] = UInt8(v & 0xFF)
    }

    func encryptBlock(_ b: inout [UInt8]) {
        let te = Self.te, sb = Self.sbox
        var s0 = Self.load(b, 0) ^ ek[0], s1 = Self.load(b, 4) ^ ek[1], s2 = Self.load(b, 8) ^ ek[2], s3 = Self.load(b, 12) ^ ek[3]
        for r in 1..<rounds {
            let t0 = te[Int(s0 >> 24)] ^ Self.ror(te[Int((s1 >> 16) & 0xFF)], 8) ^ Self.ror(te[Int((s2 >> 8) & 0xFF)], 16) ^ Self.ror(te[Int(s3 & 0xFF)], 24) ^ ek[4 * r]
            let t1 = te[Int(s1 >> 24)] ^ Self.ror(te[Int((s2 >> 16) & 0xFF)], 8) ^ Self.ror(te[Int((s3 >> 8) & 0xFF)], 16) ^ Self.ror(te[Int(s0 & 0xFF)], 24) ^ ek[4 * r + 1]
            let t2 = te[Int(s2 >> 24)] ^ Self.ror(te[Int((s3 >> 16) & 0xFF)], 8) ^ Self.ror(te[Int((s0 >> 8) & 0xFF)], 16) ^ Self.ror(te[Int(s1 & 0xFF)], 24) ^ ek[4 * r + 2]
            let t3 = te[Int(s3 >> 24)] ^ Self.ror(te[Int((s0 >> 16) & 0xFF)], 8) ^ Self.ror(te[Int((s1 >> 8) & 0xFF)], 16) ^ Self.ror(te[Int(s2 & 0xFF)], 24) ^ ek[4 * r + 3]
            s0 = t0; s1 = t1; s2 = t2; s3 = t3
        }
        let k = 4 * rounds
        @inline(__always) func last(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> UInt32 {
            UInt32(sb[Int(a >> 24)]) << 24 | UInt32(sb[Int((b >> 16) & 0xFF)]) << 16 | UInt32(sb[Int((c >> 8) & 0xFF)]) << 8 | UInt32(sb[Int(d & 0xFF)])
        }
        Self.store(last(s0, s1, s2, s3) ^ ek[k], &b, 0)
        Self.store(last(s1, s2, s3, s0) ^ ek[k + 1], &b, 4)
        Self.store(last(s2, s3, s0, s1) ^ ek[k + 2], &b, 8)
        Self.store(last(s3, s0, s1, s2) ^ ek[k + 3], &b, 12)
    }

    func decryptBlock(_ b: inout [UInt8]) {
        let td = Self.td, ib = Self.inv
        var s0 = Self.load(b, 0) ^ dk[0], s1 = Self.load(b, 4) ^ dk[1], s2 = Self.load(b, 8) ^ dk[2], s3 = Self.load(b, 12) ^ dk[3]
        for r in 1..<rounds {
            let t0 = td[Int(s0 >> 24)] ^ Self.ror(td[Int((s3 >> 16) & 0xFF)], 8) ^ Self.ror(td[Int((s2 >> 8) & 0xFF)], 16) ^ Self.ror(td[Int(s1 & 0xFF)], 24) ^ dk[4 * r]
            let t1 = td[Int(s1 >> 24)] ^ Self.ror(td[Int((s0 >> 16) & 0xFF)], 8) ^ Self.ror(td[Int((s3 >> 8) & 0xFF)], 16) ^ Self.ror(td[Int(s2 & 0xFF)], 24) ^ dk[4 * r + 1]
            let t2 = td[Int(s2 >> 24)] ^ Self.ror(td[Int((s1 >> 16) & 0xFF)], 8) ^ Self.ror(td[Int((s0 >> 8) & 0xFF)], 16) ^ Self.ror(td[Int(s3 & 0xFF)], 24) ^ dk[4 * r + 2]
            let t3 = td[Int(s3 >> 24)] ^ Self.ror(td[Int((s2 >> 16) & 0xFF)], 8) ^ Self.ror(td[Int((s1 >> 8) & 0xFF)], 16) ^ Self.ror(td[Int(s0 & 0xFF)], 24) ^ dk[4 * r + 3]
            s0 = t0; s1 = t1; s2 = t2; s3 = t3
        }
        let k = 4 * rounds
        @inline(__always) func last(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> UInt32 {
            UInt32(ib[Int(a >> 24)]) << 24 | UInt32(ib[Int((b >> 16) & 0xFF)]) << 16 | UInt32(ib[Int((c >> 8) & 0xFF)]) << 8 | UInt32(ib[Int(d & 0xFF)])
        }
        Self.store(last(s0, s3, s2, s1) ^ dk[k], &b, 0)
        Self.store(last(s1, s0, s3, s2) ^ dk[k + 1], &b, 4)
        Self.store(last(s2, s1, s0, s3) ^ dk[k + 2], &b, 8)
        Self.store(last(s3, s2, s1, s0) ^ dk[k + 3], &b, 12)
    }

    /// CBC encryption without padding (input must be a multiple of 16).
    func cbcEncrypt(iv: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](); out.reserveCapacity(data.count)
        var prev = iv
        var blk = [UInt8](repeating: 0, count: 16)
        var i = 0
        while i + 16 <= data.count {
            for k in 0..<16 { blk[k] = data[i + k] ^ prev[k] }
            encryptBlock(&blk)
            out += blk; prev = blk; i += 16
        }
        return out
    }

    /// CBC decryption without padding removal.
    func cbcDecrypt(iv: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](); out.reserveCapacity(data.count)
        var prev = iv
        var blk = [UInt8](repeating: 0, count: 16)
        var i = 0
        while i + 16 <= data.count {
            for k in 0..<16 { blk[k] = data[i + k] }
            let c = blk
            decryptBlock(&blk)
            for k in 0..<16 { blk[k] ^= prev[k] }
            out += blk; prev = c; i += 16
        }
        return out
    }
}

enum AES {
    /// PDF AES data: 16-byte IV followed by CBC ciphertext with PKCS#7 padding (§7.6.3.3).
    static func cbcDecrypt(key: [UInt8], ivAndData: [UInt8]) -> [UInt8]? {
        guard ivAndData.count >= 16, let c = AESCipher(key: key) else { return nil }
        let iv = Array(ivAndData[0..<16])
        let body = Array(ivAndData[16...])
        var out = c.cbcDecrypt(iv: iv, Array(body[0..<(body.count / 16 * 16)]))
        if let p = out.last, p >= 1, p <= 16, Int(p) <= out.count, out.suffix(Int(p)).allSatisfy({ $0 == p }) {
            out.removeLast(Int(p))
        }
        return out
    }
}

extension AES {
    /// PDF AES data for writing: a fresh random 16-byte IV, then CBC ciphertext with PKCS#7 padding (§7.6.3.3).
    static func cbcEncrypt(key: [UInt8], _ data: [UInt8]) -> [UInt8]? {
        guard let c = AESCipher(key: key) else { return nil }
        var rng = SystemRandomNumberGenerator()
        let iv = (0..<16).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let pad = 16 - data.count % 16
        return iv + c.cbcEncrypt(iv: iv, data + [UInt8](repeating: UInt8(pad), count: pad))
    }
}

/// Standard security handler password checks (§7.6.4.3–4): the user password (empty or given) and the owner password.
enum StandardSecurity {
    static let padding: [UInt8] = [0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
                                   0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A]

    /// Algorithms 2 and 4/5: returns the file key when `password` is the user password (R2–R4).
    static func authenticateUserLegacy(password: [UInt8], o: [UInt8], u: [UInt8], p: Int32, id: [UInt8], revision: Int,
                                       keyLength: Int, encryptMetadata: Bool) -> [UInt8]? {
        let n = revision == 2 ? 5 : max(5, min(16, keyLength))
        var input = Array((password + padding).prefix(32))
        input += o.prefix(32)
        let pu = UInt32(bitPattern: p)
        input += [UInt8(pu & 0xFF), UInt8((pu >> 8) & 0xFF), UInt8((pu >> 16) & 0xFF), UInt8(pu >> 24)]
        input += id
        if revision >= 4 && !encryptMetadata { input += [0xFF, 0xFF, 0xFF, 0xFF] }
        var h = MD5.hash(input)
        if revision >= 3 { for _ in 0..<50 { h = MD5.hash(Array(h[0..<n])) } }
        let key = Array(h[0..<n])
        if revision == 2 {
            return RC4.apply(key: key, padding) == Array(u.prefix(32)) ? key : nil
        }
        var x = RC4.apply(key: key, MD5.hash(padding + id))
        for i in 1...19 { x = RC4.apply(key: key.map { $0 ^ UInt8(i) }, x) }
        return u.count >= 16 && Array(x[0..<16]) == Array(u[0..<16]) ? key : nil
    }

    /// Algorithm 2.A / 11: returns the file key when `password` is the user password (R5, R6).
    static func authenticateUserR6(password: [UInt8], u: [UInt8], ue: [UInt8], revision: Int) -> [UInt8]? {
        guard u.count >= 48, ue.count >= 32 else { return nil }
        let pw = Array(password.prefix(127))
        let validationSalt = Array(u[32..<40]), keySalt = Array(u[40..<48])
        guard hash(pw, salt: validationSalt, udata: [], revision: revision) == Array(u[0..<32]) else { return nil }
        let k = hash(pw, salt: keySalt, udata: [], revision: revision)
        guard let c = AESCipher(key: k) else { return nil }
        return c.cbcDecrypt(iv: [UInt8](repeating: 0, count: 16), Array(ue[0..<32]))
    }

    /// Algorithm 7 (R2–R4): the padded user password recovered from /O with the owner password.
    static func userPasswordFromOwner(password: [UInt8], o: [UInt8], revision: Int, keyLength: Int) -> [UInt8]? {
        guard o.count >= 32 else { return nil }
        let n = revision == 2 ? 5 : max(5, min(16, keyLength))
        var h = MD5.hash(Array((password + padding).prefix(32)))
        if revision >= 3 { for _ in 0..<50 { h = MD5.hash(Array(h[0..<16])) } }
        let key = Array(h[0..<n])
        if revision == 2 { return RC4.apply(key: key, Array(o.prefix(32))) }
        var x = Array(o.prefix(32))
        for i in stride(from: 19, through: 0, by: -1) { x = RC4.apply(key: key.map { $0 ^ UInt8(i) }, x) }
        return x
    }

    /// Algorithm 2.A / 12: returns the file key when `password` is the owner password (R5, R6).
    static func authenticateOwnerR6(password: [UInt8], o: [UInt8], oe: [UInt8], u: [UInt8], revision: Int) -> [UInt8]? {
        guard o.count >= 48, oe.count >= 32, u.count >= 48 else { return nil }
        let pw = Array(password.prefix(127)), udata = Array(u[0..<48])
        guard hash(pw, salt: Array(o[32..<40]), udata: udata, revision: revision) == Array(o[0..<32]) else { return nil }
        let k = hash(pw, salt: Array(o[40..<48]), udata: udata, revision: revision)
        guard let c = AESCipher(key: k) else { return nil }
        return c.cbcDecrypt(iv: [UInt8](repeating: 0, count: 16), Array(oe[0..<32]))
    }

    /// Algorithm 2.B (R6) or plain SHA-256 (R5).
    static func hash(_ pw: [UInt8], salt: [UInt8], udata: [UInt8], revision: Int) -> [UInt8] {
        var k = SHA256.hash(pw + salt + udata)
        if revision < 6 { return k }
        var round = 0
        while true {
            let k1seq = pw + k + udata
            var k1 = [UInt8](); k1.reserveCapacity(k1seq.count * 64)
            for _ in 0..<64 { k1 += k1seq }
            let e = AESCipher(key: Array(k[0..<16]))!.cbcEncrypt(iv: Array(k[16..<32]), k1)
            var sum = 0
            for b in e[0..<16] { sum += Int(b) }
            switch sum % 3 {
            case 0: k = SHA256.hash(e)
            case 1: k = SHA512.hash(e, is384: true)
            default: k = SHA512.hash(e)
            }
            round += 1
            if round >= 64 && Int(e.last!) <= round - 32 { break }
        }
        return Array(k[0..<32])
    }
}
