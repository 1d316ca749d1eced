import Foundation
import PDF
import Testing
import TestSupport
@testable import Render

/// Seals into existing empty signature fields, and free spots on pages full of signatures (issue #14 item 2).
@Suite struct PlacementFieldTests {
    let mm = pointsPerMM
    let a4 = PageGeometry(crop: Box(0, 0, 595.28, 841.89), rotation: 0)

    func engine(_ pages: [PageInfo], seal: Double = 40) -> PlacementEngine {
        PlacementEngine(pages: pages, sealWidth: seal * pointsPerMM, sealHeight: seal * pointsPerMM, fileName: "t.pdf") { _, _ in [] }
    }

    @Test func namedFieldPlacesTheSealInThatFieldsRectangleAndPage() throws {
        let field = Box(300, 100, 450, 250)
        let e = engine([PageInfo(geometry: a4, signatureWidgets: []), PageInfo(geometry: a4, signatureWidgets: [field], emptyFields: [("Approver", field)])])
        let (boxes, _) = try e.resolve(PlacementSpec(field: "Approver"))
        #expect(boxes.count == 1 && boxes[0].pageIndex == 1 && boxes[0].box == field && boxes[0].fieldName == "Approver")
        #expect { try e.resolve(PlacementSpec(field: "Nobody")) } throws: { e in
            (e as? RenderError)?.code == .fieldNotFound && "\(e)".contains("\"Approver\"")
        }
        // a field and a position together are contradictory
        #expect(throws: RenderError.self) { try PlacementSpec(corner: .bottomRight, field: "Approver").validate() }
    }

    @Test func anEmptyFieldThatFitsTheSealIsPreferredUnlessTurnedOff() throws {
        let small = Box(50, 50, 120, 70)            // a 25×7 mm field: too small for a 40 mm seal
        let big = Box(300, 100, 430, 230)           // 46 mm square
        let e = engine([PageInfo(geometry: a4, signatureWidgets: [small, big], emptyFields: [("Small", small), ("Big", big)])])
        let (boxes, warnings) = try e.resolve(PlacementSpec(page: .last, corner: .topLeft))
        #expect(boxes.first?.fieldName == "Big" && boxes.first?.box == big)
        #expect(warnings.contains { $0.contains("\"Big\"") })
        var off = PlacementSpec(page: .last, corner: .topLeft)
        off.preferEmptyField = false
        let (b2, _) = try e.resolve(off)
        #expect(b2.first?.fieldName == nil)
    }

    @Test func freeSpotSearchCoversTheWholePageWhenTheNeighbourhoodIsFull() throws {
        // Signatures cover everything but a strip at the top of the page, more than 80 mm from the wanted spot.
        let widgets = [Box(0, 0, 595.28, 700)]
        let e = engine([PageInfo(geometry: a4, signatureWidgets: widgets)], seal: 40)
        let (boxes, warnings) = try e.resolve(PlacementSpec(page: .last, corner: .bottomRight))
        let b = try #require(boxes.first)
        #expect(b.box.lly >= 700 - 0.01 && b.box.ury <= 841.89 + 0.01)
        #expect(warnings.contains { $0.contains("keep clear of an existing signature field") })
        // a page with no room at all still refuses, saying so
        let full = engine([PageInfo(geometry: a4, signatureWidgets: [Box(0, 0, 595.28, 841.89)])])
        #expect { try full.resolve(PlacementSpec(page: .last, corner: .bottomRight)) } throws: { e in "\(e)".contains("no free spot on the page") }
    }

    @Test func placementReadsEmptySignatureFieldsOfARealDocument() throws {
        let url = TestSupport.corpusDir.appendingPathComponent("acroform-two-empty-sigfields-pyhanko.pdf")
        let doc = try PDFDocument(url: url)
        let fields = Placement.emptyFieldRects(doc)
        let names = fields.values.flatMap { $0.map(\.name) }
        #expect(names.count == 2, "\(fields)")
        let r = try Placement.resolve(document: doc, fileURL: url, spec: PlacementSpec(field: names[0]), sealSizeMM: (40, 40))
        #expect(r.fieldName == names[0] && r.widgets.count == 1)
    }
}

/// A page without /MediaBox: read as US Letter with a warning; a visible seal on it is refused (issue #14 item 6).
@Suite struct PlacementMissingMediaBoxTests {
    @Test func visibleSealOnAPageWithoutMediaBoxIsRefused() throws {
        let url = TestSupport.corpusDir.appendingPathComponent("page-no-mediabox-pyhanko.pdf")
        let doc = try PDFDocument(url: url)
        #expect(doc.pages.first?.mediaBoxMissing == true)
        #expect(doc.warnings.contains { $0.kind == .missingMediaBox })
        #expect { try Placement.resolve(document: doc, fileURL: url, spec: PlacementSpec(page: .last, corner: .bottomRight), sealSizeMM: (40, 40)) } throws: { e in
            (e as? RenderError)?.code == .pageSizeUnknown && "\(e)".contains("invisible")
        }
    }
}
