import Foundation

/// An interactive form field of type /Sig (§12.7.5.5), filled or empty.
public struct SignatureField: Sendable {
    /// Fully qualified field name (`parent.child`).
    public var name: String
    /// Reference of the field dictionary (merged field/widget in most files).
    public var fieldRef: ObjectRef?
    /// Reference of the signature dictionary (/V), nil for an empty field.
    public var signatureRef: ObjectRef?
    /// The signature dictionary (/V), resolved.
    public var signature: PDFDictionary?
    /// /Type of the signature dictionary: "Sig" or "DocTimeStamp".
    public var type: String?
    /// /Filter, e.g. "Adobe.PPKLite".
    public var filter: String?
    /// /SubFilter, e.g. "ETSI.CAdES.detached", "adbe.pkcs7.detached", "ETSI.RFC3161".
    public var subFilter: String?
    /// /ByteRange as written.
    public var byteRange: [Int]?
    /// /Contents bytes exactly as in the file (hex decoded; includes trailing zero padding).
    public var contents: [UInt8]?
    /// Absolute byte range of the /Contents string (with `<` `>`) in the file, when the signature
    /// dictionary is an indirect object stored directly in the file.
    public var contentsRange: Range<Int>?
    /// /M signing time as written (PDF date string).
    public var signingTime: String?
    /// /Name, /Reason, /Location as text.
    public var signerName: String?
    public var reason: String?
    public var location: String?
    /// Page index of the widget, when it can be told.
    public var pageIndex: Int?
    /// True when the field's signature dictionary carries a DocMDP transform (a certification signature).
    public var isCertification: Bool
    /// True when the field is filled.
    public var isSigned: Bool { signature != nil }
}

/// How much of the file a signature's /ByteRange covers.
public enum SignatureCoverage: Sendable, Equatable {
    /// The ranges start at 0, leave exactly one gap (the /Contents string) and end at the end of the file.
    case wholeFile
    /// As `wholeFile`, but ending at the end of an earlier revision (0-based index into `revisions`).
    case revision(Int)
    /// The ranges are well-formed but stop before the end of any revision, or leave other gaps.
    case partial
    /// The ranges are malformed or reach beyond the end of the file.
    case invalid(String)
}

extension PDFDocument {
    /// The interactive form dictionary (§12.7.3), if any.
    public var acroForm: PDFDictionary? { resolve(catalog, "AcroForm")?.dictionaryValue }

    /// Every signature field in the AcroForm (filled or empty), in field-tree order.
    public var signatureFields: [SignatureField] { memo(signatureFieldsSlot) { walkSignatureFields() } }

    private func walkSignatureFields() -> [SignatureField] {
        guard let form = acroForm, let fields = resolve(form, "Fields")?.arrayValue else { return [] }
        var out: [SignatureField] = []
        var visited = Set<ObjectRef>()
        var pageOf: [ObjectRef: Int] = [:]
        var pagesComputed = false
        func pageIndex(_ d: PDFDictionary, _ r: ObjectRef?) -> Int? {
            if let p = d["P"]?.referenceValue {
                if !pagesComputed { for pg in pages { pageOf[pg.ref] = pg.index }; pagesComputed = true }
                return pageOf[p]
            }
            return nil
        }
        func walk(_ node: PDFObject, parentName: String?, inheritedFT: PDFName?, depth: Int) {
            guard depth < 32 else { return }
            let ref = node.referenceValue
            if let ref { guard visited.insert(ref).inserted else { return } }
            guard let d = resolve(node).dictionaryValue else { return }
            let partial = resolve(d["T"] ?? .null).stringValue?.text
            let full: String? = {
                switch (parentName, partial) {
                case (let p?, let t?): return p + "." + t
                case (nil, let t?): return t
                case (let p?, nil): return p
                default: return nil
                }
            }()
            let ft = d.name("FT") ?? inheritedFT
            // Kids that are fields (have /T) are walked; widget-only kids are not fields.
            let kids = resolve(d["Kids"] ?? .null).arrayValue ?? []
            let fieldKids = kids.filter { resolve($0).dictionaryValue?["T"] != nil }
            if !fieldKids.isEmpty {
                for k in fieldKids { walk(k, parentName: full, inheritedFT: ft, depth: depth + 1) }
                return
            }
            guard ft == "Sig" else { return }
            var f = SignatureField(name: full ?? "(unnamed)", fieldRef: ref, signatureRef: nil, signature: nil, isCertification: false)
            f.pageIndex = pageIndex(d, ref) ?? kids.lazy.compactMap { self.resolve($0).dictionaryValue }.compactMap { pageIndex($0, nil) }.first
            if let v = d["V"] {
                f.signatureRef = v.referenceValue
                if let sd = resolve(v).dictionaryValue {
                    f.signature = sd
                    f.type = sd.name("Type")?.string
                    f.filter = sd.name("Filter")?.string
                    f.subFilter = sd.name("SubFilter")?.string
                    f.byteRange = resolve(sd["ByteRange"] ?? .null).arrayValue?.compactMap { resolve($0).intValue }
                    f.contents = resolve(sd["Contents"] ?? .null).stringValue?.bytes
                    if let r = f.signatureRef, case .inFile(let off, _)? = xref[r.number] {
                        var p = Parser(src, at: off)
                        f.contentsRange = try? p.locateValue(of: "Contents")
                    }
                    f.signingTime = resolve(sd["M"] ?? .null).stringValue.map { String(decoding: $0.bytes, as: UTF8.self) }
                    f.signerName = resolve(sd["Name"] ?? .null).stringValue?.text
                    f.reason = resolve(sd["Reason"] ?? .null).stringValue?.text
                    f.location = resolve(sd["Location"] ?? .null).stringValue?.text
                    if let refs = resolve(sd["Reference"] ?? .null).arrayValue {
                        f.isCertification = refs.contains { resolve($0).dictionaryValue?.name("TransformMethod") == "DocMDP" }
                    }
                }
            }
            out.append(f)
        }
        for f in fields { walk(f, parentName: nil, inheritedFT: nil, depth: 0) }
        return out
    }

    /// DocMDP permission level (1 no changes, 2 form filling and signing, 3 also annotations) of a
    /// certification signature (§12.8.2.2), or nil when the document is not certified.
    public var docMDPPermission: Int? {
        func level(_ sig: PDFDictionary) -> Int? {
            guard let refs = resolve(sig["Reference"] ?? .null).arrayValue else { return nil }
            for r in refs {
                guard let rd = resolve(r).dictionaryValue, rd.name("TransformMethod") == "DocMDP" else { continue }
                let p = resolve(rd["TransformParams"] ?? .null).dictionaryValue.flatMap { resolve($0["P"] ?? .null).intValue } ?? 2
                return (1...3).contains(p) ? p : 2
            }
            return nil
        }
        if let perms = resolve(catalog, "Perms")?.dictionaryValue, let sig = resolve(perms, "DocMDP")?.dictionaryValue {
            return level(sig) ?? 2
        }
        for f in signatureFields { if let s = f.signature, let l = level(s) { return l } }
        return nil
    }

    /// Whether a seal may be added, or the specific reason why not (a password needed to open the file,
    /// permission bits that forbid it, DocMDP P=1). An encrypted file that opens with the empty user password
    /// is sealable when its /P bits allow changing the document: bit 4 (modify) or bit 6 (annotations and
    /// forms), or — R≥3 — bit 9 (fill in existing form fields, signature fields included) when it has an
    /// empty signature field to seal into (ISO 32000-2 §7.6.4.2, table 22).
    public func checkSealable() throws {
        if let e = encryption {
            if e.userPasswordRequired && openedWith == nil {
                throw PDFError(.encrypted(userPasswordRequired: true),
                    "the file is protected with a password needed to open it (\(e.cipher)); ask the sender for an unprotected copy",
                    file: url?.lastPathComponent)
            }
            let p = UInt32(bitPattern: e.permissions)
            func bit(_ n: Int) -> Bool { p & (1 << UInt32(n - 1)) != 0 }
            let emptyField = signatureFields.contains { !$0.isSigned }
            if !(bit(4) || bit(6) || (e.revision >= 3 && bit(9) && emptyField)) {
                throw PDFError(.encrypted(userPasswordRequired: false),
                    "the file is encrypted (\(e.cipher)) with permissions that forbid changing it (/P \(e.permissions): no modifying, no annotations or form filling"
                    + (e.revision >= 3 && bit(9) ? ", and no empty signature field to fill" : "") + "); ask the sender for a copy that allows signing",
                    file: url?.lastPathComponent)
            }
        }
        if docMDPPermission == 1 {
            throw PDFError(.certifiedNoChanges,
                "the document is certified with \"no changes allowed\" (DocMDP P=1): adding a seal would break its certification. Ask the author for an uncertified copy",
                file: url?.lastPathComponent)
        }
    }

    /// True when an encrypted document's permissions allow a new signature field (/P bit 4 or 6); with
    /// only bit 9, a seal may only fill an existing empty signature field.
    public var permitsNewSignatureField: Bool {
        guard let e = encryption else { return true }
        let p = UInt32(bitPattern: e.permissions)
        return p & (1 << 3) != 0 || p & (1 << 5) != 0
    }

    /// How much of the file a signature covers: as `coverage(of:)` for its /ByteRange, and `.invalid`
    /// when the gap is not exactly this signature's own /Contents string.
    public func coverage(of field: SignatureField) -> SignatureCoverage? {
        guard let br = field.byteRange else { return nil }
        let c = coverage(of: br)
        if case .invalid = c { return c }
        if let r = field.contentsRange, br.count == 4, br[0] &+ br[1] != r.lowerBound || br[2] != r.upperBound {
            return .invalid("the gap in /ByteRange (\(br[0] &+ br[1])..<\(br[2])) is not this signature's /Contents (\(r.lowerBound)..<\(r.upperBound))")
        }
        return c
    }

    /// How much of the file a /ByteRange covers (see `SignatureCoverage`).
    public func coverage(of byteRange: [Int]) -> SignatureCoverage {
        guard byteRange.count == 4 else { return .invalid("/ByteRange does not have 4 numbers") }
        let a = byteRange[0], b = byteRange[1], c = byteRange[2], d = byteRange[3]
        guard a >= 0, b >= 0, c >= 0, d >= 0 else { return .invalid("/ByteRange has negative numbers") }
        let (ab, o1) = a.addingReportingOverflow(b)
        guard !o1, c >= ab else { return .invalid("/ByteRange ranges overlap") }
        let (end, o) = c.addingReportingOverflow(d)
        guard !o else { return .invalid("/ByteRange overflows") }
        guard end <= fileSize else { return .invalid("/ByteRange ends at byte \(end), beyond the end of the file (\(fileSize) bytes)") }
        guard a == 0 else { return .partial }
        if end == fileSize { return .wholeFile }
        for (i, r) in revisions.enumerated() where r.end == end || r.endIncludingEOL == end { return .revision(i) }
        return .partial
    }
}
