import Foundation
import PDF
import Testing
@testable import Render
import TestSupport

/// Seals written into real documents, rendered by pdftoppm, and checked by their red pixels.
@Suite struct PlacementRenderingTests {
    let dpi = 100.0
    var k: Double { dpi / 25.4 }           // pixels per millimetre
    var tol: Double { 1 * k + 1 }           // 1 mm (+1 px of antialiasing)

    func expectBounds(_ img: RasterImage, centreX: Double, centreY: Double, sizeMM: Double,
                      region: (x: Int, y: Int, w: Int, h: Int)? = nil, _ what: String,
                      sourceLocation: SourceLocation = #_sourceLocation) throws {
        let b = try #require(img.redBounds(in: region), "no seal ink found for \(what)", sourceLocation: sourceLocation)
        let half = sizeMM * k / 2
        let got = [Double(b.x0), Double(b.y0), Double(b.x1 + 1), Double(b.y1 + 1)]
        let want = [centreX - half, centreY - half, centreX + half, centreY + half]
        for (g, w) in zip(got, want) {
            #expect(abs(g - w) <= tol, "\(what): red box \(got.map { Int($0) }) vs expected \(want.map { Int($0) })", sourceLocation: sourceLocation)
        }
    }

    /// How much the seal region looks like the seal drawn upright on its own (1 = same ink).
    func uprightSimilarity(_ img: RasterImage, centreX: Double, centreY: Double, design: SealDesign) throws -> Double {
        let ref = try RasterImage(png: try SealRenderer.png(design: design, dpi: dpi))
        let x0 = Int((centreX - Double(ref.width) / 2).rounded()), y0 = Int((centreY - Double(ref.height) / 2).rounded())
        // Best over ±1 px of registration.
        var best = 0.0
        for dy in -1...1 { for dx in -1...1 { best = max(best, RT.inkMatch(ref, in: img, ax: x0 + dx, ay: y0 + dy)) } }
        return best
    }

    @Test(arguments: [0, 1, 2, 3, 4, 5, 6, 7])
    func explicitCornerPositionIsWithin1mmOnEveryRotationAndCropBox(page: Int) throws {
        guard try TestSupport.haveTool("pdftoppm") else { return }
        // qpdf's boxes.pdf: CropBox ≠ MediaBox, /Rotate 0/90/180/270, negative MediaBox origins.
        let input = TestSupport.corpusDir.appendingPathComponent("boxes-cropbox-bleed-trim-rotate-qpdf.pdf")
        let corners: [Corner] = [.topLeft, .topRight, .bottomLeft, .bottomRight]
        let corner = corners[page % 4]
        let f = try SealedFile.make(input, spec: PlacementSpec(page: .number(page + 1), corner: corner, xMM: 35, yMM: 45))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        #expect(f.placements.warnings.isEmpty)
        let img = try f.page(page, dpi: dpi)
        let W = Double(img.width), H = Double(img.height)
        let cx = [Corner.topLeft, .bottomLeft].contains(corner) ? 35 * k : W - 35 * k
        let cy = [Corner.topLeft, .topRight].contains(corner) ? 45 * k : H - 45 * k
        try expectBounds(img, centreX: cx, centreY: cy, sizeMM: 40, "page \(page + 1) \(corner)")
        #expect(try uprightSimilarity(img, centreX: cx, centreY: cy, design: RT.contractZH) > 0.9, "seal upright on page \(page + 1)")
    }

    @Test func anchorOverCJKTextOnALibreOfficeContract() throws {
        guard try TestSupport.haveTool("pdftoppm"), try TestSupport.haveTool("pdftotext") else { return }
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let f = try SealedFile.make(input, spec: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）", position: .over)))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let w = try #require(f.placements.widgets.first)
        #expect(w.pageIndex == 2)
        // Oracle: pdftotext's word box for "甲方（盖章）：" (7 full-width characters; the anchor is the first 6).
        let word = try #require(try RT.pdftotextWords(input, page: 2).first { $0.text.hasPrefix("甲方（盖章）") })
        let cx = (word.x0 + (word.x1 - word.x0) * 6 / 7 / 2) * dpi / 72
        let cy = (word.y0 + word.y1) / 2 * dpi / 72
        try expectBounds(try f.page(2, dpi: dpi), centreX: cx, centreY: cy, sizeMM: 40, "anchor 甲方（盖章）")
    }

    @Test func anchorBesideTextPutsTheSealToTheRight() throws {
        guard try TestSupport.haveTool("pdftoppm"), try TestSupport.haveTool("pdftotext") else { return }
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let f = try SealedFile.make(input, spec: PlacementSpec(anchor: AnchorSpec(text: "乙方（盖章）", position: .right, dxMM: 2)))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let word = try #require(try RT.pdftotextWords(input, page: 2).first { $0.text.hasPrefix("乙方（盖章）") })
        let anchorRight = (word.x0 + (word.x1 - word.x0) * 6 / 7) * dpi / 72
        let cx = anchorRight + (1 + 2 + 20) * k   // 1 mm gap + 2 mm dx + radius
        try expectBounds(try f.page(2, dpi: dpi), centreX: cx, centreY: (word.y0 + word.y1) / 2 * dpi / 72, sizeMM: 40, "beside 乙方（盖章）")
    }

    /// Oracle for rotated pages: pdftotext's box (display orientation, MediaBox origin) moved to the
    /// CropBox origin, and the centre of the first `n` of `of` characters along the reading direction.
    func anchorCentre(_ input: URL, page: Int, prefix: String, n: Double, of total: Double) throws -> (Double, Double) {
        let doc = try PDFDocument(url: input)
        let p = doc.pages[page]
        let m = p.mediaBox, c = p.cropBox
        let (ox, oy): (Double, Double)
        switch p.rotate {
        case 90: (ox, oy) = (c.lly - m.lly, c.llx - m.llx)
        case 180: (ox, oy) = (m.urx - c.urx, c.lly - m.lly)
        case 270: (ox, oy) = (m.ury - c.ury, m.urx - c.urx)
        default: (ox, oy) = (c.llx - m.llx, m.ury - c.ury)
        }
        let word = try #require(try RT.pdftotextWords(input, page: page).first { $0.text.hasPrefix(prefix) })
        let x0 = word.x0 - ox, x1 = word.x1 - ox, y0 = word.y0 - oy, y1 = word.y1 - oy
        let f = n / total / 2
        switch p.rotate {
        case 90: return ((x0 + x1) / 2, y0 + (y1 - y0) * f)      // runs top → bottom
        case 180: return (x1 - (x1 - x0) * f, (y0 + y1) / 2)     // runs right → left
        case 270: return ((x0 + x1) / 2, y1 - (y1 - y0) * f)     // runs bottom → top
        default: return (x0 + (x1 - x0) * f, (y0 + y1) / 2)
        }
    }

    @Test func anchorOnARotatedCroppedReportlabPageKeepsTheSealUpright() throws {
        guard try TestSupport.haveTool("pdftoppm"), try TestSupport.haveTool("pdftotext") else { return }
        let input = RT.samples.appendingPathComponent("contract-zh-reportlab-rotated.pdf")
        // Last occurrence: page 3 (/Rotate 90, CropBox inset 10 mm); the first is on the landscape page 2.
        let f = try SealedFile.make(input, spec: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）", occurrence: -1)))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let w = try #require(f.placements.widgets.first)
        #expect(w.pageIndex == 2 && w.rotation == 90)
        let (ax, ay) = try anchorCentre(input, page: 2, prefix: "甲方（盖章）", n: 6, of: 7)
        let img = try f.page(2, dpi: dpi)
        try expectBounds(img, centreX: ax * dpi / 72, centreY: ay * dpi / 72, sizeMM: 40, "rotated page anchor")
        #expect(try uprightSimilarity(img, centreX: ax * dpi / 72, centreY: ay * dpi / 72, design: RT.contractZH) > 0.9)
    }

    @Test func anchorOnALandscapePage() throws {
        guard try TestSupport.haveTool("pdftoppm"), try TestSupport.haveTool("pdftotext") else { return }
        let input = RT.samples.appendingPathComponent("contract-zh-reportlab-rotated.pdf")
        let f = try SealedFile.make(input, spec: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）", occurrence: 1)))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        #expect(f.placements.widgets.first?.pageIndex == 1)
        let (ax, ay) = try anchorCentre(input, page: 1, prefix: "甲方（盖章）", n: 6, of: 7)
        let img = try f.page(1, dpi: dpi)
        #expect(img.width > img.height)
        try expectBounds(img, centreX: ax * dpi / 72, centreY: ay * dpi / 72, sizeMM: 40, "landscape page anchor")
    }

    @Test func latinAnchorOnARotate270Page() throws {
        guard try TestSupport.haveTool("pdftoppm"), try TestSupport.haveTool("pdftotext") else { return }
        let input = RT.samples.appendingPathComponent("agreement-en-reportlab-rotate270.pdf")
        let oval = RT.invoiceOval
        let f = try SealedFile.make(input, design: oval, spec: PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)")))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let w = try #require(f.placements.widgets.first)
        #expect(w.pageIndex == 1 && w.rotation == 270)
        let words = try RT.pdftotextWords(input, page: 1)
        // "Party" … "(Seal):" run bottom → top; the anchor ends before the colon (Times 11 pt: 3.06 pt).
        let party = try #require(words.first { $0.text == "Party" })
        let seal = try #require(words.first { $0.text == "(Seal):" && abs($0.x0 - party.x0) < 1 && $0.y1 < party.y1 })
        let start = party.y1, end = seal.y0 + 3.06
        let cx = (party.x0 + party.x1) / 2 * dpi / 72, cy = (start + end) / 2 * dpi / 72
        let img = try f.page(1, dpi: dpi)
        let b = try #require(img.redBounds())
        #expect(abs(Double(b.x0 + b.x1 + 1) / 2 - cx) <= tol && abs(Double(b.y0 + b.y1 + 1) / 2 - cy) <= tol)
        #expect(abs(Double(b.x1 + 1 - b.x0) - 40 * k) <= tol && abs(Double(b.y1 + 1 - b.y0) - 30 * k) <= tol, "oval upright: 40 wide, 30 high")
    }

    @Test func sealNeverLeavesTheVisiblePage() throws {
        guard try TestSupport.haveTool("pdftoppm") else { return }
        let input = TestSupport.corpusDir.appendingPathComponent("boxes-cropbox-bleed-trim-rotate-qpdf.pdf")
        let f = try SealedFile.make(input, spec: PlacementSpec(page: .number(6), corner: .bottomRight, xMM: 3, yMM: 2))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        #expect(f.placements.warnings.contains { $0.contains("visible page") })
        let img = try f.page(5, dpi: dpi)
        try expectBounds(img, centreX: Double(img.width) - 20 * k, centreY: Double(img.height) - 20 * k, sizeMM: 40, "clamped into the corner")
    }

    @Test func crossPageSlicesLineUpWhenPagesAreLaidSideBySide() throws {
        guard try TestSupport.haveTool("pdftoppm") else { return }
        let input = RT.samples.appendingPathComponent("contract-zh-reportlab-rotated.pdf")
        // Three pages: portrait, landscape, /Rotate 90 with a CropBox.
        let f = try SealedFile.make(input, spec: PlacementSpec(crossPage: CrossPageSpec(pages: .all, yMM: 80)))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        #expect(f.placements.widgets.map(\.slice?.index) == [0, 1, 2])
        let sliceW = 40 * k / 3
        var strips: [RasterImage] = []
        for p in 0..<3 {
            let img = try f.page(p, dpi: dpi)
            let W = Double(img.width)
            let region = (x: Int((W - sliceW - 2 * k).rounded()), y: Int((60 * k - 2 * k).rounded()), w: Int(sliceW + 2 * k), h: Int(44 * k))
            let b = try #require(img.redBounds(in: region), "slice on page \(p + 1)")
            #expect(abs(Double(b.x1 + 1) - W) <= tol, "slice flush with the right edge of page \(p + 1)")
            if p > 0 { #expect(abs(Double(b.x0) - (W - sliceW)) <= tol, "slice \(p + 1) is a third of the seal") }
            strips.append(img.cropped(x: Int((W - sliceW).rounded()), y: Int((60 * k).rounded()), w: Int(sliceW.rounded()), h: Int((40 * k).rounded())))
        }
        // Lay the strips side by side and compare with the seal drawn whole.
        let w = strips.map(\.width).reduce(0, +), h = strips[0].height
        var px = [UInt8](repeating: 255, count: w * h * 4)
        var x0 = 0
        for s in strips {
            for y in 0..<h { for x in 0..<s.width {
                let d = (y * w + x0 + x) * 4, o = (y * s.width + x) * 4
                px[d..<d + 4] = s.pixels[o..<o + 4]
            } }
            x0 += s.width
        }
        let composite = RasterImage(width: w, height: h, pixels: px)
        let whole = try RasterImage(png: try SealRenderer.png(design: RT.contractZH, dpi: dpi))
        var overlap = 0.0
        for dy in -1...1 { for dx in -1...1 { overlap = max(overlap, RT.inkMatch(whole, in: composite, ax: dx, ay: dy)) } }
        if overlap <= 0.9 {
            try Data(try composite.png()).write(to: f.dir.appendingPathComponent("composite.png"))
        }
        #expect(overlap > 0.9, "strips side by side match the whole seal (\(overlap)); composite in \(f.dir.path)")
    }

    @Test func existingSignatureFieldsAreAvoidedOrReported() throws {
        // pyHanko added an empty signature field lying over "Party A (Seal)" (scripts/fixtures/render.sh).
        let input = TestSupport.fixturesDir.appendingPathComponent("render/render-sigfield-over-anchor-pyhanko.pdf")
        guard FileManager.default.fileExists(atPath: input.path) || TestSupport.toolsRequired else { return }
        let doc = try PDFDocument(url: input)
        let sigs = Placement.signatureWidgetRects(doc, doc.pages[2])
        #expect(sigs == [Box(60, 340, 200, 400)])
        let spec = { (policy: OverlapPolicy) in PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)"), signatureOverlap: policy) }
        let moved = try Placement.resolve(document: doc, fileURL: input, spec: spec(.move), sealSizeMM: (40, 40))
        let box = moved.widgets[0].rect
        #expect(moved.widgets[0].pageIndex == 2)
        #expect(!Box(box.llx, box.lly, box.urx, box.ury).intersects(sigs[0]))
        #expect(moved.warnings.contains { $0.contains("keep clear of an existing signature field") })
        let reported = try Placement.resolve(document: doc, fileURL: input, spec: spec(.report), sealSizeMM: (40, 40))
        #expect(Box(reported.widgets[0].rect.llx, reported.widgets[0].rect.lly, reported.widgets[0].rect.urx, reported.widgets[0].rect.ury).intersects(sigs[0]))
        #expect(reported.warnings.contains { $0.contains("covers an existing signature field") })
        #expect { try Placement.resolve(document: doc, fileURL: input, spec: spec(.error), sealSizeMM: (40, 40)) } throws: {
            ($0 as? RenderError)?.code == .overlapsSignature
        }
    }

    @Test func sealFailsWhenSignatureFieldsLeaveNoRoom() throws {
        // pyHanko's minimal-two-fields: a 300×144 pt page almost filled by two signature fields.
        let input = TestSupport.corpusDir.appendingPathComponent("acroform-two-empty-sigfields-pyhanko.pdf")
        let doc = try PDFDocument(url: input)
        #expect(Placement.signatureWidgetRects(doc, doc.pages[0]).count == 2)
        // By default the seal goes into an empty field that fits it (issue #14); kept to the position, there is no room.
        let preferred = try Placement.resolve(document: doc, fileURL: input, spec: PlacementSpec(page: .first, corner: .topLeft, xMM: 20, yMM: 20), sealSizeMM: (20, 20))
        #expect(preferred.fieldName != nil && preferred.widgets.count == 1)
        var keep = PlacementSpec(page: .first, corner: .topLeft, xMM: 20, yMM: 20)
        keep.preferEmptyField = false
        #expect { try Placement.resolve(document: doc, fileURL: input, spec: keep, sealSizeMM: (20, 20)) } throws: {
            ($0 as? RenderError)?.code == .overlapsSignature && "\($0)".contains("no free spot")
        }
        #expect { try Placement.resolve(document: doc, fileURL: input, spec: PlacementSpec(page: .first, xMM: 20, yMM: 20), sealSizeMM: (60, 60)) } throws: {
            ($0 as? RenderError)?.code == .sealDoesNotFit
        }
    }

    @Test func sealsWeWroteCountAsSignatureFieldsForTheNextSeal() throws {
        let input = RT.samples.appendingPathComponent("contract-en-libreoffice.pdf")
        // SealOverlay writes the seal's field unsigned (a preview): not taken as an empty field to fill here.
        var spec = PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)"))
        spec.preferEmptyField = false
        let f = try SealedFile.make(input, spec: spec)
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let again = try Placement.resolve(document: try PDFDocument(url: f.url), fileURL: f.url, spec: spec, sealSizeMM: (40, 40))
        let a = f.placements.widgets[0].rect, b = again.widgets[0].rect
        #expect(!Box(a.llx, a.lly, a.urx, a.ury).intersects(Box(b.llx, b.lly, b.urx, b.ury)))
    }

    @Test func missingAnchorFailsOrFallsBackToTheLastPage() throws {
        let input = RT.samples.appendingPathComponent("contract-en-libreoffice.pdf")
        let doc = try PDFDocument(url: input)
        #expect { try Placement.resolve(document: doc, fileURL: input, spec: PlacementSpec(anchor: AnchorSpec(text: "丙方（盖章）")), sealSizeMM: (40, 40)) } throws: {
            ($0 as? RenderError)?.code == .anchorNotFound
        }
        let res = try Placement.resolve(document: doc, fileURL: input,
                                        spec: PlacementSpec(anchor: AnchorSpec(text: "丙方（盖章）", fallback: .lastPage)), sealSizeMM: (40, 40))
        #expect(res.widgets.first?.pageIndex == doc.pageCount - 1)
        #expect(res.warnings.contains { $0.contains("not found") })
    }

    @Test func nthOccurrenceCountsAcrossPages() throws {
        let input = RT.samples.appendingPathComponent("contract-zh-reportlab-rotated.pdf")
        let doc = try PDFDocument(url: input)
        func page(_ n: Int) throws -> Int? {
            try Placement.resolve(document: doc, fileURL: input, spec: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）", occurrence: n)), sealSizeMM: (40, 40)).widgets.first?.pageIndex
        }
        #expect(try page(1) == 1 && page(2) == 2 && page(-1) == 2 && page(-2) == 1)
        #expect { try page(3) } throws: { ($0 as? RenderError)?.code == .anchorNotFound }
    }
}

@Suite struct PixelOracleTests {
    @Test func uprightCheckRejectsASealTurnedAQuarter() throws {
        let a = try RasterImage(png: try SealRenderer.png(design: RT.contractZH, dpi: 100))
        var px = a.pixels
        for y in 0..<a.height { for x in 0..<a.width {
            let s = ((a.width - 1 - x) * a.width + y) * 4, d = (y * a.width + x) * 4   // square image: rotate 90°
            px[d..<d + 4] = a.pixels[s..<s + 4]
        } }
        let turned = RasterImage(width: a.width, height: a.height, pixels: px)
        #expect(RT.inkMatch(a, in: a) > 0.99)
        #expect(RT.inkMatch(a, in: turned) < 0.8)
    }
}
