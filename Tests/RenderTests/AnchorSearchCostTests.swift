import Foundation
import PDF
import Testing
@testable import Render
import TestSupport

/// Anchor search reads only the pages it needs (issue #15 item 1): the last occurrence from the last page
/// backwards, the first from the first page forwards, inside the configured window, and no page text at all
/// for coordinates or a signature field. `PlacementResult.textSearches` lists every page whose text was read.
@Suite struct AnchorSearchCostTests {
    /// A 40-page reportlab contract: "Party A (Seal)" on pages 3, 38 and 40 (twice on 40), body text elsewhere.
    static let contract: URL? = {
        guard (try? TestSupport.haveTool("python3")) == true else { return nil }
        guard let dir = try? TestSupport.tempDir("anchor-search") else { return nil }
        let out = dir.appendingPathComponent("contract-40-pages-reportlab.pdf")
        let script = """
        import sys
        from reportlab.pdfgen import canvas
        from reportlab.lib.pagesizes import A4
        c = canvas.Canvas(sys.argv[1], pagesize=A4)
        for p in range(1, 41):
            c.setFont("Helvetica", 11)
            for line in range(40):
                c.drawString(60, 800 - 18 * line, f"Page {p}, clause {line}: the parties agree to the terms set out in the schedule.")
            if p in (3, 38, 40):
                c.drawString(80, 90, "Party A (Seal):")
            if p == 40:
                c.drawString(330, 90, "Party A (Seal):")
            c.showPage()
        c.save()
        """
        guard let r = try? TestSupport.run("python3", ["-c", script, out.path]), r.status == 0 else { return nil }
        return out
    }()

    func contractURL() throws -> URL {
        _ = try TestSupport.haveTool("python3")
        return try #require(Self.contract, "reportlab could not make the 40-page contract")
    }

    func resolve(_ url: URL, _ spec: PlacementSpec) throws -> PlacementResult {
        try Placement.resolve(document: try PDFDocument(url: url), fileURL: url, spec: spec, sealSizeMM: (40, 40))
    }

    @Test func lastOccurrenceReadsOnlyTheLastPage() throws {
        let url = try contractURL()
        let r = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)", occurrence: -1)))
        #expect(r.widgets.first?.pageIndex == 39)
        #expect(r.textSearches == [39])
        // the second-to-last is the other one on page 40; the third-to-last is on page 38, read after 40 and 39
        let r3 = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)", occurrence: -3)))
        #expect(r3.widgets.first?.pageIndex == 37)
        #expect(r3.textSearches == [39, 38, 37])
    }

    @Test func firstOccurrenceSearchesForwardsAndStops() throws {
        let url = try contractURL()
        let r = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)")))
        #expect(r.widgets.first?.pageIndex == 2)
        #expect(r.textSearches == [0, 1, 2])
        let r2 = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)", occurrence: 2)))
        #expect(r2.widgets.first?.pageIndex == 37)
        #expect(r2.textSearches == Array(0...37))
    }

    @Test func searchWindowIsHonoured() throws {
        let url = try contractURL()
        // occurrences count inside the window
        let r = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)", pages: .last(3))))
        #expect(r.widgets.first?.pageIndex == 37)
        #expect(r.textSearches == [37])
        // the anchor on page 3 is outside "first 2": not found, and only pages 1 and 2 were read
        #expect { try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)", occurrence: -1, pages: .first(2)))) } throws: { e in
            (e as? RenderError)?.code == .anchorNotFound && "\(e)".contains("first 2")
        }
        // a fallback inside a window reads only the window, then seals the last page
        let f = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)", occurrence: -1, fallback: .lastPage, pages: .first(2))))
        #expect(f.widgets.first?.pageIndex == 39)
        #expect(f.textSearches == [1, 0])
        #expect(f.warnings.contains { $0.contains("not found (searched the first 2 pages)") })
        // a window larger than the document is the whole document
        let big = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party A (Seal)", pages: .last(500))))
        #expect(big.widgets.first?.pageIndex == 2)
    }

    @Test func missingAnchorWithoutAWindowReadsEveryPageOnce() throws {
        let url = try contractURL()
        let r = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party B (Seal)", occurrence: -1, fallback: .lastPage)))
        #expect(r.widgets.first?.pageIndex == 39)
        #expect(r.textSearches == Array((0..<40).reversed()))
        // each alternative is one more pass; the first alternative that is found stops it
        let alt = try resolve(url, PlacementSpec(anchor: AnchorSpec(text: "Party B (Seal)", alternatives: ["Party A (Seal)"], occurrence: -1)))
        #expect(alt.widgets.first?.pageIndex == 39)
        #expect(alt.textSearches == Array((0..<40).reversed()) + [39])
    }

    @Test func coordinatesAndFieldsReadNoText() throws {
        let url = try contractURL()
        let coords = try resolve(url, PlacementSpec(page: .last, corner: .bottomRight))
        #expect(coords.widgets.first?.pageIndex == 39 && coords.textSearches.isEmpty)
        let cross = try resolve(url, PlacementSpec(crossPage: CrossPageSpec(pages: .all)))
        #expect(cross.widgets.count == 40 && cross.textSearches.isEmpty)
        let formURL = TestSupport.corpusDir.appendingPathComponent("acroform-two-empty-sigfields-pyhanko.pdf")
        let doc = try PDFDocument(url: formURL)
        let name = try #require(Placement.emptyFieldRects(doc).values.flatMap { $0.map(\.name) }.sorted().first)
        let field = try Placement.resolve(document: doc, fileURL: formURL, spec: PlacementSpec(field: name), sealSizeMM: (20, 10))
        #expect(field.fieldName == name && field.textSearches.isEmpty)
        // an anchor is not searched when an empty field that fits the seal takes it
        let preferred = try Placement.resolve(document: doc, fileURL: formURL, spec: PlacementSpec(anchor: AnchorSpec(text: "Seal")), sealSizeMM: (1, 1))
        #expect(preferred.fieldName != nil && preferred.textSearches.isEmpty)
    }

    @Test func windowsAreCheckedWhenTheConfigIsRead() throws {
        func decode(_ pages: String) throws -> AnchorSpec {
            try JSONDecoder().decode(AnchorSpec.self, from: Data(#"{"text": "甲方（盖章）", "pages": "\#(pages)"}"#.utf8))
        }
        #expect(try decode("last 3").pages == .last(3))
        #expect(try decode("first 2").pages == .first(2))
        #expect(try decode("all").pages == .all)
        for bad in ["last", "last 0", "last -1", "final 3", "3", "last 3 pages", ""] {
            #expect(throws: DecodingError.self, "\(bad)") { try decode(bad) }
        }
        let round = try JSONDecoder().decode(AnchorSpec.self, from: try JSONEncoder().encode(AnchorSpec(text: "x", pages: .last(3))))
        #expect(round.pages == .last(3))
        #expect(throws: RenderError.self) { try PlacementSpec(anchor: AnchorSpec(text: "x", pages: .first(0))).validate() }
    }

    /// The old search: every page's hits in document order (restricted to the window), then the nth.
    static func fullScan(pageCount: Int, _ find: (Int, String) throws -> [Box], _ text: String, occurrence: Int, window: SearchWindow) throws -> (Int, Box)? {
        var all: [(Int, Box)] = []
        for p in window.indices(pageCount: pageCount) { all += try find(p, text).map { (p, $0) } }
        let i = occurrence > 0 ? occurrence - 1 : all.count + occurrence
        return all.indices.contains(i) ? all[i] : nil
    }

    @Test func agreesWithTheFullScanOnTheFixtures() throws {
        var files: [(URL, [String])] = [
            (RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf"), ["甲方（盖章）", "乙方（盖章）", "合同"]),
            (RT.samples.appendingPathComponent("contract-en-libreoffice.pdf"), ["Party A (Seal)", "Party B", "the"]),
            (RT.samples.appendingPathComponent("contract-zh-reportlab-rotated.pdf"), ["甲方（盖章）", "乙方"]),
            (RT.samples.appendingPathComponent("agreement-en-reportlab-rotate270.pdf"), ["Seal", "the"]),
            (try contractURL(), ["Party A (Seal)", "clause 1", "Page 2"]),
        ]
        // the sealable corpus files, with words common in them
        for line in try String(contentsOf: TestSupport.corpusDir.appendingPathComponent("expected.tsv"), encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count > 3, f[2] != "reject", f[3].isEmpty else { continue }
            files.append((TestSupport.corpusDir.appendingPathComponent(String(f[0])), ["e", "the", "Signature", "发票"]))
        }
        var compared = 0, found = 0
        for (url, texts) in files {
            guard let doc = try? PDFDocument(url: url), doc.pageCount <= 60, let poppler = try? PopplerFile(url: url) else { continue }
            let infos = doc.pages.map { p in
                PageInfo(geometry: PageGeometry(crop: Box(p.cropBox.llx, p.cropBox.lly, p.cropBox.urx, p.cropBox.ury), rotation: p.rotate), signatureWidgets: [])
            }
            // poppler's hits per (page, text), read once: the engine and the old full scan choose from the same hits
            var hitCache: [String: [Box]] = [:]
            func hits(_ p: Int, _ t: String) throws -> [Box] {
                if let h = hitCache["\(p)\u{0}\(t)"] { return h }
                let h = try poppler.find(t, page: p, geometry: infos[p].geometry)
                hitCache["\(p)\u{0}\(t)"] = h
                return h
            }
            let engine = PlacementEngine(pages: infos, sealWidth: 100, sealHeight: 100, fileName: url.lastPathComponent) { p, t in try hits(p, t) }
            for text in texts {
                for occurrence in [1, 2, 3, -1, -2, -3] {
                    for window in [SearchWindow.all, .first(2), .last(2)] {
                        let ours = try engine.findAnchor(AnchorSpec(text: text, occurrence: occurrence, pages: window))
                        let old = try Self.fullScan(pageCount: infos.count, hits, text, occurrence: occurrence, window: window)
                        #expect(ours?.0 == old?.0 && ours?.1 == old?.1, "\(url.lastPathComponent) \"\(text)\" occurrence \(occurrence) \(window)")
                        compared += 1
                        if old != nil { found += 1 }
                    }
                }
            }
        }
        #expect(compared > 500 && found > 100, "compared \(compared), found \(found)")
    }
}
