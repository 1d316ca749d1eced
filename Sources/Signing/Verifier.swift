import COpenSSL
import Foundation
import Logging
import PDF

/// How revocation is checked.
public enum RevocationPolicy: String, Sendable, Codable {
    /// Not checked (reported as not-checked).
    case off
    /// Revoked certificates fail; missing revocation data is only noted.
    case softFail = "soft-fail"
    /// Missing revocation data makes the signature INDETERMINATE/TRY_LATER.
    case hardFail = "hard-fail"
}

/// Verifies the signatures of PDFs: integrity, cryptography, certificate path, revocation, time-stamps,
/// modifications after signing, PAdES level, with an ETSI EN 319 102-1 indication per signature.
public struct Verifier: Sendable {
    /// Settings of a verification run.
    public struct Options: Sendable {
        public var revocation: RevocationPolicy = .softFail
        /// Fetch CRLs/OCSP over the network when the file does not embed them.
        public var fetchRevocation: Bool = true
        /// A signature below this level fails (INDETERMINATE/SIG_CONSTRAINTS_FAILURE).
        public var requiredLevel: PAdESLevel? = nil
        public var revocationCache: RevocationCache? = nil
        public var timeout: TimeInterval = 10
        /// Validation time (defaults to now).
        public var validationTime: Date? = nil
        /// What a document signer's certificate must allow (key usage, extended key usage).
        public var signerPolicy: SignerCertificatePolicy = .default
        /// Also report the SHA-256 of the file's first `prefixLength` bytes (`FileReport.prefix`), taken in
        /// the same read as everything else: the verify stage checks with it that a sealed output starts
        /// with exactly the approved bytes, without reading the original again.
        public var prefixLength: Int? = nil
        public init() {}
    }

    let anchors: [[UInt8]]
    public let options: Options
    private let logger = Logger(label: "sealbatch.signing.verifier")

    /// The same verifier, also reporting the SHA-256 of each file's first `prefixLength` bytes.
    public func with(prefixLength: Int) -> Verifier {
        var o = options
        o.prefixLength = prefixLength
        return Verifier(trustAnchorsDER: anchors, options: o)
    }

    /// Trust anchors as DER certificates.
    public init(trustAnchorsDER: [[UInt8]], options: Options = Options()) {
        self.anchors = trustAnchorsDER
        self.options = options
    }

    /// Trust anchors from files or directories of PEM / DER certificates (`--trust FILE|DIR`).
    public init(trust: [URL], options: Options = Options()) throws {
        var ders: [[UInt8]] = []
        var files: [URL] = []
        for u in trust {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir) else {
                throw SigningError(.badKey, "trust anchor path does not exist", file: u.path)
            }
            if isDir.boolValue {
                // An unreadable anchor folder is an error, never an empty trust list.
                let items: [URL]
                do { items = try FileManager.default.contentsOfDirectory(at: u, includingPropertiesForKeys: nil) } catch {
                    throw SigningError(.badKey, "the trust anchor folder cannot be read: \(error.localizedDescription)", file: u.path)
                }
                let certs = items.filter { ["pem", "crt", "cer", "der"].contains($0.pathExtension.lowercased()) }
                if certs.isEmpty { throw SigningError(.badKey, "the trust anchor folder holds no certificate (.pem, .crt, .cer, .der)", file: u.path) }
                files += items.filter { ["pem", "crt", "cer", "der"].contains($0.pathExtension.lowercased()) }.sorted { $0.path < $1.path }
            } else { files.append(u) }
        }
        for f in files {
            let bytes = try [UInt8](Data(contentsOf: f))
            let pems = OSSLCert.loadPEMs(bytes)
            if !pems.isEmpty { ders += pems.map(\.der) } else if let c = OSSLCert(der: bytes) { ders.append(c.der) }
            else { throw SigningError(.badKey, "not a certificate (PEM or DER)", file: f.path) }
        }
        self.init(trustAnchorsDER: ders, options: options)
    }

    /// Verifies several files.
    public func verify(urls: [URL]) async -> VerificationReport {
        var files: [FileReport] = []
        for u in urls { files.append(await verify(url: u)) }
        return VerificationReport(validationTime: options.validationTime ?? Date(), requiredLevel: options.requiredLevel, files: files)
    }

    /// Verifies one file. Never throws: unreadable input becomes a failed `FileReport`.
    public func verify(url: URL) async -> FileReport {
        let started = Date()
        var report = await verifyFile(url: url)
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    func verifyFile(url: URL) async -> FileReport {
        var report = FileReport(path: url.path, sha256: nil, size: nil, title: nil, pages: nil, revisions: nil, error: nil, signatures: [], passed: false)
        // Unreadable: reported as the file's error (a failed report), never as a pass.
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
        report.size = size
        guard let size else { report.error = "file not found or unreadable"; return report }
        let doc: PDFDocument
        do { doc = try PDFDocument(url: url) } catch {
            if size > 0, let h = try? sha256(file: url, ranges: [0, size]) { report.sha256 = hex(h) } // informational only
            report.error = "not a readable PDF: \((error as? PDFError)?.message ?? "\(error)")"
            return report
        }
        let fields = doc.signatureFields.filter(\.isSigned)
        // One read of the file gives the whole file's hash (informational), the requested prefix's and the
        // SHA-256 of every byte range that starts at 0; a range it cannot serve is hashed on its own below.
        let pass = Self.onePass(url: url, size: size, ranges: fields.compactMap(\.byteRange), prefix: options.prefixLength)
        if let pass { report.sha256 = hex(pass.whole) }
        else if size > 0, let h = try? sha256(file: url, ranges: [0, size]) { report.sha256 = hex(h) }
        if let n = options.prefixLength {
            let p = pass?.prefix ?? (n >= 0 && n <= size ? try? sha256(file: url, ranges: [0, n]) : nil)
            report.prefix = p.map { PrefixDigest(length: n, sha256: hex($0)) }
        }
        let info = doc.info
        report.title = info.title ?? info.xmpTitle
        report.pages = doc.pageCount
        report.revisions = doc.revisions.count
        let ctx = Context(doc: doc, url: url, anchors: OSSLCert.chain(anchors), now: options.validationTime ?? Date())
        ctx.sha256Ranges = pass?.ranges ?? [:]
        for f in fields {
            report.signatures.append(await verifySignature(f, ctx: ctx, allFields: fields))
        }
        if fields.isEmpty { report.error = nil }
        report.passed = !report.signatures.isEmpty && report.signatures.allSatisfy { $0.indication == .totalPassed }
        // The newest signature is the one whose byte range ends last.
        func end(_ s: SignatureReport) -> Int { s.coverage.map { $0.byteRange.count == 4 ? $0.byteRange[2] &+ $0.byteRange[3] : 0 } ?? -1 }
        if let newest = report.signatures.max(by: { end($0) < end($1) }), newest.coverage != nil {
            report.changedAfterLastSignature = !(newest.coverage?.coversWholeFile ?? false) || newest.modifications.level != .none
        }
        return report
    }

    // MARK: - One signature

    final class Context: @unchecked Sendable {
        let doc: PDFDocument
        let url: URL
        let anchors: [OSSLCert]
        let now: Date
        lazy var dss: DSSContent = DSSContent(doc: doc)
        /// SHA-256 of byte ranges, computed from the file in `onePass` (the same file, read by this verification).
        var sha256Ranges: [[Int]: [UInt8]] = [:]
        private var revisionDocs: [Int: PDFDocument] = [:]
        init(doc: PDFDocument, url: URL, anchors: [OSSLCert], now: Date) {
            self.doc = doc
            self.url = url
            self.anchors = anchors
            self.now = now
        }

        /// The file as it was at the revision ending at `end` (the same mapping, cut short; cached per run).
        func revisionDocument(end: Int) throws -> PDFDocument {
            if end >= doc.fileSize { return doc }
            if let d = revisionDocs[end] { return d }
            let d = try doc.prefix(endingAt: end)
            revisionDocs[end] = d
            return d
        }
    }

    func verifySignature(_ f: SignatureField, ctx: Context, allFields: [SignatureField]) async -> SignatureReport {
        let doc = ctx.doc
        let sigDict = f.signature ?? PDFDictionary()
        let isDocTS = f.type == "DocTimeStamp" || f.subFilter == "ETSI.RFC3161"
        var r = SignatureReport(
            field: f.name, kind: isDocTS ? "document-timestamp" : (f.isCertification ? "certification" : "signature"),
            indication: .totalFailed, subIndication: .formatFailure, summary: "", signer: nil,
            name: f.signerName, reason: f.reason, location: f.location,
            contactInfo: doc.resolve(sigDict, "ContactInfo")?.stringValue?.text,
            claimedSigningTime: f.signingTime.flatMap(parsePDFDate), timestamp: nil, subFilter: f.subFilter,
            digestAlgorithm: nil, signatureAlgorithm: nil, padesLevel: nil, coverage: nil,
            integrity: Check(false, "not checked"), cryptographic: Check(false, "not checked"),
            certificatePath: Check(false, "not checked"), chain: [], revocation: Check(false, "not checked"),
            modifications: ModificationReport(level: .other, allowed: false, permitted: .none, details: []),
            docMDP: nil, notes: [])
        func fail(_ ind: Indication, _ sub: SubIndication?, _ why: String) -> SignatureReport {
            var x = r
            x.indication = ind
            x.subIndication = sub
            x.summary = why
            return x
        }
        if f.isCertification { r.docMDP = docMDPOf(sigDict, doc: doc) ?? 2 }

        // 1. Byte range and /Contents (format).
        guard let brIn = f.byteRange, brIn.count == 4 else { return fail(.totalFailed, .formatFailure, "/ByteRange is missing or not four numbers") }
        var cov = doc.coverage(of: brIn)
        var br = brIn
        var pastEOF = 0
        if case .invalid(let why) = cov {
            // A range reaching a few bytes past the end of file (a known producer bug) is checked over the bytes that
            // exist; it can be intact, but such a signature never counts as covering the document.
            let end = br[2] &+ br[3]
            if br.allSatisfy({ $0 >= 0 }), br[0] == 0, br[2] >= br[1], end > doc.fileSize, end - doc.fileSize <= 16, br[2] < doc.fileSize {
                pastEOF = end - doc.fileSize
                br[3] -= pastEOF
                cov = .partial
            } else {
                return fail(.totalFailed, .formatFailure, "/ByteRange is invalid: \(why)")
            }
        }
        let end = br[2] + br[3]
        var revisionIndex: Int? = nil
        if case .revision(let i) = cov { revisionIndex = i }
        if case .wholeFile = cov { revisionIndex = doc.revisions.count - 1 }
        if pastEOF > 0 { r.notes.append("/ByteRange reaches \(pastEOF) byte(s) past the end of the file") }
        r.coverage = CoverageReport(byteRange: f.byteRange ?? br, coveredBytes: br[1] + br[3], fileSize: doc.fileSize,
                                    revision: revisionIndex.map { $0 + 1 }, coversWholeFile: cov == .wholeFile)
        if let ri = revisionIndex, !isDocTS { r.appearance = appearanceReport(f, revisionIndex: ri, end: end, ctx: ctx) }
        guard let contents = f.contents, !contents.isEmpty else { return fail(.totalFailed, .formatFailure, "/Contents is missing or empty") }
        // The gap must be exactly the /Contents hex string.
        let gap = doc.bytes(in: (br[0] + br[1])..<br[2])
        guard gap.first == UInt8(ascii: "<"), gap.last == UInt8(ascii: ">"), gap.count == contents.count * 2 + 2 else {
            return fail(.totalFailed, .formatFailure, "the bytes left out by /ByteRange are not exactly the /Contents string")
        }

        // 2. Parse CMS.
        if isDocTS {
            return await verifyDocTimeStamp(f, r: r, contents: contents, br: br, ctx: ctx)
        }
        guard let cms = CMSSignature(der: contents) else { return fail(.totalFailed, .formatFailure, "/Contents is not a CMS SignedData structure") }
        r.digestAlgorithm = algorithmName(cms.digestOID)
        r.signatureAlgorithm = algorithmName(cms.signatureOID)
        guard let signer = cms.signer else { return fail(.indeterminate, .noSigningCertificateFound, "the signer's certificate is not in the signature") }
        r.signer = certReport(signer)
        if cms.signingTime != nil && f.subFilter == "ETSI.CAdES.detached" { r.notes.append("signingTime attribute present (PAdES baseline forbids it)") }

        // 3. Integrity.
        guard let digest = digestRanges(ctx, br, oid: cms.digestOID) else {
            return fail(.totalFailed, .formatFailure, "unsupported digest algorithm \(cms.digestOID)")
        }
        guard let md = cms.messageDigest else { return fail(.totalFailed, .formatFailure, "no message-digest attribute") }
        r.integrity = Check(md == digest, md == digest ? "the signed bytes are unchanged (\(r.digestAlgorithm ?? "") \(hex(digest).prefix(16))…)" : "the signed bytes were changed: digest does not match")
        if md != digest { return fail(.totalFailed, .hashFailure, "the document was changed inside the signed byte range") }

        // 4. Signature value.
        let sigOK = cms.signatureIsValid()
        r.cryptographic = Check(sigOK, sigOK ? "signature value verifies with the signer's public key" : "signature value does not verify")
        if !sigOK { return fail(.totalFailed, .sigCryptoFailure, "the signature value is not valid for the signed data") }
        if cms.essCertificateMatches() == false {
            r.cryptographic = Check(false, "the signing-certificate attribute names another certificate")
            return fail(.totalFailed, .sigCryptoFailure, "the signing-certificate attribute does not match the signer certificate")
        }

        // 5. Time-stamp.
        let pool = cms.certificates + ctx.dss.certs
        var poe: Date? = nil
        var tsOK = true
        if let tok = cms.timeStampToken {
            let (rep, ok) = timeStampReport(tok, covering: cms.signatureValue, pool: pool, ctx: ctx)
            r.timestamp = rep
            tsOK = ok
            if ok { poe = rep?.time }
        }

        // 6. Certificate path.
        let path = PathCheck(leaf: signer, pool: pool, anchors: ctx.anchors, at: ctx.now)
        var pathResult = path
        var pathNote = ""
        if !path.ok, path.error == X509_V_ERR_CERT_HAS_EXPIRED, let poe, poe < signer.notAfter {
            let atPOE = PathCheck(leaf: signer, pool: pool, anchors: ctx.anchors, at: poe)
            if atPOE.ok { pathResult = atPOE; pathNote = " (valid at the time-stamp \(poe.iso8601); expired since)" }
        }
        let chain = pathResult.chain.isEmpty ? orderChain(leaf: signer, pool: pool) : pathResult.chain
        r.chain = chain.map { c in
            var cr = certReport(c)
            if ctx.anchors.contains(where: { $0.sameAs(c) }) { cr.revocation = "trust-anchor" }
            return cr
        }
        let usage = options.signerPolicy.check(signer)
        let kuOK = usage == nil
        if pathResult.ok {
            r.certificatePath = Check(kuOK, usage ?? "chains to a trust anchor: \(chain.last?.oneLine(subject: true) ?? "?")\(pathNote)")
        } else {
            r.certificatePath = Check(false, "\(pathResult.message) (at certificate depth \(pathResult.errorDepth))")
        }

        // 7. Revocation.
        let revData = pathResult.ok ? await revocationFor(chain: chain, cms: cms, ctx: ctx)
            : RevocationOutcome(perCert: chain.map { _ in ("not-checked", nil, nil) }, check: Check(false, "not checked: no trusted certificate path"), revoked: nil, unknown: true)
        r.chain = zip(r.chain, revData.perCert).map { c, s in var c = c; if c.revocation != "trust-anchor" { c.revocation = s.status; c.revocationSource = s.source; c.revocationTime = s.time }; return c }
        r.revocation = revData.check

        // 8. Modifications after signing.
        r.modifications = analyseModifications(doc: doc, ctx: ctx, end: end, cov: cov, allFields: allFields, thisField: f)

        // 9. PAdES level.
        r.padesLevel = padesLevel(f: f, cms: cms, tsOK: tsOK && r.timestamp != nil, chain: chain, ctx: ctx, end: end, allFields: allFields)

        // 10. Verdict.
        if !pathResult.ok {
            switch pathResult.error {
            case X509_V_ERR_CERT_HAS_EXPIRED:
                return fail(.indeterminate, .outOfBoundsNoPOE, "a certificate in the path has expired (\(pathResult.message)) and no time-stamp proves the seal was made before")
            case X509_V_ERR_CERT_NOT_YET_VALID:
                return fail(.indeterminate, .outOfBoundsNoPOE, "a certificate in the path is not yet valid")
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                 X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
                return fail(.indeterminate, .noCertificateChainFound, "the signer's certificate does not chain to a trusted root")
            default:
                return fail(.indeterminate, .certificateChainGeneralFailure, "certificate path problem: \(pathResult.message)")
            }
        }
        if let usage { return fail(.indeterminate, .chainConstraintsFailure, usage) }
        if let rev = revData.revoked {
            if let poe, poe < rev.time {
                r.notes.append("certificate revoked at \(rev.time.iso8601), after the time-stamp \(poe.iso8601)")
            } else if let poe, poe >= rev.time {
                return fail(.totalFailed, .revoked, "the signer's certificate was revoked (\(rev.source)) before the seal was time-stamped")
            } else {
                return fail(.indeterminate, .revokedNoPOE, "a certificate in the path is revoked (\(rev.source), \(rev.time.iso8601)) and no time-stamp proves the seal was made before")
            }
        }
        if options.revocation == .hardFail && revData.unknown {
            return fail(.indeterminate, .tryLater, "revocation status could not be established: \(r.revocation.detail)")
        }
        if !tsOK { return fail(.indeterminate, .sigConstraintsFailure, "the signature time-stamp is not valid: \(r.timestamp?.detail ?? "?")") }
        if !r.modifications.allowed {
            return fail(.indeterminate, .sigConstraintsFailure, Self.notAllowedSummary(r.modifications, after: "signing"))
        }
        if let req = options.requiredLevel, (r.padesLevel ?? .bB) < req || r.padesLevel == nil {
            return fail(.indeterminate, .sigConstraintsFailure, "PAdES level \(r.padesLevel?.rawValue ?? "none") is below the required \(req.rawValue)")
        }
        var x = r
        x.indication = .totalPassed
        x.subIndication = nil
        x.summary = "valid seal by \(signer.nameEntry(subject: true, nid: NID_commonName) ?? signer.oneLine(subject: true))"
            + (r.modifications.level == .none ? "" : "; later changes allowed (\(r.modifications.level.rawValue))")
        return x
    }

    /// "the document was changed after signing in a way that is not allowed: <first reason>".
    static func notAllowedSummary(_ m: ModificationReport, after: String) -> String {
        let why = m.details.first.map { ": " + $0 } ?? ""
        if m.level != .other && m.level > m.permitted {
            return "the document was changed after \(after) beyond what its permissions allow (\(m.level.rawValue) changes, only \(m.permitted.rawValue) permitted)\(why)"
        }
        return "the document was changed after \(after) in a way that is not allowed\(why)"
    }

    // MARK: - Document time-stamps

    func verifyDocTimeStamp(_ f: SignatureField, r: SignatureReport, contents: [UInt8], br: [Int], ctx: Context) async -> SignatureReport {
        var r = r
        func fail(_ ind: Indication, _ sub: SubIndication?, _ why: String) -> SignatureReport {
            var x = r; x.indication = ind; x.subIndication = sub; x.summary = why; return x
        }
        guard let ts = TimeStampInfo(der: contents) else { return fail(.totalFailed, .formatFailure, "/Contents is not an RFC 3161 time-stamp token") }
        r.digestAlgorithm = algorithmName(ts.imprintOID)
        r.signatureAlgorithm = nil
        guard let d = digestRanges(ctx, br, oid: ts.imprintOID) else { return fail(.totalFailed, .formatFailure, "unsupported digest in time-stamp") }
        r.integrity = Check(d == ts.imprint, d == ts.imprint ? "the time-stamped bytes are unchanged" : "the time-stamped bytes were changed")
        if d != ts.imprint { return fail(.totalFailed, .hashFailure, "the document was changed inside the time-stamped byte range") }
        r.cryptographic = Check(ts.signatureValid, ts.signatureValid ? "time-stamp token signature verifies" : "time-stamp token signature does not verify")
        if !ts.signatureValid { return fail(.totalFailed, .sigCryptoFailure, "the time-stamp token's signature is not valid") }
        guard let signer = ts.signer else { return fail(.indeterminate, .noSigningCertificateFound, "the time-stamp authority's certificate is missing") }
        r.signer = certReport(signer)
        let pool = ts.certificates + ctx.dss.certs
        let path = PathCheck(leaf: signer, pool: pool, anchors: ctx.anchors, at: ctx.now)
        r.chain = (path.chain.isEmpty ? orderChain(leaf: signer, pool: pool) : path.chain).map(certReport)
        r.certificatePath = Check(path.ok, path.ok ? "the time-stamp authority chains to a trust anchor" : path.message)
        r.timestamp = TimeStampReport(time: ts.time, intact: true, trusted: path.ok, authority: signer.oneLine(subject: true), detail: path.ok ? "valid" : path.message)
        r.revocation = Check(true, "not required for document time-stamps")
        let end = br[2] + br[3]
        let cov = ctx.doc.coverage(of: br)
        r.modifications = analyseModifications(doc: ctx.doc, ctx: ctx, end: end, cov: cov, allFields: [], thisField: f)
        r.padesLevel = nil
        if !path.ok { return fail(.indeterminate, .noCertificateChainFound, "the time-stamp authority is not trusted: \(path.message)") }
        if !r.modifications.allowed { return fail(.indeterminate, .sigConstraintsFailure, Self.notAllowedSummary(r.modifications, after: "the document time-stamp")) }
        var x = r
        x.indication = .totalPassed
        x.subIndication = nil
        x.summary = "valid document time-stamp of \(ts.time.iso8601)"
        return x
    }

    // MARK: - Pieces

    func timeStampReport(_ tok: [UInt8], covering sig: [UInt8], pool: [OSSLCert], ctx: Context) -> (TimeStampReport?, Bool) {
        guard let ts = TimeStampInfo(der: tok) else {
            return (TimeStampReport(time: Date(timeIntervalSince1970: 0), intact: false, trusted: false, authority: nil, detail: "unreadable time-stamp token"), false)
        }
        let intact = ts.signatureValid && ts.covers(sig)
        var trusted = false
        var detail = intact ? "valid" : (ts.signatureValid ? "time-stamp is for other data" : "time-stamp signature does not verify")
        if let s = ts.signer {
            let p = PathCheck(leaf: s, pool: ts.certificates + pool, anchors: ctx.anchors, at: ctx.now)
            trusted = p.ok && s.extendedKeyUsage.contains("timeStamping")
            if intact && !trusted { detail = p.ok ? "the authority's certificate is not for time-stamping" : "time-stamp authority not trusted: \(p.message)" }
        } else if intact { detail = "time-stamp authority certificate missing" }
        return (TimeStampReport(time: ts.time, intact: intact, trusted: trusted, authority: ts.signer?.oneLine(subject: true), detail: detail), intact && trusted)
    }

    struct RevocationOutcome {
        var perCert: [(status: String, source: String?, time: Date?)]
        var check: Check
        var revoked: (source: String, time: Date)?
        var unknown: Bool
    }

    func revocationFor(chain: [OSSLCert], cms: CMSSignature, ctx: Context) async -> RevocationOutcome {
        if options.revocation == .off {
            return RevocationOutcome(perCert: chain.map { _ in ("not-checked", nil, nil) }, check: Check(true, "revocation not checked (disabled)"), revoked: nil, unknown: false)
        }
        var crls = cms.crls + ctx.dss.crls
        var ocsps = ctx.dss.ocsps
        var per: [(String, String?, Date?)] = []
        var revoked: (String, Date)? = nil
        var unknownCerts: [String] = []
        for (i, c) in chain.enumerated() {
            if ctx.anchors.contains(where: { $0.sameAs(c) }) { per.append(("trust-anchor", nil, nil)); continue }
            if c.isSelfSigned { per.append(("not-checked", "self-signed, not a trust anchor", nil)); continue }
            guard i + 1 < chain.count else { per.append(("unknown", nil, nil)); unknownCerts.append(c.oneLine(subject: true)); continue }
            let issuer = chain[i + 1]
            var st = revocationStatus(cert: c, issuer: issuer, crls: crls, ocsps: ocsps, anchors: ctx.anchors)
            var fetched = false
            if case .unknown = st, options.fetchRevocation {
                let cache = options.revocationCache ?? RevocationCache(timeout: options.timeout)
                if let u = c.ocspURL, let resp = await cache.ocsp(url: u, cert: c, issuer: issuer) { ocsps.append(resp) }
                if let u = c.crlURL, let crl = await cache.crl(url: u), let o = OSSLCRL(der: crl) { crls.append(o) }
                st = revocationStatus(cert: c, issuer: issuer, crls: crls, ocsps: ocsps, anchors: ctx.anchors)
                fetched = true
            }
            switch st {
            case .good(let src, _): per.append(("good", src + (fetched ? " (fetched)" : " (embedded)"), nil))
            case .revoked(let src, let t):
                per.append(("revoked", src + (fetched ? " (fetched)" : " (embedded)"), t))
                if revoked == nil { revoked = (src, t) }
            case .unknown:
                per.append(("unknown", nil, nil))
                unknownCerts.append(c.oneLine(subject: true))
            }
        }
        let check: Check
        if let revoked { check = Check(false, "revoked per \(revoked.0) since \(revoked.1.iso8601)") }
        else if !unknownCerts.isEmpty { check = Check(options.revocation != .hardFail, "no revocation data for: " + unknownCerts.joined(separator: "; ")) }
        else { check = Check(true, "not revoked: \(per.compactMap { $0.1 }.joined(separator: ", "))") }
        return RevocationOutcome(perCert: per.map { (status: $0.0, source: $0.1, time: $0.2) }, check: check, revoked: revoked.map { (source: $0.0, time: $0.1) }, unknown: !unknownCerts.isEmpty)
    }

    func padesLevel(f: SignatureField, cms: CMSSignature, tsOK: Bool, chain: [OSSLCert], ctx: Context, end: Int, allFields: [SignatureField]) -> PAdESLevel? {
        guard f.subFilter == "ETSI.CAdES.detached", cms.hasSigningCertificateV2 || cms.essCertificateMatches() != nil else { return nil }
        guard tsOK else { return .bB }
        // B-LT: the DSS alone gives the status of every non-anchor certificate of the signer's chain.
        let dss = ctx.dss
        var lt = !dss.isEmpty
        for (i, c) in chain.enumerated() where lt && !c.isSelfSigned && !ctx.anchors.contains(where: { $0.sameAs(c) }) {
            guard i + 1 < chain.count else { lt = false; break }
            if case .unknown = revocationStatus(cert: c, issuer: chain[i + 1], crls: dss.crls, ocsps: dss.ocsps, anchors: ctx.anchors) { lt = false }
        }
        guard lt else { return .bT }
        // B-LTA: a document time-stamp after the signature.
        let lta = allFields.contains { g in
            (g.type == "DocTimeStamp" || g.subFilter == "ETSI.RFC3161") && (g.byteRange.map { $0.count == 4 && $0[2] + $0[3] > end } ?? false)
        }
        return lta ? .bLTA : .bLT
    }

    func digestRanges(_ ctx: Context, _ br: [Int], oid: String) -> [UInt8]? {
        if oid == "2.16.840.1.101.3.4.2.1", let known = ctx.sha256Ranges[br] { return known }
        guard let d = Digest.named(oid: oid) else { return nil }
        do { try ByteRange.stream(file: ctx.url, ranges: br) { d.update($0) } } catch { return nil }
        return d.finish()
    }

    /// What one read of a file gave: its SHA-256, the SHA-256 of its first `prefix` bytes, and of byte ranges.
    struct OnePass {
        var whole: [UInt8]
        var prefix: [UInt8]?
        var ranges: [[Int]: [UInt8]]
    }

    /// Reads the file once, front to back, hashing it whole; a byte range `[0, a, b, c]` is the file's
    /// first `a` bytes followed by `[b, b + c)`, so its hash is a copy of the running hash taken at `a`,
    /// continued with the bytes of `[b, b + c)` as the read passes them (the gap, usually the newest
    /// signature's tail, is all that is hashed twice). nil when the file cannot be read to its end.
    static func onePass(url: URL, size: Int, ranges: [[Int]], prefix: Int?) -> OnePass? {
        let usable = Set(ranges.filter { r in
            r.count == 4 && r[0] == 0 && r[1] >= 0 && r[2] >= r[1] && r[3] >= 0 && r[2] <= size && r[3] <= size - r[2]
        })
        var pending = usable.sorted { $0[1] < $1[1] }   // waiting for the read to reach their `a`
        var running: [(br: [Int], d: Digest)] = []
        let prefixAt = prefix.flatMap { $0 >= 0 && $0 <= size ? $0 : nil }
        var prefixDigest: [UInt8]? = nil
        let whole = Digest()
        var pos = 0
        func cut() {
            while let f = pending.first, f[1] == pos { running.append((f, whole.copy())); pending.removeFirst() }
            if prefixAt == pos, prefixDigest == nil { prefixDigest = whole.copy().finish() }
        }
        cut()
        do {
            if size > 0 {
                try ByteRange.stream(file: url, ranges: [0, size]) { chunk in
                    var off = 0
                    while off < chunk.count {
                        var next = pos + (chunk.count - off)
                        if let f = pending.first, f[1] < next { next = f[1] }
                        if let p = prefixAt, prefixDigest == nil, p > pos, p < next { next = p }
                        whole.update(UnsafeRawBufferPointer(rebasing: chunk[off..<(off + next - pos)]))
                        for r in running {
                            let lo = max(pos, r.br[2]), hi = min(next, r.br[2] + r.br[3])
                            if hi > lo { r.d.update(UnsafeRawBufferPointer(rebasing: chunk[(off + lo - pos)..<(off + hi - pos)])) }
                        }
                        off += next - pos
                        pos = next
                        cut()
                    }
                }
            }
        } catch { return nil }
        guard pos == size, pending.isEmpty else { return nil }
        var out: [[Int]: [UInt8]] = [:]
        for r in running { out[r.br] = r.d.finish() }
        return OnePass(whole: whole.finish(), prefix: prefixAt == nil ? nil : prefixDigest, ranges: out)
    }

    func docMDPOf(_ sig: PDFDictionary, doc: PDFDocument) -> Int? {
        guard let refs = doc.resolve(sig, "Reference")?.arrayValue else { return nil }
        for r in refs {
            guard let rd = doc.resolve(r).dictionaryValue, rd.name("TransformMethod") == "DocMDP" else { continue }
            return doc.resolve(rd, "TransformParams")?.dictionaryValue.flatMap { doc.resolve($0, "P")?.intValue } ?? 2
        }
        return nil
    }
}

/// What a document signer's certificate must allow, as pyHanko and EU DSS judge by default: a key usage
/// with digitalSignature or nonRepudiation (or none at all), and an extended key usage that is absent or
/// names a document-signing purpose. A TLS server or time-stamping certificate is not a document signer,
/// even when it chains to a trusted root. `sealbatch verify --policy FILE` sets other lists.
public struct SignerCertificatePolicy: Sendable, Codable, Equatable {
    /// Key usage bits of which one must be set when the extension is present (OpenSSL names).
    public var keyUsage: [String]
    /// Extended key usage purposes (dotted OIDs) of which one must be listed when the extension is present.
    public var extendedKeyUsage: [String]

    public static let documentSigningPurposes: [String] = [
        "2.5.29.37.0",              // anyExtendedKeyUsage
        "1.3.6.1.5.5.7.3.4",        // emailProtection
        "1.3.6.1.5.5.7.3.36",       // id-kp-documentSigning (RFC 9336)
        "1.2.840.113583.1.1.5",     // Adobe Authentic Documents Trust
        "1.3.6.1.4.1.311.10.3.12",  // Microsoft document signing
    ]
    public static let `default` = SignerCertificatePolicy(keyUsage: ["digitalSignature", "nonRepudiation"], extendedKeyUsage: documentSigningPurposes)

    public init(keyUsage: [String], extendedKeyUsage: [String]) { self.keyUsage = keyUsage; self.extendedKeyUsage = extendedKeyUsage }

    enum CodingKeys: String, CodingKey { case keyUsage = "key-usage", extendedKeyUsage = "extended-key-usage" }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keyUsage = try c.decodeIfPresent([String].self, forKey: .keyUsage) ?? Self.default.keyUsage
        extendedKeyUsage = try c.decodeIfPresent([String].self, forKey: .extendedKeyUsage) ?? Self.default.extendedKeyUsage
    }

    /// Nil when the certificate may sign documents; otherwise why not, in words.
    func check(_ cert: OSSLCert) -> String? {
        if cert.hasKeyUsageExtension && !cert.keyUsage.contains(where: keyUsage.contains) {
            return "the signer's certificate is not meant for signatures: its key usage allows \(cert.keyUsage.isEmpty ? "nothing" : cert.keyUsage.joined(separator: ", ")), not \(keyUsage.joined(separator: " or "))"
        }
        if let ekus = cert.extendedKeyUsageOIDs, !ekus.contains(where: extendedKeyUsage.contains) {
            return "the signer's certificate is not meant for signing documents: its extended key usage is \(ekus.map(Self.purposeName).joined(separator: ", ")), none of them a document-signing purpose"
        }
        return nil
    }

    static func purposeName(_ oid: String) -> String {
        switch oid {
        case "1.3.6.1.5.5.7.3.1": return "TLS server (serverAuth)"
        case "1.3.6.1.5.5.7.3.2": return "TLS client (clientAuth)"
        case "1.3.6.1.5.5.7.3.3": return "code signing"
        case "1.3.6.1.5.5.7.3.4": return "e-mail protection"
        case "1.3.6.1.5.5.7.3.8": return "time-stamping"
        case "1.3.6.1.5.5.7.3.9": return "OCSP signing"
        case "1.3.6.1.5.5.7.3.36": return "document signing"
        case "2.5.29.37.0": return "any purpose"
        default: return oid
        }
    }
}

/// Certificates, CRLs and OCSP responses of the document's DSS (ETSI EN 319 142-1 §5.4.2).
struct DSSContent {
    var certs: [OSSLCert] = []
    var crls: [OSSLCRL] = []
    var ocsps: [[UInt8]] = []
    var isEmpty: Bool { certs.isEmpty && crls.isEmpty && ocsps.isEmpty }
    init(doc: PDFDocument) {
        guard let dss = doc.resolve(doc.catalog, "DSS")?.dictionaryValue else { return }
        func streams(_ k: PDFName) -> [[UInt8]] {
            // An undecodable DSS stream gives no certificate or status: revocation then stays unknown (fails
            // under hard-fail, noted under soft-fail) and B-LT is not reached — it can never make a check pass.
            (doc.resolve(dss, k)?.arrayValue ?? []).compactMap { try? doc.resolve($0).streamValue?.decodedData() }
        }
        certs = streams("Certs").compactMap { OSSLCert(der: $0) }
        crls = streams("CRLs").compactMap { OSSLCRL(der: $0) }
        ocsps = streams("OCSPs")
    }
}

func certReport(_ c: OSSLCert) -> CertificateReport {
    CertificateReport(subject: c.oneLine(subject: true), issuer: c.oneLine(subject: false),
                      commonName: c.nameEntry(subject: true, nid: NID_commonName),
                      organization: c.nameEntry(subject: true, nid: NID_organizationName),
                      serialNumber: c.serialHex, notBefore: c.notBefore, notAfter: c.notAfter,
                      keyUsage: c.keyUsage, extendedKeyUsage: c.extendedKeyUsage,
                      revocation: "not-checked", revocationSource: nil, revocationTime: nil)
}

func algorithmName(_ oid: String) -> String {
    switch oid {
    case "2.16.840.1.101.3.4.2.1": return "SHA-256"
    case "2.16.840.1.101.3.4.2.2": return "SHA-384"
    case "2.16.840.1.101.3.4.2.3": return "SHA-512"
    case "1.3.14.3.2.26": return "SHA-1"
    case "1.2.840.113549.1.1.1": return "RSA"
    case "1.2.840.113549.1.1.11": return "RSA-SHA256"
    case "1.2.840.113549.1.1.12": return "RSA-SHA384"
    case "1.2.840.113549.1.1.13": return "RSA-SHA512"
    case "1.2.840.113549.1.1.5": return "RSA-SHA1"
    case "1.2.840.113549.1.1.10": return "RSA-PSS"
    case "1.2.840.10045.4.3.2": return "ECDSA-SHA256"
    case "1.2.840.10045.4.3.3": return "ECDSA-SHA384"
    case "1.2.840.10045.4.3.4": return "ECDSA-SHA512"
    case "1.2.840.10045.2.1": return "ECDSA"
    case "1.3.101.112": return "Ed25519"
    default: return oid
    }
}

/// Parses a PDF date (§7.9.4) "D:YYYYMMDDHHmmSSOHH'mm'" leniently.
func parsePDFDate(_ s: String) -> Date? {
    var t = Substring(s)
    if t.hasPrefix("D:") { t = t.dropFirst(2) }
    let digits = t.prefix { $0.isNumber }
    guard digits.count >= 4 else { return nil }
    let d = Array(digits)
    func num(_ a: Int, _ n: Int, _ def: Int) -> Int { a + n <= d.count ? Int(String(d[a..<(a + n)])) ?? def : def }
    var comps = DateComponents()
    comps.calendar = Calendar(identifier: .gregorian)
    comps.year = num(0, 4, 0); comps.month = num(4, 2, 1); comps.day = num(6, 2, 1)
    comps.hour = num(8, 2, 0); comps.minute = num(10, 2, 0); comps.second = num(12, 2, 0)
    var offset = 0
    let rest = t.dropFirst(digits.count)
    if let sign = rest.first, sign == "+" || sign == "-" {
        let tz = rest.dropFirst().filter { $0.isNumber }
        let a = Array(tz)
        let hh = a.count >= 2 ? Int(String(a[0..<2])) ?? 0 : 0
        let mm = a.count >= 4 ? Int(String(a[2..<4])) ?? 0 : 0
        offset = (hh * 3600 + mm * 60) * (sign == "-" ? -1 : 1)
    }
    comps.timeZone = TimeZone(secondsFromGMT: offset) ?? TimeZone(identifier: "UTC")
    return comps.date
}
