import Foundation
import Testing
import TestSupport
@testable import PDF

/// PDFs made by reportlab, Ghostscript, qpdf and LibreOffice in scripts/fixtures/pdf.sh.
struct FixtureCase: CustomTestStringConvertible, Sendable {
    let file: String
    let expected: String
    var testDescription: String { file }

    static func load() -> [FixtureCase] {
        let tsv = TestSupport.fixturesDir.appendingPathComponent("pdf-fixtures.tsv")
        if !FileManager.default.fileExists(atPath: tsv.path) {
            // Generate on demand (idempotent) so `swift test` alone works.
            let script = TestSupport.packageRoot.appendingPathComponent("scripts/fixtures/pdf.sh")
            _ = try? TestSupport.run("bash", [script.path, TestSupport.fixturesDir.path])
        }
        guard let text = try? String(contentsOf: tsv, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t").map(String.init)
            return f.count >= 2 ? FixtureCase(file: f[0], expected: f[1]) : nil
        }
    }
}

@Suite struct FixtureTests {
    static let cases = FixtureCase.load()

    @Test func fixturesWereGenerated() throws {
        guard try TestSupport.haveTool("qpdf"), try TestSupport.haveTool("gs"), try TestSupport.haveTool("soffice") else { return }
        #expect(Self.cases.count >= 16, "scripts/fixtures/pdf.sh did not produce its fixtures")
        #expect(Self.cases.contains { $0.file == "pdf-libreoffice-cjk-contract.pdf" })
    }

    @Test(arguments: cases)
    func fixtureGetsItsExpectedOutcome(_ c: FixtureCase) throws {
        let url = TestSupport.fixturesDir.appendingPathComponent(c.file)
        if c.expected.hasPrefix("reject:") {
            let code = String(c.expected.dropFirst("reject:".count))
            do {
                _ = try PDFDocument(url: url)
                Issue.record("\(c.file) should be rejected with \(code)")
            } catch let e as PDFError {
                #expect(e.code.identifier == code, "\(c.file): \(e)")
                #expect(e.description.contains(c.file))
            }
            return
        }
        let doc = try PDFDocument(url: url)
        let pages = doc.pages
        #expect(doc.warnings.isEmpty, "\(c.file): \(doc.warnings)")
        if c.expected == "encrypted" {
            #expect(doc.isEncrypted)
            #expect(doc.encryption?.userPasswordRequired == false)
            // sealable exactly when the permission bits allow changes (bit 4 modify or bit 6 annotations/forms)
            let p = UInt32(bitPattern: doc.encryption?.permissions ?? 0)
            if p & (1 << 3) != 0 || p & (1 << 5) != 0 { #expect(throws: Never.self) { try doc.checkSealable() } }
            else { #expect(throws: PDFError.self) { try doc.checkSealable() } }
        }
        if try TestSupport.haveTool("pdfinfo"), let ref = try pdfinfoPages(url) {
            #expect(pages.count == ref.count)
            for (p, r) in zip(pages, ref) {
                #expect(abs(p.size.width - r.w) < 0.01 && abs(p.size.height - r.h) < 0.01, "\(c.file) page \(p.index + 1)")
                #expect(p.rotate == r.rot, "\(c.file) page \(p.index + 1)")
            }
        }
        if c.file == "pdf-reportlab-mixed.pdf" {
            #expect(doc.info.title == "reportlab mixed sizes")
            let text = String(decoding: try doc.contentData(of: pages[0]), as: UTF8.self)
            #expect(text.contains("Page 1: A4 portrait"))
        }
        if c.file == "pdf-qpdf-objstm.pdf" { #expect(doc.lastXRefKind == .stream) }
        if c.file.contains("linearized") { #expect(doc.isLinearized) }
        if !doc.isEncrypted { try checkAppendedUpdate(url) }
    }
}
