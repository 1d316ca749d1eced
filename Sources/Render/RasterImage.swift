import CPoppler
import Foundation

/// An 8-bit RGBA image (non-premultiplied), decoded from or encoded to PNG with Cairo. Used by
/// previews and by pixel checks.
public struct RasterImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// Row-major RGBA bytes, 4 per pixel.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 4)
        self.width = width; self.height = height; self.pixels = pixels
    }

    /// Decodes PNG bytes.
    public init(png: [UInt8]) throws {
        let reader = ByteReader(png)
        let img: RasterImage = try CLibraries.locked {
            let s = cairo_image_surface_create_from_png_stream({ closure, data, length in
                guard let closure, let data else { return CAIRO_STATUS_READ_ERROR }
                let r = Unmanaged<ByteReader>.fromOpaque(closure).takeUnretainedValue()
                return r.read(into: data, count: Int(length)) ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_READ_ERROR
            }, Unmanaged.passUnretained(reader).toOpaque())
            defer { cairo_surface_destroy(s) }
            guard let s, cairo_surface_status(s) == CAIRO_STATUS_SUCCESS else {
                throw RenderError(.imageUnreadable, "not a readable PNG")
            }
            return RasterImage(surface: s)
        }
        self = img
    }

    /// Copies a Cairo image surface (ARGB32/RGB24, premultiplied) into RGBA. Call under the lock.
    init(surface s: OpaquePointer) {
        let conv = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, cairo_image_surface_get_width(s), cairo_image_surface_get_height(s))!
        defer { cairo_surface_destroy(conv) }
        let cr = cairo_create(conv)!
        cairo_set_source_surface(cr, s, 0, 0)
        cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE)
        cairo_paint(cr)
        cairo_destroy(cr)
        cairo_surface_flush(conv)
        let w = Int(cairo_image_surface_get_width(conv)), h = Int(cairo_image_surface_get_height(conv))
        let stride = Int(cairo_image_surface_get_stride(conv))
        let data = cairo_image_surface_get_data(conv)!
        var px = [UInt8](repeating: 0, count: w * h * 4)
        for y in 0..<h {
            let row = data.advanced(by: y * stride).withMemoryRebound(to: UInt32.self, capacity: w) { $0 }
            for x in 0..<w {
                let v = row[x]
                let a = UInt32(v >> 24), r = (v >> 16) & 0xFF, g = (v >> 8) & 0xFF, b = v & 0xFF
                let o = (y * w + x) * 4
                if a == 0 { continue }
                px[o] = UInt8(min(255, r * 255 / a)); px[o + 1] = UInt8(min(255, g * 255 / a))
                px[o + 2] = UInt8(min(255, b * 255 / a)); px[o + 3] = UInt8(a)
            }
        }
        width = w; height = h; pixels = px
    }

    /// Encodes as PNG.
    public func png() throws -> [UInt8] {
        try CLibraries.locked {
            let s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height))!
            defer { cairo_surface_destroy(s) }
            cairo_surface_flush(s)
            let stride = Int(cairo_image_surface_get_stride(s))
            let data = cairo_image_surface_get_data(s)!
            for y in 0..<height {
                let row = data.advanced(by: y * stride).withMemoryRebound(to: UInt32.self, capacity: width) { $0 }
                for x in 0..<width {
                    let o = (y * width + x) * 4
                    let a = UInt32(pixels[o + 3])
                    let r = UInt32(pixels[o]) * a / 255, g = UInt32(pixels[o + 1]) * a / 255, b = UInt32(pixels[o + 2]) * a / 255
                    row[x] = a << 24 | r << 16 | g << 8 | b
                }
            }
            cairo_surface_mark_dirty(s)
            return try pngBytes(s)
        }
    }

    /// RGBA of a pixel.
    public subscript(x: Int, y: Int) -> (r: UInt8, g: UInt8, b: UInt8, a: UInt8) {
        let o = (y * width + x) * 4
        return (pixels[o], pixels[o + 1], pixels[o + 2], pixels[o + 3])
    }

    /// True for seal-red ink (strong red over white paper, or the seal colour on black text).
    public func isRed(x: Int, y: Int) -> Bool {
        let p = self[x, y]
        return p.a > 128 && Int(p.r) > 150 && Int(p.r) - Int(p.g) > 90 && Int(p.r) - Int(p.b) > 80
    }

    /// Bounding box (x0, y0, x1, y1; inclusive) of red pixels inside an optional region, or nil.
    public func redBounds(in region: (x: Int, y: Int, w: Int, h: Int)? = nil) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        let r = region ?? (0, 0, width, height)
        var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
        for y in max(0, r.y)..<min(height, r.y + r.h) {
            for x in max(0, r.x)..<min(width, r.x + r.w) where isRed(x: x, y: y) {
                x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y)
            }
        }
        return x1 < 0 ? nil : (x0, y0, x1, y1)
    }

    /// Number of red pixels inside a region.
    public func redCount(in region: (x: Int, y: Int, w: Int, h: Int)? = nil) -> Int {
        let r = region ?? (0, 0, width, height)
        var n = 0
        for y in max(0, r.y)..<min(height, r.y + r.h) {
            for x in max(0, r.x)..<min(width, r.x + r.w) where isRed(x: x, y: y) { n += 1 }
        }
        return n
    }

    /// Crops a region.
    public func cropped(x: Int, y: Int, w: Int, h: Int) -> RasterImage {
        var px = [UInt8](repeating: 0, count: w * h * 4)
        for yy in 0..<h where y + yy >= 0 && y + yy < height {
            for xx in 0..<w where x + xx >= 0 && x + xx < width {
                let s = ((y + yy) * width + x + xx) * 4, d = (yy * w + xx) * 4
                px[d..<d + 4] = pixels[s..<s + 4]
            }
        }
        return RasterImage(width: w, height: h, pixels: px)
    }

    /// Compares with another image of the same size: the fraction of pixels whose channels differ
    /// by more than `threshold`, and a diff image (differences in magenta over a faded copy).
    public func difference(to other: RasterImage, threshold: Int = 64) -> (fraction: Double, diff: RasterImage) {
        guard width == other.width, height == other.height else {
            return (1, self)
        }
        var bad = 0
        var px = [UInt8](repeating: 255, count: width * height * 4)
        for i in 0..<(width * height) {
            let o = i * 4
            var d = 0
            for c in 0..<4 { d = max(d, abs(Int(pixels[o + c]) - Int(other.pixels[o + c]))) }
            if d > threshold {
                bad += 1
                px[o] = 255; px[o + 1] = 0; px[o + 2] = 255
            } else {
                let a = Int(pixels[o + 3])
                for c in 0..<3 { px[o + c] = UInt8(255 - (255 - Int(pixels[o + c])) * a / 255 / 4) }
            }
        }
        return (Double(bad) / Double(max(1, width * height)), RasterImage(width: width, height: height, pixels: px))
    }
}

/// Feeds bytes to Cairo's PNG reader.
final class ByteReader: @unchecked Sendable {
    let bytes: [UInt8]
    var offset = 0
    init(_ b: [UInt8]) { bytes = b }
    func read(into p: UnsafeMutablePointer<UInt8>, count: Int) -> Bool {
        guard offset + count <= bytes.count else { return false }
        bytes.withUnsafeBufferPointer { src in p.update(from: src.baseAddress! + offset, count: count) }
        offset += count
        return true
    }
}
