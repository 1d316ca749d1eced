import COpenSSL
import Foundation
import Logging

/// Validation data for a PAdES DSS (ETSI EN 319 142-1 §5.4): certificates, CRLs and OCSP responses, each DER.
public struct RevocationData: Sendable, Equatable {
    public var certificates: [[UInt8]]
    public var crls: [[UInt8]]
    /// Full OCSPResponse structures (RFC 6960 §4.2.1).
    public var ocspResponses: [[UInt8]]
    public init(certificates: [[UInt8]] = [], crls: [[UInt8]] = [], ocspResponses: [[UInt8]] = []) {
        self.certificates = certificates
        self.crls = crls
        self.ocspResponses = ocspResponses
    }
    mutating func merge(_ o: RevocationData) {
        for c in o.certificates where !certificates.contains(c) { certificates.append(c) }
        for c in o.crls where !crls.contains(c) { crls.append(c) }
        for c in o.ocspResponses where !ocspResponses.contains(c) { ocspResponses.append(c) }
    }
}

/// Fetches CRLs and OCSP responses once per batch and keeps them (share one instance across a batch).
///
/// Keys: the CRL URL; for OCSP the responder URL plus issuer and serial. Failures are cached too, so a
/// dead responder costs one timeout per batch, not one per document.
public actor RevocationCache {
    private var crlCache: [String: [UInt8]?] = [:]
    private var ocspCache: [String: [UInt8]?] = [:]
    private let timeout: TimeInterval
    private let logger = Logger(label: "sealbatch.signing.revocation")
    /// Number of network fetches made (cache misses).
    public private(set) var fetchCount = 0

    /// A folder of CRLs and OCSP responses (DER or PEM, any file names) refreshed by the operator: used before
    /// (and, with `fetch` false, instead of) the network — a seal certificate without CRL/OCSP URLs can reach B-LT.
    public let offlineFolder: URL?
    /// Fetch over the network what the offline folder does not hold.
    public let fetch: Bool
    private var offlineLoaded = false
    private var offlineCRLs: [OSSLCRL] = []
    private var offlineOCSPs: [[UInt8]] = []

    public init(timeout: TimeInterval = 10, offlineFolder: URL? = nil, fetch: Bool = true) {
        self.timeout = timeout; self.offlineFolder = offlineFolder; self.fetch = fetch
    }

    /// Reads the offline folder once: each file is a CRL (DER/PEM) or else kept as a candidate OCSP response.
    private func loadOffline() {
        guard !offlineLoaded else { return }
        offlineLoaded = true
        guard let dir = offlineFolder,
              let names = try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil) else { return }
        for f in names.sorted(by: { $0.lastPathComponent < $1.lastPathComponent }) {
            guard let d = try? Data(contentsOf: f), d.count < 64 << 20 else { continue }
            var bytes = Array(d)
            if OSSLCRL(der: bytes) == nil, let pem = pemToDER(bytes), OSSLCRL(der: pem) != nil { bytes = pem }
            if let c = OSSLCRL(der: bytes) { offlineCRLs.append(c) } else { offlineOCSPs.append(bytes) }
        }
        logger.info("offline revocation data", metadata: ["folder": "\(dir.path)", "crls": "\(offlineCRLs.count)", "other": "\(offlineOCSPs.count)"])
    }

    /// An offline CRL issued (and signed) by `issuer`, if the folder holds one.
    func offlineCRL(issuer: OSSLCert) -> [UInt8]? {
        loadOffline()
        for c in offlineCRLs {
            guard X509_NAME_cmp(X509_CRL_get_issuer(c.ptr), X509_get_subject_name(issuer.ptr)) == 0,
                  let key = X509_get0_pubkey(issuer.ptr), X509_CRL_verify(c.ptr, key) == 1 else { ERR_clear_error(); continue }
            return c.der
        }
        return nil
    }

    /// An offline OCSP response about `cert`, if the folder holds one.
    func offlineOCSP(cert: OSSLCert, issuer: OSSLCert) -> [UInt8]? {
        loadOffline()
        for bytes in offlineOCSPs {
            var rev: Int64 = 0, tu: Int64 = 0, pa: Int64 = 0
            let st = bytes.withUnsafeBufferPointer { sb_ocsp_check($0.baseAddress, Int32($0.count), cert.ptr, issuer.ptr, nil, &rev, &tu, &pa) }
            if st != -1 && st != -3 { return bytes }
        }
        ERR_clear_error()
        return nil
    }

    func crl(url: String) async -> [UInt8]? {
        if let hit = crlCache[url] { return hit }
        fetchCount += 1
        var result: [UInt8]? = nil
        if let u = URL(string: url), u.scheme == "http" || u.scheme == "https" {
            do {
                var bytes = try await HTTP.get(u, timeout: timeout)
                if OSSLCRL(der: bytes) == nil, let pem = pemToDER(bytes) { bytes = pem }
                result = OSSLCRL(der: bytes) != nil ? bytes : nil
            } catch { logger.info("CRL fetch failed", metadata: ["url": "\(url)"]) }
        }
        crlCache[url] = result
        return result
    }

    func ocsp(url: String, cert: OSSLCert, issuer: OSSLCert) async -> [UInt8]? {
        let key = url + "|" + issuer.oneLine(subject: true) + "|" + cert.serialHex
        if let hit = ocspCache[key] { return hit }
        fetchCount += 1
        var result: [UInt8]? = nil
        if let u = URL(string: url), let req = withAllocated({ sb_ocsp_request(cert.ptr, issuer.ptr, $0) }) {
            do {
                let bytes = try await HTTP.post(u, contentType: "application/ocsp-request", body: req, timeout: timeout)
                var rev: Int64 = 0, tu: Int64 = 0, pa: Int64 = 0
                let st = bytes.withUnsafeBufferPointer { sb_ocsp_check($0.baseAddress, Int32($0.count), cert.ptr, issuer.ptr, nil, &rev, &tu, &pa) }
                if st != -1 && st != -3 { result = bytes }
            } catch { logger.info("OCSP fetch failed", metadata: ["url": "\(url)"]) }
        }
        ocspCache[key] = result
        return result
    }

    /// Collects revocation data for every non-root certificate of `chain` (leaf first), fetching OCSP
    /// (when the certificate names a responder) and CRLs (when it names a distribution point).
    /// Throws `revocationUnavailable` when some certificate has neither.
    func collect(chain: [OSSLCert], pool: [OSSLCert]) async throws -> RevocationData {
        var data = RevocationData()
        let all = chain + pool
        for c in all where !data.certificates.contains(c.der) { data.certificates.append(c.der) }
        for cert in chain where !cert.isSelfSigned {
            guard let issuer = all.first(where: { $0.issued(cert) && !$0.sameAs(cert) }) else {
                throw SigningError(.revocationUnavailable,
                    "the issuer of \(cert.oneLine(subject: true)) (issued by \(cert.oneLine(subject: false))) is not in the seal's chain: "
                    + "configure the chain (the registered seal's chain, or the sign stage's \"chain\" file with the intermediate and root certificates); "
                    + "the token holds only the seal certificate")
            }
            var got = false
            // The operator's offline folder first, then the network (unless fetching is off).
            if let resp = offlineOCSP(cert: cert, issuer: issuer) { data.ocspResponses.append(resp); got = true }
            if let crl = offlineCRL(issuer: issuer) { if !data.crls.contains(crl) { data.crls.append(crl) }; got = true }
            if !got && fetch {
                if let url = cert.ocspURL, let resp = await ocsp(url: url, cert: cert, issuer: issuer) {
                    data.ocspResponses.append(resp); got = true
                    // Responder certificates travel in the response; add them to the DSS certificate pool too.
                }
                if let url = cert.crlURL, let crl = await crl(url: url) {
                    if !data.crls.contains(crl) { data.crls.append(crl) }
                    got = true
                }
            }
            if !got {
                let urls = [cert.ocspURL.map { "OCSP \($0)" }, cert.crlURL.map { "CRL \($0)" }].compactMap { $0 }
                let online = !fetch ? "fetching is off" : urls.isEmpty ? "the certificate names no OCSP responder and no CRL distribution point"
                    : "\(urls.joined(separator: ", ")) did not answer"
                let offline = offlineFolder.map { "the offline revocation folder \($0.path) holds no CRL signed by \(issuer.oneLine(subject: true)) and no OCSP response for it" }
                    ?? "no offline revocation folder is configured"
                throw SigningError(.revocationUnavailable,
                    "no revocation data for \(cert.oneLine(subject: true)) (serial \(cert.serialHex)): \(online), and \(offline). "
                    + "Put its issuer's current CRL (or an OCSP response) into the revocation folder (sign stage \"revocation-folder\"), or seal at B-T")
            }
        }
        return data
    }

    /// Public entry: collect for a DER chain (leaf first; extra certificates help find issuers).
    public func collect(chainDER: [[UInt8]]) async throws -> RevocationData {
        let certs = chainDER.compactMap { OSSLCert(der: $0) }
        let chain = orderChain(leaf: certs.first, pool: certs)
        return try await collect(chain: chain, pool: certs)
    }
}

/// Orders a chain leaf → root using issuer links within `pool`.
func orderChain(leaf: OSSLCert?, pool: [OSSLCert]) -> [OSSLCert] {
    guard var cur = leaf else { return [] }
    var out = [cur]
    while !cur.isSelfSigned, out.count < 10, let next = pool.first(where: { c in c.issued(cur) && !c.sameAs(cur) && !out.contains(where: { o in o.sameAs(c) }) }) {
        out.append(next)
        cur = next
    }
    return out
}

func pemToDER(_ bytes: [UInt8]) -> [UInt8]? {
    let s = String(decoding: bytes, as: UTF8.self)
    guard s.contains("-----BEGIN") else { return nil }
    let body = s.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    return Data(base64Encoded: body).map { [UInt8]($0) }
}

/// Status of one certificate from the revocation data at hand.
enum CertRevocation {
    case good(source: String, at: Date?)
    case revoked(source: String, time: Date)
    case unknown(reason: String)
}

/// Checks `cert` (issued by `issuer`) against OCSP responses, then CRLs.
func revocationStatus(cert: OSSLCert, issuer: OSSLCert, crls: [OSSLCRL], ocsps: [[UInt8]], anchors: [OSSLCert]) -> CertRevocation {
    let anchorStack = makeStack(anchors)
    defer { sb_sk_X509_pop_free(anchorStack) }
    for resp in ocsps {
        var rev: Int64 = 0, tu: Int64 = 0, pa: Int64 = 0
        let st = resp.withUnsafeBufferPointer { sb_ocsp_check($0.baseAddress, Int32($0.count), cert.ptr, issuer.ptr, anchorStack, &rev, &tu, &pa) }
        switch st {
        case 0: return .good(source: "OCSP", at: Date(timeIntervalSince1970: TimeInterval(tu)))
        case 1: return .revoked(source: "OCSP", time: Date(timeIntervalSince1970: TimeInterval(rev)))
        default: continue
        }
    }
    for crl in crls {
        var rev: Int64 = 0, tu: Int64 = 0, nu: Int64 = 0
        let st = sb_crl_status(crl.ptr, cert.ptr, issuer.ptr, &rev, &tu, &nu)
        if st == 1 { return .revoked(source: "CRL", time: Date(timeIntervalSince1970: TimeInterval(rev))) }
        if st == 0 { return .good(source: "CRL", at: Date(timeIntervalSince1970: TimeInterval(tu))) }
    }
    return .unknown(reason: "no CRL or OCSP response for this certificate")
}

/// Result of building and checking a certificate path with OpenSSL (RFC 5280 §6).
struct PathCheck {
    /// 0 when the path validates; otherwise an OpenSSL X509_V_ERR code.
    let error: Int32
    let errorDepth: Int
    /// leaf → anchor when built.
    let chain: [OSSLCert]
    var ok: Bool { error == 0 }
    var message: String { error == 0 ? "ok" : String(cString: X509_verify_cert_error_string(Int(error))) }

    init(leaf: OSSLCert, pool: [OSSLCert], anchors: [OSSLCert], at time: Date, purpose: Int32 = 0) {
        let untrusted = makeStack(pool)
        let trust = makeStack(anchors)
        defer { sb_sk_X509_pop_free(untrusted); sb_sk_X509_pop_free(trust) }
        var depth: Int32 = 0
        var chainSk: OpaquePointer? = nil
        error = sb_verify_path(leaf.ptr, untrusted, trust, nil, 0, Int64(time.timeIntervalSince1970), purpose, &depth, &chainSk)
        errorDepth = Int(depth)
        var list: [OSSLCert] = []
        if let chainSk {
            for i in 0..<sb_sk_X509_num(chainSk) { if let x = sb_sk_X509_value(chainSk, i) { X509_up_ref(x); list.append(OSSLCert(owning: x)) } }
            sb_sk_X509_pop_free(chainSk)
        }
        chain = list
        ERR_clear_error()
    }
}

func leafKeyBits(_ c: OSSLCert) -> Int32 { sb_key_bits(c.ptr) }

/// DER of the certificates carried in an OCSP response.
func ocspResponderCerts(_ resp: [UInt8]) -> [[UInt8]] {
    guard let sk = resp.withUnsafeBufferPointer({ sb_ocsp_certs($0.baseAddress, Int32($0.count)) }) else { return [] }
    defer { sb_sk_X509_pop_free(sk) }
    var out: [[UInt8]] = []
    for i in 0..<sb_sk_X509_num(sk) { if let x = sb_sk_X509_value(sk, i), let d = withAllocated({ i2d_X509(x, $0) }) { out.append(d) } }
    return out
}
