import Foundation
import PDF
import Testing
@testable import Render
import TestSupport

/// Builds the README examples (round, oval, cross-page). They are written to docs/images only with
/// SEALBATCH_WRITE_DOC_IMAGES=1; otherwise the test checks that the committed images still match.
@Suite struct DocImagesTests {
    static let dir = TestSupport.packageRoot.appendingPathComponent("docs/images")
    var write: Bool { ProcessInfo.processInfo.environment["SEALBATCH_WRITE_DOC_IMAGES"] == "1" }

    func check(_ img: RasterImage, _ name: String) throws {
        let url = Self.dir.appendingPathComponent(name)
        if write {
            try FileManager.default.createDirectory(at: Self.dir, withIntermediateDirectories: true)
            try Data(try img.png()).write(to: url)
            return
        }
        guard FileManager.default.fileExists(atPath: url.path) else { Issue.record("missing \(url.path)"); return }
        let committed = try RasterImage(png: [UInt8](try Data(contentsOf: url)))
        #expect(committed.width == img.width && committed.height == img.height)
        #expect(img.difference(to: committed).fraction < 0.01, "\(name) no longer matches what the README shows")
    }

    @Test func roundAndOvalExamples() throws {
        try check(try RasterImage(png: try SealRenderer.png(design: RT.contractZH, dpi: 150)), "seal-round.png")
        try check(try RasterImage(png: try SealRenderer.png(design: RT.invoiceOval, dpi: 150)), "seal-oval.png")
    }

    @Test func crossPageExampleShowsThreePagesSideBySide() throws {
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let settings = RenderSettings(design: RT.contractZH, placement: PlacementSpec(
            anchor: AnchorSpec(text: "甲方（盖章）", occurrence: -1), crossPage: CrossPageSpec(pages: .all, yMM: 120)))
        let pages = try Preview.render(fileURL: input, settings: settings, pages: [0, 1, 2], dpi: 40).pages.map { try RasterImage(png: $0.png) }
        let gap = 12
        let w = pages.map(\.width).reduce(0, +) + gap * (pages.count - 1), h = pages.map(\.height).max()!
        var px = [UInt8](repeating: 0, count: w * h * 4)
        for i in 0..<(w * h) { px[i * 4] = 150; px[i * 4 + 1] = 150; px[i * 4 + 2] = 150; px[i * 4 + 3] = 255 }   // grey desk
        var x0 = 0
        for p in pages {
            for y in 0..<p.height { for x in 0..<p.width {
                let d = (y * w + x0 + x) * 4, s = (y * p.width + x) * 4
                px[d..<d + 4] = p.pixels[s..<s + 4]
            } }
            x0 += p.width + gap
        }
        try check(RasterImage(width: w, height: h, pixels: px), "seal-cross-page.png")
    }
}
