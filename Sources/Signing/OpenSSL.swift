import COpenSSL
import Foundation
import PDF

/// The last OpenSSL error as text (clears the queue).
func opensslError() -> String {
    var buf = [CChar](repeating: 0, count: 256)
    var parts: [String] = []
    while sb_err_string(&buf, 256) != 0 { parts.append(String(cString: buf)) ; if parts.count > 4 { break } }
    ERR_clear_error()
    return parts.isEmpty ? "unknown OpenSSL error" : parts.joined(separator: "; ")
}

/// Calls an i2d-style C function that allocates `*out` and returns its length; copies and frees.
func withAllocated(_ body: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Int32) -> [UInt8]? {
    var p: UnsafeMutablePointer<UInt8>? = nil
    let n = body(&p)
    guard n > 0, let p else { return nil }
    defer { sb_OPENSSL_free(p) }
    return Array(UnsafeBufferPointer(start: p, count: Int(n)))
}

/// SHA-256 of bytes.
public func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    _ = bytes.withUnsafeBufferPointer { b in SHA256(b.baseAddress, b.count, &out) }
    return out
}

/// SHA-256 of byte ranges of a file through libcrypto (streamed; `ByteRange.digest` is the pure-Swift
/// equivalent in the PDF module, several times slower).
func sha256(file: URL, ranges: [Int]) throws -> [UInt8] {
    let d = Digest()
    try ByteRange.stream(file: file, ranges: ranges) { d.update($0) }
    return d.finish()
}

/// A small thread-safe memo, emptied when it reaches `limit` entries (for facts that are the same for
/// every document of a batch: parsed certificate chains, CMS sizes).
final class LockedCache<Key: Hashable, Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [Key: Value] = [:]
    private let limit: Int
    init(limit: Int) { self.limit = limit }
    subscript(key: Key) -> Value? { lock.withLock { entries[key] } }
    func store(_ value: Value, for key: Key) {
        lock.withLock {
            if entries.count >= limit { entries.removeAll() }
            entries[key] = value
        }
    }
}

/// Streaming digest over OpenSSL EVP.
final class Digest {
    private let ctx: OpaquePointer
    init(_ md: OpaquePointer = EVP_sha256()) {
        ctx = EVP_MD_CTX_new()
        EVP_DigestInit_ex(ctx, md, nil)
    }
    static func named(oid: String) -> Digest? {
        switch oid {
        case "2.16.840.1.101.3.4.2.1": return Digest(EVP_sha256())
        case "2.16.840.1.101.3.4.2.2": return Digest(EVP_sha384())
        case "2.16.840.1.101.3.4.2.3": return Digest(EVP_sha512())
        case "1.3.14.3.2.26": return Digest(EVP_sha1())
        case "2.16.840.1.101.3.4.2.4": return Digest(EVP_sha224())
        default: return nil
        }
    }
    private init(copying other: Digest) {
        ctx = EVP_MD_CTX_new()
        EVP_MD_CTX_copy_ex(ctx, other.ctx)
    }
    /// An independent copy of the running state (the bytes hashed so far, not finished).
    func copy() -> Digest { Digest(copying: self) }
    func update(_ bytes: UnsafeRawBufferPointer) { EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count) }
    func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }
    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        var n: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &out, &n)
        return Array(out.prefix(Int(n)))
    }
    deinit { EVP_MD_CTX_free(ctx) }
}

/// Owns an OpenSSL `X509*`.
final class OSSLCert: @unchecked Sendable {
    let ptr: OpaquePointer
    init?(der: [UInt8]) {
        var p: UnsafePointer<UInt8>? = nil
        let x: OpaquePointer? = der.withUnsafeBufferPointer { b in
            p = b.baseAddress
            return d2i_X509(nil, &p, b.count)
        }
        guard let x else { ERR_clear_error(); return nil }
        ptr = x
    }
    /// Takes ownership of a reference.
    init(owning x: OpaquePointer) { ptr = x }

    /// Parsed certificates of a chain, shared across calls: a batch seals every document with the same
    /// chain, and parsing a certificate costs more in OpenSSL 3 than hashing a small document. X509
    /// objects are only read after parsing, which OpenSSL allows from several threads.
    static func chain(_ ders: [[UInt8]]) -> [OSSLCert] {
        if let c = chains[ders] { return c }
        let parsed = ders.compactMap { OSSLCert(der: $0) }
        guard parsed.count == ders.count else { return parsed }
        for c in parsed { X509_check_purpose(c.ptr, -1, 0) } // compute cached extension fields now, not concurrently later
        chains.store(parsed, for: ders)
        return parsed
    }
    private static let chains = LockedCache<[[UInt8]], [OSSLCert]>(limit: 16)
    deinit { X509_free(ptr) }

    var der: [UInt8] { withAllocated { i2d_X509(ptr, $0) } ?? [] }

    static func loadPEMs(_ data: [UInt8]) -> [OSSLCert] {
        var out: [OSSLCert] = []
        data.withUnsafeBytes { b in
            let bio = BIO_new_mem_buf(b.baseAddress, Int32(b.count))
            defer { BIO_free(bio) }
            while let x = PEM_read_bio_X509(bio, nil, nil, nil) { out.append(OSSLCert(owning: x)) }
            ERR_clear_error()
        }
        return out
    }

    func nameEntry(subject: Bool, nid: Int32) -> String? {
        var buf = [CChar](repeating: 0, count: 512)
        let n = subject ? X509_get_subject_name(ptr) : X509_get_issuer_name(ptr)
        guard sb_name_entry(n, nid, &buf, 512) >= 0 else { return nil }
        return String(cString: buf)
    }
    func oneLine(subject: Bool) -> String {
        let n = subject ? X509_get_subject_name(ptr) : X509_get_issuer_name(ptr)
        let bio = BIO_new(BIO_s_mem())
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, n, 0, UInt(sb_xn_flag_rfc2253()))
        var p: UnsafeMutablePointer<CChar>? = nil
        let len = sb_BIO_get_mem_data(bio, &p)
        guard let p, len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }
    var serialHex: String {
        var buf = [CChar](repeating: 0, count: 256)
        sb_serial_hex(ptr, &buf, 256)
        return String(cString: buf)
    }
    var notBefore: Date { Date(timeIntervalSince1970: TimeInterval(sb_cert_not_before(ptr))) }
    var notAfter: Date { Date(timeIntervalSince1970: TimeInterval(sb_cert_not_after(ptr))) }
    var isSelfSigned: Bool { sb_is_self_signed(ptr) == 1 }
    var crlURL: String? {
        var buf = [CChar](repeating: 0, count: 1024)
        return sb_crl_url(ptr, &buf, 1024) > 0 ? String(cString: buf) : nil
    }
    var ocspURL: String? {
        var buf = [CChar](repeating: 0, count: 1024)
        return sb_ocsp_url(ptr, &buf, 1024) > 0 ? String(cString: buf) : nil
    }
    /// Key usage names (RFC 5280 §4.2.1.3).
    var keyUsage: [String] {
        let ku = sb_key_usage(ptr)
        if ku == UInt32.max { return [] }
        let names: [(UInt32, String)] = [
            (UInt32(KU_DIGITAL_SIGNATURE), "digitalSignature"), (UInt32(KU_NON_REPUDIATION), "nonRepudiation"),
            (UInt32(KU_KEY_ENCIPHERMENT), "keyEncipherment"), (UInt32(KU_DATA_ENCIPHERMENT), "dataEncipherment"),
            (UInt32(KU_KEY_AGREEMENT), "keyAgreement"), (UInt32(KU_KEY_CERT_SIGN), "keyCertSign"),
            (UInt32(KU_CRL_SIGN), "cRLSign"),
        ]
        return names.filter { ku & $0.0 != 0 }.map(\.1)
    }
    var hasKeyUsageExtension: Bool { sb_key_usage(ptr) != UInt32.max }
    var extendedKeyUsage: [String] {
        let x = sb_ext_key_usage(ptr)
        if x == UInt32.max { return [] }
        let names: [(UInt32, String)] = [
            (UInt32(XKU_SSL_SERVER), "serverAuth"), (UInt32(XKU_SSL_CLIENT), "clientAuth"),
            (UInt32(XKU_SMIME), "emailProtection"), (UInt32(XKU_CODE_SIGN), "codeSigning"),
            (UInt32(XKU_OCSP_SIGN), "OCSPSigning"), (UInt32(XKU_TIMESTAMP), "timeStamping"),
            (UInt32(XKU_ANYEKU), "anyExtendedKeyUsage"),
        ]
        return names.filter { x & $0.0 != 0 }.map(\.1)
    }
    /// The extended key usage purposes as dotted OIDs: nil when the certificate has no such extension;
    /// throws-free but an undecodable extension gives `["undecodable"]`, which no policy accepts.
    var extendedKeyUsageOIDs: [String]? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = sb_ext_key_usage_oids(ptr, &buf, Int32(buf.count))
        if n == -1 { return nil }
        if n < 0 { return ["undecodable"] }
        return String(decoding: buf.prefix(Int(n)).map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ").map(String.init)
    }
    func issued(_ child: OSSLCert) -> Bool { X509_check_issued(ptr, child.ptr) == X509_V_OK }
    func sameAs(_ other: OSSLCert) -> Bool { X509_cmp(ptr, other.ptr) == 0 }
}

/// Builds an OpenSSL `STACK_OF(X509)` that borrows the certificates (free with sb_sk_X509_free).
/// A `STACK_OF(X509)` that holds its OWN reference to each certificate (X509_up_ref), so it stays valid
/// however early Swift releases the `OSSLCert`s (release builds end lifetimes at last use). Free it with
/// `sb_sk_X509_pop_free`.
func makeStack(_ certs: [OSSLCert]) -> OpaquePointer {
    let sk = sb_sk_X509_new_null()!
    for c in certs {
        X509_up_ref(c.ptr)
        sb_sk_X509_push(sk, c.ptr)
    }
    return sk
}

/// Owns an OpenSSL `X509_CRL*`.
final class OSSLCRL: @unchecked Sendable {
    let ptr: OpaquePointer
    let der: [UInt8]
    init?(der: [UInt8]) {
        var p: UnsafePointer<UInt8>? = nil
        let x: OpaquePointer? = der.withUnsafeBufferPointer { b in
            p = b.baseAddress
            return d2i_X509_CRL(nil, &p, b.count)
        }
        guard let x else { ERR_clear_error(); return nil }
        ptr = x
        self.der = der
    }
    deinit { X509_CRL_free(ptr) }
}

extension Date {
    /// ISO 8601 UTC with seconds ("2026-11-25T13:45:00Z").
    var iso8601: String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: self)
    }
}

func hex(_ bytes: [UInt8]) -> String { DetachedSignature.hex(bytes) }

/// The running SHA-256 state of a file's first `length` bytes, kept unfinished so that a later stage can
/// continue it instead of reading those bytes again: the input of a seal is the prefix of its first byte
/// range, so the signed digest is this state continued with the update's bytes. Immutable; every use
/// works on a copy.
public final class SHA256Prefix: @unchecked Sendable {
    private let state: Digest
    /// How many bytes were hashed.
    public let length: Int
    /// SHA-256 of those bytes.
    public let digest: [UInt8]

    /// Hashes the file `url` front to back (`read(2)` in 1 MiB chunks, libcrypto's SHA-256). `body`
    /// sees the open descriptor before the first read, e.g. to note the file's identity.
    public init(file url: URL, beforeReading body: (Int32) throws -> Void = { _ in }) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SigningError(.io, "cannot read the file: \(String(cString: strerror(errno)))", file: url.lastPathComponent) }
        defer { close(fd) }
        try body(fd)
        let d = Digest()
        let size = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer { buf.deallocate() }
        var n = 0
        while true {
            let r = read(fd, buf, size)
            if r < 0 { if errno == EINTR { continue }; throw SigningError(.io, "read failed: \(String(cString: strerror(errno)))", file: url.lastPathComponent) }
            if r == 0 { break }
            d.update(UnsafeRawBufferPointer(start: buf, count: r))
            n += r
        }
        state = d
        length = n
        digest = d.copy().finish()
    }

    /// The state, continued by the caller (a fresh copy each time).
    func continued() -> Digest { state.copy() }
}
