import Foundation
import PDF

/// Writes rendered seal widgets into a document as an *unsigned* incremental update: the whole seal
/// becomes a signature-field widget (/FT /Sig, no /V) showing the seal's Form XObject; cross-page
/// slices become /Stamp annotations (print, locked) — the structure pdfsig and pyHanko both accept
/// when it is signed (a signature field with several widgets confuses poppler's pdfsig).
/// Used by `preview` (what the page will look like after sealing, without the token) and by the
/// rendering tests; Signing writes its widgets inside the signed revision.
public enum SealOverlay {
    /// Adds `widgets` to `update`: imports each form, creates the annotations, appends them to their
    /// pages' /Annots, and the signature widgets to the AcroForm's /Fields. Returns the signature
    /// widget references.
    @discardableResult
    public static func addWidgets(_ widgets: [RenderedWidget], to update: IncrementalUpdate,
                                  fieldNamePrefix: String = "sealbatch-seal") throws -> [ObjectRef] {
        let doc = update.document
        let pages = doc.pages
        var newAnnots: [Int: [ObjectRef]] = [:]
        var refs: [ObjectRef] = []
        for (i, w) in widgets.enumerated() {
            guard pages.indices.contains(w.pageIndex) else {
                throw RenderError(.pageOutOfRange, "no page \(w.pageIndex + 1) for a seal widget", page: w.pageIndex + 1)
            }
            let form = update.importObject(w.form, from: w.source)
            let formRef: ObjectRef
            if case .reference(let r) = form { formRef = r } else { formRef = update.add(form) }
            var annot: PDFDictionary = [
                "Type": .name("Annot"), "F": .integer(4 | 128),   // Print | Locked
                "Rect": w.rect.object, "P": .reference(pages[w.pageIndex].ref),
                "AP": .dictionary(["N": .reference(formRef)]),
            ]
            if let s = w.placement.slice {
                annot["Subtype"] = .name("Stamp")
                annot["NM"] = .text("\(fieldNamePrefix)-slice-\(s.index + 1)-of-\(s.count)")
                annot["Contents"] = .text("骑缝章 \(s.index + 1)/\(s.count)")
                newAnnots[w.pageIndex, default: []].append(update.add(.dictionary(annot)))
            } else {
                annot["Subtype"] = .name("Widget")
                annot["FT"] = .name("Sig")
                annot["T"] = .text("\(fieldNamePrefix)-\(i + 1)")
                let r = update.add(.dictionary(annot))
                refs.append(r)
                newAnnots[w.pageIndex, default: []].append(r)
            }
        }
        // Pages: append to /Annots (an indirect array is replaced in place, else the page is).
        for (pi, annots) in newAnnots.sorted(by: { $0.key < $1.key }) {
            let page = pages[pi]
            let current = update.object(page.ref).dictionaryValue ?? page.dictionary
            switch current["Annots"] {
            case .reference(let ar):
                let arr = update.object(ar).arrayValue ?? []
                update.replace(ar, with: .array(arr + annots.map { .reference($0) }))
            case .array(let arr):
                var d = current
                d["Annots"] = .array(arr + annots.map { .reference($0) })
                update.replace(page.ref, with: .dictionary(d))
            default:
                var d = current
                d["Annots"] = .array(annots.map { .reference($0) })
                update.replace(page.ref, with: .dictionary(d))
            }
        }
        // AcroForm /Fields.
        if refs.isEmpty { return refs }
        guard let catRef = doc.catalogRef else { throw RenderError(.formExtraction, "the document has no catalog") }
        var catalog = update.object(catRef).dictionaryValue ?? doc.catalog
        let fieldRefs = refs.map { PDFObject.reference($0) }
        switch catalog["AcroForm"] {
        case .reference(let afRef):
            var af = update.object(afRef).dictionaryValue ?? PDFDictionary()
            try appendFields(&af, fieldRefs, update: update)
            update.replace(afRef, with: .dictionary(af))
        case .dictionary(var af):
            try appendFields(&af, fieldRefs, update: update)
            catalog["AcroForm"] = .dictionary(af)
            update.replace(catRef, with: .dictionary(catalog))
        default:
            var af = PDFDictionary()
            af["Fields"] = .array(fieldRefs)
            af["SigFlags"] = .integer(1)
            catalog["AcroForm"] = .reference(update.add(.dictionary(af)))
            update.replace(catRef, with: .dictionary(catalog))
        }
        return refs
    }

    private static func appendFields(_ af: inout PDFDictionary, _ refs: [PDFObject], update: IncrementalUpdate) throws {
        switch af["Fields"] {
        case .reference(let fr):
            update.replace(fr, with: .array((update.object(fr).arrayValue ?? []) + refs))
        case .array(let a):
            af["Fields"] = .array(a + refs)
        default:
            af["Fields"] = .array(refs)
        }
    }

    /// Writes `document` plus the widgets (unsigned) to `output`. The original is not modified.
    public static func write(document: PDFDocument, widgets: [RenderedWidget], to output: URL) throws {
        let update: IncrementalUpdate
        do { update = try IncrementalUpdate(document: document) } catch {
            throw RenderError(.documentUnreadable, "cannot update the document: \(error)", file: document.url?.lastPathComponent)
        }
        try addWidgets(widgets, to: update)
        do { _ = try update.write(to: output) } catch {
            throw RenderError(.outputFailed, "cannot write the sealed preview: \(error)", file: output.lastPathComponent)
        }
    }
}
