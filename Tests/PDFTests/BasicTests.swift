import Foundation
import Testing
import TestSupport
@testable import PDF

@Suite struct BasicTests {
    let corpus = TestSupport.corpusDir

    @Test func readsClassicMinimalFile() throws {
        let doc = try PDFDocument(url: corpus.appendingPathComponent("xref-classic-minimal-pyhanko.pdf"))
        #expect(doc.version == "1.7")
        #expect(doc.lastXRefKind == .table)
        let pages = doc.pages
        #expect(pages.count == 1)
        #expect(pages[0].mediaBox == PDFRect(0, 0, 300, 144))
        #expect(doc.warnings.isEmpty)
        #expect(doc.revisions.count == 1)
        #expect(doc.revisions[0].endIncludingEOL == doc.fileSize)
        let content = try doc.contentData(of: pages[0])
        #expect(String(decoding: content, as: UTF8.self).contains("Hello World"))
    }

    @Test func serializesObjectsCanonically() {
        let d: PDFObject = .dictionary(["Type": .name("Sig"), "ByteRange": [0, 1, 2, 3], "M": .string(Array("a(b)".utf8)), "X": .reference(ObjectRef(4, 0))])
        #expect(String(decoding: d.serialized(), as: UTF8.self) == "<</Type/Sig/ByteRange[0 1 2 3]/M(a\\(b\\))/X 4 0 R>>")
        #expect(String(decoding: PDFObject.real(0.5).serialized(), as: UTF8.self) == "0.5")
        #expect(String(decoding: PDFObject.name(PDFName("A B")).serialized(), as: UTF8.self) == "/A#20B")
    }

    @Test func appendsUpdateThatQpdfAccepts() throws {
        guard try TestSupport.haveTool("qpdf") else { return }
        let tmp = try TestSupport.tempDir("pdf-basic")
        defer { try? FileManager.default.removeItem(at: tmp) }
        for name in ["xref-classic-minimal-pyhanko.pdf", "xrefstream-minimal-pyhanko.pdf"] {
            let input = corpus.appendingPathComponent(name)
            let doc = try PDFDocument(url: input)
            let up = try IncrementalUpdate(document: doc)
            let infoRef = up.add(.dictionary(["Title": .text("sealed")]))
            _ = infoRef
            let out = tmp.appendingPathComponent(name)
            try up.write(to: out)
            let original = try Data(contentsOf: input)
            let written = try Data(contentsOf: out)
            #expect(written.prefix(original.count) == original)
            let r = try TestSupport.run("qpdf", ["--check", out.path])
            #expect(r.status == 0, "\(name): \(r.out) \(r.err)")
            let again = try PDFDocument(url: out)
            #expect(again.pages.count == 1)
            #expect(again.revisions.count == doc.revisions.count + 1)
            #expect(again.lastXRefKind == doc.lastXRefKind)
        }
    }

    @Test func reservesAndFillsSignatureHole() throws {
        let tmp = try TestSupport.tempDir("pdf-basic")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let doc = try PDFDocument(url: corpus.appendingPathComponent("xref-classic-minimal-pyhanko.pdf"))
        let up = try IncrementalUpdate(document: doc)
        _ = up.add(.dictionary(["Type": .name("Sig"), "Filter": .name("Adobe.PPKLite"), "SubFilter": .name("ETSI.CAdES.detached"),
                                "ByteRange": .byteRangePlaceholder, "Contents": .contentsPlaceholder(byteCount: 64)]))
        let out = tmp.appendingPathComponent("sig.pdf")
        let hole = try #require(try up.write(to: out))
        #expect(hole.byteRange[0] == 0)
        #expect(hole.byteRange[2] + hole.byteRange[3] == hole.fileSize)
        #expect(hole.capacity == 64)
        try hole.fill(file: out, contents: [0x30, 0x82, 0x01, 0x02])
        let bytes = [UInt8](try Data(contentsOf: out))
        #expect(Array(bytes[hole.contentsOffset..<(hole.contentsOffset + 9)]) == Array("<30820102".utf8))
        #expect(throws: PDFError.self) { try hole.fill(file: out, contents: [UInt8](repeating: 1, count: 65)) }
        let d1 = try ByteRange.digest(file: out, ranges: hole.byteRange)
        var joined = Array(bytes[0..<hole.byteRange[1]]); joined += bytes[hole.byteRange[2]...]
        #expect(d1 == SHA256.hash(joined))
        let reread = try PDFDocument(url: out)
        #expect(reread.coverage(of: hole.byteRange) == .wholeFile)
    }
}
