import Foundation
import Testing
@testable import Render
import TestSupport

@Suite struct SealDrawingTests {
    @Test func roundSealHasRimStarAndOrganisationAlongTheUpperArc() throws {
        let dpi = 150.0, k = RT.pxPerMM(dpi)
        let img = try RasterImage(png: try SealRenderer.png(design: .round(RoundSeal(organisation: "某某市某某有限公司", name: "合同专用章")), dpi: dpi))
        #expect(abs(Double(img.width) - 40 * k) <= 1)
        let c = Double(img.width) / 2
        // Rim: ink all around at radius 20 - 0.6 mm.
        let rim = RT.inkAlongArc(img, cx: c, cy: c, rInner: (20 - 1.0) * k, rOuter: (20 - 0.3) * k, fromDeg: 0, toDeg: 360, steps: 72)
        #expect(rim.allSatisfy { $0 })
        // Star at the centre.
        #expect(img.isRed(x: Int(c), y: Int(c)))
        // Organisation text: ink in every 25° bin of the upper 250° arc band, none in the lower band.
        let band = (inner: (20 - 1.2 - 0.8 - 6.6) * k, outer: (20 - 1.2 - 0.4) * k)
        let upper = RT.inkAlongArc(img, cx: c, cy: c, rInner: band.inner, rOuter: band.outer, fromDeg: -120, toDeg: 120, steps: 9)
        #expect(upper.allSatisfy { $0 }, "arc text missing in bins \(upper)")
        let lower = RT.inkAlongArc(img, cx: c, cy: c, rInner: band.inner + 2 * k, rOuter: band.outer, fromDeg: 165, toDeg: 195, steps: 3)
        #expect(lower.allSatisfy { !$0 }, "no code configured, so no ink at the bottom of the text band")
    }

    @Test func sealCodeIsDrawnAlongTheLowerRim() throws {
        let dpi = 150.0, k = RT.pxPerMM(dpi)
        let img = try RasterImage(png: try SealRenderer.png(design: RT.contractZH, dpi: dpi))
        let c = Double(img.width) / 2
        let lower = RT.inkAlongArc(img, cx: c, cy: c, rInner: (20 - 1.2 - 0.6 - 2.4) * k, rOuter: (20 - 1.4) * k, fromDeg: 150, toDeg: 210, steps: 6)
        #expect(lower.filter { $0 }.count >= 5)
    }

    @Test func longLatinNameIsFittedInsideTheRim() throws {
        let dpi = 150.0, k = RT.pxPerMM(dpi)
        let name = "Shanghai Example International Trading and Development Company Limited"
        let img = try RasterImage(png: try SealRenderer.png(design: .round(RoundSeal(diameterMM: 42, organisation: name, name: "CONTRACT SEAL")), dpi: dpi))
        let c = Double(img.width) / 2
        // Text band has ink over the whole arc and nothing crosses the rim's inner edge into it.
        let upper = RT.inkAlongArc(img, cx: c, cy: c, rInner: (21 - 1.26 - 6) * k, rOuter: (21 - 1.26 - 0.5) * k, fromDeg: -120, toDeg: 120, steps: 24)
        #expect(upper.filter { $0 }.count >= 22)
        var outside = 0
        for y in 0..<img.height { for x in 0..<img.width where img.isRed(x: x, y: y) {
            if hypot(Double(x) - c, Double(y) - c) > 21 * k + 1.5 { outside += 1 }
        } }
        #expect(outside == 0)
    }

    @Test func ovalSealCarriesTaxNumberAcrossTheMiddle() throws {
        let dpi = 150.0, k = RT.pxPerMM(dpi)
        let img = try RasterImage(png: try SealRenderer.png(design: RT.invoiceOval, dpi: dpi))
        #expect(abs(Double(img.width) - 40 * k) <= 1 && abs(Double(img.height) - 30 * k) <= 1)
        let midRow = (x: Int(7 * k), y: Int((15 + 1.2 - 1.7) * k), w: Int(26 * k), h: Int(3.4 * k))
        let b = try #require(img.redBounds(in: midRow))
        #expect(Double(b.x1 - b.x0) > 20 * k, "tax number spans most of the middle")
    }

    @Test func squareSealFillsFourCells() throws {
        let dpi = 150.0, k = RT.pxPerMM(dpi)
        let img = try RasterImage(png: try SealRenderer.png(design: RT.personal, dpi: dpi))
        let q = Int(8 * k), o = Int(2.2 * k)
        for (x, y) in [(o, o), (o + q, o), (o, o + q), (o + q, o + q)] {
            #expect(img.redCount(in: (x, y, q - 2, q - 2)) > q * q / 15)
        }
    }

    @Test func twoCharacterSquareSealIsAccepted() throws {
        #expect(throws: Never.self) { try SealRenderer.render(design: .square(SquareSeal(characters: "李四"))) }
        #expect { try SealRenderer.render(design: .square(SquareSeal(characters: "李"))) } throws: {
            ($0 as? RenderError)?.code == .invalidDesign
        }
    }

    @Test func colourIsConfigurable() throws {
        var r = RoundSeal(organisation: "某某市某某有限公司")
        r.color = SealColor(hex: "#0000FF")!
        let img = try RasterImage(png: try SealRenderer.png(design: .round(r), dpi: 72))
        #expect(img.redCount() == 0)
        let c = img.width / 2
        let p = img[c, c]
        #expect(p.b > 200 && p.r < 40)
    }

    @Test func inkTextureRemovesSomeInkDeterministically() throws {
        var r = RoundSeal(organisation: "某某市某某有限公司", name: "合同专用章")
        let plain = try RasterImage(png: try SealRenderer.png(design: .round(r), dpi: 200)).redCount()
        r.inkTexture = true
        let a = try SealRenderer.png(design: .round(r), dpi: 200)
        let b = try SealRenderer.png(design: .round(r), dpi: 200)
        #expect(a == b)
        let textured = try RasterImage(png: a).redCount()
        #expect(textured < plain && textured > plain * 8 / 10)
    }

    @Test func imageSealDrawsTheScanWithItsTransparency() throws {
        let dir = try TestSupport.tempDir("render-image")
        defer { try? FileManager.default.removeItem(at: dir) }
        let scan = dir.appendingPathComponent("scan.png")
        try Data(try SealRenderer.png(design: RT.contractZH, dpi: 200)).write(to: scan)
        let design = SealDesign.image(ImageSeal(file: scan.path, widthMM: 40))
        let rendered = try SealRenderer.render(design: design)
        #expect(abs(rendered.heightMM - 40) < 0.2)
        let img = try RasterImage(png: try SealRenderer.png(design: design, dpi: 100))
        #expect(img[1, 1].a == 0, "corner stays transparent")
        #expect(img.isRed(x: img.width / 2, y: img.height / 2))
        #expect { try SealRenderer.render(design: .image(ImageSeal(file: dir.appendingPathComponent("none.png").path))) } throws: {
            ($0 as? RenderError)?.code == .imageUnreadable
        }
    }

    @Test func missingFontFailsClearlyInsteadOfDrawingBoxes() throws {
        var r = RoundSeal(organisation: "某某市某某有限公司")
        r.font = "No Such Seal Font"
        #expect { try SealRenderer.render(design: .round(r)) } throws: { e in
            guard let e = e as? RenderError else { return false }
            return e.code == .fontNotFound && e.detail.contains("No Such Seal Font")
        }
        // A character no installed CJK serif covers (Linear B) is reported, not drawn as a box.
        let r2 = RoundSeal(organisation: "某某\u{10000}公司")
        #expect { try SealRenderer.render(design: .round(r2)) } throws: { e in
            (e as? RenderError)?.code == .fontNotFound && "\(e)".contains("\u{10000}")
        }
        // A Latin-only font is rejected for CJK text.
        var r3 = RoundSeal(organisation: "某某市某某有限公司")
        r3.font = "DejaVu Serif"
        #expect { try SealRenderer.render(design: .round(r3)) } throws: { ($0 as? RenderError)?.code == .fontNotFound }
    }

    @Test func pdfAppearanceIsVectorWithTheCJKFontSubsetEmbedded() throws {
        guard try TestSupport.haveTool("pdffonts"), try TestSupport.haveTool("pdfimages") else { return }
        let dir = try TestSupport.tempDir("render-vector")
        defer { try? FileManager.default.removeItem(at: dir) }
        let seal = try SealRenderer.render(design: RT.contractZH)
        #expect(seal.font?.family == "Noto Serif CJK SC")
        let f = dir.appendingPathComponent("seal.pdf")
        try Data(seal.pdf).write(to: f)
        let fonts = try TestSupport.run("pdffonts", [f.path]).out
        let line = try #require(fonts.split(separator: "\n").first { $0.contains("NotoSerifCJK") })
        let cols = line.split(separator: " ", omittingEmptySubsequences: true)
        #expect(line.contains("+"), "subset prefix")
        #expect(cols.suffix(5).prefix(2) == ["yes", "yes"], "emb and sub: \(line)")
        let images = try TestSupport.run("pdfimages", ["-list", f.path]).out.split(separator: "\n")
        #expect(images.count == 2, "header only, no images: \(images)")
    }

    @Test func sameDesignGivesTheSameBytes() throws {
        #expect(try SealRenderer.render(design: RT.contractZH).pdf == SealRenderer.render(design: RT.contractZH).pdf)
    }

    @Test func goldenImagesOfTheThreeDesignsMatch() throws {
        for (d, name) in [(RT.contractZH, "round-contract-zh.png"), (RT.invoiceOval, "oval-invoice.png"), (RT.personal, "square-personal.png")] {
            try RT.expectMatchesGolden(try RasterImage(png: try SealRenderer.png(design: d, dpi: 100)), name)
        }
    }
}
