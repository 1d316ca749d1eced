import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import PDF

/// A visible seal appearance handed over by the render stage: the seal and, for a cross-page seal (骑缝章),
/// its slices on several pages. The first widget that is not a slice (or the first widget when all are
/// slices) becomes the signature field's only widget; every further widget becomes a locked `/Stamp`
/// annotation written in the same signed revision.
public struct SealAppearance: Sendable {
    /// Which slice of a cross-page seal a widget shows (0-based `index` of `count`).
    public struct Slice: Sendable, Equatable {
        public var index: Int
        public var count: Int
        public init(index: Int, count: Int) { self.index = index; self.count = count }
    }
    /// One appearance of the seal on a page.
    public struct Widget: Sendable {
        /// 0-based page index.
        public var pageIndex: Int
        /// Rectangle in the PDF user space of that page.
        public var rect: PDFRect
        /// A Form XObject stream (direct or a reference into `source`).
        public var form: PDFObject
        /// Document holding the objects `form` refers to (imported with `IncrementalUpdate.importObject`).
        public var source: PDFDocument
        /// For a cross-page slice: which one (labels the stamp); nil for the whole seal or when unknown.
        public var slice: Slice?
        public init(pageIndex: Int, rect: PDFRect, form: PDFObject, source: PDFDocument, slice: Slice? = nil) {
            self.pageIndex = pageIndex
            self.rect = rect
            self.form = form
            self.source = source
            self.slice = slice
        }
    }
    public var widgets: [Widget]
    public init(widgets: [Widget]) { self.widgets = widgets }
}

/// How the further widgets of a cross-page seal (the slices) are written.
public enum CrossPageLayout: String, Sendable, Codable {
    /// `.stamps` for a document without signatures, `.widgets` when it is signed already.
    case automatic
    /// One widget on the signature field; every slice a locked /Stamp annotation in the signed revision.
    /// Passes pdfsig and pyHanko; but pyHanko (and our verifier) judge annotations added after an EARLIER
    /// signature as a disallowed change for that signature.
    case stamps
    /// Every slice a widget (/Kids) of the signature field, repeating /FT and /V. Earlier signatures stay valid
    /// (new signature widgets are allowed after signing), but poppler's pdfsig lists the seal once per widget.
    case widgets
}

/// DocMDP permission of a certification signature (ISO 32000-2 §12.8.2.2.2).
public enum DocMDP: Int, Sendable, Codable {
    case noChanges = 1
    case formFilling = 2
    case annotations = 3
}

/// What to seal and how.
public struct SealOptions: Sendable {
    /// PAdES baseline level to produce.
    public var level: PAdESLevel = .bB
    /// RFC 3161 authorities, tried in order (needed for B-T and above).
    public var tsaURLs: [URL] = []
    /// Name of the signature field (an existing empty field of that name is used; a signed one is an error).
    /// nil: "Seal", or "Seal2", "Seal3"… when the document already has a field of that name.
    public var fieldName: String? = nil
    /// /Name: the seal's name as shown by viewers.
    public var name: String?
    public var reason: String?
    public var location: String?
    public var contactInfo: String?
    /// Visible appearance; nil for an invisible seal.
    public var appearance: SealAppearance?
    /// Certify the document with this DocMDP permission (only when it has no signature yet).
    public var certify: DocMDP?
    /// Shared per batch: CRLs and OCSP responses are fetched once.
    public var revocationCache: RevocationCache?
    /// Network timeout for TSA / CRL / OCSP.
    public var timeout: TimeInterval = 15
    /// Extra bytes reserved in /Contents beyond the dry run's estimate.
    public var contentsMargin: Int = 2048
    /// Layout of a cross-page seal's slices (used when `appearance` has several widgets).
    public var crossPageLayout: CrossPageLayout = .automatic
    /// Clock for /M (tests fix it).
    public var now: @Sendable () -> Date = { Date() }
    /// SHA-256 of the input as approved. The bytes the seal covers are checked against it (in the same
    /// pass that computes the signed digest), so a file changed after its approval — a writer still
    /// appending to it, an edit in place — is refused (`input-changed`) instead of sealed.
    public var expectedInputSHA256: [UInt8]? = nil

    public init(level: PAdESLevel = .bB, tsaURLs: [URL] = [], fieldName: String? = nil, name: String? = nil,
                reason: String? = nil, location: String? = nil, contactInfo: String? = nil,
                appearance: SealAppearance? = nil, certify: DocMDP? = nil, revocationCache: RevocationCache? = nil) {
        self.level = level
        self.tsaURLs = tsaURLs
        self.fieldName = fieldName
        self.name = name
        self.reason = reason
        self.location = location
        self.contactInfo = contactInfo
        self.appearance = appearance
        self.certify = certify
        self.revocationCache = revocationCache
    }
}

/// What sealing produced.
public struct SealResult: Sendable, Codable, Equatable {
    /// SHA-256 of the bytes covered by the seal's /ByteRange (the CMS message-digest).
    public var signedDigest: [UInt8]
    /// /M written into the signature dictionary.
    public var signingTime: Date
    /// Time of the signature time-stamp (B-T and above).
    public var timestampTime: Date?
    /// Time of the document time-stamp (B-LTA).
    public var documentTimestampTime: Date?
    /// /ByteRange of the seal.
    public var byteRange: [Int]
    /// Level produced.
    public var level: PAdESLevel
    /// Size of the output file.
    public var outputSize: Int
    /// Field name used.
    public var fieldName: String
    /// How the cross-page slices were written (nil when the appearance has at most one widget).
    public var crossPageLayout: CrossPageLayout? = nil
}

/// Seals PDFs in PAdES baseline form (ETSI EN 319 142-1) by incremental update: earlier revisions and
/// signatures stay byte-identical.
public struct PAdESSealer: Sendable {
    private let logger = Logger(label: "sealbatch.signing.sealer")

    public init() {}

    /// /NM prefix of the cross-page slice stamps we write: `sealbatch-slice-<field>-<i>` (i 1-based).
    public static let sliceNamePrefix = "sealbatch-slice-"

    /// Seals `input` into `output` (never written over the input; the caller does temp + rename).
    public func seal(input: URL, output: URL, key: SignatureKey, options: SealOptions) async throws -> SealResult {
        let name = input.lastPathComponent
        func inode(_ u: URL) -> (Int, Int)? {
            guard let a = try? FileManager.default.attributesOfItem(atPath: u.path),
                  let n = a[.systemFileNumber] as? Int, let d = a[.systemNumber] as? Int else { return nil }
            return (d, n)
        }
        let sameInode: Bool = { if let a = inode(input), let b = inode(output) { return a == b }; return false }()
        if sameInode || input.standardizedFileURL.resolvingSymlinksInPath().path == output.standardizedFileURL.resolvingSymlinksInPath().path {
            throw SigningError(.outputIsInput, "the output path is the input file; originals are never modified", file: name)
        }
        if options.level >= .bT && options.tsaURLs.isEmpty {
            throw SigningError(.tsaUnavailable, "PAdES \(options.level.rawValue) needs a time-stamp authority URL", file: name)
        }
        do {
            return try await sealChecked(input: input, output: output, key: key, options: options)
        } catch {
            // Never leave a half-made output behind (unfilled hole, missing DSS): the caller sees only the error.
            try? FileManager.default.removeItem(at: output)
            throw error
        }
    }

    private func sealChecked(input: URL, output: URL, key: SignatureKey, options: SealOptions) async throws -> SealResult {
        let name = input.lastPathComponent
        let doc = try openForUpdate(input)
        var options = options
        if options.fieldName == nil {
            let names = Set(doc.signatureFields.map(\.name))
            var n = 1
            while names.contains(n == 1 ? "Seal" : "Seal\(n)") { n += 1 }
            options.fieldName = n == 1 ? "Seal" : "Seal\(n)"
        }
        let fieldName = options.fieldName ?? "Seal"
        var usedLayout: CrossPageLayout? = nil
        if let a = options.appearance, a.widgets.count > 1 {
            if options.crossPageLayout == .automatic {
                // Stamps added after an earlier signature are a disallowed change for it (pyHanko, our verifier);
                // signature widgets are not.
                options.crossPageLayout = doc.signatureFields.contains(where: \.isSigned) ? .widgets : .stamps
                if options.crossPageLayout == .widgets {
                    logger.notice("document is signed already: cross-page slices written as signature widgets (pdfsig lists one entry per slice)",
                                  metadata: ["file": "\(name)"])
                }
            }
            usedLayout = options.crossPageLayout
        }
        let tsa = TimeStampClient(urls: options.tsaURLs, timeout: options.timeout)
        let signingTime = options.now()

        // Dry run: the CMS for this key (with a dummy signature value) plus a time-stamp token gives the size.
        var reserve = try await estimateSize(key: key, tsa: options.level >= .bT ? tsa : nil) + options.contentsMargin
        var attempt = 0
        while true {
            attempt += 1
            let update = try IncrementalUpdate(document: doc)
            try buildSignatureObjects(update: update, doc: doc, options: options, signingTime: signingTime, contentsBytes: reserve, file: name)
            let hole: ByteRangeHole
            do {
                guard let h = try update.write(to: output) else { throw SigningError(.io, "the update has no signature hole", file: name) }
                hole = h
            } catch let e as PDFError { throw SigningError(.io, "cannot write the sealed file: \(e.message)", file: output.lastPathComponent) }
            let digest = try signedDigest(output: output, hole: hole, inputSize: doc.fileSize, expected: options.expectedInputSHA256, file: name)
            var tsTime: Date? = nil
            let stamper: (@Sendable ([UInt8]) async throws -> [UInt8]?)?
            if options.level >= .bT {
                stamper = { (sigDigest: [UInt8]) async throws -> [UInt8]? in try await tsa.timestamp(sha256Digest: sigDigest).der }
            } else { stamper = nil }
            let built = try await CAdESBuilder.build(contentDigest: digest, key: key, timeStamp: stamper)
            if options.level >= .bT, let cms = CMSSignature(der: built.der), let t = cms.timeStampToken.flatMap({ TimeStampInfo(der: $0) }) {
                tsTime = t.time
            }
            if built.der.count > hole.capacity {
                try? FileManager.default.removeItem(at: output)
                if attempt >= 2 {
                    throw SigningError(.placeholderTooSmall, "the signature (\(built.der.count) bytes) does not fit the reserved \(hole.capacity) bytes", file: name)
                }
                reserve = built.der.count + options.contentsMargin * 2
                logger.info("placeholder too small, retrying", metadata: ["needed": "\(built.der.count)", "file": "\(name)"])
                continue
            }
            do { try hole.fill(file: output, contents: built.der) } catch let e as PDFError {
                throw SigningError(.placeholderTooSmall, e.message, file: name)
            }
            var result = SealResult(signedDigest: digest, signingTime: signingTime, timestampTime: tsTime, documentTimestampTime: nil,
                                    byteRange: hole.byteRange, level: options.level, outputSize: hole.fileSize, fieldName: fieldName,
                                    crossPageLayout: usedLayout)
            if options.level >= .bLT {
                let cache = options.revocationCache ?? RevocationCache(timeout: options.timeout)
                try await addDSS(file: output, cms: built.der, cache: cache)
            }
            if options.level >= .bLTA {
                result.documentTimestampTime = try await addDocumentTimeStamp(file: output, tsa: tsa, options: options)
            }
            result.outputSize = (try? FileManager.default.attributesOfItem(atPath: output.path)[.size] as? Int) ?? result.outputSize
            return result
        }
    }

    /// SHA-256 over the /ByteRange of the written output; with `expected`, also over its first `inputSize`
    /// bytes (the input's revision, copied unchanged), which must be the approved bytes.
    func signedDigest(output: URL, hole: ByteRangeHole, inputSize: Int, expected: [UInt8]?, file name: String) throws -> [UInt8] {
        guard let expected else { return try sha256(file: output, ranges: hole.byteRange) }
        guard hole.byteRange.count >= 2, hole.byteRange[0] == 0, hole.byteRange[1] >= inputSize else {
            throw SigningError(.signingFailed, "the signature hole lies inside the original revision", file: name)
        }
        let all = Digest(), input = Digest()
        var seen = 0
        try ByteRange.stream(file: output, ranges: hole.byteRange) { chunk in
            all.update(chunk)
            if seen < inputSize { input.update(UnsafeRawBufferPointer(rebasing: chunk[0..<min(chunk.count, inputSize - seen)])) }
            seen += chunk.count
        }
        let got = input.finish()
        guard got == expected else {
            throw SigningError(.inputChanged,
                "the document changed after it was approved: the \(inputSize) bytes being sealed have SHA-256 \(hex(got).prefix(16))…, the approved bytes \(hex(expected).prefix(16))…",
                file: name)
        }
        return all.finish()
    }

    // MARK: - Opening

    func openForUpdate(_ url: URL) throws -> PDFDocument {
        let doc: PDFDocument
        do { doc = try PDFDocument(url: url) } catch let e as PDFError {
            if case .encrypted = e.code { throw SigningError(.encrypted, e.message, file: url.lastPathComponent) }
            throw SigningError(.unreadablePDF, e.message, file: url.lastPathComponent, offset: e.offset)
        }
        do { try doc.checkSealable() } catch let e as PDFError {
            switch e.code {
            case .certifiedNoChanges: throw SigningError(.certifiedNoChanges, e.message, file: url.lastPathComponent)
            case .encrypted: throw SigningError(.encrypted, e.message, file: url.lastPathComponent)
            default: throw SigningError(.unreadablePDF, e.message, file: url.lastPathComponent)
            }
        }
        return doc
    }

    // MARK: - Dry run

    /// Size of the CMS this key produces (dummy signature value of maximal length) plus a real
    /// time-stamp token's size when a TSA is used (one request per batch per TSA list).
    func estimateSize(key: SignatureKey, tsa: TimeStampClient?) async throws -> Int {
        // The CMS size depends only on the chain and the algorithm (the dry run signs with the longest
        // signature the key can make): built once per key, not once per document.
        let cacheKey = DryRunSizes.Key(chain: key.certificateChainDER, algorithm: "\(key.signatureAlgorithm)")
        var size: Int
        if let known = DryRunSizes.cms[cacheKey] {
            size = known
        } else {
            let built = try await CAdESBuilder.build(contentDigest: [UInt8](repeating: 0, count: 32), key: DryRunKey(inner: key), verify: false)
            size = built.der.count
            DryRunSizes.cms.store(size, for: cacheKey)
        }
        if let tsa { size += try await DryRunSizes.shared.timestampSize(tsa) + 32 }
        return size
    }

    // MARK: - Objects of the seal

    /// `D:YYYYMMDDHHmmSS+00'00'` in UTC, from the calendar arithmetic of gmtime (no ICU formatter per seal).
    func pdfDate(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970.rounded(.down))
        var tm = tm()
        gmtime_r(&t, &tm)
        return String(format: "D:%04d%02d%02d%02d%02d%02d+00'00'", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1, Int(tm.tm_mday),
                      Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec))
    }

    func buildSignatureObjects(update: IncrementalUpdate, doc: PDFDocument, options: SealOptions, signingTime: Date,
                               contentsBytes: Int, file: String) throws {
        var sig = PDFDictionary()
        sig["Type"] = .name("Sig")
        sig["Filter"] = .name("Adobe.PPKLite")
        sig["SubFilter"] = .name("ETSI.CAdES.detached")
        sig["ByteRange"] = .byteRangePlaceholder
        sig["Contents"] = .contentsPlaceholder(byteCount: contentsBytes)
        sig["M"] = .text(pdfDate(signingTime))
        if let v = options.name { sig["Name"] = .text(v) }
        if let v = options.reason { sig["Reason"] = .text(v) }
        if let v = options.location { sig["Location"] = .text(v) }
        if let v = options.contactInfo { sig["ContactInfo"] = .text(v) }
        var certifyRef: ObjectRef? = nil
        if let p = options.certify {
            if doc.signatureFields.contains(where: \.isSigned) {
                throw SigningError(.certifiedNoChanges, "only the first signature of a document can certify it; this document is already signed", file: file)
            }
            let params: PDFDictionary = ["Type": .name("TransformParams"), "P": .integer(p.rawValue), "V": .name("1.2")]
            let ref: PDFDictionary = ["Type": .name("SigRef"), "TransformMethod": .name("DocMDP"), "TransformParams": .dictionary(params)]
            sig["Reference"] = .array([.dictionary(ref)])
            certifyRef = ObjectRef(0, 0) // marker; real ref below
        }
        let sigRef = update.add(.dictionary(sig))
        try addField(update: update, doc: doc, name: options.fieldName ?? "Seal", value: sigRef, appearance: options.appearance,
                     layout: options.crossPageLayout, file: file)
        if certifyRef != nil {
            var cat = catalog(update, doc)
            cat["Perms"] = .dictionary(["DocMDP": .reference(sigRef)])
            setCatalog(update, doc, cat)
        }
    }

    func catalog(_ update: IncrementalUpdate, _ doc: PDFDocument) -> PDFDictionary {
        guard let r = doc.catalogRef else { return doc.catalog }
        return update.object(r).dictionaryValue ?? doc.catalog
    }

    func setCatalog(_ update: IncrementalUpdate, _ doc: PDFDocument, _ cat: PDFDictionary) {
        if let r = doc.catalogRef { update.replace(r, with: .dictionary(cat)) }
    }

    /// Adds (or fills) a signature field whose value is `value`, with an invisible widget or the appearance's widgets,
    /// and registers it in the AcroForm (SigFlags 3) and in each page's /Annots.
    func addField(update: IncrementalUpdate, doc: PDFDocument, name: String, value: ObjectRef, appearance: SealAppearance?,
                  layout: CrossPageLayout = .stamps, file: String) throws {
        let pages = doc.pages
        guard !pages.isEmpty else { throw SigningError(.unreadablePDF, "the document has no pages", file: file) }
        guard doc.catalogRef != nil else { throw SigningError(.unreadablePDF, "the document has no catalog reference", file: file) }

        // Existing empty field with this name?
        if let existing = doc.signatureFields.first(where: { $0.name == name }) {
            if existing.isSigned { throw SigningError(.fieldAlreadySigned, "the signature field \"\(name)\" is already signed; choose another field name", file: file) }
            if let fr = existing.fieldRef, var fd = update.object(fr).dictionaryValue {
                fd["V"] = .reference(value)
                update.replace(fr, with: .dictionary(fd))
                try ensureSigFlags(update: update, doc: doc, newField: nil)
                return
            }
        }
        var field = PDFDictionary()
        field["FT"] = .name("Sig")
        field["T"] = .text(name)
        field["V"] = .reference(value)
        let widgets = appearance?.widgets ?? []
        for w in widgets where w.pageIndex < 0 || w.pageIndex >= pages.count {
            throw SigningError(.badAppearance, "appearance widget on page \(w.pageIndex + 1), but the document has \(pages.count) page(s)", file: file)
        }
        var annotsToAdd: [(page: Int, ref: ObjectRef)] = []
        let fieldRef: ObjectRef
        if widgets.isEmpty {
            // Invisible: field and widget merged, zero rectangle, print + locked flags.
            field["Type"] = .name("Annot")
            field["Subtype"] = .name("Widget")
            field["Rect"] = .array([0, 0, 0, 0])
            field["F"] = .integer(132)
            field["P"] = .reference(pages[0].ref)
            fieldRef = update.add(.dictionary(field))
            annotsToAdd.append((0, fieldRef))
        } else if layout == .widgets {
            fieldRef = update.reserve()
            var kids: [PDFObject] = []
            for w in widgets {
                // /FT and /V repeated on each kid: poppler (pdfsig) does not inherit them from the parent field and
                // would report every slice as an unsigned signature field otherwise (ISO 32000 allows the copies).
                let wd: PDFDictionary = [
                    "Type": .name("Annot"), "Subtype": .name("Widget"), "Parent": .reference(fieldRef),
                    "Rect": w.rect.object, "F": .integer(4 | 128), "P": .reference(pages[w.pageIndex].ref),
                    "AP": .dictionary(["N": formObject(update, w)]),
                    "FT": .name("Sig"), "V": .reference(value),
                ]
                let r = update.add(.dictionary(wd))
                kids.append(.reference(r))
                annotsToAdd.append((w.pageIndex, r))
            }
            field["Kids"] = .array(kids)
            update.replace(fieldRef, with: .dictionary(field))
        } else {
            // ONE widget on the field: the whole seal (the first widget that is not a slice), else the first widget.
            // poppler's pdfsig lists every widget of a signature field as a signature of its own, so the further
            // widgets (the cross-page slices) are written as locked /Stamp annotations in this same revision: the
            // signature covers them, and removing a page (and its slice) afterwards changes the signed structure.
            let mainIndex = widgets.firstIndex(where: { $0.slice == nil }) ?? 0
            let w = widgets[mainIndex]
            field["Type"] = .name("Annot")
            field["Subtype"] = .name("Widget")
            field["Rect"] = w.rect.object
            field["F"] = .integer(4 | 128)   // Print | Locked
            field["P"] = .reference(pages[w.pageIndex].ref)
            field["AP"] = .dictionary(["N": formObject(update, w)])
            fieldRef = update.add(.dictionary(field))
            annotsToAdd.append((w.pageIndex, fieldRef))
            let stamps = widgets.enumerated().filter { $0.offset != mainIndex }.map(\.element)
            for (k, s) in stamps.enumerated() {
                let index = (s.slice?.index ?? k) + 1
                let count = s.slice?.count ?? stamps.count
                let sd: PDFDictionary = [
                    "Type": .name("Annot"), "Subtype": .name("Stamp"),
                    "F": .integer(4 | 128 | 512),   // Print | Locked | LockedContents
                    "Rect": s.rect.object, "P": .reference(pages[s.pageIndex].ref),
                    "AP": .dictionary(["N": formObject(update, s)]),
                    "NM": .text(Self.sliceNamePrefix + "\(name)-\(index)"),
                    "Contents": .text("骑缝章 slice \(index)/\(count)"),
                ]
                annotsToAdd.append((s.pageIndex, update.add(.dictionary(sd))))
            }
        }
        for (pi, r) in annotsToAdd { addAnnot(update: update, doc: doc, page: pages[pi], annot: r) }
        try ensureSigFlags(update: update, doc: doc, newField: fieldRef)
    }

    func formObject(_ update: IncrementalUpdate, _ w: SealAppearance.Widget) -> PDFObject {
        let imported = update.importObject(w.form, from: w.source)
        if case .reference = imported { return imported }
        return .reference(update.add(imported))
    }

    func addAnnot(update: IncrementalUpdate, doc: PDFDocument, page: PDFPage, annot: ObjectRef) {
        var pd = update.object(page.ref).dictionaryValue ?? page.dictionary
        if let a = pd["Annots"], case .reference(let ar) = a {
            var arr = update.object(ar).arrayValue ?? []
            arr.append(.reference(annot))
            update.replace(ar, with: .array(arr))
        } else {
            var arr = pd["Annots"]?.arrayValue ?? []
            arr.append(.reference(annot))
            pd["Annots"] = .array(arr)
            update.replace(page.ref, with: .dictionary(pd))
        }
    }

    /// Adds the field to /AcroForm /Fields and sets /SigFlags 3 (SignaturesExist | AppendOnly).
    func ensureSigFlags(update: IncrementalUpdate, doc: PDFDocument, newField: ObjectRef?) throws {
        var cat = catalog(update, doc)
        if let af = cat["AcroForm"], case .reference(let afRef) = af {
            var form = update.object(afRef).dictionaryValue ?? PDFDictionary()
            try updateForm(&form, update: update, doc: doc, newField: newField)
            update.replace(afRef, with: .dictionary(form))
        } else {
            var form = cat["AcroForm"].map { doc.resolve($0).dictionaryValue ?? PDFDictionary() } ?? PDFDictionary()
            try updateForm(&form, update: update, doc: doc, newField: newField)
            cat["AcroForm"] = .reference(update.add(.dictionary(form)))
            setCatalog(update, doc, cat)
        }
    }

    private func updateForm(_ form: inout PDFDictionary, update: IncrementalUpdate, doc: PDFDocument, newField: ObjectRef?) throws {
        if let nf = newField {
            if let f = form["Fields"], case .reference(let fr) = f {
                var arr = update.object(fr).arrayValue ?? []
                arr.append(.reference(nf))
                update.replace(fr, with: .array(arr))
            } else {
                var arr = form["Fields"].map { doc.resolve($0).arrayValue ?? [] } ?? []
                arr.append(.reference(nf))
                form["Fields"] = .array(arr)
            }
        }
        form["SigFlags"] = .integer(3)
    }

    // MARK: - B-LT: DSS

    /// Adds a DSS (ETSI EN 319 142-1 §5.4.2) with the chain, CRLs and OCSP responses for the signer and
    /// the signature time-stamp's authority, as a further incremental update.
    func addDSS(file: URL, cms cmsDER: [UInt8], cache: RevocationCache, extra: [OSSLCert] = []) async throws {
        guard let cms = CMSSignature(der: cmsDER), let signer = cms.signer else { throw SigningError(.cms, "cannot re-read our own signature") }
        var data = try await cache.collect(chain: orderChain(leaf: signer, pool: cms.certificates), pool: cms.certificates)
        if let tok = cms.timeStampToken, let ts = TimeStampInfo(der: tok), let tsSigner = ts.signer {
            data.merge(try await cache.collect(chain: orderChain(leaf: tsSigner, pool: ts.certificates + cms.certificates), pool: ts.certificates))
        }
        try await writeDSS(file: file, data: data, cache: cache)
    }

    func writeDSS(file: URL, data: RevocationData, cache: RevocationCache) async throws {
        var data = data
        // OCSP responder certificates (from the responses) go in /Certs too.
        for r in data.ocspResponses { for c in ocspResponderCerts(r) where !data.certificates.contains(c) { data.certificates.append(c) } }
        let doc: PDFDocument
        do { doc = try PDFDocument(url: file) } catch let e as PDFError { throw SigningError(.io, e.message, file: file.lastPathComponent) }
        let update = try IncrementalUpdate(document: doc)
        var cat = catalog(update, doc)
        var dss = cat["DSS"].flatMap { doc.resolve($0).dictionaryValue } ?? ["Type": .name("DSS")]
        func merge(_ key: PDFName, _ items: [[UInt8]]) {
            var arr = dss[key].flatMap { doc.resolve($0).arrayValue } ?? []
            let existing = Set(arr.compactMap { $0.referenceValue.flatMap { doc.resolve($0).streamValue?.rawData } })
            for i in items where !existing.contains(i) {
                arr.append(.reference(update.add(.stream(PDFStream.flate(data: i)))))
            }
            if !arr.isEmpty { dss[key] = .array(arr) }
        }
        merge("Certs", data.certificates)
        merge("CRLs", data.crls)
        merge("OCSPs", data.ocspResponses)
        cat["DSS"] = .reference(update.add(.dictionary(dss)))
        setCatalog(update, doc, cat)
        let tmp = file.deletingLastPathComponent().appendingPathComponent("." + file.lastPathComponent + ".dss.tmp")
        do {
            _ = try update.write(to: tmp)
            try renameOver(tmp, file)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw SigningError(.io, "cannot write the DSS update: \(error)", file: file.lastPathComponent)
        }
    }

    // MARK: - B-LTA: document time-stamp

    func addDocumentTimeStamp(file: URL, tsa: TimeStampClient, options: SealOptions) async throws -> Date {
        let doc: PDFDocument
        do { doc = try PDFDocument(url: file) } catch let e as PDFError { throw SigningError(.io, e.message, file: file.lastPathComponent) }
        let update = try IncrementalUpdate(document: doc)
        let reserve = try await DryRunSizes.shared.timestampSize(tsa) + options.contentsMargin
        let sig: PDFDictionary = [
            "Type": .name("DocTimeStamp"), "Filter": .name("Adobe.PPKLite"), "SubFilter": .name("ETSI.RFC3161"),
            "ByteRange": .byteRangePlaceholder, "Contents": .contentsPlaceholder(byteCount: reserve),
        ]
        let sigRef = update.add(.dictionary(sig))
        var n = 1
        let names = Set(doc.signatureFields.map(\.name))
        while names.contains("DocTimeStamp\(n)") { n += 1 }
        try addField(update: update, doc: doc, name: "DocTimeStamp\(n)", value: sigRef, appearance: nil, file: file.lastPathComponent)
        let tmp = file.deletingLastPathComponent().appendingPathComponent("." + file.lastPathComponent + ".dts.tmp")
        defer { try? FileManager.default.removeItem(at: tmp) }
        do {
            guard let hole = try update.write(to: tmp) else { throw SigningError(.io, "no hole for the document time-stamp") }
            let digest = try sha256(file: tmp, ranges: hole.byteRange)
            let token = try await tsa.timestamp(sha256Digest: digest)
            guard token.der.count <= hole.capacity else {
                throw SigningError(.placeholderTooSmall, "the document time-stamp (\(token.der.count) bytes) does not fit \(hole.capacity) bytes", file: file.lastPathComponent)
            }
            try hole.fill(file: tmp, contents: token.der)
            try renameOver(tmp, file)
            return token.time
        } catch let e as PDFError {
            throw SigningError(.io, e.message, file: file.lastPathComponent)
        }
    }
}

/// A key that produces a zero signature of the maximal length (dry run for the /Contents size).
struct DryRunKey: SignatureKey {
    let inner: SignatureKey
    var certificateChainDER: [[UInt8]] { inner.certificateChainDER }
    var signatureAlgorithm: SignatureAlgorithm { inner.signatureAlgorithm }
    func sign(_ message: [UInt8]) async throws -> [UInt8] {
        guard let leaf = inner.certificateChainDER.first.flatMap({ OSSLCert(der: $0) }) else { return [UInt8](repeating: 0, count: 512) }
        let bits = Int(leafKeyBits(leaf))
        switch signatureAlgorithm {
        case .rsaPKCS1SHA256: return [UInt8](repeating: 0, count: (bits + 7) / 8)
        case .ecdsaSHA256, .ecdsaSHA384: return [UInt8](repeating: 0, count: 2 * ((bits + 7) / 8) + 9)
        }
    }
}

/// Memoised dry-run sizes (one time-stamp request per TSA list per process).
actor DryRunSizes {
    static let shared = DryRunSizes()

    struct Key: Hashable { let chain: [[UInt8]]; let algorithm: String }
    /// CMS sizes per key (chain and algorithm).
    static let cms = LockedCache<Key, Int>(limit: 32)

    private var sizes: [String: Int] = [:]
    func timestampSize(_ tsa: TimeStampClient) async throws -> Int {
        let k = tsa.urls.map(\.absoluteString).joined(separator: " ")
        if let s = sizes[k] { return s }
        let t = try await tsa.timestamp(sha256Digest: sha256(Array("sealbatch dry run".utf8)))
        sizes[k] = t.der.count + 256
        return t.der.count + 256
    }
}

/// Atomically renames `from` over `to` (rename(2); Foundation's replaceItemAt is unreliable on Linux).
func renameOver(_ from: URL, _ to: URL) throws {
    guard rename(from.path, to.path) == 0 else {
        throw SigningError(.io, "cannot replace \(to.lastPathComponent): \(String(cString: strerror(errno)))", file: to.lastPathComponent)
    }
}
