import Foundation
import Testing
import TestSupport
@testable import PDF

private func corpus(_ name: String) -> URL { TestSupport.corpusDir.appendingPathComponent(name) }

/// Builds a small PDF with a classic xref from object bodies (object i+1 = bodies[i]).
func makePDF(_ bodies: [String], root: Int = 1, extraTrailer: String = "", header: String = "%PDF-1.7\n") -> [UInt8] {
    var out = Array(header.utf8)
    var offs: [Int] = []
    for (i, b) in bodies.enumerated() {
        offs.append(out.count)
        out += Array("\(i + 1) 0 obj\n\(b)\nendobj\n".utf8)
    }
    let x = out.count
    out += Array("xref\n0 \(bodies.count + 1)\n0000000000 65535 f \n".utf8)
    for o in offs { out += Array((String(format: "%010d", o) + " 00000 n \n").utf8) }
    out += Array("trailer\n<</Size \(bodies.count + 1)/Root \(root) 0 R\(extraTrailer)>>\nstartxref\n\(x)\n%%EOF\n".utf8)
    return out
}

@Suite struct EdgeCaseTests {
    @Test func hybridFileFindsObjectOnlyInXRefStm() throws {
        let doc = try PDFDocument(url: corpus("hybrid-xref-hidden-object-pyhanko.pdf"))
        #expect(doc.lastXRefKind == .hybrid)
        #expect(doc.info.title == "TestTest")
    }

    @Test func dualStartxrefUsesTheLastOneAndChainsToIt() throws {
        let doc = try PDFDocument(url: corpus("dual-startxref-use-last-safedocs.pdf"))
        #expect(doc.startxref == 1138)
        let text = String(decoding: try doc.contentData(of: doc.pages[0]), as: UTF8.self)
        #expect(text.contains("Second startxref"))
        let tmp = try TestSupport.tempDir("pdf-edge"); defer { try? FileManager.default.removeItem(at: tmp) }
        let up = try IncrementalUpdate(document: doc)
        up.add(.integer(1))
        let out = tmp.appendingPathComponent("o.pdf")
        try up.write(to: out)
        let again = try PDFDocument(url: out)
        #expect(again.sections[0].trailer.int("Prev") == 1138)
    }

    @Test func freedThenReusedObjectNumberResolvesToTheNewGeneration() throws {
        let doc = try PDFDocument(url: corpus("incremental-free-then-reuse-objnum-qpdf.pdf"))
        #expect(doc.revisions.count == 3)
        guard case .inFile(_, let gen)? = doc.xref[4] else { Issue.record("object 4 not in use"); return }
        #expect(gen == 1)
        #expect(!doc.resolve(ObjectRef(4, 1)).isNull)
        #expect(doc.resolve(ObjectRef(4, 0)).isNull)
    }

    @Test func xrefStreamThatReusesItsOwnNumberIsRead() throws {
        let doc = try PDFDocument(url: corpus("incremental-xrefstream-reuses-own-objnum-qpdf.pdf"))
        #expect(doc.sections.count == 2)
        #expect(doc.pages.count == 1)
        #expect(doc.version == "2.0")
    }

    @Test func junkBeforeHeaderKeepsOffsetsRelativeToTheHeader() throws {
        let doc = try PDFDocument(url: corpus("pdf20-offset-start-junk-before-header-pdfassoc.pdf"))
        #expect(doc.headerOffset == 656)
        #expect(doc.warnings.map(\.kind) == [.junkBeforeHeader])
        let tmp = try TestSupport.tempDir("pdf-edge"); defer { try? FileManager.default.removeItem(at: tmp) }
        let up = try IncrementalUpdate(document: doc)
        up.add(.integer(7))
        let out = tmp.appendingPathComponent("o.pdf")
        try up.write(to: out)
        let again = try PDFDocument(url: out)
        #expect(again.sections[0].trailer.int("Prev") == 4248)
        #expect(again.warnings.map(\.kind) == [.junkBeforeHeader])
        #expect(again.startxref! + 656 == again.sections[0].offset)
    }

    @Test func objectNumbersNearInt32MaxAreIgnoredNotAllocated() throws {
        var pdf = makePDF(["<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>", "<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>"])
        // A cross-reference stream-less file that claims a huge subsection must not allocate it.
        let text = String(decoding: pdf, as: UTF8.self).replacingOccurrences(of: "xref\n0 4", with: "xref\n0 4")
        pdf = Array(text.utf8)
        let doc = try PDFDocument(bytes: pdf)
        #expect(doc.pages.count == 1)
        // Now a bogus subsection header with 2^31 entries.
        let huge = Array(String(decoding: pdf, as: UTF8.self).replacingOccurrences(of: "xref\n0 4", with: "xref\n2147483640 2147483647").utf8)
        do {
            let d = try PDFDocument(bytes: huge)
            #expect(!d.warnings.isEmpty)
        } catch let e as PDFError { #expect(e.code == .damaged || e.code == .truncated) }
        // Repair scan of a file holding `2147483647 0 obj`: the object is ignored with a warning.
        var scanned = Array("%PDF-1.7\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n".utf8)
        scanned += Array("3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>> endobj\n2147483647 0 obj <</Root 1 0 R>> endobj\n".utf8)
        scanned += Array("trailer <</Root 1 0 R/Size 4>>\n%%EOF\n".utf8)
        let d3 = try PDFDocument(bytes: scanned)
        #expect(d3.pages.count == 1)
        #expect(d3.warnings.contains { $0.kind == .objectNumberOutOfRange })
        #expect(d3.size == 4)
    }

    @Test func rejectsIntMaxObjectFileWithoutXrefClearly() {
        #expect {
            _ = try PDFDocument(url: corpus("damaged-intmax-objnum-no-xref-pdfjs.pdf"))
        } throws: { e in
            guard let e = e as? PDFError else { return false }
            return (e.code == .truncated || e.code == .damaged) && e.file == "damaged-intmax-objnum-no-xref-pdfjs.pdf"
        }
    }

    @Test func everyPrefixOfARealFileEitherParsesOrFailsCleanly() throws {
        let bytes = [UInt8](try Data(contentsOf: corpus("signed-twice-xrefstream-pyhanko.pdf")))
        var rejected = 0
        for cut in stride(from: 0, to: bytes.count, by: 997) {
            do { let d = try PDFDocument(bytes: Array(bytes[0..<cut])); _ = d.pages; _ = d.signatureFields; _ = d.revisions }
            catch let e as PDFError { rejected += 1; #expect(!e.message.isEmpty) }
        }
        #expect(rejected > 0)
    }

    @Test func lexerHandlesCompactedSyntaxAndEscapes() throws {
        let src = Array("<</A[1 2.5 -.5 +3]/B(a\\(b\\)\\n\\101\\\r\nc)/C<48 65 6C6>/D/N#20x/E true/F null/G 5 0 R>>".utf8)
        var p = Parser(src.withUnsafeBytes { ByteSource(bytes: $0) }, at: 0)
        let o = try p.parseObject()
        let d = try #require(o.dictionaryValue)
        #expect(d["A"] == [1, 2.5, -0.5, 3])
        #expect(d["B"]?.stringValue?.bytes == Array("a(b)\nAc".utf8))
        #expect(d["C"]?.stringValue?.bytes == [0x48, 0x65, 0x6C, 0x60])
        #expect(d["D"]?.nameValue == PDFName("N x"))
        #expect(d["E"] == .bool(true))
        #expect(d["F"] == nil)
        #expect(d["G"] == .reference(ObjectRef(5, 0)))
        // Round trip through the serializer.
        var p2 = Parser(o.serialized().withUnsafeBytes { ByteSource(bytes: $0) }, at: 0)
        #expect(try p2.parseObject() == o)
    }

    @Test func wrongStreamLengthIsRepairedWithAWarning() throws {
        let pdf = makePDF(["<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R]/Count 1>>",
                           "<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]/Contents 4 0 R>>",
                           "<</Length 999>>\nstream\nBT ET\nendstream"])
        let doc = try PDFDocument(bytes: pdf)
        #expect(try doc.contentData(of: doc.pages[0]) == Array("BT ET".utf8))
        #expect(doc.warnings.contains { $0.kind == .streamLengthRepaired })
    }

    @Test func pageTreeLoopIsReportedNotFollowed() throws {
        let pdf = makePDF(["<</Type/Catalog/Pages 2 0 R>>", "<</Type/Pages/Kids[3 0 R 2 0 R]/Count 1>>",
                           "<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>"])
        let doc = try PDFDocument(bytes: pdf)
        #expect(doc.pages.count == 1)
        #expect(doc.warnings.contains { $0.kind == .pageTree })
    }

    @Test func inheritedAttributesComeFromTheNearestAncestor() throws {
        let doc = try PDFDocument(url: corpus("pagetree-inherited-attrs-nested-qpdf.pdf"))
        let pages = doc.pages
        #expect(pages.count == 5)
        #expect(pages.allSatisfy { !$0.resources.isEmpty })
        #expect(Set(pages.map(\.rotate)).count >= 2)
    }

    @Test func notAPDFAndEmptyFilesAreRejectedWithSpecificCodes() {
        #expect(throws: PDFError(.notAPDF, "the file is empty (0 bytes), not a PDF")) { _ = try PDFDocument(bytes: []) }
        do { _ = try PDFDocument(bytes: Array("GIF89a....".utf8)); Issue.record("accepted a GIF") }
        catch let e as PDFError { #expect(e.code == .notAPDF); #expect(e.offset == 0) } catch { Issue.record("\(error)") }
    }
}

@Suite struct InfoTests {
    @Test func readsTheXMPTitleWhenThereIsNoInfoDictionary() throws {
        let doc = try PDFDocument(url: TestSupport.corpusDir.appendingPathComponent("pdf20-incremental-save-pdfassoc.pdf"))
        #expect(doc.info.title == nil)
        #expect(doc.info.xmpTitle == "A simple PDF 2.0 example file")
    }

    @Test func decodesUTF16AndPDFDocEncodedTextStrings() {
        #expect(PDFString(bytes: [0xFE, 0xFF, 0x75, 0x32, 0x65, 0xB9]).text == "甲方")
        #expect(PDFString(bytes: [0x80, 0x41]).text == "•A")
        #expect(PDFString(text: "印章").bytes.prefix(2) == [0xFE, 0xFF])
        #expect(PDFString(text: "Seal").bytes == Array("Seal".utf8))
    }
}
