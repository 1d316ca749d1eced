import Foundation
import Governance
@testable import Pipeline
import PDF
import Signing
import Stages
import TestSupport
import Testing
import Token

/// Issue #14 items 1–4 through the whole pipeline (`--once`), judged by pyHanko and pdfsig: certified inputs
/// (DocMDP P=2/P=3) never get a new visible field, empty signature fields are filled, inputs with a document
/// time-stamp are counted the same way at ingest and at verify, and a broken earlier signature is caught at
/// ingest before an approval use or a token signature is spent.
@Suite(.serialized) struct SignedInputsTests {
    func engine(_ config: PipelineConfig) throws -> (Engine, StagesRuntime) {
        let shared = SharedObjects()
        let stages = try config.makeStages(registry: StandardStages.registry(), shared: shared)
        let rt = try StandardStages.runtime(StageEnvironment(sections: config.sections, baseDir: config.baseDir, folders: config.folders, shared: shared))
        return (Engine(config: config, stages: stages, journal: try Journal(url: config.journal), logger: quietLogger,
                       metricsFactory: PrometheusRegistry()), rt)
    }

    static func tools() throws -> Bool {
        for t in ["python3", "softhsm2-util", "pdfsig", "certutil", "openssl"] where !(try TestSupport.haveTool(t)) { return false }
        return true
    }

    /// The standard stages with these render and ingest settings (JSON members, without braces).
    static func stages(_ world: SealWorld, render: String = #""placement": {"corner": "bottom-right"}"#, ingest: String = "") -> String {
        """
        [{"kind": "ingest"\(ingest.isEmpty ? "" : ", " + ingest)},
         {"kind": "approval", "manifests": "approvals"},
         {"kind": "render", \(render)},
         {"kind": "sign", "level": "B-B"},
         {"kind": "verify", "trust": "\(world.token.caCertificate.path)"},
         {"kind": "archive"}]
        """
    }

    struct Outcome {
        var root: URL
        var summary: RunSummary
        var runtime: StagesRuntime
        var manifest: SignedApprovalManifest
        var outbox: URL { root.appendingPathComponent("outbox") }
        func sealed(_ name: String) -> URL { outbox.appendingPathComponent(name) }
        func quarantine(_ name: String) throws -> QuarantineReason {
            try JSONDecoder().decode(QuarantineReason.self, from: Data(contentsOf: root.appendingPathComponent("quarantine/\(name).reason.json")))
        }
        /// The receipt of a delivered document.
        func receipt(_ name: String) throws -> Receipt {
            let archive = root.appendingPathComponent("archive")
            let all = FileManager.default.enumerator(at: archive, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
            let dec = JSONDecoder()
            dec.dateDecodingStrategy = .iso8601
            for u in all where u.lastPathComponent == "receipt.json" {
                let data = try Data(contentsOf: u)
                // one key case everywhere (issue #17): the receipt and the verify report inside it are kebab-case
                let camel = Self.camelCaseKeys(try JSONSerialization.jsonObject(with: data))
                #expect(camel.isEmpty, "camelCase keys in \(u.path): \(camel)")
                let r = try dec.decode(Receipt.self, from: data)
                #expect(r.verification?.report?.signatures.isEmpty == false, "the verify report survives the receipt's round trip")
                if r.document == name { return r }
            }
            throw FixtureFailure("no receipt for \(name) under \(archive.path)")
        }
    }

    /// Copies `inputs` into a fresh inbox, approves them all and runs the pipeline once.
    func run(_ inputs: [URL], stages: String, world: SealWorld) async throws -> Outcome {
        let root = try TestSupport.tempDir("signed-inputs")
        let inbox = root.appendingPathComponent("inbox")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        var copies: [URL] = []
        for f in inputs {
            let c = inbox.appendingPathComponent(f.lastPathComponent)
            try FileManager.default.copyItem(at: f, to: c)
            copies.append(c)
        }
        let manifest = try world.approve(copies)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(world.pipelineJSON(name: "signed-inputs", extraStages: stages).utf8).write(to: cfg)
        let (e, rt) = try engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry()))
        let summary = try await e.run(mode: .once)
        return Outcome(root: root, summary: summary, runtime: rt, manifest: manifest)
    }

    // MARK: - Inputs made with pyHanko

    /// A two-page reportlab contract.
    static func contract(_ name: String, in dir: URL) throws -> URL {
        let made = try SamplePDFs.make(in: dir.appendingPathComponent("src-\(name)"), count: 1, prefix: name)[0]
        let out = dir.appendingPathComponent("\(name).pdf")
        try FileManager.default.moveItem(at: made, to: out)
        return out
    }

    /// `src` signed by pyHanko as `boss` of the user PKI in field `Author`; `certify` P makes it a certification.
    static func pyHankoSigned(_ src: URL, certify: Int?, out: URL, world: SealWorld) throws -> URL {
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_sign.py").path
        let pki = world.pki.dir
        let r = try TestSupport.run("python3", [script, pki.appendingPathComponent("boss.key").path, pki.appendingPathComponent("boss.crt").path,
                                                pki.appendingPathComponent("ca.crt").path, src.path, out.path, "Author"] + (certify.map { [String($0)] } ?? []))
        try #require(r.status == 0, "pyhanko_sign.py: \(r.err)")
        return out
    }

    /// `src` with a document time-stamp from pyHanko's `PdfTimeStamper` against the loopback `openssl ts` TSA.
    static func documentTimeStamped(_ src: URL, out: URL, tsa: URL) throws -> URL {
        let script = """
        import sys
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import timestamps
        from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
        src, dst, url = sys.argv[1:4]
        with open(src, "rb") as f:
            w = IncrementalPdfFileWriter(f, strict=False)
            with open(dst, "wb") as o:
                PdfTimeStamper(timestamps.HTTPTimeStamper(url)).timestamp_pdf(w, "sha256", output=o)
        """
        let py = out.deletingLastPathComponent().appendingPathComponent(".timestamp.py")
        try Data(script.utf8).write(to: py)
        let r = try TestSupport.run("python3", [py.path, src.path, out.path, tsa.absoluteString])
        try #require(r.status == 0, "PdfTimeStamper: \(r.err)")
        return out
    }

    // MARK: - Validators

    struct PyHankoSignature: Decodable {
        let field: String?
        let kind: String
        let intact: Bool?
        let valid: Bool?
        let trusted: Bool?
        let bottom_line: Bool
        let modification_level: String?
        let docmdp_ok: Bool?
        let error: String?
    }
    struct PyHankoFile: Decodable { let file: String; let error: String?; let signatures: [PyHankoSignature] }

    /// pyHanko's verdict on every signature and document time-stamp (SigningTests' validator script, one process).
    static func pyHanko(_ files: [URL], root: URL) throws -> [String: PyHankoFile] {
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_validate.py")
        let r = try TestSupport.run("python3", [script.path, root.path, "none"] + files.map(\.path))
        var out: [String: PyHankoFile] = [:]
        for line in r.out.split(separator: "\n") {
            if let f = try? JSONDecoder().decode(PyHankoFile.self, from: Data(line.utf8)) { out[f.file] = f }
        }
        try #require(out.count == files.count, "pyhanko_validate.py: \(r.err.suffix(600))")
        return out
    }

    /// pdfsig's verdict per signature field: (valid, trusted).
    static func pdfsig(_ file: URL, root: URL) throws -> [String: (valid: Bool, trusted: Bool)] {
        let db = root.deletingLastPathComponent().appendingPathComponent("nssdb-\(root.lastPathComponent)")
        if !FileManager.default.fileExists(atPath: db.appendingPathComponent("cert9.db").path) {
            try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
            _ = try TestSupport.run("certutil", ["-N", "-d", "sql:" + db.path, "--empty-password"])
            _ = try TestSupport.run("certutil", ["-A", "-d", "sql:" + db.path, "-n", "root", "-t", "C,C,C", "-i", root.path])
        }
        let r = try TestSupport.run("pdfsig", ["-nssdir", "sql:" + db.path, file.path])
        var out: [String: (Bool, Bool)] = [:]
        var field = "", valid = false, trusted = false, open = false
        func flush() { if open { out[field] = (valid, trusted) } }
        for line in r.out.split(separator: "\n") {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("Signature #") { flush(); open = true; field = ""; valid = false; trusted = false; continue }
            if l.hasPrefix("- Signature Field Name:") { field = String(l.dropFirst("- Signature Field Name:".count)).trimmingCharacters(in: .whitespaces) }
            if l.contains("Signature is Valid.") { valid = true }
            if l.contains("Certificate is Trusted.") { trusted = true }
        }
        flush()
        return out
    }

    /// The checks every sealed output must pass: the new seal (the field pyHanko did not see in the input) valid and
    /// trusted in pyHanko and pdfsig, every earlier signature's pyHanko verdict (intact, valid, DocMDP) unchanged,
    /// and our verifier agreeing with pyHanko on whether each earlier signature's later changes are allowed.
    /// Returns the new seal's field name.
    @discardableResult
    static func judge(input: URL, output: URL, world: SealWorld) async throws -> String {
        let root = world.token.caCertificate
        let ph = try pyHanko([input, output], root: root)
        let before = try #require(ph[input.path]), after = try #require(ph[output.path])
        #expect(before.error == nil && after.error == nil, "\(String(describing: before.error)) \(String(describing: after.error))")
        let earlier = Set(before.signatures.compactMap(\.field))
        let new = after.signatures.filter { !earlier.contains($0.field ?? "") }
        try #require(new.count == 1, "pyHanko sees \(new.count) new signatures in \(output.lastPathComponent)")
        let mine = new[0]
        #expect(mine.kind == "signature" && mine.bottom_line, "pyHanko on the new seal: \(mine)")
        for b in before.signatures {
            let a = try #require(after.signatures.first { $0.field == b.field })
            #expect(a.intact == b.intact && a.valid == b.valid, "\(output.lastPathComponent): earlier \(b.field ?? "?") \(b) → \(a)")
            if b.kind == "signature" {
                #expect(a.docmdp_ok == b.docmdp_ok, "\(output.lastPathComponent): earlier \(b.field ?? "?") DocMDP \(String(describing: b.docmdp_ok)) → \(String(describing: a.docmdp_ok)) (\(a.modification_level ?? "?"))")
            }
        }
        // our verifier gives the same verdict on every earlier signature's changes
        var o = Verifier.Options()
        o.revocation = .off
        o.fetchRevocation = false
        let report = await Verifier(trustAnchorsDER: [], options: o).verify(url: output)
        for a in after.signatures where a.kind == "signature" && a.field != mine.field {
            let ours = try #require(report.signatures.first { $0.field == a.field })
            #expect(ours.modifications.allowed == (a.docmdp_ok == true), "\(output.lastPathComponent): \(a.field ?? "?") ours \(ours.modifications.allowed) (\(ours.modifications.level.rawValue)), pyHanko \(String(describing: a.docmdp_ok))")
        }
        let ps = try pdfsig(output, root: root)
        let seal = try #require(ps[mine.field ?? ""], "pdfsig does not list \(mine.field ?? "?"): \(ps.keys.sorted())")
        #expect(seal.valid && seal.trusted, "pdfsig on the new seal of \(output.lastPathComponent)")
        return mine.field ?? ""
    }

    // MARK: - Tests

    /// Certified P=2 (iText, empty fields) from the corpus and pyHanko `--certify` P=2 / P=3 contracts without an
    /// empty field: all delivered; no new visible field after the certification; the certification's verdict
    /// unchanged in pyHanko and the same in ours. LibreOffice's P=3 file is refused at verify (below).
    @Test func certifiedDocumentsAreSealedWithoutBreakingTheirCertification() async throws {
        guard try Self.tools() else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("certified")
        var inputs = [TestSupport.corpusDir.appendingPathComponent("certified-docmdp-p2-empty-fields-itext-dss.pdf")]
        for p in [2, 3] {
            inputs.append(try Self.pyHankoSigned(try Self.contract("contract-p\(p)", in: dir), certify: p,
                                                 out: dir.appendingPathComponent("pyhanko-certified-p\(p).pdf"), world: world))
        }
        // LibreOffice's file: its signed revision's trailer points at object 56 (/AdditionalStreams, one past /Size);
        // our seal's new object 56 then changes what the signed revision refers to. pyHanko accepts that (it writes
        // the same); our verifier does not, so the verify stage refuses our own output rather than deliver a file
        // `sealbatch verify` would call modified (docs/dev/verifier-disagreements.md).
        let libreOffice = TestSupport.corpusDir.appendingPathComponent("certified-docmdp-p3-libreoffice-dss.pdf")
        let out = try await run(inputs + [libreOffice], stages: Self.stages(world), world: world)
        #expect(out.summary.delivered == inputs.count, "\(out.summary.table())")
        #expect(out.summary.quarantined == ["verify-failed": 1], "\(out.summary.table())")
        let refused = try out.quarantine(libreOffice.lastPathComponent)
        #expect(refused.stage == "verify" && refused.message.contains("signature-test") && refused.message.contains("object 56"), "\(refused.message)")
        var fielded: Set<String> = []
        for input in inputs {
            let name = input.lastPathComponent
            let sealed = out.sealed(name)
            let field = try await Self.judge(input: input, output: sealed, world: world)
            let before = try PDFDocument(url: input), after = try PDFDocument(url: sealed)
            let receipt = try out.receipt(name)
            let emptyBefore = before.signatureFields.filter { !$0.isSigned }.map(\.name)
            if emptyBefore.contains(field) {
                // sealed into the author's empty field: visible there, in its rectangle (the receipt's placement)
                let ref = try #require(after.signatureFields.first { $0.name == field }?.fieldRef)
                let fd = try #require(after.resolve(ref).dictionaryValue)
                let r = try #require(PDFRect(after.resolve(fd["Rect"] ?? .null).arrayValue.map { PDFObject.array($0) }))
                #expect(receipt.placements?.count == 1 && receipt.placements?.first?.contains(String(format: "%.1f %.1f", r.llx, r.lly)) == true,
                        "\(name): \(receipt.placements ?? []) vs \(r)")
                fielded.insert(name)
            } else {
                // no empty field: the seal is invisible (no widget with an area), and the receipt says so
                #expect(receipt.warnings?.contains { $0.contains("INVISIBLY") } == true, "\(name): \(receipt.warnings ?? [])")
                let ref = try #require(after.signatureFields.first { $0.name == field }?.fieldRef)
                let d = try #require(after.resolve(ref).dictionaryValue)
                let r = PDFRect(after.resolve(d["Rect"] ?? .null).arrayValue.map { PDFObject.array($0) })
                #expect((r.map { $0.width * $0.height } ?? 0) == 0, "\(name): the seal field has a visible rectangle \(String(describing: r))")
            }
            #expect(receipt.verificationPassed == true)
        }
        // the run's summary and the morning report name every document sealed with a warning
        #expect(out.summary.exitCode == 1 && !out.summary.warnings.isEmpty, "sealed with warnings, one quarantined: \(out.summary.table())")
        let report = try JournalReport.make(journal: try Journal(url: out.root.appendingPathComponent("work/journal.sqlite")), since: Date().addingTimeInterval(-3600))
        let invisible = inputs.map(\.lastPathComponent).filter { !fielded.contains($0) }
        #expect(invisible.count >= 2, "pyHanko's two certified contracts have no empty field: \(invisible)")
        for name in invisible {
            #expect(out.summary.warnings.contains { $0.hasPrefix(name + ": the document is certified") && $0.contains("INVISIBLY") }, "\(out.summary.warnings)")
            #expect(report.warnings?.contains { $0.hasPrefix(name + ": ") && $0.contains("INVISIBLY") } == true, "\(report.text())")
        }
        #expect(report.text().contains("sealed with warnings: "), "\(report.text())")
    }

    /// `visible: "required"` in the render stage: a certified document without an empty signature field is refused
    /// at render (`visible-seal-not-allowed`, English and Chinese next step) before its approval use and the token.
    @Test func certifiedDocumentWithoutEmptyFieldIsRefusedWhenTheVisibleSealIsRequired() async throws {
        guard try Self.tools() else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("certified-required")
        let input = try Self.pyHankoSigned(try Self.contract("contract-required", in: dir), certify: 2,
                                           out: dir.appendingPathComponent("certified-required-p2.pdf"), world: world)
        let render = #""placement": {"corner": "bottom-right"}, "visible": "required""#
        let out = try await run([input], stages: Self.stages(world, render: render), world: world)
        #expect(out.summary.quarantined == ["visible-seal-not-allowed": 1], "\(out.summary.table())")
        let reason = try out.quarantine(input.lastPathComponent)
        #expect(reason.stage == "render" && reason.message.contains("DocMDP P=2"), "\(reason)")
        #expect(ClerkText.nextStepZH("visible-seal-not-allowed") != nil)
        #expect(try world.book.show(out.manifest.manifest.id)?.1.isEmpty == true, "an approval use was consumed")
        #expect(try await out.runtime.keyIfOpen()?.usage.signatures ?? 0 == 0)
        // the same document with an empty field of the author's is sealed visibly in it
        let fielded = try Self.pyHankoSigned(TestSupport.corpusDir.appendingPathComponent("acroform-two-empty-sigfields-pyhanko.pdf"), certify: 2,
                                             out: dir.appendingPathComponent("certified-fields-p2.pdf"), world: world)
        let ok = try await run([fielded], stages: Self.stages(world, render: render), world: world)
        #expect(ok.summary.delivered == 1, "\(ok.summary.table())")
        let field = try await Self.judge(input: fielded, output: ok.sealed(fielded.lastPathComponent), world: world)
        #expect(try PDFDocument(url: fielded).signatureFields.filter { !$0.isSigned }.map(\.name).contains(field))
        #expect(try ok.receipt(fielded.lastPathComponent).placements?.count == 1)
    }

    /// A contract signed by pyHanko and then given a document time-stamp (PdfTimeStamper, loopback TSA): ingest and
    /// verify count the time-stamp, the signature and the new seal the same way (2 → 3), and it is delivered.
    @Test func inputWithADocumentTimeStampIsSealedAndCountedTheSameWayEverywhere() async throws {
        guard try Self.tools() else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("doc-timestamp")
        let tsa = try LoopbackTSA.shared()
        let signed = try Self.pyHankoSigned(try Self.contract("lta-contract", in: dir), certify: nil,
                                            out: dir.appendingPathComponent("lta-contract-signed.pdf"), world: world)
        let input = try Self.documentTimeStamped(signed, out: dir.appendingPathComponent("lta-contract-timestamped.pdf"), tsa: tsa.url)
        let doc = try PDFDocument(url: input)
        let signedFields = doc.signatureFields.filter(\.isSigned)
        #expect(signedFields.count == 2 && signedFields.contains { $0.type == "DocTimeStamp" }, "\(signedFields.map(\.type))")
        let out = try await run([input], stages: Self.stages(world), world: world)
        #expect(out.summary.delivered == 1, "\(out.summary.table())")
        let receipt = try out.receipt(input.lastPathComponent)
        #expect(receipt.verification?.checks.contains("ok: one signature added (2 → 3)") == true, "\(receipt.verification?.checks ?? [])")
        #expect(receipt.verification?.signatures == 3)
        try await Self.judge(input: input, output: out.sealed(input.lastPathComponent), world: world)
    }

    /// `placement: {"field": NAME}` seals into that empty field (its page and rectangle); the automatic choice takes
    /// an empty field whose rectangle fits the seal instead of giving up on a page with signature fields.
    @Test func namedEmptyFieldIsFilledByThePipeline() async throws {
        guard try Self.tools() else { return }
        let world = try SealWorld.shared()
        let input = TestSupport.corpusDir.appendingPathComponent("acroform-two-empty-sigfields-pyhanko.pdf")
        let before = try PDFDocument(url: input)
        let name = try #require(before.signatureFields.last?.name)
        let out = try await run([input], stages: Self.stages(world, render: #""placement": {"field": "\#(name)"}"#), world: world)
        #expect(out.summary.delivered == 1, "\(out.summary.table())")
        let sealed = out.sealed(input.lastPathComponent)
        let field = try await Self.judge(input: input, output: sealed, world: world)
        #expect(field == name)
        let after = try PDFDocument(url: sealed)
        func rect(_ d: PDFDocument) -> PDFRect? {
            guard let ref = d.signatureFields.first(where: { $0.name == name })?.fieldRef, let fd = d.resolve(ref).dictionaryValue else { return nil }
            return PDFRect(d.resolve(fd["Rect"] ?? .null).arrayValue.map { PDFObject.array($0) })
        }
        #expect(rect(after) != nil && rect(after) == rect(before))
        #expect(after.signatureFields.count == before.signatureFields.count, "no new field")
        // a field that is not there: quarantined with the placement reason, nothing signed
        let missing = try await run([input], stages: Self.stages(world, render: #""placement": {"field": "NoSuchField"}"#), world: world)
        #expect(missing.summary.quarantined == ["placement": 1], "\(missing.summary.table())")
        #expect(try missing.quarantine(input.lastPathComponent).message.contains("NoSuchField"))
    }

    /// A document whose earlier signature is already broken is quarantined at ingest: no approval use is consumed
    /// and the token is never asked for a signature. Allowed by the pipeline, it is sealed and the receipt says so.
    @Test func earlierBrokenSignatureIsQuarantinedAtIngestBeforeApprovalAndToken() async throws {
        guard try Self.tools() else { return }
        let world = try SealWorld.shared()
        let input = TestSupport.corpusDir.appendingPathComponent("signed-twice-second-tampered-dss.pdf")
        let out = try await run([input], stages: Self.stages(world), world: world)
        #expect(out.summary.quarantined == ["earlier-signature-broken": 1], "\(out.summary.table())")
        let reason = try out.quarantine(input.lastPathComponent)
        #expect(reason.stage == "ingest" && reason.code == "earlier-signature-broken", "\(reason)")
        #expect(reason.message.contains("Signature2"), "\(reason.message)")
        #expect(try world.book.show(out.manifest.manifest.id)?.1.isEmpty == true, "an approval use was consumed")
        let consumed = try world.registry.audit.query(AuditQuery(action: "approval.consume")).filter { $0.entry.approval == out.manifest.manifest.id }
        #expect(consumed.isEmpty)
        let usage = try await out.runtime.keyIfOpen()?.usage.signatures ?? 0
        #expect(usage == 0, "the token signed \(usage) time(s)")
        #expect(listing(out.outbox).isEmpty)

        let allowed = try await run([input], stages: Self.stages(world, ingest: #""allow-broken-signatures": true"#), world: world)
        #expect(allowed.summary.delivered == 1, "\(allowed.summary.table())")
        let receipt = try allowed.receipt(input.lastPathComponent)
        #expect(receipt.warnings?.contains { $0.contains("broken") && $0.contains("Signature2") } == true, "\(receipt.warnings ?? [])")
        #expect(try world.book.show(allowed.manifest.manifest.id)?.1.count == 1)
    }
}

struct FixtureFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// The loopback `openssl ts` TSA of SigningTests (`Support/responder.py` over `Support/make-pki.sh`'s PKI), one per
/// test process; it exits when this process goes away (its stdin closes).
final class LoopbackTSA: @unchecked Sendable {
    let dir: URL
    let url: URL
    private let process: Subprocess
    nonisolated(unsafe) private static var cached: LoopbackTSA?
    private static let lock = NSLock()
    static func shared() throws -> LoopbackTSA {
        lock.lock(); defer { lock.unlock() }
        if let c = cached { return c }
        let t = try LoopbackTSA()
        cached = t
        return t
    }
    private init() throws {
        dir = try TestSupport.tempDir("stages-tsa")
        let support = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support")
        process = try TestSupport.spawn("python3", ["-u", support.appendingPathComponent("responder.py").path, dir.path], stdin: .pipe, stdout: .pipe)
        guard let port = Int(process.readStdoutLine(timeout: 30) ?? "") else { throw FixtureFailure("responder.py printed no port") }
        let base = "http://127.0.0.1:\(port)"
        let r = try TestSupport.run("bash", [support.appendingPathComponent("make-pki.sh").path, dir.path, base])
        guard r.status == 0 else { throw FixtureFailure("make-pki.sh: \(r.err)") }
        url = URL(string: base + "/tsa")!
    }
}

extension SignedInputsTests.Outcome {
    /// Object keys with an upper-case letter, anywhere in a JSON value.
    static func camelCaseKeys(_ v: Any) -> [String] {
        if let d = v as? [String: Any] {
            return d.keys.filter { $0.contains(where: \.isUppercase) } + d.values.flatMap { camelCaseKeys($0) }
        }
        if let a = v as? [Any] { return a.flatMap { camelCaseKeys($0) } }
        return []
    }
}
