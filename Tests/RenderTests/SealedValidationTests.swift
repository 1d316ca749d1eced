import Foundation
import PDF
import Signing
import Testing
@testable import Render
import TestSupport

/// Seals signed with Signing's PAdES sealer (software key, throwaway PKI made with openssl) carrying
/// our appearance: independent validators must still accept them, and a page removed afterwards
/// (which takes a cross-page slice with it) must be caught.
@Suite(.serialized) struct SealedValidationTests {
    /// root → leaf (nonRepudiation, digitalSignature), made with the openssl CLI.
    struct PKI {
        let dir: URL
        var root: URL { dir.appendingPathComponent("root.crt") }
        func key() throws -> SoftwareKey {
            try SoftwareKey(keyPEM: dir.appendingPathComponent("leaf.key"), certificatesPEM: [dir.appendingPathComponent("leaf.crt"), root])
        }
        static func make() throws -> PKI {
            let dir = try TestSupport.tempDir("render-pki")
            let script = """
            set -e; cd "\(dir.path)"; export OPENSSL_CONF=/dev/null
            openssl req -x509 -newkey rsa:2048 -nodes -keyout root.key -out root.crt -days 30 -subj "/CN=Render Test Root/O=sealbatch" \
              -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=某某市某某有限公司 合同专用章/O=sealbatch" 2>/dev/null
            printf 'basicConstraints=critical,CA:false\\nkeyUsage=critical,nonRepudiation,digitalSignature\\n' > leaf.ext
            openssl x509 -req -in leaf.csr -CA root.crt -CAkey root.key -CAcreateserial -out leaf.crt -days 30 -extfile leaf.ext 2>/dev/null
            """
            let r = try TestSupport.run("bash", ["-c", script])
            if r.status != 0 { throw RenderError(.outputFailed, "openssl PKI: \(r.err)") }
            return PKI(dir: dir)
        }
    }

    static func sealSigned(_ input: URL, spec: PlacementSpec, pki: PKI, out: URL) async throws -> PlacementResult {
        let doc = try PDFDocument(url: input)
        let seal = try SealRenderer.render(design: RT.contractZH)
        let placed = try Placement.resolve(document: doc, fileURL: input, spec: spec, seal: seal)
        let widgets = try seal.widgets(for: placed.widgets)
        var options = SealOptions(fieldName: "ContractSeal", name: "合同专用章")
        options.appearance = SealAppearance(widgets: widgets.map {
            SealAppearance.Widget(pageIndex: $0.pageIndex, rect: $0.rect, form: $0.form, source: $0.source)
        })
        _ = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: options)
        return placed
    }

    @Test func signedSealWithCrossPageSlicesPassesPyHankoPdfsigQpdfAndEmbedsTheFont() async throws {
        guard try TestSupport.haveTool("pyhanko"), try TestSupport.haveTool("pdfsig"), try TestSupport.haveTool("certutil"),
              try TestSupport.haveTool("qpdf"), try TestSupport.haveTool("pdffonts"), try TestSupport.haveTool("openssl") else { return }
        let pki = try PKI.make()
        defer { try? FileManager.default.removeItem(at: pki.dir) }
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let out = pki.dir.appendingPathComponent("sealed.pdf")
        let placed = try await Self.sealSigned(input, spec: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）"), crossPage: CrossPageSpec()), pki: pki, out: out)
        #expect(placed.widgets.count == 4)

        let ph = try TestSupport.run("pyhanko", ["sign", "validate", "--no-revocation-check", "--trust", pki.root.path, "--trust-replace", out.path])
        #expect(ph.status == 0, "pyhanko: \(ph.out) \(ph.err)")

        // poppler 22.12's pdfsig lists each widget of a multi-widget signature field as a separate,
        // "not signed" field: Signing writes the cross-page slices as kids of the seal field. Known
        // until Signing writes slices as plain annotations (reported); the single-widget case below passes.
        let pdfsigOK = try Self.pdfsigAccepts(out, pki: pki)
        withKnownIssue("pdfsig does not understand a signature field with several widgets") {
            #expect(pdfsigOK)
        }
        #expect(try TestSupport.run("qpdf", ["--check", out.path]).status == 0)
        let fonts = try TestSupport.run("pdffonts", [out.path]).out
        #expect(fonts.split(separator: "\n").contains { $0.contains("NotoSerifCJKsc-Bold") && $0.contains("yes yes") }, "\(fonts)")

        // Our own verifier: the seal field covers the whole file and its widgets are the four placements.
        let report = await Verifier(trustAnchorsDER: [], options: .init()).verify(url: out)
        #expect(report.signatures.first?.integrity.ok == true && report.signatures.first?.coverage?.coversWholeFile == true)

        // The seal is where it was placed (signed appearance rendered by pdftoppm).
        let img = try RT.pdftoppm(out, page: 2, dpi: 100, dir: pki.dir)
        let r = placed.widgets[0].rect, k = 100.0 / 72
        let b = try #require(img.redBounds(in: (0, 0, img.width / 2, img.height)))   // left half: the main seal, not the slice
        let top = 841.89 - r.ury
        #expect(abs(Double(b.x0) - r.llx * k) <= 5 && abs(Double(b.y0) - top * k) <= 5)
    }

    static func pdfsigAccepts(_ file: URL, pki: PKI) throws -> Bool {
        let db = pki.dir.appendingPathComponent("nssdb")
        if !FileManager.default.fileExists(atPath: db.appendingPathComponent("cert9.db").path) {
            try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
            try TestSupport.run("certutil", ["-N", "-d", "sql:" + db.path, "--empty-password"])
            try TestSupport.run("certutil", ["-A", "-d", "sql:" + db.path, "-n", "root", "-t", "C,C,C", "-i", pki.root.path])
        }
        let sig = try TestSupport.run("pdfsig", ["-nssdir", "sql:" + db.path, file.path]).out
        return sig.contains("Signature is Valid.") && sig.contains("Certificate is Trusted.") && sig.contains("Total document signed")
            && !sig.contains("not signed")
    }

    @Test(arguments: ["round", "oval", "square"])
    func signedSingleSealPassesPdfsigAndPyHanko(kind: String) async throws {
        guard try TestSupport.haveTool("pyhanko"), try TestSupport.haveTool("pdfsig"), try TestSupport.haveTool("certutil"),
              try TestSupport.haveTool("openssl") else { return }
        let pki = try PKI.make()
        defer { try? FileManager.default.removeItem(at: pki.dir) }
        let design = ["round": RT.contractZH, "oval": RT.invoiceOval, "square": RT.personal][kind]!
        // A /Rotate 90 page with a CropBox: the appearance carries a /Matrix.
        let input = RT.samples.appendingPathComponent("contract-zh-reportlab-rotated.pdf")
        let doc = try PDFDocument(url: input)
        let seal = try SealRenderer.render(design: design)
        let placed = try Placement.resolve(document: doc, fileURL: input, spec: PlacementSpec(anchor: AnchorSpec(text: "乙方（盖章）")), seal: seal)
        #expect(placed.widgets.first?.rotation == 90)
        var options = SealOptions(fieldName: "Seal-\(kind)")
        options.appearance = SealAppearance(widgets: try seal.widgets(for: placed.widgets).map {
            SealAppearance.Widget(pageIndex: $0.pageIndex, rect: $0.rect, form: $0.form, source: $0.source)
        })
        let out = pki.dir.appendingPathComponent("sealed-\(kind).pdf")
        _ = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: options)
        #expect(try Self.pdfsigAccepts(out, pki: pki))
        let ph = try TestSupport.run("pyhanko", ["sign", "validate", "--no-revocation-check", "--trust", pki.root.path, "--trust-replace", out.path])
        #expect(ph.status == 0, "pyhanko: \(ph.out) \(ph.err)")
        #expect(try TestSupport.run("qpdf", ["--check", out.path]).status == 0)
    }

    @Test func overlayStructureSignedByPyHankoPassesPdfsig() throws {
        // Our unsigned overlay (seal = empty /Sig field widget, slices = /Stamp annotations), signed
        // into that field by pyHanko: the structure recommended to Signing for cross-page seals.
        guard try TestSupport.haveTool("pyhanko"), try TestSupport.haveTool("pdfsig"), try TestSupport.haveTool("certutil"),
              try TestSupport.haveTool("openssl") else { return }
        let pki = try PKI.make()
        defer { try? FileManager.default.removeItem(at: pki.dir) }
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let f = try SealedFile.make(input, spec: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）"), crossPage: CrossPageSpec()))
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let out = pki.dir.appendingPathComponent("signed.pdf")
        let r = try TestSupport.run("pyhanko", ["sign", "addsig", "--field", "sealbatch-seal-1", "--existing-only", "pemder",
                                                "--key", pki.dir.appendingPathComponent("leaf.key").path,
                                                "--cert", pki.dir.appendingPathComponent("leaf.crt").path, "--no-pass", f.url.path, out.path])
        #expect(r.status == 0, "pyhanko addsig: \(r.err)")
        #expect(try Self.pdfsigAccepts(out, pki: pki))
        #expect(try TestSupport.run("pdfsig", [out.path]).out.components(separatedBy: "Signature #").count == 2, "one signature field")
    }

    @Test func removingAPageAfterSealingIsDetected() async throws {
        guard try TestSupport.haveTool("pyhanko"), try TestSupport.haveTool("openssl") else { return }
        let pki = try PKI.make()
        defer { try? FileManager.default.removeItem(at: pki.dir) }
        let input = RT.samples.appendingPathComponent("contract-zh-libreoffice.pdf")
        let sealed = pki.dir.appendingPathComponent("sealed.pdf")
        _ = try await Self.sealSigned(input, spec: PlacementSpec(anchor: AnchorSpec(text: "甲方（盖章）"), crossPage: CrossPageSpec()), pki: pki, out: sealed)
        // Drop page 2 (and its slice) in an incremental update, as a forger would.
        let doc = try PDFDocument(url: sealed)
        let update = try IncrementalUpdate(document: doc)
        let pagesRef = try #require(doc.catalog["Pages"]?.referenceValue)
        var pagesDict = try #require(doc.resolve(pagesRef).dictionaryValue)
        let kids = try #require(doc.resolve(pagesDict["Kids"] ?? .null).arrayValue)
        try #require(kids.count == 3, "flat page tree expected from LibreOffice")
        pagesDict["Kids"] = .array([kids[0], kids[2]])
        pagesDict["Count"] = .integer(2)
        update.replace(pagesRef, with: .dictionary(pagesDict))
        let tampered = pki.dir.appendingPathComponent("tampered.pdf")
        try update.write(to: tampered)
        #expect(try PDFDocument(url: tampered).pageCount == 2)

        let ph = try TestSupport.run("pyhanko", ["sign", "validate", "--no-revocation-check", "--trust", pki.root.path, "--trust-replace", tampered.path])
        #expect(ph.status != 0, "pyHanko must reject a removed page: \(ph.out)")
        let report = await Verifier(trustAnchorsDER: [], options: .init()).verify(url: tampered)
        let m = try #require(report.signatures.first?.modifications)
        #expect(!m.allowed, "our verifier: \(m)")
    }
}
