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
    /// The existing empty signature field this appearance was placed into (placement `{"field": …}` or the
    /// automatic choice of an empty field that fits): the seal fills that field, its widget shows the seal.
    public var fieldName: String?
    /// The pipeline requires the seal to be visible (render stage `visible: "required"`): refuse
    /// (`visible-seal-not-allowed`) instead of sealing invisibly, as `SealOptions.requireVisible`.
    public var visibleRequired: Bool = false
    public init(widgets: [Widget], fieldName: String? = nil) { self.widgets = widgets; self.fieldName = fieldName }
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
    /// Refuse (`visible-seal-not-allowed`) instead of sealing invisibly when the visible seal cannot be added:
    /// a certified document (DocMDP P=2/3) or an encrypted one whose permissions only allow filling existing
    /// fields, without an empty signature field to seal into.
    public var requireVisible: Bool = false
    /// The seal's certificate chain beyond what the key supplies (intermediates and root, DER; from the registered
    /// seal or configuration): added to the CMS and used for the DSS. A token usually holds only the seal certificate.
    public var chainDER: [[UInt8]] = []
    /// Password of an encrypted input that the empty user password does not open (its user or owner password;
    /// default: the one bound to `PDFPassword.current`). Never logged or written.
    public var pdfPassword: PDFPassword? = nil
    /// Clock for /M (tests fix it).
    public var now: @Sendable () -> Date = { Date() }
    /// SHA-256 of the input as approved. The bytes the seal covers are checked against it (in the same
    /// pass that computes the signed digest), so a file changed after its approval — a writer still
    /// appending to it, an edit in place — is refused (`input-changed`) instead of sealed.
    public var expectedInputSHA256: [UInt8]? = nil
    /// The input's SHA-256 state from when it was taken in (ingest), continued into the signed digest
    /// instead of reading the input's copy in the output again: the token then signs exactly the bytes
    /// hashed (and approved) then, followed by the update. Its length must be the input's size and its
    /// digest `expectedInputSHA256` (when set), else `input-changed`. The output's copy of the input is not
    /// re-read here: a caller using this must verify the output by reading it (the verify stage does, and
    /// checks its first `length` bytes against the approved hash), since a copy that differs from the
    /// hashed bytes leaves a signature that does not match the file.
    public var inputPrefix: SHA256Prefix? = nil

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
    /// True when the seal has a visible appearance.
    public var visible: Bool = false
    /// True when the seal filled an existing empty signature field (its rectangle, its page).
    public var filledExistingField: Bool = false
    /// What a clerk should know about how the seal was added (an existing field used instead of the placement,
    /// an invisible seal where a visible one was asked for, slices left out); also in the receipt.
    public var warnings: [String] = []
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
            // every reading of the input and of the output (DSS, document time-stamp) opens it with the same password
            return try await PDFPassword.$current.withValue(options.pdfPassword ?? PDFPassword.current) {
                try await sealChecked(input: input, output: output, key: key, options: options)
            }
        } catch {
            // Never leave a half-made output behind (unfilled hole, missing DSS): the caller sees only the error.
            try? FileManager.default.removeItem(at: output)
            throw error
        }
    }

    private func sealChecked(input: URL, output: URL, key: SignatureKey, options: SealOptions) async throws -> SealResult {
        let name = input.lastPathComponent
        let key: SignatureKey = options.chainDER.isEmpty ? key : ChainExtendedKey(inner: key, extra: options.chainDER)
        let doc = try openForUpdate(input)
        try await refuseIfTheSealWouldBreakAnEarlierSignature(doc, url: input)
        var options = options
        if options.fieldName == nil {
            let names = Set(doc.signatureFields.map(\.name))
            var n = 1
            while names.contains(n == 1 ? "Seal" : "Seal\(n)") { n += 1 }
            options.fieldName = n == 1 ? "Seal" : "Seal\(n)"
        }
        var plan = try planField(doc: doc, options: options, file: name)
        plan.warnings = Self.inputWarnings(doc) + plan.warnings
        options.appearance = plan.appearance
        if let f = plan.existing { options.fieldName = f.name }
        for w in plan.warnings { logger.notice("seal placement", metadata: ["file": "\(name)", "warning": "\(w)"]) }
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
            try buildSignatureObjects(update: update, doc: doc, options: options, existing: plan.existing, signingTime: signingTime,
                                      contentsBytes: reserve, file: name)
            let hole: ByteRangeHole
            do {
                guard let h = try update.write(to: output) else { throw SigningError(.io, "the update has no signature hole", file: name) }
                hole = h
            } catch let e as PDFError { throw SigningError(.io, "cannot write the sealed file: \(e.message)", file: output.lastPathComponent) }
            let digest = try signedDigest(output: output, hole: hole, inputSize: doc.fileSize, expected: options.expectedInputSHA256,
                                          prefix: options.inputPrefix, file: name)
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
            result.visible = options.appearance?.widgets.isEmpty == false
            result.filledExistingField = plan.existing != nil
            result.warnings = plan.warnings
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
    func signedDigest(output: URL, hole: ByteRangeHole, inputSize: Int, expected: [UInt8]?, prefix: SHA256Prefix? = nil, file name: String) throws -> [UInt8] {
        if prefix == nil, expected == nil { return try sha256(file: output, ranges: hole.byteRange) }
        guard hole.byteRange.count == 4, hole.byteRange[0] == 0, hole.byteRange[1] >= inputSize else {
            throw SigningError(.signingFailed, "the signature hole lies inside the original revision", file: name)
        }
        if let prefix {
            // The state of the bytes taken in: the update follows them in the first range, then the second range.
            guard prefix.length == inputSize, expected.map({ $0 == prefix.digest }) ?? true else {
                let what = prefix.length != inputSize ? "it is \(inputSize) bytes now, \(prefix.length) when it was taken in"
                                                      : "the bytes taken in have SHA-256 \(hex(prefix.digest).prefix(16))…, the approved bytes \(hex(expected ?? []).prefix(16))…"
                throw SigningError(.inputChanged, "the document changed after it was approved: \(what)", file: name)
            }
            let d = prefix.continued()
            let br = hole.byteRange
            try ByteRange.stream(file: output, ranges: [inputSize, br[1] - inputSize, br[2], br[3]]) { d.update($0) }
            return d.finish()
        }
        guard let expected else { return try sha256(file: output, ranges: hole.byteRange) }
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

    /// What the receipt must say about how the input was read: repairs (a seal over a reconstructed
    /// cross-reference table is never silent), pages given a default size, the password that opened it.
    static func inputWarnings(_ doc: PDFDocument) -> [String] {
        var out: [String] = []
        _ = doc.pages // reading the page tree is what finds pages without /MediaBox
        let repairs = doc.warnings.filter(\.isRepair)
        if !repairs.isEmpty {
            out.append("the input PDF is damaged and was repaired to be read (" + repairs.prefix(4).map(\.message).joined(separator: "; ")
                + (repairs.count > 4 ? "; and \(repairs.count - 4) more" : "") + ")"
                + (doc.wasReconstructed ? "; its cross-reference data was rebuilt, and the seal's update carries a complete cross-reference section" : "")
                + "; the seal covers the file byte for byte as received")
        }
        let noBox = doc.warnings.filter { $0.kind == .missingMediaBox }
        if !noBox.isEmpty {
            out.append(noBox.map(\.message).joined(separator: "; ") + ": the seal was placed on that page size")
        }
        if let how = doc.openedWith, how != .emptyUserPassword, let e = doc.encryption {
            out.append("the input is protected with a password (\(e.cipher)); opened with the configured PDF password (\(how == .ownerPassword ? "owner" : "user") password), the seal written encrypted with the document's own security handler")
        }
        return out
    }

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

    /// An earlier signature whose /ByteRange reaches a few bytes past the end of the file (a producer bug) can be
    /// intact over the bytes that exist (the verifier checks it so); any appended update falls inside that range
    /// and breaks it: refused unless that signature is already broken (then the seal changes nothing about it).
    func refuseIfTheSealWouldBreakAnEarlierSignature(_ doc: PDFDocument, url: URL) async throws {
        let past = doc.signatureFields.compactMap { f -> (SignatureField, Int)? in
            guard f.isSigned, let br = f.byteRange, br.count == 4, br.allSatisfy({ $0 >= 0 }) else { return nil }
            let (end, overflow) = br[2].addingReportingOverflow(br[3])
            return !overflow && end > doc.fileSize && end - doc.fileSize <= 16 && br[2] < doc.fileSize ? (f, end - doc.fileSize) : nil
        }
        guard !past.isEmpty else { return }
        var o = Verifier.Options()
        o.revocation = .off
        o.fetchRevocation = false
        let report = await Verifier(trustAnchorsDER: [], options: o).verify(url: url)
        for (f, bytes) in past {
            // not known to be broken already (not in the report, or intact): refuse
            guard report.signatures.first(where: { $0.field == f.name })?.integrity.ok == false else {
                throw SigningError(.earlierSignatureBroken,
                    "the earlier signature \"\(f.name)\" covers \(bytes) byte(s) past the end of the file (its /ByteRange reaches beyond it): "
                    + "any seal appended to the file would fall inside that range and break the signature. Ask the sender for a correctly signed copy",
                    file: url.lastPathComponent)
            }
        }
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

    func buildSignatureObjects(update: IncrementalUpdate, doc: PDFDocument, options: SealOptions, existing: SignatureField? = nil,
                               signingTime: Date, contentsBytes: Int, file: String) throws {
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
        if let existing {
            try fillField(update: update, doc: doc, field: existing, value: sigRef, appearance: options.appearance, file: file)
        } else {
            try addField(update: update, doc: doc, name: options.fieldName ?? "Seal", value: sigRef, appearance: options.appearance,
                         layout: options.crossPageLayout, file: file)
        }
        if certifyRef != nil {
            var cat = catalog(update, doc)
            cat["Perms"] = .dictionary(["DocMDP": .reference(sigRef)])
            setCatalog(update, doc, cat)
        }
    }

    // MARK: - Which field

    /// Where the seal goes: a new field, or an existing empty signature field (named by the placement or the
    /// options, or chosen because a new visible field is not allowed), with the appearance that is kept.
    struct FieldPlan {
        var existing: SignatureField?
        var appearance: SealAppearance?
        var warnings: [String] = []
    }

    /// A widget of a signature field: its reference (nil when the field dictionary is also the widget and
    /// direct), dictionary, rectangle and page.
    struct FieldWidget {
        var ref: ObjectRef?
        var dictionary: PDFDictionary
        var rect: PDFRect?
        var pageIndex: Int?
        var visible: Bool { (rect.map { $0.width * $0.height } ?? 0) > 0 }
    }

    /// The widgets of a field: the field itself when it is merged with its widget, else its widget kids.
    func widgets(of field: SignatureField, in doc: PDFDocument) -> [FieldWidget] {
        guard let fr = field.fieldRef, let fd = doc.resolve(fr).dictionaryValue else { return [] }
        var pageOf: [ObjectRef: Int] = [:]
        for p in doc.pages { pageOf[p.ref] = p.index }
        func make(_ ref: ObjectRef?, _ d: PDFDictionary) -> FieldWidget {
            let rect = PDFRect(doc.resolve(d["Rect"] ?? .null).arrayValue.map { PDFObject.array($0.map { doc.resolve($0) }) })
            var page = d["P"]?.referenceValue.flatMap { pageOf[$0] }
            if page == nil, let ref {
                // No /P: the page whose /Annots lists the widget.
                for p in doc.pages where (doc.resolve(p.dictionary["Annots"] ?? .null).arrayValue ?? []).contains(where: { $0.referenceValue == ref }) {
                    page = p.index; break
                }
            }
            return FieldWidget(ref: ref, dictionary: d, rect: rect, pageIndex: page)
        }
        let kids = doc.resolve(fd["Kids"] ?? .null).arrayValue ?? []
        if fd["Rect"] != nil || fd.name("Subtype") == "Widget" || kids.isEmpty { return [make(fr, fd)] }
        return kids.compactMap { k in doc.resolve(k).dictionaryValue.map { make(k.referenceValue, $0) } }
    }

    func planField(doc: PDFDocument, options: SealOptions, file: String) throws -> FieldPlan {
        var options = options
        if options.appearance?.visibleRequired == true { options.requireVisible = true }
        let fields = doc.signatureFields
        let empty = fields.filter { !$0.isSigned && $0.fieldRef != nil }
        let visible = options.appearance?.widgets.isEmpty == false
        var plan = FieldPlan(existing: nil, appearance: visible ? options.appearance : nil)

        // A field named by the placement or the options.
        if let wanted = options.appearance?.fieldName ?? options.fieldName, let f = fields.first(where: { $0.name == wanted }) {
            if f.isSigned {
                throw SigningError(.fieldAlreadySigned, "the signature field \"\(wanted)\" is already signed; choose another field name", file: file)
            }
            if f.fieldRef != nil {
                plan.existing = f
                return try finishExisting(plan, doc: doc, options: options, file: file)
            }
        } else if let wanted = options.appearance?.fieldName {
            throw SigningError(.fieldNotFound, "the document has no signature field \"\(wanted)\"" +
                (empty.isEmpty ? "" : " (empty signature fields: \(empty.map { "\"\($0.name)\"" }.joined(separator: ", ")))"), file: file)
        }

        // A new field: allowed unless the document is certified (no new *visible* field, ISO 32000-2 §12.8.2.2;
        // pyHanko's SigFieldCreationRule) or its permissions only allow filling existing fields.
        let certified = doc.docMDPPermission
        let newFieldAllowed = doc.permitsNewSignatureField
        if newFieldAllowed && (!visible || certified == nil) { return plan }
        let why = !newFieldAllowed
            ? "the document's encryption permissions allow filling existing signature fields only"
            : "the document is certified (DocMDP P=\(certified!)): a new visible signature field would break its certification"
        let usable = empty.filter { f in widgets(of: f, in: doc).contains { $0.visible && $0.pageIndex != nil } }
        if visible, let f = usable.first(where: { f in widgets(of: f, in: doc).contains { $0.pageIndex == options.appearance?.widgets.first?.pageIndex } }) ?? usable.first {
            plan.existing = f
            let page = widgets(of: f, in: doc).first { $0.visible }?.pageIndex.map { $0 + 1 }
            plan.warnings.append("\(why); the seal fills the existing empty signature field \"\(f.name)\"" + (page.map { " on page \($0)" } ?? "") + " instead")
            return try finishExisting(plan, doc: doc, options: options, file: file)
        }
        if !newFieldAllowed {
            guard let f = empty.first else {
                throw SigningError(.encrypted, "\(why), and it has no empty signature field", file: file)
            }
            plan.existing = f
            plan.appearance = nil
            if visible {
                if options.requireVisible {
                    throw SigningError(.visibleSealNotAllowed, "\(why), and its empty signature field \"\(f.name)\" has no visible widget: a visible seal cannot be added", file: file)
                }
                plan.warnings.append("\(why), and its empty signature field \"\(f.name)\" has no visible widget: the seal fills it invisibly")
            }
            return plan
        }
        // Certified, visible seal asked for, no empty field to fill.
        if options.requireVisible {
            throw SigningError(.visibleSealNotAllowed, "\(why), and the document has no empty signature field to seal into; "
                + "ask the author for a copy with an empty signature field, or allow an invisible seal", file: file)
        }
        plan.appearance = nil
        plan.warnings.append("\(why), and the document has no empty signature field: the seal was added INVISIBLY (it shows in the signature panel, not on the page)")
        return plan
    }

    /// An existing field keeps its own rectangle and page: the seal's main appearance is drawn there; the
    /// cross-page slices are left out (they would be new annotations after the earlier signatures).
    private func finishExisting(_ plan: FieldPlan, doc: PDFDocument, options: SealOptions, file: String) throws -> FieldPlan {
        var plan = plan
        guard let f = plan.existing, let a = plan.appearance, !a.widgets.isEmpty else { plan.appearance = nil; return plan }
        guard let w = widgets(of: f, in: doc).first(where: { $0.visible && $0.pageIndex != nil }) else {
            if options.requireVisible {
                throw SigningError(.visibleSealNotAllowed, "the signature field \"\(f.name)\" has no visible widget on a page: a visible seal cannot be drawn there", file: file)
            }
            plan.appearance = nil
            plan.warnings.append("the signature field \"\(f.name)\" has no visible widget: the seal fills it invisibly")
            return plan
        }
        let main = a.widgets.first { $0.slice == nil } ?? a.widgets[0]
        if a.widgets.count > 1 {
            plan.warnings.append("the seal fills the existing signature field \"\(f.name)\": the cross-page slices were left out")
        }
        var m = main
        m.pageIndex = w.pageIndex!
        m.rect = w.rect!
        plan.appearance = SealAppearance(widgets: [m], fieldName: f.name)
        return plan
    }

    /// Fills an existing empty signature field: /V, and with an appearance the widget's /AP showing the seal
    /// centred in the field's own rectangle (scaled down, never up, keeping its proportions). Only keys a
    /// signer may change when filling a field are touched (pyHanko's SigFieldModificationRule).
    func fillField(update: IncrementalUpdate, doc: PDFDocument, field: SignatureField, value: ObjectRef, appearance: SealAppearance?,
                   file: String) throws {
        guard let fr = field.fieldRef, var fd = update.object(fr).dictionaryValue else {
            throw SigningError(.unreadablePDF, "the signature field \"\(field.name)\" cannot be read", file: file)
        }
        fd["V"] = .reference(value)
        update.replace(fr, with: .dictionary(fd))
        if let a = appearance, let main = a.widgets.first,
           let w = widgets(of: field, in: doc).first(where: { $0.visible && $0.pageIndex == main.pageIndex }), let rect = w.rect {
            let inner = formObject(update, main)
            let ap = wrapperForm(update, inner: inner, innerForm: update.object(inner.referenceValue ?? ObjectRef(0, 0)), rect: rect, source: main)
            if let wr = w.ref, wr != fr {
                var wd = update.object(wr).dictionaryValue ?? w.dictionary
                wd["AP"] = .dictionary(["N": .reference(ap)])
                update.replace(wr, with: .dictionary(wd))
            } else if w.ref == fr {
                fd["AP"] = .dictionary(["N": .reference(ap)])
                update.replace(fr, with: .dictionary(fd))
            } else {
                throw SigningError(.badAppearance, "the widget of the signature field \"\(field.name)\" is not an indirect object; the seal cannot be drawn there", file: file)
            }
        }
        try ensureSigFlags(update: update, doc: doc, newField: nil)
    }

    /// A form of the field's size that paints `inner` (the seal) centred, uniformly scaled to fit (never enlarged).
    private func wrapperForm(_ update: IncrementalUpdate, inner: PDFObject, innerForm: PDFObject, rect: PDFRect, source: SealAppearance.Widget) -> ObjectRef {
        let fd = innerForm.streamValue?.dictionary ?? PDFDictionary()
        let bbox = PDFRect(fd["BBox"]) ?? PDFRect(0, 0, rect.width, rect.height)
        let m = (fd["Matrix"]?.arrayValue?.compactMap(\.numberValue)).flatMap { $0.count == 6 ? $0 : nil } ?? [1, 0, 0, 1, 0, 0]
        let corners = [(bbox.llx, bbox.lly), (bbox.urx, bbox.lly), (bbox.llx, bbox.ury), (bbox.urx, bbox.ury)].map { (x, y) in
            (m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5])
        }
        let x0 = corners.map(\.0).min()!, x1 = corners.map(\.0).max()!, y0 = corners.map(\.1).min()!, y1 = corners.map(\.1).max()!
        let bw = max(x1 - x0, 0.01), bh = max(y1 - y0, 0.01)
        let s = min(1, rect.width / bw, rect.height / bh)
        let tx = (rect.width - s * bw) / 2 - s * x0, ty = (rect.height - s * bh) / 2 - s * y0
        func f(_ d: Double) -> String { String(format: "%.4f", d) }
        let content = "q \(f(s)) 0 0 \(f(s)) \(f(tx)) \(f(ty)) cm /Seal Do Q"
        let wrapper = PDFStream(dictionary: ["Type": .name("XObject"), "Subtype": .name("Form"), "BBox": .array([0, 0, .number(rect.width), .number(rect.height)]),
                                             "Resources": .dictionary(["XObject": .dictionary(["Seal": inner])])],
                                rawData: Array(content.utf8))
        return update.add(.stream(wrapper))
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

        // Existing empty field with this name: filled (callers normally plan this; kept for the time-stamp path).
        if let existing = doc.signatureFields.first(where: { $0.name == name }) {
            if existing.isSigned { throw SigningError(.fieldAlreadySigned, "the signature field \"\(name)\" is already signed; choose another field name", file: file) }
            if existing.fieldRef != nil {
                try fillField(update: update, doc: doc, field: existing, value: value, appearance: appearance, file: file)
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

/// A key whose certificate list is completed with the configured chain (the registered seal's intermediates
/// and root when the token holds only the seal certificate). The key's own certificates come first.
struct ChainExtendedKey: SignatureKey {
    let inner: SignatureKey
    let extra: [[UInt8]]
    var certificateChainDER: [[UInt8]] {
        var out = inner.certificateChainDER
        for c in extra where !out.contains(c) { out.append(c) }
        return out
    }
    var signatureAlgorithm: SignatureAlgorithm { inner.signatureAlgorithm }
    func sign(_ message: [UInt8]) async throws -> [UInt8] { try await inner.sign(message) }
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
