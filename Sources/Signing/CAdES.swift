import COpenSSL
import Foundation

/// Object identifiers used in CMS / PAdES (dotted form).
enum OID {
    static let data = "1.2.840.113549.1.7.1"
    static let contentType = "1.2.840.113549.1.9.3"
    static let messageDigest = "1.2.840.113549.1.9.4"
    static let signingTime = "1.2.840.113549.1.9.5"
    static let algorithmProtection = "1.2.840.113549.1.9.52"
    static let signingCertificateV2 = "1.2.840.113549.1.9.16.2.47"
    static let signingCertificate = "1.2.840.113549.1.9.16.2.12"
    static let timeStampToken = "1.2.840.113549.1.9.16.2.14"
    static let sha256 = "2.16.840.1.101.3.4.2.1"
}

/// Minimal DER writer for the few structures assembled by hand.
enum DERWriter {
    static func length(_ n: Int) -> [UInt8] {
        if n < 0x80 { return [UInt8(n)] }
        var bytes: [UInt8] = []
        var v = n
        while v > 0 { bytes.insert(UInt8(v & 0xff), at: 0); v >>= 8 }
        return [0x80 | UInt8(bytes.count)] + bytes
    }
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] { [tag] + length(content.count) + content }
    static func oid(_ dotted: String) -> [UInt8] {
        let parts = dotted.split(separator: ".").compactMap { UInt64($0) }
        var body: [UInt8] = [UInt8(parts[0] * 40 + parts[1])]
        for p in parts.dropFirst(2) {
            var stack: [UInt8] = [UInt8(p & 0x7f)]
            var v = p >> 7
            while v > 0 { stack.insert(UInt8(v & 0x7f) | 0x80, at: 0); v >>= 7 }
            body += stack
        }
        return tlv(0x06, body)
    }
}

/// Builds CMS SignedData in CAdES form for PAdES (ETSI EN 319 122-1 baseline, detached content).
///
/// Signed attributes: content-type (id-data), message-digest, signing-certificate-v2 (ESS, RFC 5035),
/// CMS algorithm protection (RFC 6211). No signingTime (ETSI EN 319 142-1 §6.3 forbids it in PAdES).
/// The chain is embedded; the signature value comes from the `SignatureKey`; an optional RFC 3161
/// signature time-stamp goes into the unsigned attribute id-aa-signatureTimeStampToken.
public enum CAdESBuilder {
    /// The SignerInfo signature value, returned to let the caller time-stamp it.
    public struct Built: Sendable {
        /// DER of the ContentInfo.
        public var der: [UInt8]
        /// The signature value bytes.
        public var signatureValue: [UInt8]
        /// Digest of the signed content.
        public var contentDigest: [UInt8]
    }

    /// Signs a content digest (computed over the PDF byte ranges). `timeStamp` receives the signature
    /// value and returns a time-stamp token (ContentInfo DER) to embed, or nil for B-B.
    public static func build(contentDigest: [UInt8], key: SignatureKey,
                             timeStamp: (@Sendable ([UInt8]) async throws -> [UInt8]?)? = nil, verify: Bool = true) async throws -> Built {
        let chain = OSSLCert.chain(key.certificateChainDER)
        guard chain.count == key.certificateChainDER.count, let leaf = chain.first else {
            throw SigningError(.badKey, "the key's certificate chain cannot be parsed")
        }
        defer { withExtendedLifetime(chain) {} }
        let extras = makeStack(Array(chain.dropFirst()))
        defer { sb_sk_X509_pop_free(extras) }
        var si: OpaquePointer? = nil
        // No certificates yet: the DER round trip below would parse them again (OpenSSL 3 decodes each
        // certificate's public key through its provider machinery, the largest cost of a seal).
        guard let cms = sb_cms_start_nocerts(leaf.ptr, key.signatureAlgorithm.md, 1, &si), let si else {
            throw SigningError(.cms, "cannot start the CMS structure: \(opensslError())")
        }
        defer { CMS_ContentInfo_free(cms) }

        func add(_ oid: String, _ der: [UInt8]) throws {
            let ok = der.withUnsafeBufferPointer { sb_cms_add_signed_attr_der(si, oid, $0.baseAddress, Int32($0.count)) }
            if ok != 1 { throw SigningError(.cms, "cannot add attribute \(oid): \(opensslError())") }
        }
        if sb_cms_signed_attr_count(si, OID.contentType) == 0 { try add(OID.contentType, DERWriter.oid(OID.data)) }
        if sb_cms_signed_attr_count(si, OID.messageDigest) == 0 { try add(OID.messageDigest, DERWriter.tlv(0x04, contentDigest)) }
        if sb_cms_signed_attr_count(si, OID.signingCertificateV2) == 0 {
            throw SigningError(.cms, "OpenSSL did not add signing-certificate-v2 (needs OpenSSL 3 with CAdES support)")
        }
        if sb_cms_signed_attr_count(si, OID.algorithmProtection) == 0 {
            guard let dig = withAllocated({ sb_cms_signer_alg_der(si, 0, $0) }),
                  let sig = withAllocated({ sb_cms_signer_alg_der(si, 1, $0) }) else {
                throw SigningError(.cms, "cannot read the signer's algorithms")
            }
            // CMSAlgorithmProtection ::= SEQUENCE { digestAlgorithm, signatureAlgorithm [1] IMPLICIT, ... }
            let sigImplicit = [UInt8(0xA1)] + sig.dropFirst()
            try add(OID.algorithmProtection, DERWriter.tlv(0x30, dig + sigImplicit))
        }
        // Round-trip through DER so the stored attribute order is the sorted DER order: OpenSSL re-encodes
        // signed attributes in stored order when verifying, and the signature must be over the DER SET.
        guard let draft = withAllocated({ i2d_CMS_ContentInfo(cms, $0) }),
              let cms2 = draft.withUnsafeBufferPointer({ sb_cms_parse($0.baseAddress, $0.count) }) else {
            throw SigningError(.cms, "cannot encode CMS: \(opensslError())")
        }
        defer { CMS_ContentInfo_free(cms2) }
        guard let si2 = sb_cms_first_signer(cms2) else { throw SigningError(.cms, "signer info lost in re-encoding") }
        guard sb_cms_add_certs(cms2, si2, leaf.ptr, extras) == 1 else { throw SigningError(.cms, "cannot add the certificates: \(opensslError())") }
        return try await finish(cms: cms2, si: si2, leaf: leaf, key: key, contentDigest: contentDigest, timeStamp: timeStamp, verify: verify)
    }

    private static func finish(cms: OpaquePointer, si: OpaquePointer, leaf: OSSLCert, key: SignatureKey, contentDigest: [UInt8],
                               timeStamp: (@Sendable ([UInt8]) async throws -> [UInt8]?)?, verify: Bool) async throws -> Built {
        guard let attrs = withAllocated({ sb_cms_signed_attrs_der(si, $0) }) else {
            throw SigningError(.cms, "cannot encode signed attributes: \(opensslError())")
        }
        let signature: [UInt8]
        do { signature = try await key.sign(attrs) } catch let e as SigningError { throw e } catch {
            throw SigningError(.signingFailed, "the key did not sign: \(error)")
        }
        guard signature.withUnsafeBufferPointer({ sb_cms_set_signature(si, $0.baseAddress, Int32($0.count)) }) == 1 else {
            throw SigningError(.cms, "cannot set the signature value")
        }
        // Self-check: a wrong key or a token returning garbage must fail here, not in the verifier.
        guard !verify || sb_cms_verify_signer(si, leaf.ptr) == 1 else {
            throw SigningError(.signingFailed, "the signature returned by the key does not verify with the signer certificate: \(opensslError())")
        }
        if let timeStamp, let token = try await timeStamp(sha256(signature)) {
            let ok = token.withUnsafeBufferPointer { sb_cms_add_unsigned_attr_der(si, OID.timeStampToken, $0.baseAddress, Int32($0.count)) }
            if ok != 1 { throw SigningError(.cms, "cannot embed the time-stamp token: \(opensslError())") }
        }
        guard let der = withAllocated({ i2d_CMS_ContentInfo(cms, $0) }) else {
            throw SigningError(.cms, "cannot encode CMS: \(opensslError())")
        }
        return Built(der: der, signatureValue: signature, contentDigest: contentDigest)
    }
}
