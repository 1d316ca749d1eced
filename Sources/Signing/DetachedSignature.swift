// Generic crypto helpers used by the governance layer (approval manifests, user authentication, audit
// checkpoints): detached CMS SignedData over arbitrary bytes, PKCS#12 / PEM signing identities,
// certificate basics, chain verification at a given time, SHA-256, and a slow password KDF.
// Everything here goes through OpenSSL's libcrypto via the COpenSSL shim; nothing here knows PDF.
import COpenSSL
import Foundation

/// Namespace for detached signatures and the small X.509 toolkit the governance layer needs.
public enum DetachedSignature {

    // MARK: - Errors

    /// A failure in a detached-signature helper. Never carries a password or key material.
    public struct Error: Swift.Error, CustomStringConvertible, Sendable, Equatable {
        /// Stable reason codes.
        public enum Code: String, Sendable {
            /// The bytes are not a certificate / key / PKCS#12 / CMS structure we can read.
            case malformed
            /// The PKCS#12 password is wrong (or the file uses an unsupported cipher).
            case wrongPassword
            /// The signature does not verify over the given bytes.
            case signatureInvalid
            /// The CMS structure carries no signer certificate.
            case signerMissing
            /// The certificate chain does not lead to a given anchor, or a certificate is outside
            /// its validity period at the given time.
            case chainInvalid
            /// OpenSSL failed for another reason.
            case internalFailure
        }
        /// The reason.
        public let code: Code
        /// What went wrong, in words a clerk can act on (includes OpenSSL's reason where useful).
        public let detail: String

        /// Creates an error.
        public init(_ code: Code, _ detail: String) { self.code = code; self.detail = detail }
        /// Text for logs and the CLI.
        public var description: String { "\(code.rawValue): \(detail)" }
    }

    // MARK: - Certificates

    /// An X.509 certificate (owns its OpenSSL handle) with the fields governance records.
    public final class Certificate: @unchecked Sendable, Equatable, CustomStringConvertible {
        let x509: OpaquePointer
        /// DER encoding.
        public let der: [UInt8]
        /// Subject DN, RFC 2253 form, UTF-8.
        public let subject: String
        /// Issuer DN, RFC 2253 form, UTF-8.
        public let issuer: String
        /// Subject common name (CN), if present.
        public let commonName: String?
        /// Serial number, upper-case hex.
        public let serialHex: String
        /// SHA-256 of the DER encoding, lower-case hex.
        public let sha256Fingerprint: String
        /// Start of the validity period.
        public let notBefore: Date
        /// End of the validity period.
        public let notAfter: Date
        /// DER SubjectPublicKeyInfo.
        public let publicKeyDER: [UInt8]

        /// Takes ownership of `x509`.
        init(owning x509: OpaquePointer) throws(DetachedSignature.Error) {
            self.x509 = x509
            var out: UnsafeMutablePointer<UInt8>? = nil
            let n = i2d_X509(x509, &out)
            guard n > 0, let out else { throw DetachedSignature.Error(.malformed, "certificate cannot be encoded") }
            der = Array(UnsafeBufferPointer(start: out, count: Int(n)))
            sb_OPENSSL_free(out)
            subject = DetachedSignature.nameString(X509_get_subject_name(x509))
            issuer = DetachedSignature.nameString(X509_get_issuer_name(x509))
            commonName = DetachedSignature.commonName(X509_get_subject_name(x509))
            serialHex = DetachedSignature.serialHex(x509)
            sha256Fingerprint = DetachedSignature.hex(DetachedSignature.sha256(der))
            notBefore = DetachedSignature.date(X509_get0_notBefore(x509)) ?? .distantPast
            notAfter = DetachedSignature.date(X509_get0_notAfter(x509)) ?? .distantPast
            var pk: UnsafeMutablePointer<UInt8>? = nil
            let pn = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &pk)
            if pn > 0, let pk {
                publicKeyDER = Array(UnsafeBufferPointer(start: pk, count: Int(pn)))
                sb_OPENSSL_free(pk)
            } else {
                publicKeyDER = []
            }
        }

        deinit { X509_free(x509) }

        /// Parses a DER certificate.
        public convenience init(der: [UInt8]) throws(DetachedSignature.Error) {
            let x: OpaquePointer? = der.withUnsafeBufferPointer { buf in
                var p: UnsafePointer<UInt8>? = buf.baseAddress
                return d2i_X509(nil, &p, buf.count)
            }
            guard let x else {
                DetachedSignature.clearErrors()
                throw DetachedSignature.Error(.malformed, "not a DER X.509 certificate")
            }
            try self.init(owning: x)
        }

        /// Parses one certificate from PEM or DER bytes (PEM is detected by its header).
        public convenience init(pemOrDER bytes: [UInt8]) throws(DetachedSignature.Error) {
            if let c = try DetachedSignature.certificates(pemOrDER: bytes).first {
                try self.init(der: c.der)
            } else {
                throw DetachedSignature.Error(.malformed, "no certificate found")
            }
        }

        /// True when `date` lies within the validity period.
        public func isValid(at date: Date) -> Bool { date >= notBefore && date <= notAfter }

        /// PEM text of the certificate.
        public var pem: String {
            let b64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
            return "-----BEGIN CERTIFICATE-----\n\(b64)\n-----END CERTIFICATE-----\n"
        }

        /// Certificates are equal when their DER encodings are.
        public static func == (a: Certificate, b: Certificate) -> Bool { a.der == b.der }
        /// Short human form.
        public var description: String { "\(subject) (serial \(serialHex), sha256 \(sha256Fingerprint.prefix(16))…)" }
    }

    /// Parses every certificate in PEM text (several blocks) or a single DER certificate.
    public static func certificates(pemOrDER bytes: [UInt8]) throws(DetachedSignature.Error) -> [Certificate] {
        let marker = Array("-----BEGIN".utf8)
        let isPEM = bytes.count >= marker.count && bytes.indices.contains(where: { i in
            i + marker.count <= bytes.count && Array(bytes[i..<(i + marker.count)]) == marker
        })
        if !isPEM { return [try Certificate(der: bytes)] }
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw Error(.internalFailure, "BIO_new_mem_buf failed")
        }
        defer { BIO_free(bio) }
        var out: [Certificate] = []
        while let x = PEM_read_bio_X509(bio, nil, nil, nil) {
            out.append(try Certificate(owning: x))
        }
        clearErrors() // the loop ends on a "no start line" error
        if out.isEmpty { throw Error(.malformed, "no PEM certificate found") }
        return out
    }

    // MARK: - Signing identities

    /// A private key with its certificate and chain (from a PKCS#12 file or PEM files).
    public final class Identity: @unchecked Sendable {
        let key: OpaquePointer
        /// The signer's certificate.
        public let certificate: Certificate
        /// Intermediate (and possibly root) certificates that came with the key.
        public let chain: [Certificate]

        init(key: OpaquePointer, certificate: Certificate, chain: [Certificate]) {
            self.key = key; self.certificate = certificate; self.chain = chain
        }
        deinit { EVP_PKEY_free(key) }

        /// Loads a PKCS#12 (.p12 / .pfx) file's bytes. The password bytes are not retained.
        public static func pkcs12(_ data: [UInt8], password: [UInt8]) throws(DetachedSignature.Error) -> Identity {
            let p12: OpaquePointer? = data.withUnsafeBufferPointer { buf in
                var p: UnsafePointer<UInt8>? = buf.baseAddress
                return d2i_PKCS12(nil, &p, buf.count)
            }
            guard let p12 else {
                clearErrors()
                throw Error(.malformed, "not a PKCS#12 file")
            }
            defer { PKCS12_free(p12) }
            var pass = password.map { CChar(bitPattern: $0) } + [0]
            defer { for i in pass.indices { pass[i] = 0 } }
            var pkey: OpaquePointer? = nil
            var cert: OpaquePointer? = nil
            var ca: OpaquePointer? = nil
            let ok = pass.withUnsafeBufferPointer { PKCS12_parse(p12, $0.baseAddress, &pkey, &cert, &ca) }
            guard ok == 1, let pkey, let cert else {
                let reason = opensslErrors()
                if let pkey { EVP_PKEY_free(pkey) }
                if let cert { X509_free(cert) }
                if let ca { sb_sk_X509_pop_free(ca) }
                throw Error(.wrongPassword, "cannot open the PKCS#12 file: wrong password or unsupported protection (\(reason))")
            }
            var chain: [Certificate] = []
            if let ca {
                for i in 0..<sb_sk_X509_num(ca) {
                    if let x = sb_sk_X509_value(ca, i) {
                        X509_up_ref(x)
                        if let c = try? Certificate(owning: x) { chain.append(c) }
                    }
                }
                sb_sk_X509_pop_free(ca)
            }
            let c: Certificate
            do { c = try Certificate(owning: cert) } catch { EVP_PKEY_free(pkey); throw error }
            guard X509_check_private_key(cert, pkey) == 1 else {
                clearErrors()
                EVP_PKEY_free(pkey)
                throw Error(.malformed, "the PKCS#12 key does not match its certificate")
            }
            return Identity(key: pkey, certificate: c, chain: chain)
        }

        /// Loads an unencrypted PEM private key and a PEM certificate (plus optional chain).
        public static func pem(key keyPEM: [UInt8], certificate certPEM: [UInt8], chain chainPEM: [UInt8]? = nil)
            throws(DetachedSignature.Error) -> Identity {
            guard let bio = keyPEM.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
                throw Error(.internalFailure, "BIO_new_mem_buf failed")
            }
            defer { BIO_free(bio) }
            guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
                clearErrors()
                throw Error(.malformed, "not an unencrypted PEM private key")
            }
            let certs: [Certificate]
            do { certs = try certificates(pemOrDER: certPEM) } catch { EVP_PKEY_free(key); throw error }
            guard X509_check_private_key(certs[0].x509, key) == 1 else {
                clearErrors()
                EVP_PKEY_free(key)
                throw Error(.malformed, "the private key does not match the certificate")
            }
            var chain = Array(certs.dropFirst())
            if let chainPEM {
                // a chain that was named but cannot be read is an error, not a signature without its chain
                do { chain += try certificates(pemOrDER: chainPEM) } catch { EVP_PKEY_free(key); throw error }
            }
            return Identity(key: key, certificate: certs[0], chain: chain)
        }

        /// Makes a fresh EC P-256 key with a self-signed certificate (for audit keys and tests).
        public static func selfSigned(commonName: String, days: Int = 3650) throws(DetachedSignature.Error) -> Identity {
            guard let key = sb_gov_ec_p256_keygen() else { throw Error(.internalFailure, "EC key generation failed: \(opensslErrors())") }
            guard let x = X509_new() else { EVP_PKEY_free(key); throw Error(.internalFailure, "X509_new failed") }
            var serial = randomBytes(16); serial[0] &= 0x7f
            let bn = BN_bin2bn(serial, Int32(serial.count), nil)
            BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))
            BN_free(bn)
            X509_set_version(x, 2)
            X509_gmtime_adj(X509_getm_notBefore(x), -300)
            X509_gmtime_adj(X509_getm_notAfter(x), days * 86400)
            X509_set_pubkey(x, key)
            let name = X509_get_subject_name(x)
            let cn = Array(commonName.utf8)
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, Int32(cn.count), -1, 0)
            X509_set_issuer_name(x, name)
            guard X509_sign(x, key, EVP_sha256()) > 0 else {
                X509_free(x); EVP_PKEY_free(key)
                throw Error(.internalFailure, "self-signing failed: \(opensslErrors())")
            }
            let cert: Certificate
            do { cert = try Certificate(owning: x) } catch { EVP_PKEY_free(key); throw error }
            return Identity(key: key, certificate: cert, chain: [])
        }

        /// The private key as unencrypted PKCS#8 PEM (write it with mode 0600).
        public func privateKeyPEM() throws(DetachedSignature.Error) -> [UInt8] {
            guard let bio = BIO_new(BIO_s_mem()) else { throw Error(.internalFailure, "BIO_new failed") }
            defer { BIO_free(bio) }
            guard PEM_write_bio_PrivateKey(bio, key, nil, nil, 0, nil, nil) == 1 else {
                throw Error(.internalFailure, "cannot encode the private key")
            }
            return bioBytes(bio)
        }

        /// Signs `data` as detached CMS SignedData (see `DetachedSignature.sign`).
        public func sign(_ data: [UInt8]) throws(DetachedSignature.Error) -> [UInt8] {
            try DetachedSignature.sign(data, with: self)
        }
    }

    // MARK: - Detached CMS

    /// Signs `data` with `identity` as a DER CMS SignedData (RFC 5652) without encapsulated content,
    /// SHA-256, carrying the signer certificate and the identity's chain.
    public static func sign(_ data: [UInt8], with identity: Identity) throws(DetachedSignature.Error) -> [UInt8] {
        guard let dataBIO = data.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw Error(.internalFailure, "BIO_new_mem_buf failed")
        }
        defer { BIO_free(dataBIO) }
        let extra = sb_sk_X509_new_null()
        defer { sb_sk_X509_free(extra) }
        for c in identity.chain { sb_sk_X509_push(extra, c.x509) }
        let flags = UInt32(CMS_DETACHED | CMS_BINARY | CMS_NOSMIMECAP)
        guard let cms = CMS_sign(identity.certificate.x509, identity.key, extra, dataBIO, flags) else {
            throw Error(.internalFailure, "CMS signing failed: \(opensslErrors())")
        }
        defer { CMS_ContentInfo_free(cms) }
        var out: UnsafeMutablePointer<UInt8>? = nil
        let n = i2d_CMS_ContentInfo(cms, &out)
        guard n > 0, let out else { throw Error(.internalFailure, "CMS encoding failed") }
        defer { sb_OPENSSL_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(n)))
    }

    /// What a verified detached signature tells about its signer.
    public struct Verified: Sendable {
        /// The certificate whose key made the signature.
        public let signer: Certificate
        /// Every certificate carried in the CMS structure (signer included).
        public let certificates: [Certificate]
    }

    /// Checks that `signature` (DER CMS SignedData, detached) is a valid signature over `data` by the
    /// certificate it carries. Does not judge trust: use `verifyChain` or compare the signer with a
    /// registered certificate.
    public static func verify(_ signature: [UInt8], over data: [UInt8]) throws(DetachedSignature.Error) -> Verified {
        let cms: OpaquePointer? = signature.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_CMS_ContentInfo(nil, &p, buf.count)
        }
        guard let cms else { clearErrors(); throw Error(.malformed, "the signature is not a DER CMS structure") }
        defer { CMS_ContentInfo_free(cms) }
        guard let dataBIO = data.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw Error(.internalFailure, "BIO_new_mem_buf failed")
        }
        defer { BIO_free(dataBIO) }
        guard let store = X509_STORE_new() else { throw Error(.internalFailure, "X509_STORE_new failed") }
        defer { X509_STORE_free(store) }
        let flags = UInt32(CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY)
        guard CMS_verify(cms, nil, store, dataBIO, nil, flags) == 1 else {
            let reason = opensslErrors()
            if reason.contains("no signer") || reason.contains("signer certificate not found") {
                throw Error(.signerMissing, "the signature carries no signer certificate (\(reason))")
            }
            throw Error(.signatureInvalid, "the signature does not verify over these bytes (\(reason))")
        }
        guard let signers = CMS_get0_signers(cms), sb_sk_X509_num(signers) > 0, let s = sb_sk_X509_value(signers, 0) else {
            throw Error(.signerMissing, "the signature carries no signer certificate")
        }
        defer { sb_sk_X509_free(signers) }
        X509_up_ref(s)
        let signer = try Certificate(owning: s)
        var all: [Certificate] = []
        if let certs = CMS_get1_certs(cms) {
            for i in 0..<sb_sk_X509_num(certs) {
                if let x = sb_sk_X509_value(certs, i) {
                    X509_up_ref(x)
                    if let c = try? Certificate(owning: x) { all.append(c) }
                }
            }
            sb_sk_X509_pop_free(certs)
        }
        return Verified(signer: signer, certificates: all)
    }

    // MARK: - Raw signatures (a token's output)

    /// Checks a bare signature over `data` with the certificate's public key and SHA-256: RSA PKCS#1 v1.5
    /// or RSA-PSS (salt = hash length), or ECDSA (DER ECDSA-Sig-Value) — what a PKCS#11 token returns.
    public static func verifyRaw(_ signature: [UInt8], over data: [UInt8], certificate: Certificate) -> Bool {
        guard let pkey = X509_get0_pubkey(certificate.x509) else { return false }
        for pss in [false, true] {
            guard let ctx = EVP_MD_CTX_new() else { return false }
            defer { EVP_MD_CTX_free(ctx) }
            var pctx: OpaquePointer? = nil
            guard EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), nil, pkey) == 1 else { clearErrors(); return false }
            if pss {
                guard EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA, let pctx else { return false }
                EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32)
            }
            let ok = EVP_DigestVerify(ctx, signature, signature.count, data, data.count)
            clearErrors()
            if ok == 1 { return true }
        }
        return false
    }

    // MARK: - Chains

    /// Verifies that `leaf` chains to one of `anchors` through `intermediates`, with every certificate
    /// valid at `time`. Throws `.chainInvalid` naming OpenSSL's reason.
    public static func verifyChain(leaf: Certificate, intermediates: [Certificate], anchors: [Certificate],
                                   at time: Date) throws(DetachedSignature.Error) {
        guard let store = X509_STORE_new() else { throw Error(.internalFailure, "X509_STORE_new failed") }
        defer { X509_STORE_free(store) }
        for a in anchors { X509_STORE_add_cert(store, a.x509) }
        let untrusted = sb_sk_X509_new_null()
        defer { sb_sk_X509_free(untrusted) }
        for c in intermediates { sb_sk_X509_push(untrusted, c.x509) }
        guard let ctx = X509_STORE_CTX_new() else { throw Error(.internalFailure, "X509_STORE_CTX_new failed") }
        defer { X509_STORE_CTX_free(ctx) }
        guard X509_STORE_CTX_init(ctx, store, leaf.x509, untrusted) == 1 else {
            throw Error(.internalFailure, "X509_STORE_CTX_init failed")
        }
        X509_STORE_CTX_set_time(ctx, 0, time_t(time.timeIntervalSince1970))
        if X509_verify_cert(ctx) != 1 {
            let err = X509_STORE_CTX_get_error(ctx)
            let reason = String(cString: X509_verify_cert_error_string(Int(err)))
            clearErrors()
            throw Error(.chainInvalid, "certificate \(leaf.subject) does not chain to a trusted anchor: \(reason)")
        }
    }

    // MARK: - Digests, randomness

    /// SHA-256 of `data`.
    public static func sha256<D: Collection>(_ data: D) -> [UInt8] where D.Element == UInt8 {
        var md = [UInt8](repeating: 0, count: 32)
        let bytes = Array(data)
        bytes.withUnsafeBufferPointer { buf in
            _ = EVP_Digest(buf.baseAddress, buf.count, &md, nil, EVP_sha256(), nil)
        }
        return md
    }

    /// SHA-256 of a file, read in 1 MiB chunks (memory does not grow with the file).
    public static func sha256(fileAt url: URL) throws -> [UInt8] {
        let fh = try FileHandle(forReadingFrom: url)
        defer { try? fh.close() }
        guard let ctx = EVP_MD_CTX_new() else { throw Error(.internalFailure, "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(ctx) }
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        while let chunk = try fh.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { _ = EVP_DigestUpdate(ctx, $0.baseAddress, $0.count) }
        }
        var md = [UInt8](repeating: 0, count: 32)
        var n: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &md, &n)
        return md
    }

    /// Lower-case hex of bytes.
    public static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xf)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Cryptographically strong random bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        _ = RAND_bytes(&out, Int32(count))
        return out
    }

    /// Constant-time equality of two byte strings (length is not secret).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return CRYPTO_memcmp(a, b, a.count) == 0
    }

    // MARK: - Password hashing (scrypt)

    /// Slow password hashing with scrypt (RFC 7914) and constant-time verification. The encoded form
    /// is `scrypt$<log2 N>$<r>$<p>$<salt b64>$<hash b64>`.
    public enum PasswordHash {
        /// scrypt cost parameters.
        public struct Cost: Sendable, Equatable {
            /// log2 of N.
            public var logN: Int
            /// Block size.
            public var r: Int
            /// Parallelism.
            public var p: Int
            /// Default for local accounts: N = 2^15, r = 8, p = 1 (32 MiB, ~0.1 s).
            public static let interactive = Cost(logN: 15, r: 8, p: 1)
            /// Creates a cost.
            public init(logN: Int, r: Int, p: Int) { self.logN = logN; self.r = r; self.p = p }
        }

        /// Hashes `password` with a fresh 16-byte salt.
        public static func hash(_ password: [UInt8], cost: Cost = .interactive) throws(DetachedSignature.Error) -> String {
            let salt = randomBytes(16)
            let h = try derive(password, salt: salt, cost: cost)
            return "scrypt$\(cost.logN)$\(cost.r)$\(cost.p)$\(Data(salt).base64EncodedString())$\(Data(h).base64EncodedString())"
        }

        /// True when `password` matches `encoded` (constant-time comparison of the derived keys).
        public static func verify(_ password: [UInt8], encoded: String) -> Bool {
            let parts = encoded.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 6, parts[0] == "scrypt",
                  let logN = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
                  (1...22).contains(logN), (1...32).contains(r), (1...16).contains(p),
                  let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]),
                  !expected.isEmpty,
                  let got = try? derive(password, salt: Array(salt), cost: Cost(logN: logN, r: r, p: p), length: expected.count)
            else { return false }
            return constantTimeEqual(got, Array(expected))
        }

        static func derive(_ password: [UInt8], salt: [UInt8], cost: Cost, length: Int = 32) throws(DetachedSignature.Error) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: length)
            let n = UInt64(1) << UInt64(cost.logN)
            let maxmem = UInt64(128 * cost.r) * n * 2 + (1 << 20)
            let pwc = password.map { CChar(bitPattern: $0) } + [0]
            let ok = EVP_PBE_scrypt(pwc, password.count, salt, salt.count, n,
                                    UInt64(cost.r), UInt64(cost.p), maxmem, &out, length)
            guard ok == 1 else { throw Error(.internalFailure, "scrypt failed: \(opensslErrors())") }
            return out
        }
    }

    // MARK: - OpenSSL plumbing

    static func nameString(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        _ = sb_gov_name_print(bio, name)
        return String(decoding: bioBytes(bio), as: UTF8.self)
    }

    static func commonName(_ name: OpaquePointer?) -> String? {
        guard let name else { return nil }
        let idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard idx >= 0, let entry = X509_NAME_get_entry(name, idx), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var out: UnsafeMutablePointer<UInt8>? = nil
        let n = ASN1_STRING_to_UTF8(&out, data)
        guard n >= 0, let out else { return nil }
        defer { sb_OPENSSL_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: Int(n)), as: UTF8.self)
    }

    static func serialHex(_ x: OpaquePointer) -> String {
        guard let bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nil) else { return "" }
        defer { BN_free(bn) }
        guard let h = BN_bn2hex(bn) else { return "" }
        defer { sb_OPENSSL_free(h) }
        return String(cString: h)
    }

    static func date(_ t: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let t else { return nil }
        var tmv = tm()
        guard ASN1_TIME_to_tm(t, &tmv) == 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&tmv)))
    }

    static func bioBytes(_ bio: OpaquePointer) -> [UInt8] {
        var p: UnsafeMutablePointer<CChar>? = nil
        let n = sb_BIO_get_mem_data(bio, &p)
        guard n > 0, let p else { return [] }
        return p.withMemoryRebound(to: UInt8.self, capacity: Int(n)) { Array(UnsafeBufferPointer(start: $0, count: Int(n))) }
    }

    static func opensslErrors() -> String {
        var parts: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(e, &buf, buf.count)
            let s = String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // keep only the human reason (last field)
            parts.append(s.split(separator: ":").last.map(String.init) ?? s)
        }
        return parts.isEmpty ? "no OpenSSL reason" : parts.joined(separator: "; ")
    }

    static func clearErrors() { ERR_clear_error() }
}
