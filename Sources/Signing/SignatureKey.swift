import COpenSSL
import Foundation

/// Signature algorithms a seal key may use. The digest is SHA-256 (SHA-384 for P-384).
public enum SignatureAlgorithm: String, Sendable, Codable, CaseIterable {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (CMS signatureAlgorithm rsaEncryption).
    case rsaPKCS1SHA256 = "rsa-pkcs1-sha256"
    /// ECDSA with SHA-256 (P-256); the key returns a DER `Ecdsa-Sig-Value`.
    case ecdsaSHA256 = "ecdsa-sha256"
    /// ECDSA with SHA-384 (P-384).
    case ecdsaSHA384 = "ecdsa-sha384"

    /// OpenSSL digest for the signed attributes and message digest.
    var md: OpaquePointer {
        switch self {
        case .rsaPKCS1SHA256, .ecdsaSHA256: return EVP_sha256()
        case .ecdsaSHA384: return EVP_sha384()
        }
    }
    /// Dotted OID of the digest.
    public var digestOID: String {
        switch self {
        case .rsaPKCS1SHA256, .ecdsaSHA256: return "2.16.840.1.101.3.4.2.1"
        case .ecdsaSHA384: return "2.16.840.1.101.3.4.2.2"
        }
    }
}

/// A private key that can sign the DER of CMS signed attributes, with its certificate chain.
///
/// `sign` receives the message itself (not its hash) and returns a DER-encoded signature value
/// (PKCS#1 v1.5 bytes for RSA, `Ecdsa-Sig-Value` for ECDSA). The token actor conforms through a small adapter.
public protocol SignatureKey: Sendable {
    /// The signer's certificate first, then intermediates (root optional), each DER.
    var certificateChainDER: [[UInt8]] { get }
    /// Algorithm `sign` uses.
    var signatureAlgorithm: SignatureAlgorithm { get }
    /// Signs `message` (DER of the signed attributes).
    func sign(_ message: [UInt8]) async throws -> [UInt8]
}

/// A software key: an OpenSSL `EVP_PKEY` loaded from a PEM or PKCS#12 file (tests, dev TSA, approval manifests).
public final class SoftwareKey: SignatureKey, @unchecked Sendable {
    private let pkey: OpaquePointer
    private let lock = NSLock()
    public let certificateChainDER: [[UInt8]]
    public let signatureAlgorithm: SignatureAlgorithm

    /// Loads a PEM private key and PEM certificates (signer first, then chain).
    public convenience init(keyPEM: URL, certificatesPEM: [URL]) throws {
        let keyBytes = try [UInt8](Data(contentsOf: keyPEM))
        guard let k: OpaquePointer = keyBytes.withUnsafeBytes({ b in
            let bio = BIO_new_mem_buf(b.baseAddress, Int32(b.count))
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }) else { throw SigningError(.badKey, "cannot read the private key: \(opensslError())", file: keyPEM.lastPathComponent) }
        var chain: [[UInt8]] = []
        for u in certificatesPEM {
            let certs = OSSLCert.loadPEMs(try [UInt8](Data(contentsOf: u)))
            if certs.isEmpty { EVP_PKEY_free(k); throw SigningError(.badKey, "no certificate in file", file: u.lastPathComponent) }
            chain += certs.map(\.der)
        }
        try self.init(pkey: k, chain: chain)
    }

    /// Loads a PKCS#12 file (key, certificate and chain). The password is never logged.
    public convenience init(pkcs12: URL, password: String) throws {
        let bytes = try [UInt8](Data(contentsOf: pkcs12))
        var p: UnsafePointer<UInt8>? = nil
        guard let p12: OpaquePointer = bytes.withUnsafeBufferPointer({ b in p = b.baseAddress; return d2i_PKCS12(nil, &p, b.count) }) else {
            throw SigningError(.badKey, "not a PKCS#12 file", file: pkcs12.lastPathComponent)
        }
        defer { PKCS12_free(p12) }
        var key: OpaquePointer? = nil, cert: OpaquePointer? = nil, ca: OpaquePointer? = nil
        guard PKCS12_parse(p12, password, &key, &cert, &ca) == 1, let key, let cert else {
            ERR_clear_error()
            throw SigningError(.badKey, "cannot open the PKCS#12 file (wrong password or unsupported format)", file: pkcs12.lastPathComponent)
        }
        var chain = [OSSLCert(owning: cert).der]
        if let ca {
            for i in 0..<sb_sk_X509_num(ca) { chain.append(OSSLCert(owning: { let x = sb_sk_X509_value(ca, i)!; X509_up_ref(x); return x }()).der) }
            sb_sk_X509_pop_free(ca)
        }
        try self.init(pkey: key, chain: chain)
    }

    private init(pkey: OpaquePointer, chain: [[UInt8]]) throws {
        self.pkey = pkey
        guard let first = chain.first, let leaf = OSSLCert(der: first) else {
            EVP_PKEY_free(pkey); throw SigningError(.badKey, "no signer certificate")
        }
        guard withExtendedLifetime(leaf, { X509_check_private_key(leaf.ptr, pkey) }) == 1 else {
            ERR_clear_error(); EVP_PKEY_free(pkey)
            throw SigningError(.badKey, "the private key does not belong to the first certificate")
        }
        self.certificateChainDER = chain
        switch EVP_PKEY_get_base_id(pkey) {
        case EVP_PKEY_RSA: signatureAlgorithm = .rsaPKCS1SHA256
        case EVP_PKEY_EC: signatureAlgorithm = EVP_PKEY_get_bits(pkey) > 256 ? .ecdsaSHA384 : .ecdsaSHA256
        default: EVP_PKEY_free(pkey); throw SigningError(.badKey, "unsupported key type (use RSA or ECDSA)")
        }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Signs synchronously (the async requirement forwards here).
    public func signSync(_ message: [UInt8]) throws -> [UInt8] {
        lock.lock(); defer { lock.unlock() }
        let ctx = EVP_MD_CTX_new()
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestSignInit(ctx, nil, signatureAlgorithm.md, nil, pkey) == 1 else {
            throw SigningError(.signingFailed, "cannot start signing: \(opensslError())")
        }
        var len = 0
        guard EVP_DigestSign(ctx, nil, &len, message, message.count) == 1 else {
            throw SigningError(.signingFailed, "signing failed: \(opensslError())")
        }
        var sig = [UInt8](repeating: 0, count: len)
        guard EVP_DigestSign(ctx, &sig, &len, message, message.count) == 1 else {
            throw SigningError(.signingFailed, "signing failed: \(opensslError())")
        }
        return Array(sig.prefix(len))
    }

    public func sign(_ message: [UInt8]) async throws -> [UInt8] { try signSync(message) }
}

/// Converts a raw ECDSA `r‖s` signature (as PKCS#11 CKM_ECDSA returns it) to DER `Ecdsa-Sig-Value`.
public func ecdsaRawToDER(_ raw: [UInt8]) -> [UInt8]? {
    withAllocated { out in raw.withUnsafeBufferPointer { sb_ecdsa_raw_to_der($0.baseAddress, Int32($0.count), out) } }
}
