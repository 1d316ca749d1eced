import Foundation
import PDF

/// One seal or seal slice to show on a page: the widget rectangle in the page's default user
/// space (unrotated, PDF points), the page's /Rotate (the appearance counter-rotates so the seal is
/// upright on screen), and for cross-page seals which slice of the seal it shows.
public struct WidgetPlacement: Sendable, Equatable, Codable {
    /// 0-based page index.
    public var pageIndex: Int
    /// Widget /Rect in default user space.
    public var rect: PDFRect
    /// The page's effective /Rotate (0, 90, 180, 270).
    public var rotation: Int
    /// For a cross-page seal (骑缝章): the slice shown here; nil for the whole seal.
    public var slice: SealSlice?

    public init(pageIndex: Int, rect: PDFRect, rotation: Int, slice: SealSlice? = nil) {
        self.pageIndex = pageIndex; self.rect = rect; self.rotation = rotation; self.slice = slice
    }
}

/// A vertical slice of a seal: slice `index` (0 = leftmost as displayed) of `count` equal slices.
public struct SealSlice: Sendable, Equatable, Codable {
    public var index: Int
    public var count: Int
    public init(index: Int, count: Int) { self.index = index; self.count = count }
}

/// Placements plus anything a clerk should know (moved seals, fallbacks, overlaps).
public struct PlacementResult: Sendable {
    public var widgets: [WidgetPlacement]
    public var warnings: [String]
    /// The existing empty signature field the seal fills (the first widget is its rectangle), if any.
    public var fieldName: String? = nil
    /// The pages (0-based) whose text was searched for the anchor, in the order searched, one entry per text
    /// tried on a page. Empty when the placement needed no text (coordinates, a signature field).
    public var textSearches: [Int] = []
}

/// Decides where seals go: explicit position, anchor text (found with poppler), cross-page slices.
public enum Placement {
    /// Resolves `spec` for a seal of `sealSizeMM` on `document`, whose bytes are at `fileURL`
    /// (poppler reads the file for text search). Pages with /Rotate and a CropBox are handled; the
    /// seal never leaves the visible page; existing signature widgets are avoided or reported.
    public static func resolve(document: PDFDocument, fileURL: URL, spec: PlacementSpec,
                               sealSizeMM: (width: Double, height: Double)) throws -> PlacementResult {
        let pdfPages = document.pages
        let empty = emptyFieldRects(document)
        let infos = pdfPages.map { p in
            PageInfo(geometry: PageGeometry(crop: Box(p.cropBox.llx, p.cropBox.lly, p.cropBox.urx, p.cropBox.ury), rotation: p.rotate),
                     signatureWidgets: signatureWidgetRects(document, p), emptyFields: empty[p.index] ?? [])
        }
        var poppler: PopplerFile?
        var searched: [Int] = []
        let name = fileURL.lastPathComponent
        // One page's text at a time, only for the pages the engine asks for (it stops at the page that holds
        // the wanted occurrence); poppler is not even opened when the placement needs no text.
        let engine = PlacementEngine(pages: infos, sealWidth: sealSizeMM.width * pointsPerMM, sealHeight: sealSizeMM.height * pointsPerMM,
                                     fileName: name) { page, text in
            if poppler == nil { poppler = try PopplerFile(url: fileURL) }
            searched.append(page)
            return try poppler!.find(text, page: page, geometry: infos[page].geometry)
        }
        let (boxes, warnings) = try engine.resolve(spec)
        // A page without /MediaBox is read as US Letter (a warning): good enough for an invisible seal, but a
        // visible one could land off the page as the author's viewer shows it.
        if let b = boxes.first(where: { pdfPages.indices.contains($0.pageIndex) && pdfPages[$0.pageIndex].mediaBoxMissing }) {
            throw RenderError(.pageSizeUnknown, "page \(b.pageIndex + 1) has no /MediaBox, so its size is unknown (read as US Letter): a visible seal could land off the page. "
                              + "Seal it invisibly (\"invisible\": true) or ask the sender for a repaired copy", file: name, page: b.pageIndex + 1)
        }
        return PlacementResult(widgets: boxes.map { b in
            WidgetPlacement(pageIndex: b.pageIndex, rect: PDFRect(b.box.llx, b.box.lly, b.box.urx, b.box.ury), rotation: b.rotation,
                            slice: b.slice.map { SealSlice(index: $0.0, count: $0.1) })
        }, warnings: warnings, fieldName: boxes.first?.fieldName, textSearches: searched)
    }

    /// Convenience: resolves for a rendered seal's size.
    public static func resolve(document: PDFDocument, fileURL: URL, spec: PlacementSpec, seal: RenderedSeal) throws -> PlacementResult {
        try resolve(document: document, fileURL: fileURL, spec: spec, sealSizeMM: (seal.widthMM, seal.heightMM))
    }

    /// Empty signature fields with a visible widget on a page: name, 0-based page index and rectangle (the order of
    /// the document's field list, by page).
    public static func emptySignatureFields(_ doc: PDFDocument) -> [(name: String, pageIndex: Int, rect: PDFRect)] {
        emptyFieldRects(doc).sorted { $0.key < $1.key }.flatMap { page, fields in
            fields.map { (name: $0.name, pageIndex: page, rect: PDFRect($0.box.llx, $0.box.lly, $0.box.urx, $0.box.ury)) }
        }
    }

    /// Empty signature fields with a visible widget, per page index: the field's name and the widget's rectangle.
    static func emptyFieldRects(_ doc: PDFDocument) -> [Int: [(name: String, box: Box)]] {
        var pageOf: [ObjectRef: Int] = [:]
        for p in doc.pages { pageOf[p.ref] = p.index }
        var annotPage: [ObjectRef: Int]? = nil
        var out: [Int: [(name: String, box: Box)]] = [:]
        for f in doc.signatureFields where !f.isSigned {
            guard let fr = f.fieldRef, let fd = doc.resolve(fr).dictionaryValue else { continue }
            let kids = doc.resolve(fd["Kids"] ?? .null).arrayValue ?? []
            let widgets: [(ObjectRef?, PDFDictionary)] = fd["Rect"] != nil || kids.isEmpty ? [(fr, fd)]
                : kids.compactMap { k in doc.resolve(k).dictionaryValue.map { (k.referenceValue, $0) } }
            for (ref, w) in widgets {
                guard let r = PDFRect(doc.resolve(w["Rect"] ?? .null).arrayValue.map { PDFObject.array($0.map { doc.resolve($0) }) }),
                      r.width > 1, r.height > 1 else { continue }
                var page = w["P"]?.referenceValue.flatMap { pageOf[$0] }
                if page == nil, let ref {
                    if annotPage == nil {
                        var m: [ObjectRef: Int] = [:]
                        for p in doc.pages { for a in doc.resolve(p.dictionary["Annots"] ?? .null).arrayValue ?? [] { if let ar = a.referenceValue { m[ar] = p.index } } }
                        annotPage = m
                    }
                    page = annotPage?[ref]
                }
                guard let page else { continue }
                out[page, default: []].append((f.name, Box(r.llx, r.lly, r.urx, r.ury)))
                break
            }
        }
        return out
    }

    /// Rectangles of signature widgets (/FT /Sig on the widget or an ancestor field) on a page.
    static func signatureWidgetRects(_ doc: PDFDocument, _ page: PDFPage) -> [Box] {
        guard let annots = doc.resolve(page.dictionary["Annots"] ?? .null).arrayValue else { return [] }
        var out: [Box] = []
        for a in annots {
            guard let d = doc.resolve(a).dictionaryValue, d.name("Subtype") == "Widget",
                  let r = PDFRect(doc.resolve(d["Rect"] ?? .null).arrayValue.map { PDFObject.array($0.map { doc.resolve($0) }) }) else { continue }
            var node: PDFDictionary? = d
            var isSig = false
            for _ in 0..<16 {
                guard let n = node else { break }
                if let ft = doc.resolve(n["FT"] ?? .null).nameValue { isSig = ft == "Sig"; break }
                node = doc.resolve(n["Parent"] ?? .null).dictionaryValue
            }
            if isSig { out.append(Box(r.llx, r.lly, r.urx, r.ury)) }
        }
        return out
    }
}
