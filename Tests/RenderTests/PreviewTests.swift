import Foundation
import PDF
import Testing
@testable import Render
import TestSupport

@Suite struct PreviewTests {
    let settings = RenderSettings(design: RT.contractZH,
                                  placement: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）", occurrence: -1), crossPage: CrossPageSpec()))

    @Test func previewShowsTheSealWherePdftoppmSeesItAndLeavesTheOriginalAlone() throws {
        guard try TestSupport.haveTool("pdftoppm") else { return }
        let input = RT.samples.appendingPathComponent("contract-zh-reportlab-rotated.pdf")
        let before = try Data(contentsOf: input)
        let result = try Preview.render(fileURL: input, settings: settings, dpi: 72)
        #expect(try Data(contentsOf: input) == before)
        #expect(result.pages.map(\.pageIndex) == [0, 1, 2])
        // Same seal pixels as an independent render of the sealed file (pdftoppm, CropBox).
        let f = try SealedFile.make(input, spec: settings.placement)
        defer { try? FileManager.default.removeItem(at: f.dir) }
        for page in result.pages {
            let mine = try RasterImage(png: page.png)
            let theirs = try RT.pdftoppm(f.url, page: page.pageIndex, dpi: 72, dir: f.dir)
            #expect(abs(mine.width - theirs.width) <= 1 && abs(mine.height - theirs.height) <= 1)
            let a = try #require(mine.redBounds()), b = try #require(theirs.redBounds())
            #expect(abs(a.x0 - b.x0) <= 2 && abs(a.y0 - b.y0) <= 2 && abs(a.x1 - b.x1) <= 2 && abs(a.y1 - b.y1) <= 2,
                    "page \(page.pageIndex + 1): preview \(a) vs pdftoppm \(b)")
        }
    }

    @Test func previewOfChosenPagesOnly() throws {
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let result = try Preview.render(fileURL: input, settings: settings, pages: [1], dpi: 30)
        #expect(result.pages.map(\.pageIndex) == [1])
        #expect { try Preview.render(fileURL: input, settings: settings, pages: [9], dpi: 30) } throws: {
            ($0 as? RenderError)?.code == .pageOutOfRange
        }
    }

    @Test func settingsJSONMatchesTheDocumentedShape() throws {
        let json = #"{"design":{"kind":"oval","organisation":"某某公司","tax-number":"91110108MA01234567"},"placement":{"page":"last","corner":"bottom-right","x-mm":50,"y-mm":60}}"#
        let s = try JSONDecoder().decode(RenderSettings.self, from: Data(json.utf8))
        #expect(s.placement.page == .last && s.placement.corner == .bottomRight)
        #expect { try JSONDecoder().decode(RenderSettings.self, from: Data(#"{"design":{"kind":"square","characters":"张三"},"placement":{},"dpi":3}"#.utf8)) } throws: {
            describeDecodingError($0).contains("dpi")
        }
    }

    @Test func sealedFileFromPreviewPathPassesQpdfCheckAndEmbedsTheCJKFont() throws {
        guard try TestSupport.haveTool("qpdf"), try TestSupport.haveTool("pdffonts") else { return }
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let f = try SealedFile.make(input, spec: settings.placement)
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let check = try TestSupport.run("qpdf", ["--check", f.url.path])
        #expect(check.status == 0, "qpdf --check: \(check.out) \(check.err)")
        let fonts = try TestSupport.run("pdffonts", [f.url.path]).out
        // Cairo's subset of the seal font, embedded once although four widgets use it.
        let seal = fonts.split(separator: "\n").filter { $0.contains("NotoSerifCJKsc-Bold") && $0.contains("CID Type 0C") }
        #expect(seal.count == 1, "\(fonts)")
        #expect(seal.first.map { $0.contains("yes yes") } == true)
        // The original bytes are the prefix of the sealed file (incremental update).
        let orig = try Data(contentsOf: input), sealed = try Data(contentsOf: f.url)
        #expect(sealed.prefix(orig.count) == orig)
    }
}
