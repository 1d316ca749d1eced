import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PDF

/// Classifies what changed after a signature by comparing the signed revision with the current file,
/// object by object (the idea of pyHanko's difference analysis, simplified; ISO 32000-2 §12.8.2.2).
struct ModificationAnalyser {
    let doc: PDFDocument
    let old: PDFDocument

    struct Finding { var level: ModificationLevel; var text: String; var newSignature: Bool = false }

    func resolve(_ d: PDFDocument, _ n: Int) -> (ObjectRef, PDFObject)? {
        for g in 0..<3 {
            let r = ObjectRef(n, g)
            let o = d.resolve(r)
            if !o.isNull { return (r, o) }
        }
        return nil
    }

    func run() -> [Finding] {
        var findings: [Finding] = []
        let oldPages = Set(old.pages.map(\.ref))
        let oldAcroRef = old.catalog["AcroForm"]?.referenceValue
        let oldFieldsRef = old.acroForm?["Fields"]?.referenceValue
        var oldAnnotsArrays: Set<ObjectRef> = []
        for p in old.pages { if let r = p.dictionary["Annots"]?.referenceValue { oldAnnotsArrays.insert(r) } }
        let dssRefs = reachableDSS(doc)
        let infoRef = old.trailer["Info"]?.referenceValue
        let top = max(doc.size, old.size)
        for n in 1..<max(top, 1) {
            let inNew = doc.contains(ObjectRef(n, 0))
            let inOld = old.contains(ObjectRef(n, 0))
            if !inNew && !inOld { continue }
            if !inOld { continue } // new objects matter only through the changed objects that refer to them
            guard let (oref, o) = resolve(old, n) else { continue }
            guard inNew, let (_, nw) = resolve(doc, n) else {
                if isStructural(o) { continue }
                findings.append(Finding(level: .other, text: "object \(n) was deleted")); continue
            }
            if o == nw || isStructural(o) { continue }
            if oref == old.catalogRef { findings += catalogDiff(o.dictionaryValue ?? [:], nw.dictionaryValue ?? [:]); continue }
            if dssRefs.contains(oref) { findings.append(Finding(level: .signaturesAndDSS, text: "DSS updated (object \(n))")); continue }
            if oref == infoRef { findings.append(Finding(level: .signaturesAndDSS, text: "document information updated")); continue }
            if oref == oldAcroRef { findings += formDiff(o.dictionaryValue ?? [:], nw.dictionaryValue ?? [:]); continue }
            if oref == oldFieldsRef { findings += fieldsArrayDiff(o.arrayValue ?? [], nw.arrayValue ?? []); continue }
            if oldAnnotsArrays.contains(oref) { findings += annotsDiff(o.arrayValue ?? [], nw.arrayValue ?? [], page: n); continue }
            if oldPages.contains(oref) { findings += pageDiff(o.dictionaryValue ?? [:], nw.dictionaryValue ?? [:], n: n); continue }
            if let d = o.dictionaryValue, o.streamValue == nil {
                if isField(d) || d.name("Subtype") == "Widget" { findings += fieldDiff(d, nw.dictionaryValue ?? [:], n: n); continue }
                if d.name("Type") == "Annot" || d["Subtype"] != nil && d["Rect"] != nil {
                    findings.append(Finding(level: .annotations, text: "annotation \(n) changed")); continue
                }
            }
            if let s = o.streamValue {
                let t = s.dictionary.name("Type"), st = s.dictionary.name("Subtype")
                if t == "Metadata" { findings.append(Finding(level: .signaturesAndDSS, text: "XMP metadata updated")); continue }
                if st == "Form" { findings.append(Finding(level: .formFilling, text: "appearance stream \(n) changed")); continue }
            }
            findings.append(Finding(level: .other, text: "object \(n) changed (\(describe(o)))"))
        }
        return findings
    }

    func isStructural(_ o: PDFObject) -> Bool {
        guard let s = o.streamValue else { return false }
        let t = s.dictionary.name("Type")
        return t == "XRef" || t == "ObjStm"
    }

    func describe(_ o: PDFObject) -> String {
        if let d = o.dictionaryValue {
            if let t = d.name("Type") { return "/" + t.string + (o.streamValue != nil ? " stream" : "") }
            return o.streamValue != nil ? "stream" : "dictionary"
        }
        if o.arrayValue != nil { return "array" }
        return "value"
    }

    func changedKeys(_ a: PDFDictionary, _ b: PDFDictionary) -> [PDFName] {
        var keys = a.keys
        for k in b.keys where !keys.contains(k) { keys.append(k) }
        return keys.filter { a[$0] != b[$0] }
    }

    func catalogDiff(_ a: PDFDictionary, _ b: PDFDictionary) -> [Finding] {
        var out: [Finding] = []
        for k in changedKeys(a, b) {
            switch k.string {
            case "DSS": out.append(Finding(level: .signaturesAndDSS, text: "DSS added or updated"))
            case "AcroForm":
                let fa = a["AcroForm"].map { old.resolve($0).dictionaryValue ?? [:] } ?? [:]
                let fb = b["AcroForm"].map { doc.resolve($0).dictionaryValue ?? [:] } ?? [:]
                out += formDiff(fa, fb)
            case "Version", "Extensions": out.append(Finding(level: .signaturesAndDSS, text: "catalog /\(k.string) updated"))
            case "Metadata": out.append(Finding(level: .signaturesAndDSS, text: "metadata reference updated"))
            default: out.append(Finding(level: .other, text: "catalog /\(k.string) changed"))
            }
        }
        return out
    }

    func formDiff(_ a: PDFDictionary, _ b: PDFDictionary) -> [Finding] {
        var out: [Finding] = []
        for k in changedKeys(a, b) {
            switch k.string {
            case "Fields":
                let fa = a["Fields"].map { old.resolve($0).arrayValue ?? [] } ?? []
                let fb = b["Fields"].map { doc.resolve($0).arrayValue ?? [] } ?? []
                out += fieldsArrayDiff(fa, fb)
            case "SigFlags": out.append(Finding(level: .signaturesAndDSS, text: "AcroForm /SigFlags set"))
            case "DR", "DA", "NeedAppearances": out.append(Finding(level: .formFilling, text: "AcroForm /\(k.string) changed"))
            default: out.append(Finding(level: .other, text: "AcroForm /\(k.string) changed"))
            }
        }
        return out
    }

    func fieldsArrayDiff(_ a: [PDFObject], _ b: [PDFObject]) -> [Finding] {
        var out: [Finding] = []
        for x in a where !b.contains(x) { out.append(Finding(level: .other, text: "form field removed")) }
        for x in b where !a.contains(x) {
            if isSignatureField(doc.resolve(x).dictionaryValue ?? [:]) {
                out.append(Finding(level: .signaturesAndDSS, text: "signature field added", newSignature: isFilledSignature(doc.resolve(x).dictionaryValue ?? [:])))
            } else { out.append(Finding(level: .formFilling, text: "form field added")) }
        }
        return out
    }

    func pageDiff(_ a: PDFDictionary, _ b: PDFDictionary, n: Int) -> [Finding] {
        var out: [Finding] = []
        for k in changedKeys(a, b) {
            if k == "Annots" {
                let aa = a["Annots"].map { old.resolve($0).arrayValue ?? [] } ?? []
                let bb = b["Annots"].map { doc.resolve($0).arrayValue ?? [] } ?? []
                out += annotsDiff(aa, bb, page: n)
            } else {
                out.append(Finding(level: .other, text: "page object \(n): /\(k.string) changed"))
            }
        }
        return out
    }

    func annotsDiff(_ a: [PDFObject], _ b: [PDFObject], page: Int) -> [Finding] {
        var out: [Finding] = []
        for x in a where !b.contains(x) {
            let d = old.resolve(x).dictionaryValue ?? [:]
            out.append(Finding(level: d.name("Subtype") == "Widget" ? .other : .annotations, text: "annotation removed from page object \(page)"))
        }
        for x in b where !a.contains(x) {
            let d = doc.resolve(x).dictionaryValue ?? [:]
            if d.name("Subtype") == "Widget" {
                if isSignatureField(d) { out.append(Finding(level: .signaturesAndDSS, text: "signature widget added")) }
                else { out.append(Finding(level: .formFilling, text: "form widget added")) }
            } else {
                out.append(Finding(level: .annotations, text: "annotation (\(d.name("Subtype")?.string ?? "?")) added on page object \(page)"))
            }
        }
        return out
    }

    func fieldDiff(_ a: PDFDictionary, _ b: PDFDictionary, n: Int) -> [Finding] {
        let sig = isSignatureField(a)
        var out: [Finding] = []
        for k in changedKeys(a, b) {
            switch k.string {
            case "V":
                if sig {
                    if a["V"] == nil { out.append(Finding(level: .signaturesAndDSS, text: "empty signature field \(n) signed", newSignature: true)) }
                    else { out.append(Finding(level: .other, text: "existing signature in field \(n) replaced")) }
                } else { out.append(Finding(level: .formFilling, text: "form field \(n) value filled in")) }
            case "AP", "AS", "MK", "DA":
                out.append(Finding(level: sig ? .signaturesAndDSS : .formFilling, text: "appearance of field \(n) updated"))
            case "Kids":
                out.append(Finding(level: .formFilling, text: "widgets of field \(n) changed"))
            case "F" where sig:
                out.append(Finding(level: .signaturesAndDSS, text: "signature widget flags updated"))
            default:
                out.append(Finding(level: .other, text: "field \(n): /\(k.string) changed"))
            }
        }
        return out
    }

    func isField(_ d: PDFDictionary) -> Bool { d["FT"] != nil || (d["T"] != nil && d["Parent"] == nil && d["Kids"] != nil) }

    func fieldType(_ d: PDFDictionary) -> PDFName? {
        var cur = d
        for _ in 0..<16 {
            if let ft = cur.name("FT") { return ft }
            guard let p = cur["Parent"], let pd = doc.resolve(p).dictionaryValue ?? old.resolve(p).dictionaryValue else { return nil }
            cur = pd
        }
        return nil
    }
    func isSignatureField(_ d: PDFDictionary) -> Bool { fieldType(d) == "Sig" }
    func isFilledSignature(_ d: PDFDictionary) -> Bool {
        guard let v = d["V"], let sd = doc.resolve(v).dictionaryValue else { return false }
        return sd.name("Type") != "DocTimeStamp" && sd.name("SubFilter") != "ETSI.RFC3161"
    }

    func reachableDSS(_ d: PDFDocument) -> Set<ObjectRef> {
        var out = Set<ObjectRef>()
        guard let ref = d.catalog["DSS"] else { return out }
        var stack: [PDFObject] = [ref]
        while let o = stack.popLast(), out.count < 10_000 {
            switch o {
            case .reference(let r):
                guard !out.contains(r) else { continue }
                let v = d.resolve(r)
                if v.streamValue != nil { continue } // certificate / CRL / OCSP streams: leaves
                out.insert(r)
                stack.append(v)
            case .dictionary(let dd): for (_, v) in dd { stack.append(v) }
            case .array(let a): stack += a
            default: break
            }
        }
        return out
    }
}

extension Verifier {
    /// Changes after the revision a signature ends in, and whether the document's DocMDP allows them.
    func analyseModifications(doc: PDFDocument, ctx: Context, end: Int, cov: SignatureCoverage, allFields: [SignatureField],
                              thisField: SignatureField) -> ModificationReport {
        let p = thisField.isCertification ? (docMDPOf(thisField.signature ?? [:], doc: doc) ?? 2) : doc.docMDPPermission
        let permitted: ModificationLevel
        switch p {
        case 1?: permitted = .signaturesAndDSS
        case 3?: permitted = .annotations
        // P=2, and documents without certification: form filling and signing (as pyHanko and Acrobat judge
        // approval signatures); annotations need an explicit P=3 certification.
        default: permitted = .formFilling
        }
        switch cov {
        case .wholeFile: return ModificationReport(level: .none, allowed: true, permitted: permitted, details: [])
        case .partial: return ModificationReport(level: .other, allowed: false, permitted: permitted, details: ["the signature does not cover a whole revision of the file"])
        case .invalid(let why): return ModificationReport(level: .other, allowed: false, permitted: permitted, details: [why])
        case .revision: break
        }
        // Open the signed revision: a truncated copy, memory-mapped.
        do {
            let old = try ctx.revisionDocument(end: end)
            let findings = ModificationAnalyser(doc: doc, old: old).run()
            let level = findings.map(\.level).max() ?? .signaturesAndDSS
            let newSig = findings.contains(where: \.newSignature)
            var allowed = level <= permitted
            var details = findings.map(\.text)
            if p == 1 && newSig { allowed = false; details.insert("a new signature was added to a document certified with no changes allowed", at: 0) }
            var seen = Set<String>()
            details = details.filter { seen.insert($0).inserted }
            return ModificationReport(level: findings.isEmpty ? .signaturesAndDSS : level, allowed: allowed, permitted: permitted, details: Array(details.prefix(30)))
        } catch {
            return ModificationReport(level: .other, allowed: false, permitted: permitted, details: ["the signed revision cannot be read: \(error)"])
        }
    }
}

extension Verifier {
    /// What the signature's own revision shows: the pages of the field's widgets, and the /Stamp annotations
    /// created in that same revision (a cross-page seal's slices), which the signature covers.
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
