import CPoppler
import Foundation
import PDF

/// A rectangle in a page's default user space (PDF points, origin bottom-left, unrotated).
/// Internal mirror of `PDFRect`, so geometry code stays independent of the PDF module.
struct Box: Equatable, Sendable, CustomStringConvertible {
    var llx: Double, lly: Double, urx: Double, ury: Double
    init(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) {
        llx = min(x1, x2); lly = min(y1, y2); urx = max(x1, x2); ury = max(y1, y2)
    }
    var width: Double { urx - llx }
    var height: Double { ury - lly }
    func intersects(_ o: Box) -> Bool { llx < o.urx && o.llx < urx && lly < o.ury && o.lly < ury }
    var description: String { String(format: "[%.2f %.2f %.2f %.2f]", llx, lly, urx, ury) }
}

/// How a page is shown: its crop box (visible area, user space) and its /Rotate (clockwise).
/// "Display space" is what a viewer shows: origin top-left of the visible page, y downwards, points.
struct PageGeometry: Equatable, Sendable {
    var crop: Box
    var rotation: Int

    init(crop: Box, rotation: Int) {
        self.crop = crop
        self.rotation = ((rotation % 360) + 360) % 360 / 90 * 90
    }

    /// Width and height as displayed.
    var displaySize: (width: Double, height: Double) {
        rotation % 180 == 0 ? (crop.width, crop.height) : (crop.height, crop.width)
    }

    /// Display point → user space.
    func toUser(_ dx: Double, _ dy: Double) -> (Double, Double) {
        let c = crop
        switch rotation {
        case 90: return (c.llx + dy, c.lly + dx)
        case 180: return (c.urx - dx, c.lly + dy)
        case 270: return (c.urx - dy, c.ury - dx)
        default: return (c.llx + dx, c.ury - dy)
        }
    }

    /// User space point → display.
    func toDisplay(_ ux: Double, _ uy: Double) -> (Double, Double) {
        let c = crop
        switch rotation {
        case 90: return (uy - c.lly, ux - c.llx)
        case 180: return (c.urx - ux, uy - c.lly)
        case 270: return (c.ury - uy, c.urx - ux)
        default: return (ux - c.llx, c.ury - uy)
        }
    }

    /// A display rectangle (x, y from top-left, w, h) as a user-space box.
    func userBox(displayX x: Double, y: Double, width w: Double, height h: Double) -> Box {
        let a = toUser(x, y), b = toUser(x + w, y + h)
        return Box(a.0, a.1, b.0, b.1)
    }

    /// A user-space box as a display rectangle (x, y, w, h).
    func displayRect(_ b: Box) -> (x: Double, y: Double, w: Double, h: Double) {
        let p = toDisplay(b.llx, b.lly), q = toDisplay(b.urx, b.ury)
        return (min(p.0, q.0), min(p.1, q.1), abs(p.0 - q.0), abs(p.1 - q.1))
    }
}

/// A document opened with poppler-glib, for text search and page rendering. Access is serialised
/// by `CLibraries.lock`.
final class PopplerFile: @unchecked Sendable {
    private let doc: OpaquePointer
    private let bytes: OpaquePointer?   // GBytes kept alive for documents opened from memory
    let name: String

    /// Opens a file (poppler wants a file:// URI).
    init(url: URL) throws {
        name = url.lastPathComponent
        var err: UnsafeMutablePointer<GError>?
        let uri = url.absoluteURL.absoluteString
        // an input that the empty user password does not open: the PDF password bound for this document
        let password = PDFPassword.current.map { String(decoding: $0.bytes, as: UTF8.self) }
        let d = CLibraries.locked { poppler_document_new_from_file(uri, password, &err) }
        guard let d else { throw PopplerFile.error(err, name: url.lastPathComponent) }
        doc = d
        bytes = nil
    }

    /// Opens PDF bytes held in memory.
    init(bytes data: [UInt8], name: String) throws {
        self.name = name
        var err: UnsafeMutablePointer<GError>?
        let gb = data.withUnsafeBytes { g_bytes_new($0.baseAddress, gsize($0.count)) }
        let password = PDFPassword.current.map { String(decoding: $0.bytes, as: UTF8.self) }
        let d = CLibraries.locked { poppler_document_new_from_bytes(gb, password, &err) }
        guard let d else {
            g_bytes_unref(gb)
            throw PopplerFile.error(err, name: name)
        }
        doc = d
        bytes = gb
    }

    private static func error(_ err: UnsafeMutablePointer<GError>?, name: String) -> RenderError {
        var msg = "poppler cannot open the document"
        if let err {
            if let m = err.pointee.message { msg += ": " + String(cString: m) }
            g_error_free(err)
        }
        return RenderError(.documentUnreadable, msg + " (damaged or password-protected?)", file: name)
    }

    deinit {
        CLibraries.locked {
            g_object_unref(UnsafeMutableRawPointer(doc))
            if let bytes { g_bytes_unref(bytes) }
        }
    }

    var pageCount: Int { CLibraries.locked { Int(poppler_document_get_n_pages(doc)) } }

    /// Runs `body` with a page (0-based); the page object is released afterwards.
    func withPage<T>(_ index: Int, _ body: (OpaquePointer) throws -> T) throws -> T {
        try CLibraries.locked {
            guard index >= 0, index < Int(poppler_document_get_n_pages(doc)),
                  let p = poppler_document_get_page(doc, Int32(index)) else {
                throw RenderError(.pageOutOfRange, "the document has no page \(index + 1)", file: name, page: index + 1)
            }
            defer { g_object_unref(UnsafeMutableRawPointer(p)) }
            return try body(p)
        }
    }

    /// Crop box of a page as poppler reports it (user space).
    func cropBox(page index: Int) throws -> Box {
        try withPage(index) { p in
            var r = PopplerRectangle()
            poppler_page_get_crop_box(p, &r)
            return Box(r.x1, r.y1, r.x2, r.y2)
        }
    }

    /// Occurrences of `text` on a page, as user-space boxes in reading order.
    ///
    /// poppler-glib 22.12 `find_text` lays the page out in *display* orientation (the page's
    /// /Rotate applied, crop box origin) and then flips y with the displayed page height; we undo
    /// exactly that, then map display → user space (checked on /Rotate 90 and 270 pages with a
    /// CropBox inset, see AnchorPlacementTests).
    func find(_ text: String, page index: Int, geometry: PageGeometry) throws -> [Box] {
        try withPage(index) { p in
            guard let list = poppler_page_find_text_with_options(p, text, POPPLER_FIND_DEFAULT) else { return [] }
            defer {
                var l: UnsafeMutablePointer<GList>? = list
                while let n = l {
                    if let d = n.pointee.data { poppler_rectangle_free(d.assumingMemoryBound(to: PopplerRectangle.self)) }
                    l = n.pointee.next
                }
                g_list_free(list)
            }
            let displayH = geometry.displaySize.height
            var out: [Box] = []
            var l: UnsafeMutablePointer<GList>? = list
            while let n = l {
                if let d = n.pointee.data {
                    let r = d.assumingMemoryBound(to: PopplerRectangle.self).pointee
                    let top = displayH - max(r.y1, r.y2), bottom = displayH - min(r.y1, r.y2)
                    out.append(geometry.userBox(displayX: min(r.x1, r.x2), y: top, width: abs(r.x2 - r.x1), height: bottom - top))
                }
                l = n.pointee.next
            }
            return out
        }
    }

    /// Renders a page as displayed (rotation applied) into a new ARGB image surface at `dpi`, white
    /// background. Caller destroys the surface. Call under the lock.
    func renderPage(_ index: Int, dpi: Double, geometry: PageGeometry) throws -> OpaquePointer {
        try withPage(index) { p in
            let scale = dpi / 72
            let (w, h) = geometry.displaySize
            let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32((w * scale).rounded()), Int32((h * scale).rounded()))!
            let cr = cairo_create(surface)!
            defer { cairo_destroy(cr) }
            cairo_set_source_rgb(cr, 1, 1, 1)
            cairo_paint(cr)
            cairo_scale(cr, scale, scale)
            // poppler_page_render draws in display orientation (it applies /Rotate itself).
            poppler_page_render(p, cr)
            return surface
        }
    }
}
