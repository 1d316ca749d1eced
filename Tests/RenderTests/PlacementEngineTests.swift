import Foundation
import Testing
@testable import Render

/// The placement engine alone, on synthetic pages (no rendering).
@Suite struct PlacementEngineTests {
    let mm = pointsPerMM
    func engine(_ pages: [PageGeometry], hits: [Int: [Box]] = [:], widgets: [Int: [Box]] = [:], seal: Double = 40) -> PlacementEngine {
        PlacementEngine(pages: pages.enumerated().map { PageInfo(geometry: $1, signatureWidgets: widgets[$0] ?? []) },
                        sealWidth: seal * pointsPerMM, sealHeight: seal * pointsPerMM, fileName: "t.pdf") { p, _ in hits[p] ?? [] }
    }
    let a4 = PageGeometry(crop: Box(0, 0, 595.28, 841.89), rotation: 0)

    @Test(arguments: [0, 90, 180, 270])
    func displayAndUserSpaceAreInverse(rotation: Int) {
        let g = PageGeometry(crop: Box(-10, 20, 582, 752), rotation: rotation)
        for (x, y) in [(0.0, 0.0), (100, 50), (g.displaySize.width, g.displaySize.height)] {
            let u = g.toUser(x, y)
            let d = g.toDisplay(u.0, u.1)
            #expect(abs(d.0 - x) < 1e-9 && abs(d.1 - y) < 1e-9)
            #expect(u.0 >= g.crop.llx - 1e-9 && u.0 <= g.crop.urx + 1e-9 && u.1 >= g.crop.lly - 1e-9 && u.1 <= g.crop.ury + 1e-9)
        }
        // The display's top-left corner is the user-space corner the PDF spec names for each /Rotate.
        let tl = g.toUser(0, 0)
        let expected: (Double, Double) = [0: (-10.0, 752.0), 90: (-10.0, 20.0), 180: (582.0, 20.0), 270: (582.0, 752.0)][rotation]!
        #expect(tl == expected)
    }

    @Test func anchorPositionsAroundTheText() throws {
        let text = Box(200, 400, 272, 412)   // 72×12 pt
        let e = engine([a4], hits: [0: [text]])
        func centre(_ p: AnchorPosition, dx: Double = 0, dy: Double = 0) throws -> (Double, Double) {
            let b = try e.resolve(PlacementSpec(anchor: AnchorSpec(text: "x", position: p, dxMM: dx, dyMM: dy))).boxes[0].box
            return ((b.llx + b.urx) / 2, (b.lly + b.ury) / 2)
        }
        let r = 20 * mm, gap = 1 * mm
        #expect(try centre(.over) == (236, 406))
        #expect(abs(try centre(.right).0 - (272 + gap + r)) < 1e-9)
        #expect(abs(try centre(.left).0 - (200 - gap - r)) < 1e-9)
        #expect(abs(try centre(.above).1 - (412 + gap + r)) < 1e-9)
        #expect(abs(try centre(.below).1 - (400 - gap - r)) < 1e-9)
        let moved = try centre(.over, dx: 10, dy: 5)
        #expect(abs(moved.0 - (236 + 10 * mm)) < 1e-9 && abs(moved.1 - (406 + 5 * mm)) < 1e-9)
    }

    @Test func anchorAlternativesAreTriedInOrderWhenTheTextIsMissing() throws {
        let english = Box(100, 200, 180, 212)
        let e = PlacementEngine(pages: [PageInfo(geometry: a4, signatureWidgets: []), PageInfo(geometry: a4, signatureWidgets: [])],
                                sealWidth: 40 * mm, sealHeight: 40 * mm, fileName: "t.pdf") { p, text in
            text == "Party A (Seal)" && p == 1 ? [english] : []
        }
        let b = try e.resolve(PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）", alternatives: ["Party A (Seal)"]))).boxes[0]
        #expect(b.pageIndex == 1 && (b.box.llx + b.box.urx) / 2 == 140)
        // none found: the error names every text tried
        #expect { try e.resolve(PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）", alternatives: ["Party B"]))) } throws: { e in
            "\(e)".contains("\"甲方（盖章）\" or \"Party B\"")
        }
        #expect(throws: (any Error).self) { try PlacementSpec(anchor: AnchorSpec(text: "x", alternatives: [" "])).validate() }
    }

    @Test func leftEdgeCrossPageSlicesRunInReverseOrder() throws {
        let e = engine([a4, a4, a4, a4])
        let res = try e.resolve(PlacementSpec(crossPage: CrossPageSpec(pages: .list([1, 2, 4]), edge: .left, yMM: 50)))
        #expect(res.boxes.map(\.pageIndex) == [0, 1, 3])
        #expect(res.boxes.map { $0.slice!.0 } == [2, 1, 0])
        for b in res.boxes {
            #expect(b.box.llx == 0 && abs(b.box.width - 40 * mm / 3) < 1e-9)
            #expect(abs(b.box.ury - (841.89 - 30 * mm)) < 1e-6)
        }
    }

    @Test func crossPageNeedsTwoPagesAndExistingPageNumbers() {
        #expect { try engine([a4]).resolve(PlacementSpec(crossPage: CrossPageSpec())) } throws: { ($0 as? RenderError)?.code == .invalidPlacement }
        #expect { try engine([a4, a4]).resolve(PlacementSpec(crossPage: CrossPageSpec(pages: .list([1, 5])))) } throws: { ($0 as? RenderError)?.code == .pageOutOfRange }
    }

    @Test func thinSlicesAreReported() throws {
        let res = try engine(Array(repeating: a4, count: 50)).resolve(PlacementSpec(crossPage: CrossPageSpec()))
        #expect(res.boxes.count == 50)
        #expect(res.warnings.contains { $0.contains("slices are only") })
    }

    @Test func explicitPageNumbersCountFromEitherEnd() throws {
        let e = engine([a4, a4, a4])
        #expect(try e.resolve(PlacementSpec(page: .number(-2), xMM: 30, yMM: 30)).boxes[0].pageIndex == 1)
        #expect(try e.resolve(PlacementSpec(page: .first)).boxes[0].pageIndex == 0)
        #expect { try e.resolve(PlacementSpec(page: .number(4))) } throws: { ($0 as? RenderError)?.code == .pageOutOfRange }
    }

    @Test func movePicksTheNearestFreeSpot() throws {
        // A signature field right where the seal would go; the seal moves by the smallest step.
        let field = Box(250, 300, 350, 400)
        let e = engine([a4], widgets: [0: [field]], seal: 20)
        let res = try e.resolve(PlacementSpec(page: .first, corner: .bottomLeft, xMM: 300 / mm, yMM: 350 / mm))
        let b = res.boxes[0].box
        #expect(!b.intersects(field))
        let centre = ((b.llx + b.urx) / 2, (b.lly + b.ury) / 2)
        #expect(hypot(centre.0 - 300, centre.1 - 350) < 50 + 10 * mm + 2 * mm, "moved just clear of the field")
    }
}
