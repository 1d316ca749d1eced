import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

/// Repairable inputs (issue #14 item 7): a seal over a damaged file is never silent — the seal's warnings (which
/// the sign stage copies into the receipt) say what was repaired, and that the cross-reference data was rebuilt;
/// a page without /MediaBox says which size was assumed. Intact inputs get no such warning.
@Suite("Sealing repaired inputs")
struct SealerRepairTests {
    func seal(_ name: String) async throws -> SealResult {
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = SealerTests.corpus(name)
        var o = SealerTests.options()
        o.appearance = CorpusTableTests.appearance(try PDFDocument(url: input))
        return try await PAdESSealer().seal(input: input, output: dir.appendingPathComponent(name), key: try pki.key(), options: o)
    }

    @Test(arguments: ["damaged-prev-loop-qpdf.pdf", "damaged-xref-entry-widths-malformed-qpdf.pdf", "damaged-trailer-garbled-qpdf.pdf",
                      "pdf20-offset-start-junk-before-header-pdfassoc.pdf"])
    func repairedInputSaysSoInTheSealsWarnings(name: String) async throws {
        let doc = try PDFDocument(url: SealerTests.corpus(name))
        let res = try await seal(name)
        let w = res.warnings.first { $0.contains("was repaired to be read") }
        #expect(w != nil, "\(name): \(res.warnings)")
        #expect(doc.wasReconstructed == (w?.contains("cross-reference data was rebuilt") == true), "\(name): \(w ?? "-")")
    }

    @Test func pageWithoutMediaBoxSaysWhichSizeWasAssumed() async throws {
        let res = try await seal("page-no-mediabox-pyhanko.pdf")
        #expect(res.warnings.contains { $0.contains("no /MediaBox") && $0.contains("612×792") }, "\(res.warnings)")
    }

    @Test func intactInputHasNoReadingWarning() async throws {
        let res = try await seal("xref-classic-minimal-pyhanko.pdf")
        #expect(res.warnings.isEmpty, "\(res.warnings)")
    }
}
