import CPoppler
import Foundation
import PDF

extension Preview {
    /// Renders pages (0-based) of a PDF as they are, without any seal, as PNG at `dpi` (the console's
    /// placement page shows these before the user clicks where the seal goes).
    public static func renderPlain(fileURL: URL, pages: [Int], dpi: Double = 100) throws -> [PreviewPage] {
        guard (20...600).contains(dpi) else { throw RenderError(.invalidPlacement, "dpi \(dpi) is outside 20…600") }
        let name = fileURL.lastPathComponent
        let doc: PDFDocument
        do { doc = try PDFDocument(url: fileURL) } catch {
            throw RenderError(.documentUnreadable, "cannot read the PDF: \(error)", file: name)
        }
        let file = try PopplerFile(url: fileURL)
        let all = doc.pages
        return try pages.map { i in
            guard all.indices.contains(i) else { throw RenderError(.pageOutOfRange, "the document has \(all.count) pages", file: name, page: i + 1) }
            let p = all[i]
            let g = PageGeometry(crop: Box(p.cropBox.llx, p.cropBox.lly, p.cropBox.urx, p.cropBox.ury), rotation: p.rotate)
            let png: [UInt8] = try CLibraries.locked {
                let s = try file.renderPage(i, dpi: dpi, geometry: g)
                defer { cairo_surface_destroy(s) }
                return try pngBytes(s)
            }
            return PreviewPage(pageIndex: i, png: png)
        }
    }

    /// Displayed size (rotation applied) of each page in points.
    public static func displayedPageSizes(fileURL: URL) throws -> [(width: Double, height: Double)] {
        let doc: PDFDocument
        do { doc = try PDFDocument(url: fileURL) } catch {
            throw RenderError(.documentUnreadable, "cannot read the PDF: \(error)", file: fileURL.lastPathComponent)
        }
        return doc.pages.map { p in
            let w = p.cropBox.urx - p.cropBox.llx, h = p.cropBox.ury - p.cropBox.lly
            return (p.rotate % 180 == 0) ? (w, h) : (h, w)
        }
    }
}
