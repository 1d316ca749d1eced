import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

/// Certified documents (DocMDP P=2/P=3), existing empty fields and encrypted inputs (issue #14 items 1, 2, 4).
@Suite("Sealing certified and encrypted documents", .serialized)
struct SealerCertifiedTests {
    static func visible(_ doc: PDFDocument) -> SealAppearance { CorpusTableTests.appearance(doc) }

    /// A pyHanko certification (P) of `src`.
    static func certified(_ src: URL, p: Int, in dir: URL, pki: TestPKI) throws -> URL {
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_sign.py").path
        let out = dir.appendingPathComponent("\(src.deletingPathExtension().lastPathComponent)-p\(p).pdf")
        let r = try TestSupport.run("python3", [script, pki.url("leaf-ec.key").path, pki.url("leaf-ec.crt").path, pki.url("chain.pem").path,
                                                src.path, out.path, "Author", String(p)])
        try #require(r.status == 0, "\(r.err)")
        return out
    }

    /// pyHanko and our verifier on the certification signature `Author` and on the new seal.
    static func verdicts(_ file: URL, seal: String, pki: TestPKI) async throws -> (pyHankoCertOK: Bool, oursCertOK: Bool, sealOK: Bool) {
        let ph = try #require(try Validators.pyhanko([file], root: pki.root)[file.path])
        let cert = ph.signatures.first { $0.field == "Author" }
        let mine = ph.signatures.first { $0.field == seal }
        var vo = Verifier.Options()
        vo.revocation = .off
        let report = await (try Verifier(trust: [pki.root], options: vo)).verify(urls: [file])
        let ours = report.files.first?.signatures.first { $0.field == "Author" }
        let ps = try Validators.pdfsig(file, nssDir: try Validators.nssDB(in: pki.dir, root: pki.root))
        let psSeal = ps.first { $0.field == seal }
        return (cert?.bottom_line == true && cert?.docmdp_ok == true, ours?.modifications.allowed == true && ours?.indication == .totalPassed,
                mine?.bottom_line == true && psSeal?.valid == true && psSeal?.trusted == true)
    }

    @Test(arguments: [2, 3])
    func certifiedDocumentWithoutEmptyFieldGetsAnInvisibleSealAndAWarningOrARefusal(p: Int) async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = try Self.certified(SealerTests.corpus("xref-classic-minimal-pyhanko.pdf"), p: p, in: dir, pki: pki)
        var o = SealerTests.options()
        o.appearance = Self.visible(try PDFDocument(url: input))
        let out = dir.appendingPathComponent("sealed-p\(p).pdf")
        let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
        #expect(!res.visible && !res.filledExistingField)
        #expect(res.warnings.contains { $0.contains("certified") && $0.contains("INVISIBLY") }, "\(res.warnings)")
        let v = try await Self.verdicts(out, seal: res.fieldName, pki: pki)
        #expect(v.pyHankoCertOK && v.oursCertOK && v.sealOK, "P=\(p): \(v)")
        // demanded visible: refused, nothing written
        o.requireVisible = true
        let refused = dir.appendingPathComponent("refused-p\(p).pdf")
        await #expect(throws: SigningError(.visibleSealNotAllowed, "")) {
            _ = try await PAdESSealer().seal(input: input, output: refused, key: try pki.key(), options: o)
        }
        #expect(!FileManager.default.fileExists(atPath: refused.path))
    }

    @Test(arguments: [2, 3])
    func certifiedDocumentWithAnEmptyFieldIsSealedVisiblyInThatField(p: Int) async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let src = SealerTests.corpus("acroform-two-empty-sigfields-pyhanko.pdf")
        let empty = try PDFDocument(url: src).signatureFields.filter { !$0.isSigned }.map(\.name)
        let input = try Self.certified(src, p: p, in: dir, pki: pki)
        var o = SealerTests.options()
        o.appearance = Self.visible(try PDFDocument(url: input))
        o.requireVisible = true
        let out = dir.appendingPathComponent("sealed-p\(p).pdf")
        let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
        #expect(res.visible && res.filledExistingField && empty.contains(res.fieldName), "\(res.fieldName) of \(empty)")
        #expect(res.warnings.contains { $0.contains("fills the existing empty signature field") })
        // the widget keeps its own rectangle and now shows the seal
        let doc = try PDFDocument(url: out)
        let f = try #require(doc.signatureFields.first { $0.name == res.fieldName })
        #expect(f.isSigned)
        let wd = try #require(doc.resolve(f.fieldRef!).dictionaryValue)
        let before = try #require(try PDFDocument(url: input).signatureFields.first { $0.name == res.fieldName }.flatMap { doc.resolve($0.fieldRef!).dictionaryValue })
        #expect(PDFRect(wd["Rect"]) == PDFRect(before["Rect"]))
        #expect(doc.resolve(wd["AP"] ?? .null).dictionaryValue.flatMap { doc.resolve($0["N"] ?? .null).streamValue } != nil)
        let v = try await Self.verdicts(out, seal: res.fieldName, pki: pki)
        #expect(v.pyHankoCertOK && v.oursCertOK && v.sealOK, "P=\(p): \(v)")
    }

    @Test func namedFieldOfAnUncertifiedDocumentIsFilledWithTheVisibleSeal() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = SealerTests.corpus("acroform-two-empty-sigfields-pyhanko.pdf")
        let doc = try PDFDocument(url: input)
        let name = try #require(doc.signatureFields.last?.name)
        var o = SealerTests.options()
        var a = Self.visible(doc)
        a.fieldName = name
        o.appearance = a
        let out = dir.appendingPathComponent("field.pdf")
        let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
        #expect(res.fieldName == name && res.visible && res.filledExistingField && res.warnings.isEmpty)
        let ph = try Validators.pyhanko([out], root: pki.root)
        #expect(ph[out.path]?.allPass == true, "\(String(describing: ph[out.path]))")
        a.fieldName = "NoSuchField"
        o.appearance = a
        await #expect(throws: SigningError(.fieldNotFound, "")) {
            _ = try await PAdESSealer().seal(input: input, output: dir.appendingPathComponent("none.pdf"), key: try pki.key(), options: o)
        }
    }

    /// qpdf `--encrypt "" owner 256`: opens with the empty user password; the update is written encrypted with
    /// the document's own AES-256 (R6) handler, the signature /Contents in clear.
    @Test func ownerPasswordOnlyAES256FileIsSealedAndValidatedByPyHankoAndPdfsig() async throws {
        guard try SealerTests.tools(), try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        var outs: [URL] = []
        for (label, args) in [("aes256", ["256"]), ("aes128", ["128", "--use-aes=y"]), ("rc4-128", ["128", "--use-aes=n"])] {
            let input = dir.appendingPathComponent("owner-only-\(label).pdf")
            let q = try TestSupport.run("qpdf", ["--allow-weak-crypto", "--encrypt", "", "owner"] + args + ["--", SealerTests.corpus("xref-classic-minimal-pyhanko.pdf").path, input.path])
            try #require(q.status == 0 || q.status == 3, "qpdf: \(q.err)")
            let src = try PDFDocument(url: input)
            #expect(src.isEncrypted)
            var o = SealerTests.options()
            o.appearance = Self.visible(src)
            let out = dir.appendingPathComponent("sealed-\(label).pdf")
            let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
            #expect(res.visible)
            // still encrypted, same handler; new strings are not in clear, /Contents is
            let sealed = try PDFDocument(url: out)
            #expect(sealed.encryption == src.encryption)
            let raw = try Data(contentsOf: out)
            #expect(raw.range(of: Data("Records Office Seal".utf8)) == nil, "\(label): /Name written in clear")
            #expect(sealed.signatureFields.first { $0.name == "SealbatchSeal" }?.signerName == "Records Office Seal")
            let chk = try TestSupport.run("qpdf", ["--check", out.path])
            #expect(chk.status == 0 || chk.status == 3, "\(label): qpdf --check: \(chk.out.suffix(400))")
            outs.append(out)
        }
        let ph = try Validators.pyhanko(outs, root: pki.root)
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)
        for out in outs {
            #expect(ph[out.path]?.allPass == true, "\(out.lastPathComponent): \(String(describing: ph[out.path]))")
            let ps = try Validators.pdfsig(out, nssDir: nss)
            #expect(ps.count == 1 && ps[0].valid && ps[0].trusted, "\(out.lastPathComponent): \(ps.map(\.raw))")
        }
    }

    @Test func encryptedFileWhosePermissionsForbidChangesIsRefusedWithTheReason() async throws {
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = SealerTests.corpus("encrypted-rc4-40-emptyuserpw-linearized-qpdf.pdf")
        do {
            _ = try await PAdESSealer().seal(input: input, output: dir.appendingPathComponent("x.pdf"), key: try pki.key(), options: SealerTests.options())
            Issue.record("sealed a file whose permissions forbid it")
        } catch let e as SigningError {
            #expect(e.code == .encrypted && e.message.contains("permissions"), "\(e)")
        }
    }

    /// Inputs that already carry a document time-stamp (an incoming B-LTA contract) are sealed (issue #14 item 3).
    @Test func inputsWithADocumentTimeStampAreSealedAndEarlierVerdictsKept() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        var pairs: [(URL, URL, String)] = []
        for f in ["signed-plus-doctimestamp-fpdf-pdf13-dss.pdf", "signed-pades-lta-7revisions-pyhanko.pdf"] {
            let input = SealerTests.corpus(f)
            let doc = try PDFDocument(url: input)
            #expect(doc.signatureFields.contains { $0.isSigned && $0.type == "DocTimeStamp" }, "\(f) has a document time-stamp")
            var o = SealerTests.options()
            o.appearance = Self.visible(doc)
            let out = dir.appendingPathComponent(f)
            let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
            pairs.append((input, out, res.fieldName))
        }
        let ph = try Validators.pyhanko(pairs.flatMap { [$0.0, $0.1] }, root: pki.root)
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)
        for (input, out, field) in pairs {
            let verdict = try CorpusTableTests.judge(input: input, output: out, field: field, ph: ph, nss: nss)
            #expect(verdict == nil, "\(input.lastPathComponent): \(verdict ?? "")")
        }
    }
}
