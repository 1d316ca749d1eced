import Foundation
import PDF

/// A seal appearance ready for a signature widget: where it goes and the Form XObject it shows.
/// `form` lives in `source` (the document Cairo wrote); copy it into the target file with
/// `IncrementalUpdate.importObject(form, from: source)`, which brings the embedded font along.
public struct RenderedWidget: Sendable {
    public var placement: WidgetPlacement
    /// A Form XObject stream (§8.10): /BBox the seal (or slice) in seal space, /Matrix counter-rotating
    /// the page's /Rotate, /Resources of Cairo's page (font subset, graphics states).
    public var form: PDFObject
    /// The document `form` refers into.
    public var source: PDFDocument

    public var pageIndex: Int { placement.pageIndex }
    public var rect: PDFRect { placement.rect }
}

extension RenderedSeal {
    /// Parses Cairo's PDF back with the PDF core.
    public func sourceDocument() throws -> PDFDocument {
        do { return try PDFDocument(bytes: pdf) } catch {
            throw RenderError(.formExtraction, "the Cairo output could not be parsed: \(error)")
        }
    }

    /// Form XObjects for each placement (slices show their part of the seal through their /BBox).
    public func widgets(for placements: [WidgetPlacement]) throws -> [RenderedWidget] {
        let doc = try sourceDocument()
        let base = try baseForm(doc)
        return placements.map { p in
            RenderedWidget(placement: p, form: .stream(form(base: base, placement: p)), source: doc)
        }
    }

    /// Cairo's one page as the pieces of a form: content (decoded, concatenated), resources, group.
    struct BaseForm {
        var content: [UInt8]
        var resources: PDFObject
        var group: PDFObject?
        var width: Double
        var height: Double
    }

    func baseForm(_ doc: PDFDocument) throws -> BaseForm {
        guard let page = doc.pages.first else { throw RenderError(.formExtraction, "the Cairo output has no page") }
        let content: [UInt8]
        do { content = try doc.contentData(of: page) } catch {
            throw RenderError(.formExtraction, "the Cairo page content could not be decoded: \(error)")
        }
        let res = page.dictionary["Resources"] ?? .dictionary(page.resources)
        let m = page.mediaBox
        return BaseForm(content: content, resources: res, group: page.dictionary["Group"], width: m.width, height: m.height)
    }

    func form(base: BaseForm, placement p: WidgetPlacement) -> PDFStream {
        var x0 = 0.0, x1 = base.width
        if let s = p.slice, s.count > 0 {
            x0 = base.width * Double(s.index) / Double(s.count)
            x1 = base.width * Double(s.index + 1) / Double(s.count)
        }
        var d: PDFDictionary = [
            "Type": .name("XObject"), "Subtype": .name("Form"), "FormType": .integer(1),
            "BBox": PDFRect(x0, 0, x1, base.height).object,
            "Resources": base.resources,
        ]
        // The page is shown rotated clockwise by /Rotate; turn the seal the other way so it is upright.
        switch p.rotation {
        case 90: d["Matrix"] = [0, 1, -1, 0, 0, 0]
        case 180: d["Matrix"] = [-1, 0, 0, -1, 0, 0]
        case 270: d["Matrix"] = [0, -1, 1, 0, 0, 0]
        default: break
        }
        if let g = base.group { d["Group"] = g }
        return PDFStream.flate(dictionary: d, data: base.content)
    }
}
