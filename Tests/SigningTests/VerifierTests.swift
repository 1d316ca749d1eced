import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

@Suite("Verifier", .serialized)
struct VerifierTests {
    static func corpus(_ name: String) -> URL { TestSupport.corpusDir.appendingPathComponent(name) }

    static func seal(_ input: URL, _ output: URL, key: String = "leaf", pki: TestPKI, field: String = "SealbatchSeal", certify: DocMDP? = nil) async throws {
        var o = SealOptions(name: "Records Office Seal", reason: "Approved")
        o.fieldName = field
        o.certify = certify
        _ = try await PAdESSealer().seal(input: input, output: output, key: try pki.key(key), options: o)
    }

    static func verifier(_ pki: TestPKI, revocation: RevocationPolicy = .softFail) throws -> Verifier {
        var o = Verifier.Options()
        o.revocation = revocation
        o.revocationCache = RevocationCache()
        return try Verifier(trust: [pki.root], options: o)
    }

    /// Appends an incremental update made with the PDF core.
    static func append(_ file: URL, to out: URL, _ body: (PDFDocument, IncrementalUpdate) throws -> Void) throws {
        let doc = try PDFDocument(url: file)
        let u = try IncrementalUpdate(document: doc)
        try body(doc, u)
        try u.write(to: out)
    }

    static func flip(_ file: URL, at offset: Int, to out: URL) throws {
        var b = try [UInt8](Data(contentsOf: file))
        b[offset] ^= 0x01
        try Data(b).write(to: out)
    }

    @Test func agreesWithPyHankoOnAGeneratedSet() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir("sealbatch-agree")
        let src = Self.corpus("xref-classic-minimal-pyhanko.pdf")
        func f(_ n: String) -> URL { dir.appendingPathComponent(n + ".pdf") }
        var expectPass: [String: Bool] = [:]

        try await Self.seal(src, f("valid"), pki: pki); expectPass["valid"] = true
        // One byte flipped inside the first covered range (in the page content area near the start).
        let valid = try PDFDocument(url: f("valid"))
        let br = try #require(valid.signatureFields.first?.byteRange)
        try Self.flip(f("valid"), at: br[1] / 2, to: f("byte-flipped")); expectPass["byte-flipped"] = false
        // Signature value flipped: find the signature value's hex inside /Contents.
        let contents = try #require(valid.signatureFields.first?.contents)
        let cms = try #require(CMSSignature(der: contents))
        let sigHex = Array(cms.signatureValue.prefix(16).map { String(format: "%02X", $0) }.joined().utf8)
        let bytes = try [UInt8](Data(contentsOf: f("valid")))
        let at = try #require(find(sigHex, in: bytes))
        var tampered = bytes
        tampered[at + 10] = tampered[at + 10] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        try Data(tampered).write(to: f("signature-flipped")); expectPass["signature-flipped"] = false
        try await Self.seal(src, f("untrusted-ca"), key: "untrusted-leaf", pki: pki); expectPass["untrusted-ca"] = false
        try await Self.seal(src, f("expired"), key: "leaf-expired", pki: pki); expectPass["expired"] = false
        try await Self.seal(src, f("revoked"), key: "leaf-revoked", pki: pki); expectPass["revoked"] = false
        // Allowed later change: another signature.
        try await Self.seal(f("valid"), f("second-seal"), key: "leaf-ec", pki: pki, field: "Second"); expectPass["second-seal"] = true
        // An annotation: classified as such, allowed only under a P=3 certification (pyHanko agrees it is not allowed here).
        try Self.append(f("valid"), to: f("annotation-added")) { doc, u in
            let page = doc.pages[0]
            let a = u.add(.dictionary(["Type": .name("Annot"), "Subtype": .name("Text"), "Rect": .array([10, 10, 30, 30]), "Contents": .text("note")]))
            var pd = page.dictionary
            pd["Annots"] = .array((doc.resolve(pd["Annots"] ?? .null).arrayValue ?? []) + [.reference(a)])
            u.replace(page.ref, with: .dictionary(pd))
        }
        expectPass["annotation-added"] = false
        // Not allowed after a P=2 certification: an annotation.
        try await Self.seal(src, f("certified"), pki: pki, certify: .formFilling)
        try Self.append(f("certified"), to: f("certified-annotation-added")) { doc, u in
            let page = doc.pages[0]
            let a = u.add(.dictionary(["Type": .name("Annot"), "Subtype": .name("Text"), "Rect": .array([10, 10, 30, 30])]))
            var pd = page.dictionary
            pd["Annots"] = .array((doc.resolve(pd["Annots"] ?? .null).arrayValue ?? []) + [.reference(a)])
            u.replace(page.ref, with: .dictionary(pd))
        }
        expectPass["certified-annotation-added"] = false
        // Never allowed: new page content.
        try Self.append(f("valid"), to: f("content-replaced")) { doc, u in
            let page = doc.pages[0]
            let s = u.add(.stream(PDFStream(dictionary: [:], rawData: Array("BT /F1 24 Tf 100 700 Td (PAID) Tj ET".utf8))))
            var pd = page.dictionary
            pd["Contents"] = .reference(s)
            u.replace(page.ref, with: .dictionary(pd))
        }
        expectPass["content-replaced"] = false
        // Truncated.
        let full = try Data(contentsOf: f("valid"))
        try full.prefix(full.count * 2 / 3).write(to: f("truncated")); expectPass["truncated"] = false

        let names = expectPass.keys.sorted()
        let urls = names.map(f)
        let ph = try Validators.pyhanko(urls, root: pki.root, mode: "fetch")
        let ours = await (try Self.verifier(pki)).verify(urls: urls)
        for (name, url) in zip(names, urls) {
            let theirs = ph[url.path]?.allPass ?? false
            let mine = try #require(ours.files.first { $0.path == url.path })
            #expect(theirs == expectPass[name], "pyHanko on \(name): \(String(describing: ph[url.path]))")
            #expect(mine.passed == theirs, "disagreement with pyHanko on \(name): \(mine.signatures.map { "\($0.field) \($0.indication.rawValue)/\($0.subIndication?.rawValue ?? "") \($0.summary)" })")
        }
        func sub(_ n: String) -> SubIndication? { ours.files.first { $0.path == f(n).path }?.signatures.first?.subIndication }
        #expect(sub("byte-flipped") == .hashFailure)
        #expect(sub("signature-flipped") == .sigCryptoFailure)
        #expect(sub("untrusted-ca") == .noCertificateChainFound)
        #expect(sub("expired") == .outOfBoundsNoPOE)
        #expect(sub("revoked") == .revokedNoPOE)
        #expect(sub("content-replaced") == .sigConstraintsFailure)
        #expect(ours.files.first { $0.path == f("content-replaced").path }?.signatures.first?.modifications.level == .other)
        #expect(ours.files.first { $0.path == f("annotation-added").path }?.signatures.first?.modifications.level == .annotations)
        let trunc = try #require(ours.files.first { $0.path == f("truncated").path })
        #expect(!trunc.passed)
    }

    @Test func garbageInContentsOrByteRangeIsFormatFailure() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let valid = dir.appendingPathComponent("valid.pdf")
        try await Self.seal(Self.corpus("xref-classic-minimal-pyhanko.pdf"), valid, pki: pki)
        let bytes = try [UInt8](Data(contentsOf: valid))
        let doc = try PDFDocument(url: valid)
        let br = try #require(doc.signatureFields.first?.byteRange)
        // /Contents: hex garbage that is not DER.
        var g1 = bytes
        for i in (br[1] + 1)..<(br[1] + 41) { g1[i] = UInt8(ascii: "7") }
        // /ByteRange: numbers pointing past the end (same width, so offsets stay put).
        let brText = Array("/ByteRange".utf8)
        let brAt = try #require(find(brText, in: bytes))
        var g2 = bytes
        var i = brAt + brText.count
        while g2[i] != UInt8(ascii: "]") { if g2[i] >= 0x30 && g2[i] <= 0x39 { g2[i] = UInt8(ascii: "9") }; i += 1 }
        // /ByteRange that skips more than /Contents.
        var g3 = bytes
        var j = brAt + brText.count, seen = 0
        while g3[j] != UInt8(ascii: "]") {
            if g3[j] >= 0x31 && g3[j] <= 0x39 && seen == 0 { g3[j] -= 1; seen = 1 }
            j += 1
        }
        var results: [SubIndication?] = []
        for (n, b) in [("contents", g1), ("byterange", g2), ("gap", g3)] {
            let u = dir.appendingPathComponent("\(n).pdf")
            try Data(b).write(to: u)
            let r = await (try Self.verifier(pki)).verify(url: u)
            #expect(!r.passed)
            results.append(r.signatures.first?.subIndication)
            #expect(r.signatures.first?.indication == .totalFailed, "\(n): \(r.signatures.first?.summary ?? r.error ?? "")")
        }
        #expect(results.allSatisfy { $0 == .formatFailure }, "\(results)")
    }

    @Test func neverCrashesOnTheCorpusAndAgreesWithExpectedIntegrity() async throws {
        guard try TestSupport.haveTool("openssl") else { return }
        let tsv = try String(contentsOf: TestSupport.corpusDir.appendingPathComponent("expected.tsv"), encoding: .utf8)
        var o = Verifier.Options()
        o.revocation = .off
        let v = Verifier(trustAnchorsDER: [], options: o)
        var checked = 0
        for line in tsv.split(separator: "\n").dropFirst() {
            let c = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard c.count > 4 else { continue }
            let r = await v.verify(url: Self.corpus(c[0]))
            if let e = r.error, e.contains("password") { continue } // PDF core: files needing a password to open are out of scope
            #expect(!r.passed, "\(c[0]) cannot pass without trust anchors")
            // expected signatures column: Name=intact|NOT-intact/valid/COVERAGE/MODIFICATION
            for spec in c[4].split(separator: ";") where spec.contains("=") {
                let kv = spec.split(separator: "=", maxSplits: 1)
                let parts = kv[1].split(separator: "/").map(String.init)
                guard parts.count == 4, let s = r.signatures.first(where: { $0.field == String(kv[0]) }) else {
                    if spec.contains("intact") { Issue.record("\(c[0]): signature \(kv[0]) not reported") }
                    continue
                }
                checked += 1
                let intact = parts[0] == "intact"
                if intact { #expect(s.integrity.ok, "\(c[0]) \(kv[0]): expected intact: \(s.summary)") }
                else { #expect(!s.integrity.ok || s.subIndication == .formatFailure, "\(c[0]) \(kv[0]): expected NOT intact") }
                if intact { #expect(s.cryptographic.ok == (parts[1] == "valid"), "\(c[0]) \(kv[0]): crypto \(s.cryptographic.detail)") }
                // pyHanko's difference level, exactly; the one documented exception (docs/dev/verifier-disagreements.md):
                // pyHanko takes an object of signed-twice-second-tampered's last revision for new because that
                // revision's /Size shrank, and misses the signature added there.
                let pyhanko: [String: ModificationLevel] = ["NONE": .none, "LTA_UPDATES": .signaturesAndDSS, "FORM_FILLING": .formFilling, "ANNOTATIONS": .annotations, "OTHER": .other]
                var mod = parts[3]
                if c[0] == "signed-twice-second-tampered-dss.pdf" && kv[0] == "Signature1" { mod = "FORM_FILLING" }
                if mod == "OTHER" && !intact { continue }
                #expect(s.modifications.level == pyhanko[mod], "\(c[0]) \(kv[0]): pyHanko says \(mod), we say \(s.modifications.level.rawValue): \(s.modifications.details)")
                #expect(s.modifications.allowed == (mod != "OTHER"), "\(c[0]) \(kv[0]): \(s.modifications)")
            }
        }
        #expect(checked >= 20)
    }

    @Test func reportsRenderAsVersionedJSONAndJUnit() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let good = dir.appendingPathComponent("good & fine.pdf"), bad = dir.appendingPathComponent("bad.pdf")
        try await Self.seal(Self.corpus("xref-classic-minimal-pyhanko.pdf"), good, pki: pki)
        try Data("%PDF-1.7\ngarbage".utf8).write(to: bad)
        let report = await (try Self.verifier(pki)).verify(urls: [good, bad])
        let json = try report.json()
        let back = try VerificationReport.decode(json: json)
        #expect(try back.json() == json, "JSON must round-trip")
        let obj = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        #expect(obj["schema"] as? String == "sealbatch.verify/2")
        // kebab-case keys, as every JSON of the command line (docs/cli.md)
        #expect(obj["validation-time"] != nil && obj["validationTime"] == nil)
        let file0 = try #require((obj["files"] as? [[String: Any]])?.first)
        let sig0 = try #require((file0["signatures"] as? [[String: Any]])?.first)
        #expect(sig0["certificate-path"] != nil && (sig0["coverage"] as? [String: Any])?["covers-whole-file"] as? Bool == true, "\(sig0.keys.sorted())")
        let xml = report.junit()
        // The unreadable file is an <error> (not a failed verdict); suites carry time and hostname.
        #expect(xml.contains("tests=\"2\" failures=\"0\" errors=\"1\""))
        #expect(xml.contains("<error message=") && !xml.contains("<failure"))
        #expect(xml.contains(" hostname=\"") && xml.contains("<testcase classname=\"sealbatch.verify\" name=\"") && xml.contains(" time=\""))
        #expect(xml.contains("good &amp; fine.pdf"))
        if try TestSupport.haveTool("python3") {
            let xmlFile = dir.appendingPathComponent("r.xml")
            try Data(xml.utf8).write(to: xmlFile)
            let r = try TestSupport.run("python3", ["-c", "import sys,xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).getroot().tag)", xmlFile.path])
            #expect(r.out.trimmingCharacters(in: .whitespacesAndNewlines) == "testsuites", "\(r.err)")
        }
        #expect(report.text().contains("TOTAL-PASSED"))
    }

    @Test func cliExitCodesFollowTheVerdict() async throws {
        guard try SealerTests.tools() else { return }
        let bin = TestSupport.sealbatchBinary
        guard FileManager.default.isExecutableFile(atPath: bin.path) else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let good = dir.appendingPathComponent("good.pdf")
        try await Self.seal(Self.corpus("xref-classic-minimal-pyhanko.pdf"), good, pki: pki)
        let ok = try TestSupport.run(bin.path, ["verify", "--trust", pki.root.path, "--format", "json", good.path])
        #expect(ok.status == 0, "\(ok.err)")
        #expect(ok.out.contains("\"TOTAL-PASSED\""))
        let fail = try TestSupport.run(bin.path, ["verify", "--trust", pki.root.path, "--level", "B-T", "--format", "junit", good.path])
        #expect(fail.status == 1)
        #expect(fail.out.contains("<failure"))
        // An allowed change after the seal (the catalog's /Version raised): valid, exit 3, not 0.
        let later = dir.appendingPathComponent("later.pdf")
        let doc = try PDFDocument(url: good)
        let up = try IncrementalUpdate(document: doc)
        var cat = doc.catalog
        cat["Version"] = .name("2.0")
        up.replace(try #require(doc.catalogRef), with: .dictionary(cat))
        _ = try up.write(to: later)
        let allowed = try TestSupport.run(bin.path, ["verify", "--trust", pki.root.path, later.path])
        #expect(allowed.status == 3, "\(allowed.out)\(allowed.err)")
        #expect(allowed.out.contains("PASSED, with later changes that are allowed"))
        let usage = try TestSupport.run(bin.path, ["verify", "--level", "B-X", good.path])
        #expect(usage.status == 2)
        let none = try TestSupport.run(bin.path, ["verify"])
        #expect(none.status == 2)
    }
}

func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
    guard needle.count <= hay.count, let first = needle.first else { return nil }
    var i = 0
    while i <= hay.count - needle.count {
        if hay[i] == first && Array(hay[i..<(i + needle.count)]) == needle { return i }
        i += 1
    }
    return nil
}

@Suite("Verifier robustness")
struct VerifierRobustnessTests {
    /// Deterministic mutations of a sealed file (byte flips, truncations, spliced garbage) never crash the verifier.
    @Test func mutatedSealedFilesNeverCrashAndNeverPass() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let valid = dir.appendingPathComponent("valid.pdf")
        try await VerifierTests.seal(SealerTests.corpus("xrefstream-minimal-pyhanko.pdf"), valid, pki: pki)
        let bytes = try [UInt8](Data(contentsOf: valid))
        let br = try #require(try PDFDocument(url: valid).signatureFields.first?.byteRange)
        var rng = SplitMix(seed: 0x5EA1BA7C)
        // Byte flips go to the signed ranges (the zero padding of /Contents is not signed, by design of PDF signatures).
        func signedOffset() -> Int {
            let k = Int(rng.next() % UInt64(br[1] + br[3]))
            return k < br[1] ? k : br[2] + (k - br[1])
        }
        var o = Verifier.Options()
        o.revocation = .off
        let v = try Verifier(trust: [pki.root], options: o)
        var passedCount = 0
        for i in 0..<120 {
            var b = bytes
            switch i % 4 {
            case 0: for _ in 0..<(1 + Int(rng.next() % 8)) { b[signedOffset()] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
            case 1: b = Array(b.prefix(Int(rng.next() % UInt64(b.count))))
            case 2:
                let at = Int(rng.next() % UInt64(b.count))
                b.insert(contentsOf: (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            default:
                let at = Int(rng.next() % UInt64(b.count)), n = min(b.count - at, Int(rng.next() % 200))
                b.removeSubrange(at..<(at + n))
            }
            if b == bytes { continue }
            let u = dir.appendingPathComponent("m\(i).pdf")
            try Data(b).write(to: u)
            let r = await v.verify(url: u)
            if r.passed { passedCount += 1 }
        }
        // Flips in signed bytes break the digest; insertions/removals shift the /Contents gap or append bytes that
        // are not an allowed revision; truncations cut the signed ranges. Nothing may pass.
        #expect(passedCount == 0)
    }
}

/// Small deterministic PRNG for reproducible mutations.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
