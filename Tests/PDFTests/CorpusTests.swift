import Foundation
import Testing
import TestSupport
@testable import PDF

/// One row of Tests/Corpus/expected.tsv.
struct CorpusCase: CustomTestStringConvertible, Sendable {
    let file: String
    let category: String
    let expected: String // parse | repair | reject
    let signatures: [(name: String, verdict: String)]
    var testDescription: String { file }

    let sha256: String

    /// The rows of expected.tsv. A missing or unreadable table is a fatal error naming the file: an
    /// empty list would turn every corpus test into a pass that tested nothing.
    static func load() -> [CorpusCase] {
        let url = TestSupport.corpusDir.appendingPathComponent("expected.tsv")
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            fatalError("the test corpus table \(url.path) cannot be read (\(error)); it is part of the repository: restore Tests/Corpus from git")
        }
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 6 else { return nil }
            let sigs: [(String, String)] = f[4].split(separator: ";").compactMap { s in
                let p = s.split(separator: "=", maxSplits: 1).map(String.init)
                return p.count == 2 ? (p[0], p[1]) : nil
            }
            return CorpusCase(file: f[0], category: f[1], expected: f[2], signatures: sigs, sha256: f[5])
        }
    }
}

/// Page sizes and rotations as pdfinfo prints them.
func pdfinfoPages(_ url: URL) throws -> [(w: Double, h: Double, rot: Int)]? {
    let r = try TestSupport.run("pdfinfo", ["-f", "1", "-l", "100000", url.path])
    guard r.status == 0 else { return nil }
    var sizes: [Int: (Double, Double)] = [:], rots: [Int: Int] = [:]
    var count = 0
    for line in r.out.split(separator: "\n") {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        if line.hasPrefix("Pages:"), let n = Int(parts.last ?? "") { count = n }
        if line.hasPrefix("Page "), parts.count >= 6, parts[2] == "size:", let n = Int(parts[1]),
           let w = Double(parts[3]), let h = Double(parts[5]) { sizes[n] = (w, h) }
        if line.hasPrefix("Page "), parts.count >= 4, parts[2] == "rot:", let n = Int(parts[1]), let rr = Int(parts[3]) { rots[n] = rr }
    }
    var out: [(w: Double, h: Double, rot: Int)] = []
    for i in 1...max(1, count) where i <= count {
        let s: (Double, Double) = sizes[i] ?? (-1, -1)
        out.append((w: s.0, h: s.1, rot: rots[i] ?? 0))
    }
    return out
}

@Suite struct CorpusTests {
    static let cases = CorpusCase.load()

    @Test func corpusIsPresent() {
        #expect(Self.cases.count >= 60, "expected.tsv under \(TestSupport.corpusDir.path) lists \(Self.cases.count) files")
    }

    /// The in-repo copy is byte-for-byte the published files (expected.tsv's SHA-256), so the
    /// attribution in Tests/Corpus/README.md stays true.
    @Test(arguments: cases)
    func corpusFileIsTheAttributedOriginal(_ c: CorpusCase) throws {
        let url = TestSupport.corpusDir.appendingPathComponent(c.file)
        let data = try Data(contentsOf: url)
        #expect(SHA256.hash([UInt8](data)).map { String(format: "%02x", $0) }.joined() == c.sha256, "\(c.file) differs from the published file")
    }

    @Test(arguments: cases)
    func corpusFileGetsItsExpectedOutcome(_ c: CorpusCase) throws {
        let url = TestSupport.corpusDir.appendingPathComponent(c.file)
        let doc: PDFDocument
        do {
            doc = try PDFDocument(url: url)
        } catch let e as PDFError {
            #expect(c.expected == "reject", "\(c.file) was rejected but should be readable: \(e)")
            // Rejections are specific: a password-protected file says so, a cut-off file says so.
            if c.category.hasPrefix("encrypted") {
                #expect(e.code == .encrypted(userPasswordRequired: true), "\(c.file): \(e)")
            } else {
                #expect(e.code == .truncated || e.code == .damaged, "\(c.file): \(e)")
            }
            #expect(e.message.count > 30)
            #expect(e.file == c.file)
            return
        }
        #expect(c.expected != "reject", "\(c.file) should have been rejected")
        let pages = doc.pages
        _ = doc.signatureFields
        let repairs = doc.warnings
        if c.expected == "parse" {
            #expect(repairs.isEmpty, "\(c.file) is well-formed but got warnings: \(repairs)")
        } else if c.expected == "repair" {
            #expect(!repairs.isEmpty, "\(c.file) is damaged but no warning says so")
            #expect(repairs.allSatisfy { !$0.message.isEmpty && $0.offset != nil || $0.kind == .missingMediaBox })
        }
        #expect(!pages.isEmpty)
        if try TestSupport.haveTool("pdfinfo"), let ref = try pdfinfoPages(url) {
            #expect(pages.count == ref.count, "\(c.file): \(pages.count) pages, pdfinfo says \(ref.count)")
            for (p, r) in zip(pages, ref) {
                #expect(abs(p.size.width - r.w) < 0.01 && abs(p.size.height - r.h) < 0.01,
                        "\(c.file) page \(p.index + 1): \(p.size) vs pdfinfo \(r.w)x\(r.h)")
                #expect(p.rotate == r.rot, "\(c.file) page \(p.index + 1): rotate \(p.rotate) vs \(r.rot)")
            }
        }
        // Signatures named in expected.tsv are found, with the coverage the validators report.
        let fields = doc.signatureFields
        for (name, verdict) in c.signatures where name != "unreadable-by-pyhanko" {
            let f = fields.first { $0.name == name || $0.name.hasPrefix(name) }
            #expect(f?.isSigned == true, "\(c.file): signature \(name) not found in \(fields.map(\.name))")
            guard let f, let cov = doc.coverage(of: f) else { continue }
            if verdict.contains("/ENTIRE_FILE/") { #expect(cov == .wholeFile, "\(c.file) \(name): \(cov)") }
            if verdict.contains("/ENTIRE_REVISION/") {
                if case .revision = cov {} else { Issue.record("\(c.file) \(name): expected a revision, got \(cov)") }
            }
            if verdict.hasPrefix("NOT-intact") || verdict.contains("CONTIGUOUS_BLOCK_FROM_START") || verdict.contains("UNCLEAR") {
                #expect(cov != .wholeFile, "\(c.file) \(name)")
                if case .revision = cov { Issue.record("\(c.file) \(name): must not count as covering a revision") }
            }
        }
        if c.category.hasPrefix("certified") {
            let expectP = c.file.contains("-p1-") ? 1 : c.file.contains("-p2-") ? 2 : 3
            #expect(doc.docMDPPermission == expectP, "\(c.file)")
            if expectP == 1 { #expect(throws: PDFError.self) { try doc.checkSealable() } }
        }
        if c.category.contains("encrypted") { #expect(doc.isEncrypted) }
    }

    @Test(arguments: cases.filter { $0.expected != "reject" })
    func appendingAnUpdateKeepsTheFileValid(_ c: CorpusCase) throws {
        try checkAppendedUpdate(TestSupport.corpusDir.appendingPathComponent(c.file))
    }
}

/// Appends an update (a new annotation on page 1) and checks: earlier bytes identical, qpdf --check
/// accepts it without damage, pdfinfo reads it, we read it back with one more revision.
func checkAppendedUpdate(_ url: URL) throws {
        guard try TestSupport.haveTool("qpdf"), try TestSupport.haveTool("pdfinfo") else { return }
        struct C { let file: String }
        let c = C(file: url.lastPathComponent)
        let doc = try PDFDocument(url: url)
        // Encrypted files (empty user password) get an update encrypted with their own handler.
        let tmp = try TestSupport.tempDir("pdf-corpus")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let up = try IncrementalUpdate(document: doc)
        let note = up.add(.dictionary(["Type": .name("Annot"), "Subtype": .name("Text"), "Rect": [10, 10, 20, 20],
                                       "Contents": .text("sealbatch test 印章")]))
        let page = try #require(doc.pages.first)
        var pd = page.dictionary
        var annots = doc.resolve(pd["Annots"] ?? .null).arrayValue ?? []
        annots.append(.reference(note))
        pd["Annots"] = .array(annots)
        up.replace(page.ref, with: .dictionary(pd))
        let out = tmp.appendingPathComponent(c.file)
        try up.write(to: out)

        let original = try Data(contentsOf: url)
        let written = try Data(contentsOf: out)
        #expect(written.count > original.count)
        #expect(written.prefix(original.count) == original, "\(c.file): earlier bytes changed")

        let q = try TestSupport.run("qpdf", ["--check", out.path])
        let qText = q.out + q.err
        #expect(q.status == 0 || q.status == 3, "\(c.file): qpdf --check exit \(q.status): \(qText)")
        #expect(!qText.contains("file is damaged") && !qText.contains("reconstruct"), "\(c.file): \(qText)")
        let pi = try TestSupport.run("pdfinfo", [out.path])
        #expect(pi.status == 0, "\(c.file): pdfinfo: \(pi.err)")

        let again = try PDFDocument(url: out)
        #expect(again.pages.count == doc.pages.count)
        #expect(again.revisions.count == doc.revisions.count + 1 || doc.revisions.isEmpty)
        #expect(again.warnings.filter { $0.isRepair && $0.kind != .junkBeforeHeader && $0.kind != .trailingGarbage }.isEmpty,
                "\(c.file): \(again.warnings)")
        if !doc.wasReconstructed {
            #expect(again.lastXRefKind == (doc.lastXRefKind == .stream ? .stream : .table))
            #expect(again.sections.count == doc.sections.count + 1)
        }
        let annotsAfter = again.resolve(again.pages[0].dictionary["Annots"] ?? .null).arrayValue ?? []
        #expect(annotsAfter.count == annots.count)
        // The new annotation's text reads back (decrypted with the document's key when it is encrypted).
        #expect(annotsAfter.last.flatMap { again.resolve($0).dictionaryValue }.flatMap { again.resolve($0["Contents"] ?? .null).stringValue?.text } == "sealbatch test 印章",
                "\(c.file)")
        if doc.isEncrypted {
            #expect(again.encryption == doc.encryption)
            #expect(written.range(of: Data("sealbatch test".utf8)) == nil, "\(c.file): the update's strings are not encrypted")
        }
        // Signatures that covered the whole file now cover an earlier revision, byte for byte the same.
        for f in doc.signatureFields where f.isSigned {
            let g = try #require(again.signatureFields.first { $0.name == f.name })
            #expect(g.contents == f.contents)
            if doc.coverage(of: f) == .wholeFile {
                if case .revision = again.coverage(of: g)! {} else { Issue.record("\(c.file) \(f.name): \(String(describing: again.coverage(of: g)))") }
            }
        }
    }
