import Foundation
import Testing
@testable import PDF
@testable import Signing

/// Builds small PDFs and hand-written incremental updates, byte by byte, so each rule of the difference
/// analysis can be shown one change it allows and one it refuses.
struct MiniPDF {
    var bytes: [UInt8]
    var startxref: Int
    var size: Int

    static let xmp = "<?xpacket begin=\"\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?><x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/></x:xmpmeta><?xpacket end=\"w\"?>"

    static func stream(_ dict: String, _ data: String) -> String {
        "<< \(dict) /Length \(data.utf8.count) >>\nstream\n\(data)\nendstream"
    }

    /// The base document: one page with text, a text field with an appearance, a Form XObject the page
    /// draws, XMP metadata, an info dictionary. `overrides` replaces object bodies by number.
    static func base(_ overrides: [Int: String] = [:], trailerExtra: String = "", size: Int = 13) -> MiniPDF {
        var objs = baseObjects()
        for (k, v) in overrides { objs[k] = v }
        return build(objs, trailerExtra: trailerExtra, size: size)
    }

    static func baseObjects() -> [Int: String] {
        [
            1: "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R >>",
            2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R] >>",
            4: stream("", "BT /F1 12 Tf 20 250 Td (Pay 100 EUR) Tj ET q 1 0 0 1 20 150 cm /X1 Do Q"),
            5: "<< /Type /Annot /Subtype /Widget /FT /Tx /T (amount) /V (100) /Rect [20 100 120 120] /P 3 0 R /AP << /N 8 0 R >> /DA (/Helv 10 Tf 0 g) >>",
            6: "<< /Font << /F1 9 0 R >> /XObject << /X1 11 0 R >> >>",
            7: stream("/Type /Metadata /Subtype /XML", xmp),
            8: stream("/Type /XObject /Subtype /Form /BBox [0 0 100 20]", "/Tx BMC BT /Helv 10 Tf 2 5 Td (100) Tj ET EMC"),
            9: "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            10: "<< /Producer (test) /Title (Contract) >>",
            11: stream("/Type /XObject /Subtype /Form /BBox [0 0 100 50]", "0 0 1 rg 0 0 100 50 re f"),
            12: "<< /Type /Annot /Subtype /Text /Rect [250 250 270 270] /Contents (old note) /P 3 0 R >>",
        ]
    }

    static func build(_ objs: [Int: String], trailerExtra: String, size: Int) -> MiniPDF {
        var out = Array("%PDF-1.7\n%\u{e2}\u{e3}\u{cf}\u{d3}\n".utf8)
        var offsets: [Int: Int] = [:]
        for n in objs.keys.sorted() {
            offsets[n] = out.count
            out += Array("\(n) 0 obj\n\(objs[n]!)\nendobj\n".utf8)
        }
        let xref = out.count
        var t = "xref\n0 \(size)\n0000000000 65535 f \n"
        for n in 1..<size {
            if let o = offsets[n] { t += String(format: "%010d 00000 n \n", o) } else { t += "0000000000 00000 f \n" }
        }
        t += "trailer\n<< /Size \(size) /Root 1 0 R /Info 10 0 R \(trailerExtra)>>\nstartxref\n\(xref)\n%%EOF\n"
        out += Array(t.utf8)
        return MiniPDF(bytes: out, startxref: xref, size: size)
    }

    /// Appends an update with a classic cross-reference table. `objects` are (number, generation, body).
    func update(_ objects: [(Int, Int, String)], root: String = "1 0 R", trailerExtra: String = "/Info 10 0 R", freed: [Int] = []) -> MiniPDF {
        var out = bytes
        var offsets: [(Int, Int, Int)] = []
        for (n, g, body) in objects {
            offsets.append((n, g, out.count))
            out += Array("\(n) \(g) obj\n\(body)\nendobj\n".utf8)
        }
        let newSize = max(size, (objects.map(\.0) + freed).max().map { $0 + 1 } ?? size)
        let xref = out.count
        var t = "xref\n"
        for (n, g, o) in offsets { t += "\(n) 1\n" + String(format: "%010d %05d n \n", o, g) }
        for n in freed { t += "\(n) 1\n0000000000 00001 f \n" }
        t += "trailer\n<< /Size \(newSize) /Root \(root) \(trailerExtra) /Prev \(startxref) >>\nstartxref\n\(xref)\n%%EOF\n"
        out += Array(t.utf8)
        return MiniPDF(bytes: out, startxref: xref, size: newSize)
    }

    /// Appends an update whose cross-reference data is a stream (uncompressed, /W [1 4 2]); objects with
    /// `inStream` go into one new object stream `objStm`.
    func xrefStreamUpdate(_ objects: [(Int, String)], compressed: [(Int, String)] = [], objStm: Int? = nil, xrefNumber: Int) -> MiniPDF {
        var out = bytes
        var entries: [Int: (UInt8, Int, Int)] = [:]
        for (n, body) in objects {
            entries[n] = (1, out.count, 0)
            out += Array("\(n) 0 obj\n\(body)\nendobj\n".utf8)
        }
        if let objStm, !compressed.isEmpty {
            var header = "", data = ""
            for (i, (n, body)) in compressed.enumerated() {
                header += "\(n) \(data.utf8.count) "
                data += body + " "
                entries[n] = (2, objStm, i)
            }
            let first = header.utf8.count
            entries[objStm] = (1, out.count, 0)
            out += Array("\(objStm) 0 obj\n<< /Type /ObjStm /N \(compressed.count) /First \(first) /Length \((header + data).utf8.count) >>\nstream\n\(header)\(data)\nendstream\nendobj\n".utf8)
        }
        let xref = out.count
        entries[xrefNumber] = (1, xref, 0)
        let newSize = max(size, (entries.keys.max() ?? 0) + 1)
        var data: [UInt8] = []
        var index = ""
        for n in entries.keys.sorted() {
            let (t, a, b) = entries[n]!
            data += [t, UInt8((a >> 24) & 0xFF), UInt8((a >> 16) & 0xFF), UInt8((a >> 8) & 0xFF), UInt8(a & 0xFF), UInt8((b >> 8) & 0xFF), UInt8(b & 0xFF)]
            index += "\(n) 1 "
        }
        out += Array("\(xrefNumber) 0 obj\n<< /Type /XRef /Size \(newSize) /W [1 4 2] /Index [\(index)] /Root 1 0 R /Info 10 0 R /Prev \(startxref) /Length \(data.count) >>\nstream\n".utf8)
        out += data
        out += Array("\nendstream\nendobj\nstartxref\n\(xref)\n%%EOF\n".utf8)
        return MiniPDF(bytes: out, startxref: xref, size: newSize)
    }

    var document: PDFDocument { get throws { try PDFDocument(bytes: bytes) } }

    /// The difference analysis of everything after revision `signed` (0-based; the first by default).
    func review(docMDP: Int? = nil, signed: Int = 0) throws -> DiffResult {
        let doc = try document
        return try DiffPolicy().review(doc: doc, base: signed, revisionEnds: doc.revisions.map(\.end), docMDP: docMDP, lock: nil)
    }

    /// One rule applied to the first and the last revision.
    func apply(_ rule: any DiffRule) throws -> RuleOutcome {
        let doc = try document
        let revs = doc.revisions
        let old = RevisionView(doc: try doc.prefix(endingAt: revs[0].end), index: 0)
        let new = RevisionView(doc: doc, index: revs.count - 1)
        let written = Set(doc.latestUpdate?.written ?? [])
        let index = try UsageIndex.build(old, targets: written)
        let fresh = Set(written.filter { !old.inUse($0) })
        return try rule.apply(DiffContext(old: old, new: new, fresh: fresh, written: written, index: index))
    }
}

extension RuleOutcome {
    func allows(_ n: Int) -> Bool { updates.contains { $0.1.ref.number == n } }
    func level(_ n: Int) -> ModificationLevel? { updates.filter { $0.1.ref.number == n }.map(\.0).max() }
}

/// Expects the review to refuse the change, with a message containing `words`.
func expectRefused(_ pdf: MiniPDF, docMDP: Int? = nil, signed: Int = 0, _ words: String, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let r = try pdf.review(docMDP: docMDP, signed: signed)
        Issue.record("allowed at level \(r.level.rawValue) (\(r.notes)), expected a refusal mentioning \"\(words)\"", sourceLocation: sourceLocation)
    } catch let e as SuspiciousModification {
        #expect(e.message.contains(words), "refusal was: \(e.message)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("Difference analysis rules") struct DiffRuleTests {
    let base = MiniPDF.base()

    // MARK: Catalog

    @Test func catalogRuleAllowsTheSameEntriesInAnotherOrderAndANewVersion() throws {
        let up = base.update([(1, 0, "<<  /Metadata 7 0 R\n/AcroForm<</DA(/Helv 0 Tf 0 g)/Fields[5 0 R]>>/Version /2.0 /Type/Catalog /Pages 2 0 R>>")])
        #expect(try up.apply(CatalogRule()).level(1) == .signaturesAndDSS)
        #expect(try up.review().level == .signaturesAndDSS)
    }

    @Test func catalogRuleRefusesANewCatalogWithANewPageTree() throws {
        let up = base.update([
            (13, 0, "<< /Type /Catalog /Pages 14 0 R >>"),
            (14, 0, "<< /Type /Pages /Kids [15 0 R] /Count 1 >>"),
            (15, 0, "<< /Type /Page /Parent 14 0 R /MediaBox [0 0 300 300] /Contents 16 0 R >>"),
            (16, 0, MiniPDF.stream("", "BT /F1 12 Tf 20 250 Td (Pay 999 EUR) Tj ET")),
        ], root: "13 0 R")
        #expect(throws: SuspiciousModification.self) { try up.apply(CatalogRule()) }
        expectRefused(up, "catalog")
    }

    @Test func catalogRuleRefusesARootPointedAtAnExistingObject() throws {
        let up = base.update([(13, 0, "<< /Foo 1 >>")], root: "10 0 R")
        #expect(throws: SuspiciousModification.self) { try up.apply(CatalogRule()) }
    }

    @Test func catalogRuleRefusesANewOpenActionAndAnOptionalContentSwitch() throws {
        expectRefused(base.update([(1, 0, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R /OpenAction [3 0 R /Fit] >>")]), "/OpenAction")
        let ocg = MiniPDF.base([1: "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R /OCProperties << /OCGs [12 0 R] /D << /OFF [12 0 R] >> >> >>"])
        expectRefused(ocg.update([(1, 0, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R /OCProperties << /OCGs [12 0 R] /D << /ON [12 0 R] >> >> >>")]), "/OCProperties")
    }

    // MARK: Info

    @Test func docInfoRuleAllowsAnUpdatedInfoDictionary() throws {
        let up = base.update([(10, 0, "<< /Producer (sealbatch) /Title (Contract) /ModDate (D:20261203) >>")])
        #expect(try up.apply(DocInfoRule()).allows(10))
        #expect(try up.review().level == .signaturesAndDSS)
    }

    @Test func docInfoRuleRefusesAStreamAndTheInfoDictionaryThatIsAlsoPageResources() throws {
        let streamInfo = base.update([(13, 0, MiniPDF.stream("", "x"))], trailerExtra: "/Info 13 0 R")
        #expect(throws: SuspiciousModification.self) { try streamInfo.apply(DocInfoRule()) }
        // /Info is the page's /Resources: rewriting it as "document information" changes the page's fonts.
        let shared = MiniPDF.base(trailerExtra: "", size: 13)
        var b = shared
        b.bytes = Array(String(decoding: b.bytes, as: UTF8.self).replacingOccurrences(of: "/Info 10 0 R", with: "/Info 6 0 R").utf8)
        let up = b.update([(6, 0, "<< /Font << /F1 9 0 R >> /XObject << /X1 8 0 R >> >>")], trailerExtra: "/Info 6 0 R")
        #expect(try up.apply(DocInfoRule()).allows(6))
        expectRefused(up, "used in the signed revision by object 3/Resources")
    }

    // MARK: Cross-reference and object streams

    @Test func xrefAndObjectStreamRulesAllowNewStreamsOnly() throws {
        let up = base.xrefStreamUpdate([(10, "<< /Producer (x) >>")], compressed: [(13, "<< /Orphan true >>")], objStm: 14, xrefNumber: 15)
        #expect(try up.apply(XRefStreamRule()).allows(15))
        #expect(try up.apply(ObjectStreamRule()).allows(14))
        #expect(try up.review().level == .signaturesAndDSS)
        // An object stream that takes the number of a signed object (the page's content) replaces it.
        let clobber = base.xrefStreamUpdate([], compressed: [(13, "<< /A 1 >>")], objStm: 4, xrefNumber: 15)
        #expect(try !clobber.apply(ObjectStreamRule()).allows(4))
        expectRefused(clobber, "object 4")
    }

    // MARK: DSS

    @Test func dssRuleAllowsValidationDataStreams() throws {
        let up = base.update([
            (1, 0, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R /DSS 13 0 R >>"),
            (13, 0, "<< /Type /DSS /Certs [14 0 R] /VRI << /0123456789ABCDEF0123456789ABCDEF01234567 << /Cert [14 0 R] >> >> >>"),
            (14, 0, "<< /Length 4 >>\nstream\n0\u{1}\u{2}\u{3}\nendstream"),
        ])
        let out = try up.apply(DSSRule())
        #expect(out.allows(13) && out.allows(14))
        #expect(try up.review().level == .signaturesAndDSS)
    }

    @Test func dssRuleRefusesAVRIEntryThatIsAPageAndAFormXObjectAsACertificate() throws {
        let pageAsVRI = base.update([
            (1, 0, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R /DSS 13 0 R >>"),
            (13, 0, "<< /VRI << /0123456789ABCDEF0123456789ABCDEF01234567 3 0 R >> >>"),
            (3, 0, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 14 0 R /Resources 6 0 R /Annots [5 0 R] >>"),
            (14, 0, MiniPDF.stream("", "BT /F1 12 Tf 20 250 Td (Pay 999 EUR) Tj ET")),
        ])
        #expect(throws: SuspiciousModification.self) { try pageAsVRI.apply(DSSRule()) }
        expectRefused(pageAsVRI, "VRI")
        let formAsCert = base.update([
            (1, 0, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R /DSS << /Certs [11 0 R] >> >>"),
            (11, 0, MiniPDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 100 50]", "1 1 1 rg 0 0 100 50 re f")),
        ])
        #expect(throws: SuspiciousModification.self) { try formAsCert.apply(DSSRule()) }
    }

    // MARK: Metadata

    @Test func metadataRuleAllowsTheCatalogsXMPAndRefusesAnotherStreamCallingItselfMetadata() throws {
        let up = base.update([(7, 0, MiniPDF.stream("/Type /Metadata /Subtype /XML", MiniPDF.xmp.replacingOccurrences(of: "/>", with: "></rdf:RDF>").replacingOccurrences(of: "</rdf:RDF></x:xmpmeta>", with: "</rdf:RDF></x:xmpmeta>")))])
        #expect(try up.apply(MetadataRule()).allows(7))
        #expect(try up.review().level == .signaturesAndDSS)
        let notXMP = base.update([(7, 0, MiniPDF.stream("/Type /Metadata /Subtype /XML", "BT (hello) Tj ET"))])
        #expect(throws: SuspiciousModification.self) { try notXMP.apply(MetadataRule()) }
        // The page's content stream says it is XMP metadata: the exemption follows the catalog's use only.
        let disguised = MiniPDF.base([4: MiniPDF.stream("/Type /Metadata /Subtype /XML", "BT /F1 12 Tf 20 250 Td (Pay 100 EUR) Tj ET")])
        let up2 = disguised.update([(4, 0, MiniPDF.stream("/Type /Metadata /Subtype /XML", "BT /F1 12 Tf 20 250 Td (Pay 999 EUR) Tj ET"))])
        #expect(try !up2.apply(MetadataRule()).allows(4))
        expectRefused(up2, "object 4")
    }

    // MARK: Forms

    @Test func formRuleAllowsFillingAFieldAndRefusesMovingIt() throws {
        let fill = base.update([
            (5, 0, "<< /Type /Annot /Subtype /Widget /FT /Tx /T (amount) /V (250) /Rect [20 100 120 120] /P 3 0 R /AP << /N 13 0 R >> /DA (/Helv 10 Tf 0 g) >>"),
            (13, 0, MiniPDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 100 20]", "/Tx BMC BT /Helv 10 Tf 2 5 Td (250) Tj ET EMC")),
        ])
        let out = try fill.apply(FormRule())
        #expect(out.level(5) == .formFilling && out.allows(13))
        #expect(try fill.review().level == .formFilling)
        let moved = base.update([(5, 0, "<< /Type /Annot /Subtype /Widget /FT /Tx /T (amount) /V (100) /Rect [0 0 300 300] /P 3 0 R /AP << /N 8 0 R >> /DA (/Helv 10 Tf 0 g) >>")])
        #expect(throws: SuspiciousModification.self) { try moved.apply(FormRule()) }
    }

    /// The amount field (object 5) as a form filler writes it: value `v`, normal appearance `ap`, extra entries.
    static func amountField(_ v: String, ap: Int, extra: String = "") -> String {
        "<< /Type /Annot /Subtype /Widget /FT /Tx /T (amount) /V (\(v)) /Rect [20 100 120 120] /P 3 0 R /AP << /N \(ap) 0 R >> /DA (/Helv 10 Tf 0 g) \(extra)>>"
    }
    static func amountAppearance(_ text: String) -> String {
        MiniPDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 100 20]", "/Tx BMC BT /Helv 10 Tf 2 5 Td (\(text)) Tj ET EMC")
    }

    @Test func formRuleAllowsAnAppearanceThatChangesWithTheValueAndRefusesOneThatChangesAlone() throws {
        // Value and a new appearance stream in one update: form filling.
        let filled = base.update([(5, 0, Self.amountField("250", ap: 13)), (13, 0, Self.amountAppearance("250"))])
        #expect(try filled.review().level == .formFilling)
        // The same new appearance stream, the value left at 100: what the page shows is no longer the form's value.
        let replaced = base.update([(5, 0, Self.amountField("100", ap: 13)), (13, 0, Self.amountAppearance("250"))])
        #expect(throws: SuspiciousModification.self) { try replaced.apply(FormRule()) }
        expectRefused(replaced, "form field \"amount\": its appearance (/AP) changed but its value did not")
        // An appearance regenerated with the same content is not a change.
        let regenerated = base.update([(5, 0, Self.amountField("100", ap: 13)), (13, 0, Self.amountAppearance("100"))])
        #expect(try regenerated.review().level == .formFilling)
        // Hiding the field (/F 2) without filling it in.
        expectRefused(base.update([(5, 0, Self.amountField("100", ap: 8, extra: "/F 2 "))]), "its visibility (/F) changed but its value did not")
    }

    @Test func formRuleAllowsAnInPlaceRedrawWithTheValueAndRefusesItAlone() throws {
        // Signed revision 1 (its update does not write the appearance stream, so pyHanko's in-place rule applies).
        let signedRev = base.update([(10, 0, "<< /Producer (test) /Title (Contract) /ModDate (D:20261203) >>")])
        let filledInPlace = signedRev.update([(5, 0, Self.amountField("250", ap: 8)), (8, 0, Self.amountAppearance("250"))])
        #expect(try filledInPlace.review(signed: 1).level == .formFilling)
        // Only the stream redrawn ("PAID"), the field untouched: the attack corpus's field-appearance-changed rows.
        let redrawn = signedRev.update([(8, 0, Self.amountAppearance("PAID"))])
        expectRefused(redrawn, signed: 1, "form field \"amount\": its appearance (/AP) changed but its value did not")
        // Filled in one update, redrawn in the next with the value kept: the earlier fill does not cover the redraw.
        let redrawnLater = filledInPlace.update([(8, 0, Self.amountAppearance("PAID"))])
        expectRefused(redrawnLater, signed: 1, "its appearance (/AP) changed but its value did not")
        // ...but a later update that leaves the filled field alone is fine.
        let thenInfo = filledInPlace.update([(10, 0, "<< /Producer (test) /Title (Contract 2) >>")])
        #expect(try thenInfo.review(signed: 1).level == .formFilling)
    }

    @Test func formRuleRefusesANewTextFieldAsFormFilling() throws {
        let up = base.update([
            (1, 0, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 13 0 R] /DA (/Helv 0 Tf 0 g) >> /Metadata 7 0 R >>"),
            (3, 0, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R 13 0 R] >>"),
            (13, 0, "<< /Type /Annot /Subtype /Widget /FT /Tx /T (overlay) /V (999) /Rect [20 240 200 270] /P 3 0 R /AP << /N 14 0 R >> >>"),
            (14, 0, MiniPDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 180 30]", "1 1 1 rg 0 0 180 30 re f BT /Helv 12 Tf 0 g 2 8 Td (Pay 999 EUR) Tj ET")),
        ])
        #expect(throws: SuspiciousModification.self) { try up.apply(FormRule()) }
        expectRefused(up, "not signature fields")
    }

    /// A signature added into a new invisible field, the way pyHanko and sealbatch sign.
    func signed(visible: Bool, value: Bool = true, appearance: String = "") -> MiniPDF {
        let rect = visible ? "[150 20 250 70]" : "[0 0 0 0]"
        var objs: [(Int, Int, String)] = [
            (1, 0, "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 13 0 R] /DA (/Helv 0 Tf 0 g) /SigFlags 3 >> /Metadata 7 0 R >>"),
            (3, 0, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R 13 0 R] >>"),
            (13, 0, "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Seal) \(value ? "/V 14 0 R" : "") /F 132 /Rect \(rect) /P 3 0 R \(appearance.isEmpty ? "" : "/AP << /N 15 0 R >>") >>"),
        ]
        if value { objs.append((14, 0, "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 0 0 0] /Contents <00> >>")) }
        if !appearance.isEmpty { objs.append((15, 0, MiniPDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 100 50]", appearance))) }
        return base.update(objs)
    }

    @Test func signatureFieldRulesAllowANewSignatureAndLevelItAsFormFilling() throws {
        let up = signed(visible: false)
        let out = try up.apply(FormRule())
        #expect(out.level(13) == .signaturesAndDSS && out.level(14) == .formFilling && out.allows(3))
        #expect(try up.review().level == .formFilling)
        // A visible seal is fine after an approval signature, but not after a certification (pyHanko's rule).
        let visible = signed(visible: true, appearance: "1 0 0 rg 50 25 20 0 360 re f")
        #expect(try visible.review().level == .formFilling)
        expectRefused(visible, docMDP: 2, "only be added after an approval signature")
    }

    @Test func signatureFieldRuleRefusesAnEmptyFieldThatDrawsOverThePage() throws {
        let empty = signed(visible: true, value: false)
        #expect(try empty.review().level == .formFilling)
        let sneaky = signed(visible: true, value: false, appearance: "1 1 1 rg 0 0 100 50 re f BT /Helv 12 Tf 0 g 2 20 Td (Pay 999 EUR) Tj ET")
        #expect(throws: SuspiciousModification.self) { try sneaky.apply(FormRule()) }
    }

    @Test func signingAnExistingEmptyFieldIsAllowedButReplacingASignatureIsNot() throws {
        let withField = MiniPDF.base([
            1: "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R 13 0 R] /SigFlags 3 >> /Metadata 7 0 R >>",
            3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R 13 0 R] >>",
        ], size: 15).update([(13, 0, "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Seal) /Rect [150 20 250 70] /P 3 0 R >>")])
        // (the field is created in revision 2; the check below is from revision 2 on)
        let doc = try withField.document
        #expect(doc.revisions.count == 2)
        let signedIt = withField.update([
            (13, 0, "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Seal) /V 14 0 R /Rect [150 20 250 70] /P 3 0 R /AP << /N 15 0 R >> >>"),
            (14, 0, "<< /Type /Sig /ByteRange [0 0 0 0] /Contents <00> >>"),
            (15, 0, MiniPDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 100 50]", "1 0 0 rg 50 25 20 0 360 re f")),
        ])
        let d2 = try signedIt.document
        let r = try DiffPolicy().review(doc: d2, base: 1, revisionEnds: d2.revisions.map(\.end), docMDP: 2, lock: nil)
        #expect(r.level == .formFilling)
        let resigned = signedIt.update([
            (13, 0, "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Seal) /V 16 0 R /Rect [150 20 250 70] /P 3 0 R /AP << /N 15 0 R >> >>"),
            (16, 0, "<< /Type /Sig /ByteRange [0 0 0 0] /Contents <01> >>"),
        ])
        let d3 = try resigned.document
        #expect(throws: SuspiciousModification.self) { try DiffPolicy().review(doc: d3, base: 2, revisionEnds: d3.revisions.map(\.end), docMDP: nil, lock: nil) }
    }

    // MARK: Annotations

    @Test func annotationRuleAllowsANoteAndRefusesAFreeTextBox() throws {
        let note = base.update([
            (3, 0, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R 13 0 R] >>"),
            (13, 0, "<< /Type /Annot /Subtype /Text /Rect [200 200 220 220] /Contents (checked) /P 3 0 R >>"),
        ])
        let out = try note.apply(FormRule())
        #expect(out.level(13) == .annotations && out.level(3) == .annotations)
        #expect(try note.review(docMDP: 3).level == .annotations)
        let freeText = base.update([
            (3, 0, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R 13 0 R] >>"),
            (13, 0, "<< /Type /Annot /Subtype /FreeText /Rect [20 240 200 270] /Contents (Pay 999 EUR) /DA (/Helv 12 Tf 0 g) /P 3 0 R >>"),
        ])
        #expect(throws: SuspiciousModification.self) { try freeText.apply(FormRule()) }
        expectRefused(freeText, docMDP: 3, "can cover page content")
    }

    @Test func annotationRuleRefusesDeletingAnAnnotation() throws {
        let b = MiniPDF.base([3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R 12 0 R] >>"])
        expectRefused(b.update([(3, 0, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents 4 0 R /Resources 6 0 R /Annots [5 0 R] >>")]), docMDP: 3, "deleted")
    }

    // MARK: Policy

    @Test func policyRefusesContentChangesFormXObjectsFontsFreedObjectsAndDanglingReferences() throws {
        expectRefused(base.update([(4, 0, MiniPDF.stream("", "BT /F1 12 Tf 20 250 Td (Pay 999 EUR) Tj ET"))]), "object 4")
        expectRefused(base.update([(11, 0, MiniPDF.stream("/Type /XObject /Subtype /Form /BBox [0 0 100 50]", "1 0 0 rg 0 0 100 50 re f"))]), "object 11")
        expectRefused(base.update([(9, 0, "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>")]), "object 9")
        expectRefused(base.update([], freed: [12]), "deleted")
        // The signed page draws object 13, which does not exist yet; defining it later changes the page.
        let dangling = MiniPDF.base([4: MiniPDF.stream("", "BT /F1 12 Tf 20 250 Td (Pay 100 EUR) Tj ET"), 3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 300] /Contents [4 0 R 13 0 R] /Resources 6 0 R /Annots [5 0 R] >>"], size: 14)
        expectRefused(dangling.update([(13, 0, MiniPDF.stream("", "1 1 1 rg 0 240 300 30 re f BT /F1 12 Tf 20 250 Td (Pay 999 EUR) Tj ET"))]), "object 3/Contents")
    }

    @Test func policyIgnoresOrphansAndIdenticalRewrites() throws {
        let up = base.update([(13, 0, "<< /Unused true >>"), (9, 0, "<<   /Type/Font /Subtype /Type1 /BaseFont /Helvetica >>")])
        #expect(try up.review().level == .signaturesAndDSS)
    }

    @Test func policyRefusesAnUpdateThatDoesNotChainToTheSignedRevision() throws {
        var objs = MiniPDF.baseObjects()
        objs[4] = MiniPDF.stream("", "BT /F1 12 Tf 20 250 Td (Pay 999 EUR) Tj ET")
        var up = base.update(objs.keys.sorted().map { ($0, 0, objs[$0]!) })
        up.bytes = Array(String(decoding: up.bytes, as: UTF8.self).replacingOccurrences(of: " /Prev \(base.startxref) ", with: " ").utf8)
        expectRefused(up, "cross-reference")
    }
}
