import COpenSSL
import Foundation
import SwiftASN1

/// A parsed CMS SignedData as found in a PDF signature's /Contents (RFC 5652), with its first SignerInfo.
final class CMSSignature: @unchecked Sendable {
    private let cms: OpaquePointer
    private let si: OpaquePointer
    /// Certificates embedded in SignedData.certificates.
    let certificates: [OSSLCert]
    /// CRLs embedded in SignedData.crls.
    let crls: [OSSLCRL]
    /// The signer's certificate, found by SignerIdentifier among the embedded ones.
    let signer: OSSLCert?
    let digestOID: String
    let signatureOID: String
    /// The message-digest signed attribute.
    let messageDigest: [UInt8]?
    /// The signature value.
    let signatureValue: [UInt8]
    /// DER of the signature time-stamp token (unsigned attribute), if any.
    let timeStampToken: [UInt8]?
    /// Whether a signingTime attribute is present (PAdES forbids it) and its value.
    let signingTime: Date?
    let hasSigningCertificateV2: Bool
    let hasAlgorithmProtection: Bool
    let signerInfoCount: Int

    /// Parses a DER ContentInfo (trailing zero padding from /Contents is ignored).
    init?(der: [UInt8]) {
        // OpenSSL 3 spends most of a CMS parse decoding the embedded certificates' keys. A batch's
        // signatures all embed the same chain: parse the SignedData without it, and take the parsed
        // certificates from the shared cache (keyed by their exact DER).
        let split = Self.splitCertificates(der)
        let body = split?.stripped ?? der
        guard let cms = body.withUnsafeBufferPointer({ sb_cms_parse($0.baseAddress, $0.count) }) else { return nil }
        guard let si = sb_cms_first_signer(cms) else { CMS_ContentInfo_free(cms); return nil }
        var certs: [OSSLCert] = []
        if let split {
            certs = OSSLCert.chain(split.certificates)
            guard certs.count == split.certificates.count else { CMS_ContentInfo_free(cms); return nil }
        } else if let sk = CMS_get1_certs(cms) {
            for i in 0..<sb_sk_X509_num(sk) { if let x = sb_sk_X509_value(sk, i) { X509_up_ref(x); certs.append(OSSLCert(owning: x)) } }
            sb_sk_X509_pop_free(sk)
        }
        self.cms = cms
        self.si = si
        signerInfoCount = Int(sb_sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)))
        certificates = certs
        var crlList: [OSSLCRL] = []
        if let sk = CMS_get1_crls(cms) {
            for i in 0..<sb_sk_X509_CRL_num(sk) {
                if let c = sb_sk_X509_CRL_value(sk, i), let der = withAllocated({ i2d_X509_CRL(c, $0) }), let crl = OSSLCRL(der: der) { crlList.append(crl) }
            }
            sb_sk_X509_CRL_pop_free(sk)
        }
        crls = crlList
        signer = certs.first { CMS_SignerInfo_cert_cmp(si, $0.ptr) == 0 }
        var dig = [CChar](repeating: 0, count: 128), sig = [CChar](repeating: 0, count: 128)
        sb_cms_signer_algs(si, &dig, 128, &sig, 128)
        digestOID = String(cString: dig)
        signatureOID = String(cString: sig)
        var n: Int32 = 0
        if let p = sb_cms_signature_bytes(si, &n) { signatureValue = Array(UnsafeBufferPointer(start: p, count: Int(n))) } else { signatureValue = [] }
        let mdAttr = withAllocated { sb_cms_attr_der(si, 1, OID.messageDigest, $0) }
        if let mdAttr, mdAttr.first == 0x04, let os = try? ASN1OctetString(derEncoded: ArraySlice(mdAttr)) {
            messageDigest = Array(os.bytes)
        } else { messageDigest = nil }
        timeStampToken = withAllocated { sb_cms_attr_der(si, 0, OID.timeStampToken, $0) }
        if let st = withAllocated({ sb_cms_attr_der(si, 1, OID.signingTime, $0) }) {
            signingTime = CMSSignature.parseTime(st)
        } else { signingTime = nil }
        hasSigningCertificateV2 = sb_cms_signed_attr_count(si, OID.signingCertificateV2) > 0
        hasAlgorithmProtection = sb_cms_signed_attr_count(si, OID.algorithmProtection) > 0
    }

    deinit { CMS_ContentInfo_free(cms) }

    /// Splits a DER ContentInfo(SignedData) into the same structure without `certificates` and the DER of
    /// each certificate. nil (parse it whole) for anything unusual: BER indefinite lengths, no or
    /// non-X.509 certificate choices, high tag numbers.
    static func splitCertificates(_ der: [UInt8]) -> (stripped: [UInt8], certificates: [[UInt8]])? {
        func tlv(_ i: Int, _ end: Int) -> (tag: UInt8, header: Int, length: Int)? {
            guard i + 2 <= end else { return nil }
            let tag = der[i]
            guard tag & 0x1f != 0x1f else { return nil }
            let l0 = der[i + 1]
            var length = 0, header = 2
            if l0 < 0x80 { length = Int(l0) } else {
                let n = Int(l0 & 0x7f)
                guard n >= 1, n <= 4, i + 2 + n <= end else { return nil }
                for k in 0..<n { length = length << 8 | Int(der[i + 2 + k]) }
                header += n
            }
            guard i + header + length <= end else { return nil }
            return (tag, header, length)
        }
        guard let ci = tlv(0, der.count), ci.tag == 0x30 else { return nil }
        let ciEnd = ci.header + ci.length
        var p = ci.header
        guard let oid = tlv(p, ciEnd), oid.tag == 0x06 else { return nil }
        let oidBytes = der[p..<p + oid.header + oid.length]
        p += oid.header + oid.length
        guard let wrap = tlv(p, ciEnd), wrap.tag == 0xA0 else { return nil }
        p += wrap.header
        guard let sd = tlv(p, ciEnd), sd.tag == 0x30 else { return nil }
        var q = p + sd.header
        let sdEnd = q + sd.length
        var kept: [UInt8] = []
        kept.reserveCapacity(sd.length)
        var certificates: [[UInt8]] = []
        var found = false
        while q < sdEnd {
            guard let e = tlv(q, sdEnd) else { return nil }
            let next = q + e.header + e.length
            if e.tag == 0xA0, !found {
                found = true
                var c = q + e.header
                while c < next {
                    guard let x = tlv(c, next), x.tag == 0x30 else { return nil }
                    certificates.append(Array(der[c..<c + x.header + x.length]))
                    c += x.header + x.length
                }
            } else {
                kept += der[q..<next]
            }
            q = next
        }
        guard found, !certificates.isEmpty else { return nil }
        return (DERWriter.tlv(0x30, Array(oidBytes) + DERWriter.tlv(0xA0, DERWriter.tlv(0x30, kept))), certificates)
    }

    /// Verifies the signature value over the signed attributes with the signer's public key.
    func signatureIsValid() -> Bool {
        guard let signer else { return false }
        return sb_cms_verify_signer(si, signer.ptr) == 1
    }

    /// Checks the ESS signing-certificate(-v2) attribute names the signer certificate (RFC 5035 §5.4).
    /// nil when neither attribute is present.
    func essCertificateMatches() -> Bool? {
        guard let signer else { return nil }
        if let der = withAllocated({ sb_cms_attr_der(si, 1, OID.signingCertificateV2, $0) }) {
            guard let hashes = try? CMSSignature.essHashes(der, v2: true) else { return false }
            return hashes.contains { alg, h in
                guard let d = Digest.named(oid: alg) else { return false }
                d.update(signer.der)
                return d.finish() == h
            }
        }
        if let der = withAllocated({ sb_cms_attr_der(si, 1, OID.signingCertificate, $0) }) {
            guard let hashes = try? CMSSignature.essHashes(der, v2: false) else { return false }
            return hashes.contains { _, h in let d = Digest(EVP_sha1()); d.update(signer.der); return d.finish() == h }
        }
        return nil
    }

    /// (hash algorithm OID, cert hash) pairs of a SigningCertificate(V2) value.
    static func essHashes(_ der: [UInt8], v2: Bool) throws -> [(String, [UInt8])] {
        let root = try DER.parse(der)
        guard case .constructed(let seqs) = root.content, let certsNode = seqs.first(where: { _ in true }),
              case .constructed(let ids) = certsNode.content else { return [] }
        var out: [(String, [UInt8])] = []
        for id in ids {
            guard case .constructed(let fields) = id.content else { continue }
            var alg = v2 ? OID.sha256 : "1.3.14.3.2.26"
            for f in fields {
                if f.identifier == .sequence, v2, case .constructed(let a) = f.content, let o = a.first(where: { _ in true }),
                   let oid = try? ASN1ObjectIdentifier(derEncoded: o) { alg = oid.description }
                if f.identifier == .octetString, let os = try? ASN1OctetString(derEncoded: f) { out.append((alg, Array(os.bytes))) }
            }
        }
        return out
    }

    static func parseTime(_ der: [UInt8]) -> Date? {
        if let t = try? UTCTime(derEncoded: ArraySlice(der)) {
            return DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds).date
        }
        if let t = try? GeneralizedTime(derEncoded: ArraySlice(der)) {
            return DateComponents(calendar: Calendar(identifier: .gregorian), timeZone: TimeZone(identifier: "UTC"), year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds).date
        }
        return nil
    }
}

/// A verified look at an RFC 3161 time-stamp token.
struct TimeStampInfo {
    let time: Date
    let imprintOID: String
    let imprint: [UInt8]
    /// Signature over TSTInfo verifies (the path is checked separately).
    let signatureValid: Bool
    let signer: OSSLCert?
    let certificates: [OSSLCert]

    init?(der: [UInt8]) {
        var oid = [CChar](repeating: 0, count: 128)
        var imp = [UInt8](repeating: 0, count: 64)
        var impLen: Int32 = 0
        var t: Int64 = 0
        var signer: OpaquePointer? = nil
        var certs: OpaquePointer? = nil
        let rc = der.withUnsafeBufferPointer { sb_tst_inspect($0.baseAddress, Int32($0.count), &oid, 128, &imp, &impLen, &t, &signer, &certs) }
        guard rc != 2 else { return nil }
        time = Date(timeIntervalSince1970: TimeInterval(t))
        imprintOID = String(cString: oid)
        imprint = Array(imp.prefix(Int(impLen)))
        signatureValid = rc == 0
        self.signer = signer.map { OSSLCert(owning: $0) }
        var list: [OSSLCert] = []
        if let certs {
            for i in 0..<sb_sk_X509_num(certs) { if let x = sb_sk_X509_value(certs, i) { X509_up_ref(x); list.append(OSSLCert(owning: x)) } }
            sb_sk_X509_pop_free(certs)
        }
        certificates = list
    }

    /// Whether the token time-stamps exactly these bytes.
    func covers(_ bytes: [UInt8]) -> Bool {
        guard let d = Digest.named(oid: imprintOID) else { return false }
        d.update(bytes)
        return d.finish() == imprint
    }
}
