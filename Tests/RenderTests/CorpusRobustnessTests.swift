import Foundation
import PDF
import Testing
@testable import Render
import TestSupport

/// Placement over every third-party PDF of the corpus: a placement, or a clear error — never a crash.
@Suite struct CorpusRobustnessTests {
    static func corpusFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: TestSupport.corpusDir.path).filter { $0.hasSuffix(".pdf") }.sorted()
    }

    @Test func everyCorpusPDFIsPlacedOrRefusedWithACode() throws {
        let spec = PlacementSpec(page: .last, corner: .bottomRight, xMM: 30, yMM: 30,
                                 anchor: AnchorSpec(text: "Signature", fallback: .lastPage), signatureOverlap: .report)
        var crossPage = spec
        crossPage.crossPage = CrossPageSpec()
        var multiPage = 0
        var placed = 0, refused: [String: String] = [:]
        for name in try Self.corpusFiles() {
            let url = TestSupport.corpusDir.appendingPathComponent(name)
            let doc: PDFDocument
            do { doc = try PDFDocument(url: url) } catch { refused[name] = "pdf"; continue }
            do {
                let pages = doc.pages
                if pages.count >= 2 { multiPage += 1 }
                let r = try Placement.resolve(document: doc, fileURL: url, spec: pages.count >= 2 ? crossPage : spec, sealSizeMM: (20, 20))
                #expect(r.widgets.count == (pages.count >= 2 ? 1 + pages.count : 1))
                for w in r.widgets {
                    let c = pages[w.pageIndex].cropBox
                    // Inside the visible page (0.01 pt of rounding).
                    #expect(w.rect.llx >= c.llx - 0.01 && w.rect.lly >= c.lly - 0.01 && w.rect.urx <= c.urx + 0.01 && w.rect.ury <= c.ury + 0.01,
                            "\(name) page \(w.pageIndex + 1): \(w.rect) outside \(c)")
                }
                placed += 1
            } catch let e as RenderError {
                refused[name] = e.code.rawValue
            }
        }
        #expect(placed >= 30 && multiPage >= 5, "placed \(placed) (\(multiPage) with a cross-page seal); refused \(refused)")
        // Refusals are specific: unreadable by the PDF core or poppler (encrypted, damaged), a page too small,
        // or a page without /MediaBox (its size is a guess).
        for (name, code) in refused {
            #expect(["pdf", "document-unreadable", "seal-does-not-fit", "page-size-unknown"].contains(code), "\(name): \(code)")
        }
    }
}
