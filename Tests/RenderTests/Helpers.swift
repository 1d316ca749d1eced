import Foundation
import PDF
import Testing
@testable import Render
import TestSupport

/// Shared helpers for Render tests: sample paths, pixel geometry, golden comparison.
enum RT {
    static let samples = TestSupport.packageRoot.appendingPathComponent("samples")
    static let goldenDir = TestSupport.packageRoot.appendingPathComponent("Tests/RenderTests/Golden")

    static var contractZH: SealDesign {
        .round(RoundSeal(organisation: "某某市某某有限公司", name: "合同专用章", code: "1101080012345"))
    }
    static var invoiceOval: SealDesign {
        .oval(OvalSeal(organisation: "某某市某某有限公司", name: "发票专用章", taxNumber: "91110108MA01234567"))
    }
    static var personal: SealDesign { .square(SquareSeal(characters: "张三之印")) }

    /// Fraction of red pixels in `a` (offset by ax, ay into `b`) that have a red pixel in `b` within
    /// `radius` pixels, taken both ways (the smaller): 1 = same ink up to antialiasing.
    static func inkMatch(_ a: RasterImage, in b: RasterImage, ax: Int = 0, ay: Int = 0, radius: Int = 1) -> Double {
        func near(_ img: RasterImage, _ x: Int, _ y: Int) -> Bool {
            for dy in -radius...radius { for dx in -radius...radius {
                let px = x + dx, py = y + dy
                if px >= 0, py >= 0, px < img.width, py < img.height, img.isRed(x: px, y: py) { return true }
            } }
            return false
        }
        var aRed = 0, aHit = 0, bRed = 0, bHit = 0
        for y in 0..<a.height { for x in 0..<a.width where a.isRed(x: x, y: y) {
            aRed += 1; if near(b, x + ax, y + ay) { aHit += 1 }
        } }
        for y in max(0, ay)..<min(b.height, ay + a.height) { for x in max(0, ax)..<min(b.width, ax + a.width) where b.isRed(x: x, y: y) {
            bRed += 1; if near(a, x - ax, y - ay) { bHit += 1 }
        } }
        guard aRed > 0, bRed > 0 else { return 0 }
        return min(Double(aHit) / Double(aRed), Double(bHit) / Double(bRed))
    }

    /// Pixels per millimetre at a dpi.
    static func pxPerMM(_ dpi: Double) -> Double { dpi / 25.4 }

    /// Fraction of sample points on a circle (centre cx, cy; radius r; angles in degrees clockwise
    /// from 12 o'clock) that have red ink within ±band pixels radially.
    static func inkAlongArc(_ img: RasterImage, cx: Double, cy: Double, rInner: Double, rOuter: Double,
                            fromDeg: Double, toDeg: Double, steps: Int) -> [Bool] {
        (0..<steps).map { i in
            for sub in 0..<12 {   // the whole angular bin, not one ray: thin strokes count
                let a = (fromDeg + (toDeg - fromDeg) * (Double(i) + (Double(sub) + 0.5) / 12) / Double(steps)) * .pi / 180
                var r = rInner
                while r <= rOuter {
                    let x = Int(cx + r * sin(a)), y = Int(cy - r * cos(a))
                    if x >= 0, y >= 0, x < img.width, y < img.height, img.isRed(x: x, y: y) { return true }
                    r += 0.5
                }
            }
            return false
        }
    }

    /// Compares `image` with the reviewed golden PNG `name`. Writes the actual image and a diff
    /// image beside each other in a temp folder on failure (path in the failure message).
    /// `SEALBATCH_UPDATE_GOLDENS=1` rewrites the golden instead.
    static func expectMatchesGolden(_ image: RasterImage, _ name: String, tolerance: Double = 0.004,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = goldenDir.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SEALBATCH_UPDATE_GOLDENS"] == "1" {
            try FileManager.default.createDirectory(at: goldenDir, withIntermediateDirectories: true)
            try Data(try image.png()).write(to: url)
            return
        }
        let golden = try RasterImage(png: [UInt8](try Data(contentsOf: url)))
        let sameSize = golden.width == image.width && golden.height == image.height
        let (fraction, diff) = image.difference(to: golden)
        if !sameSize || fraction > tolerance {
            let dir = try TestSupport.tempDir("render-golden")
            try Data(try image.png()).write(to: dir.appendingPathComponent("actual-" + name))
            try Data(try diff.png()).write(to: dir.appendingPathComponent("diff-" + name))
            Issue.record("\(name): \(sameSize ? String(format: "%.3f%% pixels differ", fraction * 100) : "size \(image.width)×\(image.height) vs golden \(golden.width)×\(golden.height)"); actual and diff images in \(dir.path)",
                         sourceLocation: sourceLocation)
        }
    }
}

/// A document sealed (unsigned widgets) for rendering checks.
struct SealedFile {
    let url: URL
    let placements: PlacementResult
    let seal: RenderedSeal
    let dir: URL

    static func make(_ input: URL, design: SealDesign = RT.contractZH, spec: PlacementSpec) throws -> SealedFile {
        let doc = try PDFDocument(url: input)
        let seal = try SealRenderer.render(design: design)
        let res = try Placement.resolve(document: doc, fileURL: input, spec: spec, seal: seal)
        let dir = try TestSupport.tempDir("render-sealed")
        let out = dir.appendingPathComponent("sealed-" + input.lastPathComponent)
        try SealOverlay.write(document: doc, widgets: try seal.widgets(for: res.widgets), to: out)
        return SealedFile(url: out, placements: res, seal: seal, dir: dir, input: input)
    }

    let input: URL

    /// Renders page `index` (0-based) with pdftoppm, visible area (CropBox) only, and keeps only the
    /// seal's ink: pixels that are red after sealing but were not before (pages may carry red text).
    func page(_ index: Int, dpi: Double) throws -> RasterImage {
        let after = try RT.pdftoppm(url, page: index, dpi: dpi, dir: dir)
        let before = try RT.pdftoppm(input, page: index, dpi: dpi, dir: dir)
        guard before.width == after.width, before.height == after.height else { return after }
        var px = after.pixels
        for y in 0..<after.height { for x in 0..<after.width where before.isRed(x: x, y: y) || !after.isRed(x: x, y: y) {
            let o = (y * after.width + x) * 4
            px[o] = 255; px[o + 1] = 255; px[o + 2] = 255; px[o + 3] = 255
        } }
        return RasterImage(width: after.width, height: after.height, pixels: px)
    }
}

extension RT {
    static func pdftoppm(_ url: URL, page: Int, dpi: Double, dir: URL) throws -> RasterImage {
        let prefix = dir.appendingPathComponent("p\(page)-\(Int(dpi))-\(UUID().uuidString.prefix(4))")
        let r = try TestSupport.run("pdftoppm", ["-r", "\(dpi)", "-f", "\(page + 1)", "-l", "\(page + 1)", "-cropbox", "-png", "-singlefile", url.path, prefix.path])
        #expect(r.status == 0, "pdftoppm: \(r.err)")
        return try RasterImage(png: [UInt8](try Data(contentsOf: prefix.appendingPathExtension("png"))))
    }

    /// Word boxes from `pdftotext -bbox` for one page (display orientation, MediaBox origin).
    static func pdftotextWords(_ url: URL, page: Int) throws -> [(text: String, x0: Double, y0: Double, x1: Double, y1: Double)] {
        let r = try TestSupport.run("pdftotext", ["-bbox", "-f", "\(page + 1)", "-l", "\(page + 1)", url.path, "-"])
        var out: [(String, Double, Double, Double, Double)] = []
        for line in r.out.split(separator: "\n") where line.contains("<word ") {
            func attr(_ n: String) -> Double {
                guard let a = line.range(of: n + "=\"") else { return 0 }
                let rest = line[a.upperBound...]
                return Double(rest[..<rest.firstIndex(of: "\"")!]) ?? 0
            }
            let text = line[line.range(of: "\">")!.upperBound..<line.range(of: "</word>")!.lowerBound]
            out.append((String(text), attr("xMin"), attr("yMin"), attr("xMax"), attr("yMax")))
        }
        return out
    }
}
