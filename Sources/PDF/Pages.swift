import Foundation

/// A page with its inherited attributes resolved (§7.7.3.4).
public struct PDFPage: Sendable {
    /// 0-based index in document order.
    public var index: Int
    /// Reference of the page object.
    public var ref: ObjectRef
    /// The page dictionary as read (without inherited keys).
    public var dictionary: PDFDictionary
    /// Effective MediaBox (inherited; US Letter 612×792 when missing anywhere, with a warning).
    public var mediaBox: PDFRect
    /// Effective CropBox (inherited, clipped to the MediaBox; the MediaBox when absent).
    public var cropBox: PDFRect
    /// Effective rotation, normalised to 0, 90, 180 or 270.
    public var rotate: Int
    /// Effective resource dictionary (inherited), resolved one level.
    public var resources: PDFDictionary
    /// True when no /MediaBox was found and the default was used.
    public var mediaBoxMissing: Bool
    /// /UserUnit (PDF 1.6), default 1.
    public var userUnit: Double
    /// Size in points as a viewer shows it unrotated: the CropBox width and height (what `pdfinfo` prints).
    public var size: (width: Double, height: Double) { (cropBox.width, cropBox.height) }
}

extension PDFDocument {
    /// All pages in order. Cycles and bad nodes in the page tree are skipped with a warning.
    public var pages: [PDFPage] { memo(pagesSlot) { walkPages() } }

    private func walkPages() -> [PDFPage] {
        var out: [PDFPage] = []
        guard let root = catalog["Pages"] else {
            warn(PDFWarning(.pageTree, "the catalog has no /Pages", offset: nil))
            return []
        }
        var visited = Set<ObjectRef>()
        struct Inherited { var mediaBox: PDFRect?; var cropBox: PDFRect?; var rotate: Int?; var resources: PDFObject? }
        func walk(_ node: PDFObject, _ inh: Inherited, depth: Int) {
            guard depth < 64 else { warn(PDFWarning(.pageTree, "page tree deeper than 64 levels; stopped", offset: nil)); return }
            var ref: ObjectRef? = nil
            if case .reference(let r) = node {
                if visited.contains(r) { warn(PDFWarning(.pageTree, "page tree refers to object \(r.number) twice (a loop); skipped", offset: nil)); return }
                visited.insert(r); ref = r
            }
            guard let d = resolve(node).dictionaryValue else { return }
            var h = inh
            if let m = PDFRect(resolve(d["MediaBox"] ?? .null).arrayValue.map { PDFObject.array($0.map { resolve($0) }) }) { h.mediaBox = m }
            if let c = PDFRect(resolve(d["CropBox"] ?? .null).arrayValue.map { PDFObject.array($0.map { resolve($0) }) }) { h.cropBox = c }
            if let r = resolve(d["Rotate"] ?? .null).intValue { h.rotate = r }
            if let res = d["Resources"], !resolve(res).isNull { h.resources = res }
            let type = d.name("Type")
            let kids = resolve(d["Kids"] ?? .null).arrayValue
            if type == "Pages" || (type == nil && kids != nil) {
                for k in kids ?? [] { walk(k, h, depth: depth + 1) }
                return
            }
            guard let ref else { warn(PDFWarning(.pageTree, "a page is not an indirect object; skipped", offset: nil)); return }
            var media = h.mediaBox
            let missing = media == nil
            if missing {
                media = PDFRect(0, 0, 612, 792)
                warn(PDFWarning(.missingMediaBox, "page \(out.count + 1) has no /MediaBox (required); assuming US Letter 612×792 pt", offset: nil))
            }
            let crop = (h.cropBox ?? media!).intersection(media!)
            var rot = (h.rotate ?? 0) % 360
            if rot < 0 { rot += 360 }
            rot = (rot / 90) * 90
            let res = resolve(h.resources ?? .null).dictionaryValue ?? PDFDictionary()
            out.append(PDFPage(index: out.count, ref: ref, dictionary: d, mediaBox: media!, cropBox: crop, rotate: rot,
                               resources: res, mediaBoxMissing: missing, userUnit: resolve(d["UserUnit"] ?? .null).numberValue ?? 1))
        }
        walk(root, Inherited(), depth: 0)
        return out
    }

    /// Number of pages (walks the tree).
    public var pageCount: Int { pages.count }

    /// The page's content streams decoded and concatenated (separated by a newline), as in §7.8.2.
    public func contentData(of page: PDFPage) throws -> [UInt8] {
        var out: [UInt8] = []
        let c = resolve(page.dictionary["Contents"] ?? .null)
        let parts: [PDFObject]
        if case .array(let a) = c { parts = a } else { parts = [page.dictionary["Contents"] ?? .null] }
        for p in parts {
            if case .stream(let s) = resolve(p) {
                if !out.isEmpty { out.append(0x0A) }
                out += try s.decodedData()
            }
        }
        return out
    }
}
