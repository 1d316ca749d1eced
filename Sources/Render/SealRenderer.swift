import CPoppler
import Foundation

/// A seal drawn by Cairo as a one-page vector PDF whose page is exactly the seal's box.
/// `SealForm` turns that page into the Form XObject a signature widget shows.
public struct RenderedSeal: Sendable {
    /// The design that was drawn.
    public let design: SealDesign
    /// One-page PDF written by Cairo (fonts subset-embedded, no rasterising except image seals).
    public let pdf: [UInt8]
    /// Size of the seal in millimetres and in PDF points.
    public let widthMM: Double
    public let heightMM: Double
    public var widthPt: Double { widthMM * 72 / 25.4 }
    public var heightPt: Double { heightMM * 72 / 25.4 }
    /// The font the text was drawn with (nil for image seals).
    public let font: ResolvedFont?
}

/// Draws seal designs with Cairo.
public enum SealRenderer {
    /// Draws `design` onto a Cairo PDF surface the size of the seal. Throws (font missing, bad
    /// design, unreadable image) before anything is produced.
    public static func render(design: SealDesign) throws -> RenderedSeal {
        let painter = try SealPainter(design: design)
        let sink = ByteSink()
        let wPt = painter.widthMM * 72 / 25.4, hPt = painter.heightMM * 72 / 25.4
        try CLibraries.locked {
            let opaque = Unmanaged.passUnretained(sink).toOpaque()
            let surface = cairo_pdf_surface_create_for_stream({ closure, data, length in
                guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
                let sink = Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
                return CAIRO_STATUS_SUCCESS
            }, opaque, wPt, hPt)
            defer { cairo_surface_destroy(surface) }
            // Fixed metadata: the same design gives the same bytes (golden comparisons, dedupe).
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "sealbatch")
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, "2000-01-01T00:00:00Z")
            let cr = cairo_create(surface)
            defer { cairo_destroy(cr) }
            cairo_scale(cr, 72 / 25.4, 72 / 25.4)
            try painter.draw(cr!)
            cairo_show_page(cr)
            cairo_surface_finish(surface)
            let st = cairo_surface_status(surface)
            guard st == CAIRO_STATUS_SUCCESS else {
                throw RenderError(.drawingFailed, "Cairo PDF surface: \(String(cString: cairo_status_to_string(st)))")
            }
        }
        return RenderedSeal(design: design, pdf: sink.bytes, widthMM: painter.widthMM, heightMM: painter.heightMM,
                            font: painter.font)
    }

    /// Draws `design` alone into a PNG (transparent background) at `dpi`, for previews, goldens
    /// and documentation.
    public static func png(design: SealDesign, dpi: Double = 300) throws -> [UInt8] {
        let painter = try SealPainter(design: design)
        return try CLibraries.locked {
            let scale = dpi / 25.4
            let w = Int32((painter.widthMM * scale).rounded(.up)), h = Int32((painter.heightMM * scale).rounded(.up))
            let surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h)
            defer { cairo_surface_destroy(surface) }
            let cr = cairo_create(surface)!
            defer { cairo_destroy(cr) }
            cairo_scale(cr, scale, scale)
            try painter.draw(cr)
            cairo_surface_flush(surface)
            return try pngBytes(surface!)
        }
    }

    /// Draws the seal into an existing Cairo context whose user space is millimetres with the seal
    /// box at the origin (used by previews).
    static func draw(_ painter: SealPainter, into cr: OpaquePointer) throws { try painter.draw(cr) }
}

/// Collects bytes written by Cairo's stream callbacks.
final class ByteSink: @unchecked Sendable {
    var bytes: [UInt8] = []
}

/// Encodes a Cairo image surface as PNG bytes. Call under the lock.
func pngBytes(_ surface: OpaquePointer) throws -> [UInt8] {
    let sink = ByteSink()
    let st = cairo_surface_write_to_png_stream(surface, { closure, data, length in
        guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
        Unmanaged<ByteSink>.fromOpaque(closure).takeUnretainedValue()
            .bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: Int(length)))
        return CAIRO_STATUS_SUCCESS
    }, Unmanaged.passUnretained(sink).toOpaque())
    guard st == CAIRO_STATUS_SUCCESS else {
        throw RenderError(.outputFailed, "PNG encoding failed: \(String(cString: cairo_status_to_string(st)))")
    }
    return sink.bytes
}
