import Foundation
import Testing
import TestSupport
@testable import PDF

private func corpus(_ name: String) -> URL { TestSupport.corpusDir.appendingPathComponent(name) }

@Suite struct WriterTests {
    /// Adds an empty signature field with a widget on page 1 and a signature dictionary with holes.
    func addSignature(_ up: IncrementalUpdate, _ doc: PDFDocument, name: String, bytes: Int = 4096) -> ObjectRef {
        let sig = up.add(.dictionary(["Type": .name("Sig"), "Filter": .name("Adobe.PPKLite"), "SubFilter": .name("ETSI.CAdES.detached"),
                                      "ByteRange": .byteRangePlaceholder, "Contents": .contentsPlaceholder(byteCount: bytes),
                                      "M": .string(Array("D:20261125120000Z".utf8))]))
        let page = doc.pages[0]
        let field = up.add(.dictionary(["FT": .name("Sig"), "T": .text(name), "V": .reference(sig), "Type": .name("Annot"),
                                        "Subtype": .name("Widget"), "Rect": [0, 0, 0, 0], "F": 132, "P": .reference(page.ref)]))
        var pd = page.dictionary
        var annots = doc.resolve(pd["Annots"] ?? .null).arrayValue ?? []
        annots.append(.reference(field))
        pd["Annots"] = .array(annots)
        up.replace(page.ref, with: .dictionary(pd))
        var cat = doc.catalog
        var form = doc.acroForm ?? PDFDictionary()
        var fields = doc.resolve(form["Fields"] ?? .null).arrayValue ?? []
        fields.append(.reference(field))
        form["Fields"] = .array(fields)
        form["SigFlags"] = 3
        if let formRef = doc.catalog["AcroForm"]?.referenceValue { up.replace(formRef, with: .dictionary(form)) }
        else { cat["AcroForm"] = .dictionary(form) }
        up.replace(doc.catalogRef!, with: .dictionary(cat))
        return sig
    }

    @Test(arguments: ["xref-classic-minimal-pyhanko.pdf", "xrefstream-minimal-pyhanko.pdf", "acroform-two-empty-sigfields-pyhanko.pdf",
                      "signed-twice-xrefstream-pyhanko.pdf", "pdf20-offset-start-junk-before-header-pdfassoc.pdf"])
    func signatureHoleRoundTrip(_ name: String) throws {
        let tmp = try TestSupport.tempDir("pdf-writer"); defer { try? FileManager.default.removeItem(at: tmp) }
        let doc = try PDFDocument(url: corpus(name))
        let up = try IncrementalUpdate(document: doc)
        _ = addSignature(up, doc, name: "Seal1")
        let out = tmp.appendingPathComponent("signed.pdf")
        let hole = try #require(try up.write(to: out))
        let der = [UInt8](repeating: 0xAB, count: 1500)
        try hole.fill(file: out, contents: der)

        let signed = try PDFDocument(url: out)
        let f = try #require(signed.signatureFields.first { $0.name == "Seal1" })
        #expect(f.byteRange == hole.byteRange)
        #expect(f.contentsRange == hole.contentsOffset..<(hole.contentsOffset + hole.contentsLength))
        #expect(Array(f.contents!.prefix(1500)) == der)
        #expect(f.contents!.count == 4096)
        #expect(signed.coverage(of: f) == .wholeFile)
        // Earlier signatures keep their exact bytes and now cover an earlier revision.
        for old in doc.signatureFields where old.isSigned {
            let again = try #require(signed.signatureFields.first { $0.name == old.name })
            #expect(again.contents == old.contents)
            #expect(again.byteRange == old.byteRange)
        }
        if try TestSupport.haveTool("qpdf") {
            let q = try TestSupport.run("qpdf", ["--check", out.path])
            #expect(q.status == 0 || q.status == 3, "\(q.out)\(q.err)")
            #expect(!(q.out + q.err).contains("damaged"))
        }
        if try TestSupport.haveTool("pdfsig") {
            let r = try TestSupport.run("pdfsig", [out.path])
            #expect(r.out.contains("Seal1"), "\(r.out)\(r.err)")
        }
        // Streaming digest equals a digest of the bytes outside the hole.
        let bytes = [UInt8](try Data(contentsOf: out))
        var covered = Array(bytes[0..<hole.byteRange[1]]); covered += bytes[hole.byteRange[2]...]
        #expect(try ByteRange.digest(file: out, ranges: hole.byteRange, algorithm: .sha512) == SHA512.hash(covered))
        #expect(try ByteRange.digest(file: out, ranges: hole.byteRange, algorithm: .sha384) == SHA512.hash(covered, is384: true))
    }

    @Test func importsAFormXObjectWithItsFontsFromAnotherDocument() throws {
        guard try TestSupport.haveTool("qpdf"), try TestSupport.haveTool("pdftotext") else { return }
        let fixtures = FixtureCase.load()
        guard fixtures.contains(where: { $0.file == "pdf-reportlab-mixed.pdf" }) else { return }
        let source = try PDFDocument(url: TestSupport.fixturesDir.appendingPathComponent("pdf-reportlab-mixed.pdf"))
        let target = try PDFDocument(url: corpus("xref-classic-minimal-pyhanko.pdf"))
        let sp = source.pages[0]
        let up = try IncrementalUpdate(document: target)
        // A Form XObject made from the source page: its content, its resources (fonts) deep-copied.
        let resources = up.importObject(.dictionary(sp.resources), from: source)
        let form = PDFStream.flate(dictionary: ["Type": .name("XObject"), "Subtype": .name("Form"), "BBox": sp.mediaBox.object,
                                                "Resources": resources], data: try source.contentData(of: sp))
        let formRef = up.add(.stream(form))
        let tp = target.pages[0]
        var res = tp.resources
        res["XObject"] = .dictionary(["Seal": .reference(formRef)])
        let draw = up.add(.stream(PDFStream(dictionary: [:], rawData: Array("q 0.2 0 0 0.2 0 0 cm /Seal Do Q".utf8))))
        var pd = tp.dictionary
        pd["Resources"] = .dictionary(res)
        let oldContents = pd["Contents"].map { target.resolve($0).arrayValue ?? [$0] } ?? []
        pd["Contents"] = .array(oldContents + [.reference(draw)])
        up.replace(tp.ref, with: .dictionary(pd))
        // Importing the same object again reuses the copies.
        let again = up.importObject(.dictionary(sp.resources), from: source)
        #expect(again == resources)

        let tmp = try TestSupport.tempDir("pdf-writer"); defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("imported.pdf")
        try up.write(to: out)
        let q = try TestSupport.run("qpdf", ["--check", out.path])
        #expect(q.status == 0, "\(q.out)\(q.err)")
        let text = try TestSupport.run("pdftotext", [out.path, "-"])
        #expect(text.out.contains("Page 1: A4 portrait"))
        #expect(text.out.contains("Hello World"))
    }

    @Test func successiveUpdatesChainAndEachKeepsEarlierBytes() throws {
        let tmp = try TestSupport.tempDir("pdf-writer"); defer { try? FileManager.default.removeItem(at: tmp) }
        var current = corpus("objstm-264-objects-per-stream-qpdf.pdf")
        for i in 1...3 {
            let doc = try PDFDocument(url: current)
            let up = try IncrementalUpdate(document: doc)
            up.add(.text("update \(i)"))
            let out = tmp.appendingPathComponent("u\(i).pdf")
            try up.write(to: out)
            let before = try Data(contentsOf: current), after = try Data(contentsOf: out)
            #expect(after.prefix(before.count) == before)
            let reread = try PDFDocument(url: out)
            #expect(reread.sections.count == doc.sections.count + 1)
            #expect(reread.revisions.count == doc.revisions.count + 1)
            #expect(reread.lastXRefKind == .stream)
            #expect(reread.size == doc.size + 2) // the new object and the new xref stream
            #expect(reread.trailer["ID"] == doc.trailer["ID"])
            current = out
        }
        if try TestSupport.haveTool("qpdf") {
            #expect(try TestSupport.run("qpdf", ["--check", current.path]).status == 0)
        }
    }

    @Test func writesAnUpdateToAnEncryptedFileWithItsOwnHandlerAndSignatureContentsInClear() throws {
        let tmp = try TestSupport.tempDir("pdf-writer"); defer { try? FileManager.default.removeItem(at: tmp) }
        let doc = try PDFDocument(url: corpus("encrypted-aes256-r6-emptyuserpw-acrobat-dss.pdf"))
        #expect(doc.encryption?.cipher == "AES-256")
        let up = try IncrementalUpdate(document: doc)
        let sig = up.add(.dictionary(["Type": .name("Sig"), "Name": .text("Clerk 甲"), "ByteRange": .byteRangePlaceholder,
                                      "Contents": .contentsPlaceholder(byteCount: 64)]))
        let out = tmp.appendingPathComponent("enc.pdf")
        let hole = try #require(try up.write(to: out))
        try hole.fill(file: out, contents: Array(repeating: 0xAB, count: 64))
        let again = try PDFDocument(url: out)
        #expect(again.encryption == doc.encryption)
        let d = try #require(again.resolve(sig).dictionaryValue)
        #expect(again.resolve(d["Name"] ?? .null).stringValue?.text == "Clerk 甲")
        // /Contents is not encrypted (ISO 32000-2 §7.6.2): the bytes read back exactly as filled
        #expect(again.resolve(d["Contents"] ?? .null).stringValue?.bytes == Array(repeating: 0xAB, count: 64))
        let raw = try Data(contentsOf: out)
        #expect(raw.range(of: Data(String(repeating: "AB", count: 64).utf8)) != nil)
    }

    @Test func refusesToWriteAnUpdateToAFileThatNeedsAPassword() throws {
        #expect { _ = try PDFDocument(url: corpus("encrypted-aes256-r6-userpw-qpdf.pdf")) } throws: { e in
            (e as? PDFError)?.code == .encrypted(userPasswordRequired: true)
        }
    }

    @Test func aPlaceholderWithoutItsPartnerIsAnError() throws {
        let tmp = try TestSupport.tempDir("pdf-writer"); defer { try? FileManager.default.removeItem(at: tmp) }
        let doc = try PDFDocument(url: corpus("xref-classic-minimal-pyhanko.pdf"))
        let up = try IncrementalUpdate(document: doc)
        up.add(.dictionary(["Contents": .contentsPlaceholder(byteCount: 10)]))
        let out = tmp.appendingPathComponent("x.pdf")
        #expect(throws: PDFError.self) { try up.write(to: out) }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func writesFromInMemoryDocuments() throws {
        let tmp = try TestSupport.tempDir("pdf-writer"); defer { try? FileManager.default.removeItem(at: tmp) }
        let data = try Data(contentsOf: corpus("xref-classic-minimal-pyhanko.pdf"))
        let doc = try PDFDocument(data: data)
        let up = try IncrementalUpdate(document: doc)
        up.add(.null)
        let out = tmp.appendingPathComponent("m.pdf")
        try up.write(to: out)
        #expect(try Data(contentsOf: out).prefix(data.count) == data)
    }
}
