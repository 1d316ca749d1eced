import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

@Suite("Sealing", .serialized)
struct SealerTests {
    static func corpus(_ name: String) -> URL { TestSupport.corpusDir.appendingPathComponent(name) }

    static func options(_ level: PAdESLevel = .bB, pki: TestPKI? = nil) -> SealOptions {
        var o = SealOptions(level: level, name: "Records Office Seal", reason: "Approved", location: "Shanghai", contactInfo: "records@example.org")
        o.fieldName = "SealbatchSeal"
        if let pki { o.tsaURLs = [URL(string: pki.base + "/tsa-refuse")!, pki.tsaURL] }
        return o
    }

    static func tools() throws -> Bool {
        try TestSupport.haveTool("openssl") && TestSupport.haveTool("pdfsig") && TestSupport.haveTool("certutil") && TestSupport.haveTool("python3")
    }

    /// Corpus files (expected.tsv) with their expectation column.
    static func corpusFiles() throws -> [(name: String, expected: String)] {
        let tsv = try String(contentsOf: TestSupport.corpusDir.appendingPathComponent("expected.tsv"), encoding: .utf8)
        return tsv.split(separator: "\n").dropFirst().compactMap { l in
            let c = l.split(separator: "\t", omittingEmptySubsequences: false)
            return c.count > 2 ? (String(c[0]), String(c[2])) : nil
        }
    }

    @Test func sealsEveryCorpusPDFKeepingEarlierSignaturesOrRefusesWithASpecificCode() async throws {
        guard try Self.tools() else { return }
        let pki = try TestPKI.get()
        let key = try pki.key()
        let dir = try TestSupport.tempDir("sealbatch-corpus")
        var sealed: [(input: URL, output: URL)] = []
        var fieldOf: [String: String] = [:]
        var refused: [String: SigningError.Code] = [:]
        // The shared corpus plus the PDF core's generated fixtures (scripts/fixtures/pdf.sh), when made.
        let fixtures = ((try? FileManager.default.contentsOfDirectory(at: TestSupport.fixturesDir, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.pathExtension == "pdf" && $0.lastPathComponent.hasPrefix("pdf-") }
        let inputs = try Self.corpusFiles().map { Self.corpus($0.name) } + fixtures
        for input in inputs {
            let name = input.lastPathComponent
            let output = dir.appendingPathComponent(name)
            // every input is sealed as approved bytes: the output's first revision must be exactly the
            // input (incremental update, whatever the parser had to repair), or this refuses input-changed
            var options = Self.options()
            options.expectedInputSHA256 = DetachedSignature.sha256(Array(try Data(contentsOf: input)))
            do {
                let res = try await PAdESSealer().seal(input: input, output: output, key: key, options: options)
                fieldOf[name] = res.fieldName   // an existing empty field when a new one is not allowed
                sealed.append((input, output))
            } catch let e as SigningError {
                refused[name] = e.code
                #expect(!FileManager.default.fileExists(atPath: output.path) || e.code == .placeholderTooSmall)
            }
        }
        // Refusals are specific: encrypted files, DocMDP P=1, unreadable ones; nothing else.
        for (name, code) in refused {
            let src = inputs.first { $0.lastPathComponent == name }!
            let encrypted: Bool = { do { return try PDFDocument(url: src).isEncrypted } catch let e as PDFError { if case .encrypted = e.code { return true }; return false } catch { return false } }()
            if encrypted { #expect(code == .encrypted || code == .certifiedNoChanges, "\(name): \(code)") }  // a password or forbidding permissions
            else if name.contains("docmdp-p1") { #expect(code == .certifiedNoChanges, "\(name): \(code)") }
            // an earlier /ByteRange reaching 1 byte past EOF: any appended byte would fall inside it and break it
            else if name == "signed-byterange-1-byte-past-eof-hexapdf-dss.pdf" { #expect(code == .earlierSignatureBroken, "\(name): \(code)") }
            else { #expect(code == .unreadablePDF, "\(name): \(code)") }
        }
        #expect(refused["certified-docmdp-p1-pyhanko.pdf"] == .certifiedNoChanges)
        #expect(refused["signed-byterange-1-byte-past-eof-hexapdf-dss.pdf"] == .earlierSignatureBroken)
        #expect(sealed.count >= 35, "sealed only \(sealed.count)")

        let ph = try Validators.pyhanko(sealed.flatMap { [$0.input, $0.output] }, root: pki.root, processes: 2)
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)
        for (input, output) in sealed {
            let name = input.lastPathComponent
            guard let after = ph[output.path] else { Issue.record("\(name): no pyHanko result"); continue }
            // pyHanko cannot read some damaged inputs at all (junk before the header, garbled trailers): pdfsig still checks those.
            let pyHankoReadsInput = ph[input.path]?.error == nil
            if pyHankoReadsInput { #expect(after.error == nil, "\(name): \(after.error ?? "")") }
            let seal = fieldOf[name] ?? "SealbatchSeal"
            let ours = after.signatures.first { $0.field == seal }
            if pyHankoReadsInput { #expect(ours?.bottom_line == true, "\(name): pyHanko rejects our seal: \(String(describing: ours))") }
            // Earlier signatures that were intact and valid stay so (their CAs are not ours: trust is not asked).
            for before in ph[input.path]?.signatures ?? [] where before.intact == true && before.valid == true {
                let now = after.signatures.first { $0.field == before.field }
                #expect(now?.intact == true && now?.valid == true, "\(name): earlier signature \(before.field ?? "?") broke: \(String(describing: now))")
                if before.docmdp_ok == true { #expect(now?.docmdp_ok == true, "\(name): \(before.field ?? "?") modification level \(now?.modification_level ?? "?")") }
            }
            let ps = try Validators.pdfsig(output, nssDir: nss)
            let mine = ps.first { $0.field == seal }
            #expect(mine?.valid == true && mine?.trusted == true, "\(name): pdfsig: \(mine?.raw ?? "no signature")")
            let psBefore = (ph[input.path]?.signatures.isEmpty ?? true) && !name.contains("signed") && !name.contains("certified") ? [] : try Validators.pdfsig(input, nssDir: nss)
            for b in psBefore where b.valid {
                #expect(ps.first { $0.field == b.field }?.valid == true, "\(name): pdfsig says \(b.field) broke")
            }
        }
    }

    @Test func sealsPyHankoSignedAndCertifiedInputsAndRefusesP1() async throws {
        guard try Self.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_sign.py").path
        var outs: [URL] = []
        let minimal = Self.corpus("xref-classic-minimal-pyhanko.pdf")
        // LibreOffice writes /MediaBox reals with 12 decimals: rewriting the page dictionary to add /Annots must keep them.
        let libre = Self.corpus("acroform-libreoffice-textfields-samplefiles.pdf")
        for (label, p, src) in [("signed", nil, minimal), ("certified-p2", 2, minimal), ("certified-p3", 3, minimal), ("certified-p1", 1, minimal),
                                ("libre-signed", nil, libre), ("libre-certified-p2", 2, libre)] as [(String, Int?, URL)] {
            let peer = dir.appendingPathComponent("\(label)-peer.pdf")
            let r = try TestSupport.run("python3", [script, pki.url("leaf-ec.key").path, pki.url("leaf-ec.crt").path, pki.url("chain.pem").path,
                                                    src.path, peer.path, "PeerSig"] + (p.map { [String($0)] } ?? []))
            try #require(r.status == 0, "\(r.err)")
            let out = dir.appendingPathComponent("\(label)-sealed.pdf")
            if p == 1 {
                await #expect(throws: SigningError(.certifiedNoChanges, "")) {
                    _ = try await PAdESSealer().seal(input: peer, output: out, key: try pki.key(), options: Self.options())
                } 
                continue
            }
            _ = try await PAdESSealer().seal(input: peer, output: out, key: try pki.key(), options: Self.options())
            outs.append(out)
        }
        let ph = try Validators.pyhanko(outs, root: pki.root)
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)
        for o in outs {
            let f = try #require(ph[o.path])
            #expect(f.signatures.count == 2)
            // LibreOffice writes long reals (MediaBox): re-serialising the page must keep them exact.
            #expect(f.allPass, "\(o.lastPathComponent): \(f.signatures)")
            let ps = try Validators.pdfsig(o, nssDir: nss)
            #expect(ps.count == 2 && ps.allSatisfy { $0.valid && $0.trusted }, "\(ps.map(\.raw))")
        }
    }

    @Test func timeStampedAndLongTermLevelsAreRecognisedByPyHanko() async throws {
        guard try Self.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let cache = RevocationCache()
        var files: [PAdESLevel: URL] = [:]
        var fetches: [PAdESLevel: Int] = [:]
        for level in [PAdESLevel.bT, .bLT, .bLTA] {
            var o = Self.options(level, pki: pki)
            o.revocationCache = cache
            let out = dir.appendingPathComponent("\(level.rawValue).pdf")
            let res = try await PAdESSealer().seal(input: Self.corpus("xrefstream-minimal-pyhanko.pdf"), output: out, key: try pki.key(), options: o)
            #expect(res.timestampTime != nil)
            if level == .bLTA { #expect(res.documentTimestampTime != nil) }
            files[level] = out
            fetches[level] = await cache.fetchCount
        }
        // One CRL/OCSP fetch per distinct URL/certificate for the whole batch: the second LT seal fetches nothing.
        #expect(fetches[.bLT]! > 0)
        #expect(fetches[.bLTA] == fetches[.bLT])
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)
        for (lvl, f) in files {
            let ps = try Validators.pdfsig(f, nssDir: nss)
            let seal = ps.first { $0.field == "SealbatchSeal" }
            #expect(seal?.valid == true && seal?.trusted == true, "pdfsig on \(lvl.rawValue): \(ps.map(\.raw))")
        }
        let plain = try Validators.pyhanko(Array(files.values), root: pki.root, mode: "none")
        #expect(plain[files[.bT]!.path]?.signatures.first?.timestamp_ok == true)
        let ltv = try Validators.pyhanko([files[.bLT]!, files[.bLTA]!], root: pki.root, mode: "ltv")
        for (lvl, f) in [(PAdESLevel.bLT, files[.bLT]!), (.bLTA, files[.bLTA]!)] {
            let r = try #require(ltv[f.path])
            #expect(r.allPass, "\(lvl.rawValue) not valid from the DSS alone: \(r.signatures)")
        }
        #expect(ltv[files[.bLTA]!.path]?.signatures.contains { $0.kind == "document-timestamp" && $0.bottom_line } == true)
        // B-T alone has no DSS: offline LTV validation must fail, which shows the check is meaningful.
        let ltvT = try Validators.pyhanko([files[.bT]!], root: pki.root, mode: "ltv")
        #expect(ltvT[files[.bT]!.path]?.allPass == false)
    }

    /// A three-page document made by qpdf from a corpus file (flat page tree).
    static func threePages(in dir: URL) throws -> URL {
        let m = Self.corpus("xref-classic-minimal-pyhanko.pdf").path
        let out = dir.appendingPathComponent("three-pages.pdf")
        let r = try TestSupport.run("qpdf", ["--empty", "--pages", m, m, m, "--", out.path])
        try #require(r.status == 0, "qpdf: \(r.err)")
        return out
    }

    /// Main seal on page 3, one slice of a 骑缝章 on the right edge of pages 1–3.
    static func crossPageAppearance(_ src: PDFDocument, sliceInfo: Bool = true) -> SealAppearance {
        let form = PDFObject.stream(PDFStream(dictionary: ["Type": .name("XObject"), "Subtype": .name("Form"), "BBox": .array([0, 0, 60, 60])],
                                              rawData: Array("1 0 0 rg 0 0 60 60 re f".utf8)))
        let slice = PDFObject.stream(PDFStream(dictionary: ["Type": .name("XObject"), "Subtype": .name("Form"), "BBox": .array([0, 0, 20, 60])],
                                               rawData: Array("1 0 0 rg 0 0 20 60 re f".utf8)))
        let w = src.pages[0].cropBox.urx
        return SealAppearance(widgets: [.init(pageIndex: 2, rect: PDFRect(100, 100, 160, 160), form: form, source: src)]
            + (0..<3).map { .init(pageIndex: $0, rect: PDFRect(w - 20, 200, w, 260), form: slice, source: src,
                                  slice: sliceInfo ? .init(index: $0, count: 3) : nil) })
    }

    /// The sealed file's page tree without page 2, written as an incremental update (a forger's edit).
    static func removePage2(_ sealed: URL, to out: URL) throws {
        let doc = try PDFDocument(url: sealed)
        let update = try IncrementalUpdate(document: doc)
        let pagesRef = try #require(doc.catalog["Pages"]?.referenceValue)
        var pages = try #require(doc.resolve(pagesRef).dictionaryValue)
        let kids = try #require(doc.resolve(pages["Kids"] ?? .null).arrayValue)
        try #require(kids.count == 3)
        pages["Kids"] = .array([kids[0], kids[2]])
        pages["Count"] = .integer(2)
        update.replace(pagesRef, with: .dictionary(pages))
        try update.write(to: out)
    }

    @Test func crossPageSealKeepsOneWidgetOnTheFieldAndWritesTheSlicesAsLockedStamps() async throws {
        guard try Self.tools(), try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = try Self.threePages(in: dir)
        let src = try PDFDocument(url: input)
        var o = Self.options()
        o.appearance = Self.crossPageAppearance(src)
        let out = dir.appendingPathComponent("cross-page.pdf")
        let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
        #expect(res.crossPageLayout == .stamps)
        let doc = try PDFDocument(url: out)
        #expect(doc.revisions.count == 2)
        let field = try #require(doc.signatureFields.first { $0.name == "SealbatchSeal" })
        let fd = try #require(doc.resolve(field.fieldRef!).dictionaryValue)
        #expect(fd["Kids"] == nil && fd.name("Subtype") == "Widget" && fd["P"]?.referenceValue == doc.pages[2].ref)
        #expect(PDFRect(fd["Rect"]) == PDFRect(100, 100, 160, 160))
        for i in 0..<3 {
            let annots = (doc.resolve(doc.pages[i].dictionary["Annots"] ?? .null).arrayValue ?? []).compactMap { doc.resolve($0).dictionaryValue }
            let stamps = annots.filter { $0.name("Subtype") == "Stamp" }
            try #require(stamps.count == 1, "page \(i + 1): \(annots)")
            let st = stamps[0]
            #expect(st.int("F") == 4 | 128 | 512)
            #expect(st["P"]?.referenceValue == doc.pages[i].ref)
            #expect(st["FT"] == nil && st["V"] == nil && st["Parent"] == nil)
            #expect(doc.resolve(st["NM"] ?? .null).stringValue?.text == "sealbatch-slice-SealbatchSeal-\(i + 1)")
            #expect(doc.resolve(st["Contents"] ?? .null).stringValue?.text == "骑缝章 slice \(i + 1)/3")
            #expect(doc.resolve(st["AP"] ?? .null).dictionaryValue.flatMap { doc.resolve($0["N"] ?? .null).streamValue } != nil)
            #expect(annots.filter { $0.name("Subtype") == "Widget" }.count == (i == 2 ? 1 : 0))
        }

        // pdfsig: exactly one signature, valid, trusted, covering the whole document.
        let ps = try Validators.pdfsig(out, nssDir: try Validators.nssDB(in: pki.dir, root: pki.root))
        #expect(ps.count == 1, "\(ps.map(\.raw))")
        #expect(ps.first.map { $0.field == "SealbatchSeal" && $0.valid && $0.trusted && $0.total } == true, "\(ps.map(\.raw))")
        let ph = try Validators.pyhanko([out], root: pki.root)
        #expect(ph[out.path]?.allPass == true, "\(String(describing: ph[out.path]))")

        // Our verifier: passes, and reports the seal on page 3 with slices on pages 1–3.
        var vo = Verifier.Options()
        vo.revocation = .off
        let report = await (try Verifier(trust: [pki.root], options: vo)).verify(urls: [out])
        let sig = try #require(report.files.first?.signatures.first)
        #expect(sig.indication == .totalPassed, "\(sig.summary)")
        let app = try #require(sig.appearance)
        #expect(app.visible && app.widgetPages == [3] && app.slicePages == [1, 2, 3])
        #expect(app.slices.map(\.name) == (1...3).map { "sealbatch-slice-SealbatchSeal-\($0)" })
        #expect(report.text().contains("appearance: seal on page 3, 3 cross-page slice(s) on pages 1–3"), "\(report.text())")
        let json = try report.json()
        #expect(String(decoding: json, as: UTF8.self).contains("\"slices\""))
        #expect(try VerificationReport.decode(json: json).files.first?.signatures.first?.appearance == app)
        let r = try TestSupport.run("qpdf", ["--check", out.path])
        #expect(r.status == 0 || r.status == 3, "\(r.out)")
    }

    @Test func withoutSliceInformationTheFirstWidgetIsTheFieldAndTheRestAreStamps() async throws {
        guard try Self.tools(), try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = try Self.threePages(in: dir)
        let src = try PDFDocument(url: input)
        var o = Self.options()
        // Only the three slices, unlabelled (as Stages passes them): slice 1 carries the field.
        o.appearance = SealAppearance(widgets: Array(Self.crossPageAppearance(src, sliceInfo: false).widgets.dropFirst()))
        let out = dir.appendingPathComponent("slices-only.pdf")
        _ = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
        let doc = try PDFDocument(url: out)
        let fd = try #require(doc.resolve(doc.signatureFields.first!.fieldRef!).dictionaryValue)
        #expect(fd["Kids"] == nil && fd["P"]?.referenceValue == doc.pages[0].ref)
        let report = await Verifier(trustAnchorsDER: [], options: .init()).verify(url: out)
        let app = try #require(report.signatures.first?.appearance)
        #expect(app.widgetPages == [1] && app.slicePages == [2, 3])
        #expect(app.slices.map(\.name) == ["sealbatch-slice-SealbatchSeal-1", "sealbatch-slice-SealbatchSeal-2"])
        let ps = try Validators.pdfsig(out, nssDir: try Validators.nssDB(in: pki.dir, root: pki.root))
        #expect(ps.count == 1 && ps[0].valid && ps[0].trusted && ps[0].total, "\(ps.map(\.raw))")
    }

    @Test func crossPageSealOnAPyHankoSignedDocumentUsesWidgetsSoTheEarlierSignatureStaysValid() async throws {
        guard try Self.tools(), try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let plain = try Self.threePages(in: dir)
        let peer = dir.appendingPathComponent("peer-signed.pdf")
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_sign.py").path
        let s = try TestSupport.run("python3", [script, pki.url("leaf-ec.key").path, pki.url("leaf-ec.crt").path, pki.url("chain.pem").path,
                                                plain.path, peer.path, "PeerSig"])
        try #require(s.status == 0, "\(s.err)")
        var o = Self.options()
        o.appearance = Self.crossPageAppearance(try PDFDocument(url: peer))
        let out = dir.appendingPathComponent("peer-then-cross-page.pdf")
        let res = try await PAdESSealer().seal(input: peer, output: out, key: try pki.key(), options: o)
        #expect(res.crossPageLayout == .widgets)
        // Forcing stamps shows why: annotations added after PeerSig are a disallowed change for it.
        o.crossPageLayout = .stamps
        let stamped = dir.appendingPathComponent("peer-then-stamps.pdf")
        _ = try await PAdESSealer().seal(input: peer, output: stamped, key: try pki.key(), options: o)

        let ph = try Validators.pyhanko([out, stamped], root: pki.root)
        let good = try #require(ph[out.path])
        #expect(good.signatures.count == 2 && good.allPass, "\(good.signatures)")
        let bad = try #require(ph[stamped.path])
        #expect(bad.signatures.first { $0.field == "PeerSig" }?.bottom_line == false, "\(bad.signatures)")
        #expect(bad.signatures.first { $0.field == "SealbatchSeal" }?.bottom_line == true, "\(bad.signatures)")
        // pdfsig: the earlier signature and every entry of ours are valid (poppler lists our seal once per widget).
        let ps = try Validators.pdfsig(out, nssDir: try Validators.nssDB(in: pki.dir, root: pki.root))
        #expect(ps.first { $0.field == "PeerSig" }.map { $0.valid && $0.trusted } == true, "\(ps.map(\.raw))")
        #expect(ps.filter { $0.field == "SealbatchSeal" }.allSatisfy(\.valid) && ps.contains { $0.field == "SealbatchSeal" && $0.trusted },
                "\(ps.map(\.raw))")

        var vo = Verifier.Options()
        vo.revocation = .off
        let v = try Verifier(trust: [pki.root], options: vo)
        let report = await v.verify(url: out)
        #expect(report.passed, "\(report.signatures.map { "\($0.field): \($0.summary) \($0.modifications)" })")
        let mine = try #require(report.signatures.first { $0.field == "SealbatchSeal" })
        #expect(mine.appearance?.widgetPages == [1, 2, 3, 3] && mine.appearance?.slices.isEmpty == true)
        // The earlier signature's own revision shows only its own (invisible) widget.
        let earlier = try #require(report.signatures.first { $0.field == "PeerSig" })
        #expect(earlier.appearance?.slices.isEmpty == true && earlier.appearance?.visible == false)
        // Our verifier agrees with pyHanko on the forced-stamps file.
        let badReport = await v.verify(url: stamped)
        #expect(badReport.signatures.first { $0.field == "PeerSig" }?.modifications.allowed == false)
        #expect(badReport.signatures.first { $0.field == "SealbatchSeal" }?.appearance?.slicePages == [1, 2, 3])
    }

    @Test func removingAPageAfterACrossPageSealIsDetectedByUsAndPyHanko() async throws {
        guard try Self.tools(), try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = try Self.threePages(in: dir)
        var o = Self.options()
        o.appearance = Self.crossPageAppearance(try PDFDocument(url: input))
        let sealed = dir.appendingPathComponent("sealed.pdf")
        _ = try await PAdESSealer().seal(input: input, output: sealed, key: try pki.key(), options: o)
        let tampered = dir.appendingPathComponent("tampered.pdf")
        try Self.removePage2(sealed, to: tampered)
        #expect(try PDFDocument(url: tampered).pageCount == 2)

        var vo = Verifier.Options()
        vo.revocation = .off
        let v = try Verifier(trust: [pki.root], options: vo)
        let ok = await v.verify(url: sealed)
        #expect(ok.passed)
        let report = await v.verify(url: tampered)
        let sig = try #require(report.signatures.first)
        #expect(!report.passed && sig.indication == .indeterminate && sig.subIndication == .sigConstraintsFailure, "\(sig.summary)")
        #expect(!sig.modifications.allowed && sig.modifications.level == .other, "\(sig.modifications)")
        // What was signed is still reported from the signed revision: three slices, though the file now has two pages.
        #expect(sig.appearance?.slicePages == [1, 2, 3])
        let ph = try #require(try Validators.pyhanko([sealed, tampered], root: pki.root)[tampered.path])
        #expect(!ph.allPass && ph.signatures.first?.intact == true, "\(ph.signatures)")
        #expect(ph.signatures.first?.docmdp_ok == false || ph.signatures.first?.modification_level == "OTHER", "\(ph.signatures)")
    }

    @Test func certifyingOurSealIsSeenByPyHankoAndALaterSealKeepsIt() async throws {
        guard try Self.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        var o = Self.options()
        o.certify = .formFilling
        let first = dir.appendingPathComponent("certified.pdf")
        _ = try await PAdESSealer().seal(input: Self.corpus("xref-classic-minimal-pyhanko.pdf"), output: first, key: try pki.key(), options: o)
        #expect(try PDFDocument(url: first).docMDPPermission == 2)
        var o2 = Self.options()
        o2.fieldName = "Second"
        let second = dir.appendingPathComponent("certified-then-sealed.pdf")
        _ = try await PAdESSealer().seal(input: first, output: second, key: try pki.key("leaf-ec"), options: o2)
        let ph = try Validators.pyhanko([first, second], root: pki.root)
        #expect(ph[first.path]?.allPass == true)
        #expect(ph[second.path]?.allPass == true, "\(String(describing: ph[second.path]?.signatures))")
        // A P=1 certification of our own makes the next seal refuse.
        o.certify = .noChanges
        let locked = dir.appendingPathComponent("locked.pdf")
        _ = try await PAdESSealer().seal(input: Self.corpus("xref-classic-minimal-pyhanko.pdf"), output: locked, key: try pki.key(), options: o)
        await #expect(throws: SigningError(.certifiedNoChanges, "")) {
            _ = try await PAdESSealer().seal(input: locked, output: dir.appendingPathComponent("x.pdf"), key: try pki.key(), options: o2)
        }
    }

    @Test func refusesOutputOverInputSignedFieldAndMissingTSA() async throws {
        guard try Self.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = dir.appendingPathComponent("in.pdf")
        try FileManager.default.copyItem(at: Self.corpus("xref-classic-minimal-pyhanko.pdf"), to: input)
        let before = try Data(contentsOf: input)
        await #expect(throws: SigningError(.outputIsInput, "")) {
            _ = try await PAdESSealer().seal(input: input, output: input, key: try pki.key(), options: Self.options())
        }
        let link = dir.appendingPathComponent("hardlink.pdf")
        try FileManager.default.linkItem(at: input, to: link)
        await #expect(throws: SigningError(.outputIsInput, "")) {
            _ = try await PAdESSealer().seal(input: input, output: link, key: try pki.key(), options: Self.options())
        }
        #expect(try Data(contentsOf: input) == before)
        let out = dir.appendingPathComponent("out.pdf")
        _ = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: Self.options())
        await #expect(throws: SigningError(.fieldAlreadySigned, "")) {
            _ = try await PAdESSealer().seal(input: out, output: dir.appendingPathComponent("o2.pdf"), key: try pki.key(), options: Self.options())
        }
        var o = Self.options(.bT)
        o.tsaURLs = [URL(string: pki.base + "/tsa-refuse")!, URL(string: "http://127.0.0.1:1/tsa")!]
        o.timeout = 3
        do {
            _ = try await PAdESSealer().seal(input: input, output: dir.appendingPathComponent("o3.pdf"), key: try pki.key(), options: o)
            Issue.record("expected tsaUnavailable")
        } catch let e as SigningError {
            #expect(e.code == .tsaUnavailable)
            #expect(e.message.contains("tsa-refuse") && e.message.contains("127.0.0.1:1"))
        }
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("o3.pdf").path), "no half-made output after a failure")
    }

    @Test func sealsOnlyTheExpectedBytesAndRefusesAFileChangedSinceItsApproval() async throws {
        guard try Self.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = dir.appendingPathComponent("in.pdf")
        try FileManager.default.copyItem(at: Self.corpus("xref-classic-minimal-pyhanko.pdf"), to: input)
        let approved = DetachedSignature.sha256(Array(try Data(contentsOf: input)))
        var o = Self.options()
        o.expectedInputSHA256 = approved
        let out = dir.appendingPathComponent("out.pdf")
        let r = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
        // the sealed file's first revision is exactly the approved bytes, and the signed digest is unchanged by the extra check
        let sealed = Array(try Data(contentsOf: out))
        #expect(DetachedSignature.sha256(Array(sealed.prefix(try Data(contentsOf: input).count))) == approved)
        let ranges = r.byteRange
        let covered = Array(sealed[ranges[0]..<ranges[0] + ranges[1]]) + Array(sealed[ranges[2]..<ranges[2] + ranges[3]])
        #expect(DetachedSignature.sha256(covered) == r.signedDigest)
        // the same file with one byte changed in place (a writer still at work after the approval)
        var changed = Array(try Data(contentsOf: input))
        changed[7] = UInt8(ascii: "6") // %PDF-1.7 → %PDF-1.6: same length, still a sealable PDF
        try Data(changed).write(to: input)
        let refused = dir.appendingPathComponent("refused.pdf")
        do {
            _ = try await PAdESSealer().seal(input: input, output: refused, key: try pki.key(), options: o)
            Issue.record("expected inputChanged")
        } catch let e as SigningError {
            #expect(e.code == .inputChanged)
            #expect(e.message.contains("changed after it was approved"))
        }
        #expect(!FileManager.default.fileExists(atPath: refused.path), "nothing sealed from changed bytes")
        // bytes appended after the approval are refused too
        try Data(Array(try Data(contentsOf: Self.corpus("xref-classic-minimal-pyhanko.pdf"))) + Array("\n% appended\n".utf8)).write(to: input)
        await #expect(throws: SigningError(.inputChanged, "")) {
            _ = try await PAdESSealer().seal(input: input, output: refused, key: try pki.key(), options: o)
        }
    }
}

@Suite("Sealing: field names")
struct SealFieldNameTests {
    @Test func defaultFieldNameAvoidsExistingFields() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let a = dir.appendingPathComponent("a.pdf"), b = dir.appendingPathComponent("b.pdf")
        let r1 = try await PAdESSealer().seal(input: SealerTests.corpus("xref-classic-minimal-pyhanko.pdf"), output: a, key: try pki.key(), options: SealOptions())
        let r2 = try await PAdESSealer().seal(input: a, output: b, key: try pki.key(), options: SealOptions())
        #expect(r1.fieldName == "Seal" && r2.fieldName == "Seal2")
        let report = await (try VerifierTests.verifier(pki, revocation: .off)).verify(url: b)
        #expect(report.passed && report.signatures.count == 2, "\(report.signatures.map(\.summary))")
    }
}
