import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PDF

extension Verifier {
    /// Changes after the revision a signature ends in, and whether they are allowed: the rule-based
    /// difference analysis of DiffAnalysis.swift, run revision by revision, then the file's tail.
    func analyseModifications(doc: PDFDocument, ctx: Context, end: Int, cov: SignatureCoverage, allFields: [SignatureField],
                              thisField: SignatureField) -> ModificationReport {
        let sig = thisField.signature ?? PDFDictionary()
        let certP = thisField.isCertification ? (docMDPOf(sig, doc: doc) ?? 2) : nil
        let lock = fieldLock(thisField, doc: doc)
        let governing = certP ?? doc.docMDPPermission
        let permitted: ModificationLevel
        switch governing {
        case 1?: permitted = .signaturesAndDSS
        case 3?: permitted = .annotations
        // P=2, and documents without certification: form filling and signing (as pyHanko and Acrobat judge
        // approval signatures); annotations need an explicit P=3 certification.
        default: permitted = .formFilling
        }
        let tail = unsignedTail(doc)
        switch cov {
        case .wholeFile: return ModificationReport(level: .none, allowed: true, permitted: permitted, details: [])
        case .partial: return ModificationReport(level: .other, allowed: false, permitted: permitted, details: ["the signature does not cover a whole revision of the file"])
        case .invalid(let why): return ModificationReport(level: .other, allowed: false, permitted: permitted, details: [why])
        case .revision(let i):
            var details: [String] = []
            var level = ModificationLevel.none
            let revs = doc.revisions
            if i + 1 < revs.count {
                do {
                    let r = try DiffPolicy().review(doc: doc, base: i, revisionEnds: revs.map(\.end), docMDP: certP ?? lock?.p, lock: lock?.lock)
                    level = r.level
                    details = r.notes
                } catch let e as SuspiciousModification {
                    return ModificationReport(level: .other, allowed: false, permitted: permitted, details: [e.message] + tail.notes)
                } catch {
                    return ModificationReport(level: .other, allowed: false, permitted: permitted, details: ["the revisions after the signature cannot be read: \(error)"])
                }
            }
            if tail.suspicious {
                return ModificationReport(level: .other, allowed: false, permitted: permitted, details: details + tail.notes)
            }
            details += tail.notes
            if level == .none && details.isEmpty { details = ["nothing after the signature but the end-of-file marker"] }
            return ModificationReport(level: level, allowed: level <= permitted, permitted: permitted, details: Array(details.prefix(30)))
        }
    }

    /// Bytes after the last revision's end-of-file marker, which no signature and no cross-reference data
    /// covers. Whitespace and NUL padding is only noted; anything else fails every signature — a reader that
    /// repairs files can show objects hidden there (the Incremental Saving attack without a new
    /// cross-reference section).
    func unsignedTail(_ doc: PDFDocument) -> (suspicious: Bool, notes: [String]) {
        guard let last = doc.revisions.last, last.endIncludingEOL < doc.fileSize else { return (false, []) }
        let n = doc.fileSize - last.endIncludingEOL
        let sample = doc.bytes(in: last.endIncludingEOL..<min(doc.fileSize, last.endIncludingEOL + (1 << 20)))
        if sample.allSatisfy({ $0 == 0 || $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == 0x0C }) {
            return (false, ["\(n) byte(s) of whitespace after the last revision (not signed)"])
        }
        let text = String(decoding: sample, as: UTF8.self)
        let pdfSyntax = ["obj", "endobj", "stream", "xref", "trailer", "startxref"].contains { text.contains($0) }
        return (true, [pdfSyntax
            ? "\(n) byte(s) after the last revision contain PDF objects that no signature covers (a reader that repairs files may show them)"
            : "\(n) byte(s) of unsigned data after the last revision"])
    }

    /// The field lock of a signature: a FieldMDP transform in its /Reference, or its field's /Lock.
    func fieldLock(_ f: SignatureField, doc: PDFDocument) -> (lock: FieldLock?, p: Int?)? {
        var lockDict: PDFDictionary? = nil
        if let refs = doc.resolve(f.signature ?? [:], "Reference")?.arrayValue {
            for r in refs {
                guard let rd = doc.resolve(r).dictionaryValue, rd.name("TransformMethod") == "FieldMDP" else { continue }
                lockDict = doc.resolve(rd, "TransformParams")?.dictionaryValue
            }
        }
        if lockDict == nil, let fr = f.fieldRef, let fd = doc.resolve(fr).dictionaryValue { lockDict = doc.resolve(fd, "Lock")?.dictionaryValue }
        guard let d = lockDict else { return nil }
        let names = Set((doc.resolve(d, "Fields")?.arrayValue ?? []).compactMap { doc.resolve($0).stringValue?.text })
        let lock: FieldLock?
        switch d.name("Action")?.string {
        case "All"?: lock = FieldLock(action: .all)
        case "Include"?: lock = FieldLock(action: .include(names))
        case "Exclude"?: lock = FieldLock(action: .exclude(names))
        default: lock = nil
        }
        let p = doc.resolve(d, "P")?.intValue.flatMap { (1...3).contains($0) ? $0 : nil }
        return (lock, p)
    }
}

extension Verifier {
    /// What the signature's own revision shows: the pages of the field's widgets, and the /Stamp annotations
    /// created in that same revision (a cross-page seal's slices), which the signature covers. Informational:
    /// an unreadable revision gives no appearance report (nil), it never changes the verdict.
    func appearanceReport(_ f: SignatureField, revisionIndex: Int, end: Int, ctx: Context) -> AppearanceReport? {
        guard let fieldRef = f.fieldRef, let signed = try? ctx.revisionDocument(end: end) else { return nil }
        let revs = ctx.doc.revisions
        // The revision before: objects it already had were not created with this signature.
        var previous: PDFDocument? = nil
        var previousKnown = revisionIndex == 0
        func isNew(_ r: ObjectRef, _ d: PDFDictionary) -> Bool {
            if revisionIndex == 0 {
                // Signed in the first revision: everything is "new"; count only stamps marked as ours for this field.
                return (d["NM"].flatMap { signed.resolve($0).stringValue?.text } ?? "").hasPrefix(PAdESSealer.sliceNamePrefix + f.name + "-")
            }
            if !previousKnown {
                previousKnown = true
                if revisionIndex - 1 < revs.count { previous = try? ctx.revisionDocument(end: revs[revisionIndex - 1].end) }
            }
            guard let previous else { return false }
            return !previous.contains(r) || previous.resolve(r) != .dictionary(d)
        }
        var widgetPages: [Int] = []
        var visible = false
        var slices: [AppearanceReport.Slice] = []
        for page in signed.pages {
            let annots = signed.resolve(page.dictionary["Annots"] ?? .null).arrayValue ?? []
            for a in annots {
                guard let ar = a.referenceValue, let d = signed.resolve(ar).dictionaryValue else { continue }
                let subtype = d.name("Subtype")
                if subtype == "Widget", ar == fieldRef || d["Parent"]?.referenceValue == fieldRef {
                    widgetPages.append(page.index + 1)
                    if let rect = PDFRect(signed.resolve(d["Rect"] ?? .null)), rect.width > 0, rect.height > 0 { visible = true }
                } else if subtype == "Stamp", isNew(ar, d) {
                    slices.append(.init(page: page.index + 1, name: d["NM"].flatMap { signed.resolve($0).stringValue?.text }))
                }
            }
        }
        return AppearanceReport(visible: visible, widgetPages: widgetPages, slices: slices)
    }
}
