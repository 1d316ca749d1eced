import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

/// The public corpus sealed by us and by pyHanko the same way (a visible seal on the last page, PAdES B-B),
/// both outputs judged by pyHanko and pdfsig: our (or pyHanko's) new signature valid and trusted, every
/// earlier signature's verdict unchanged. Prints the table (`make corpus`; `SEALBATCH_CORPUS_TABLE=FILE`
/// also writes it as TSV) and checks issue #14's targets.
@Suite("Corpus table", .serialized)
struct CorpusTableTests {
    struct Row { var file: String; var category: String; var expected: String }

    static func rows() throws -> [Row] {
        let tsv = try String(contentsOf: TestSupport.corpusDir.appendingPathComponent("expected.tsv"), encoding: .utf8)
        return tsv.split(separator: "\n").dropFirst().compactMap { l in
            let c = l.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return c.count > 2 ? Row(file: c[0], category: c[1], expected: c[2]) : nil
        }
    }

    /// A 40 mm square seal on the last page, where pyHanko's is put too.
    static func appearance(_ doc: PDFDocument) -> SealAppearance {
        let form = PDFObject.stream(PDFStream(dictionary: ["Type": .name("XObject"), "Subtype": .name("Form"), "BBox": .array([0, 0, 113, 113])],
                                              rawData: Array("1 0 0 RG 4 w 2 2 109 109 re S".utf8)))
        return SealAppearance(widgets: [.init(pageIndex: max(0, doc.pages.count - 1), rect: PDFRect(400, 60, 513, 173), form: form, source: doc)])
    }

    /// Verdict of one sealed output: nil when accepted, else why not.
    static func judge(input: URL, output: URL, field: String, ph: [String: Validators.PyHankoFile], nss: URL) throws -> String? {
        guard let after = ph[output.path] else { return "no pyHanko result" }
        // pyHanko cannot read some damaged inputs at all (junk before the header): pdfsig alone judges those.
        let pyHankoReadsInput = ph[input.path]?.error == nil
        if let e = after.error, pyHankoReadsInput { return "pyHanko cannot read the output: \(e.prefix(80))" }
        if pyHankoReadsInput {
            guard let mine = after.signatures.first(where: { $0.field == field }) else { return "pyHanko sees no signature \(field)" }
            if !mine.bottom_line { return "pyHanko: new signature \(mine.intact == true ? "" : "not intact ")\(mine.valid == true ? "" : "not valid ")\(mine.trusted == true ? "" : "not trusted ")\(mine.error ?? "")" }
            for b in ph[input.path]?.signatures ?? [] where b.field != field {
                let a = after.signatures.first { $0.field == b.field }
                if a?.intact != b.intact || a?.valid != b.valid { return "pyHanko: earlier \(b.field ?? "?") intact/valid \(String(describing: b.intact))/\(String(describing: b.valid)) → \(String(describing: a?.intact))/\(String(describing: a?.valid))" }
                if b.docmdp_ok == true && a?.docmdp_ok != true { return "pyHanko: earlier \(b.field ?? "?") modifications no longer allowed (\(a?.modification_level ?? "?"))" }
            }
        }
        let ps = try Validators.pdfsig(output, nssDir: nss)
        guard let p = ps.first(where: { $0.field == field }), p.valid, p.trusted else { return "pdfsig: new signature not valid and trusted" }
        let before = try Validators.pdfsig(input, nssDir: nss)
        for b in before where b.valid && b.field != field {
            if ps.first(where: { $0.field == b.field })?.valid != true { return "pdfsig: earlier \(b.field) broke" }
        }
        return nil
    }

    @Test func corpusSealedAsWellAsPyHanko() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let key = try pki.key()
        let dir = try TestSupport.tempDir("sealbatch-corpus-table")
        let oursDir = dir.appendingPathComponent("ours"), theirsDir = dir.appendingPathComponent("pyhanko")
        for d in [oursDir, theirsDir] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        let rows = try Self.rows()
        var ours: [String: Result<SealResult, SigningError>] = [:]
        for r in rows {
            let input = SealerTests.corpus(r.file)
            var o = SealerTests.options()
            if let doc = try? PDFDocument(url: input) { o.appearance = Self.appearance(doc) }
            o.expectedInputSHA256 = DetachedSignature.sha256(Array(try Data(contentsOf: input)))
            do { ours[r.file] = .success(try await PAdESSealer().seal(input: input, output: oursDir.appendingPathComponent(r.file), key: key, options: o)) }
            catch let e as SigningError { ours[r.file] = .failure(e) }
        }
        // pyHanko, the same seal, the same key.
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_seal_corpus.py").path
        let run = try TestSupport.run("python3", [script, pki.url("leaf.key").path, pki.url("leaf.crt").path, pki.url("chain.pem").path, theirsDir.path]
                                      + rows.map { SealerTests.corpus($0.file).path })
        var theirs: [String: String?] = [:]
        for line in run.out.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let f = o["file"] as? String else { continue }
            theirs[URL(fileURLWithPath: f).lastPathComponent] = o["error"] as? String
        }
        var files: [URL] = rows.map { SealerTests.corpus($0.file) }
        for r in rows {
            if case .success = ours[r.file] { files.append(oursDir.appendingPathComponent(r.file)) }
            if theirs[r.file] == .some(nil) { files.append(theirsDir.appendingPathComponent(r.file)) }
        }
        let ph = try Validators.pyhanko(files, root: pki.root, processes: 2)
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)

        var table = "file\tcategory\texpected\tsealbatch\tpyhanko\n"
        var score: [String: (ours: Int, theirs: Int, total: Int)] = [:]
        var problems: [String] = []
        for r in rows {
            let input = SealerTests.corpus(r.file)
            let p1 = r.file.contains("docmdp-p1")
            let mustRefuse = r.expected == "reject" || p1
            let their: String, theirOK: Bool
            if let err = theirs[r.file] ?? "no result" {
                their = "refused: \(err.prefix(70))"
                theirOK = mustRefuse
            } else {
                let v = try Self.judge(input: input, output: theirsDir.appendingPathComponent(r.file), field: "PyHankoSeal", ph: ph, nss: nss)
                their = v.map { "sealed, NOT accepted: \($0)" } ?? "sealed+accepted"
                theirOK = v == nil && !mustRefuse
            }
            let mine: String, mineOK: Bool
            switch ours[r.file]! {
            case .success(let res):
                let v = try Self.judge(input: input, output: oursDir.appendingPathComponent(r.file), field: res.fieldName, ph: ph, nss: nss)
                mine = v.map { "sealed, NOT accepted: \($0)" } ?? ("sealed+accepted" + (res.visible ? "" : " (invisible)") + (res.filledExistingField ? " (in field \(res.fieldName))" : "")
                    + (ph[input.path]?.error != nil ? " (pdfsig only: pyHanko cannot read the input)" : ""))
                mineOK = v == nil && !mustRefuse
            case .failure(let e):
                mine = "refused \(e.code.rawValue)"
                // refusing is right where the permissions forbid changes, or where any seal (pyHanko's too) breaks an
                // earlier signature (a /ByteRange reaching past the end of the file)
                mineOK = mustRefuse || (e.code == .encrypted && e.message.contains("permissions"))
                    || (e.code == .earlierSignatureBroken && !theirOK && their.contains("earlier"))
            }
            var s = score[r.expected] ?? (0, 0, 0)
            s.total += 1; if mineOK { s.ours += 1 }; if theirOK { s.theirs += 1 }
            score[r.expected] = s
            if !mineOK { problems.append("\(r.file): \(mine)") }
            table += "\(r.file)\t\(r.category)\t\(r.expected)\t\(mine)\t\(their)\n"
        }
        for (k, s) in score.sorted(by: { $0.key < $1.key }) {
            table += "TOTAL \(k)\t\t\t\(s.ours)/\(s.total)\t\(s.theirs)/\(s.total)\n"
        }
        print("== corpus table (outcome right: sealed and accepted by pyHanko and pdfsig; P=1, permission-forbidden and reject rows refused, "
              + "and a file any seal would break an earlier signature of)\n" + table)
        if let path = ProcessInfo.processInfo.environment["SEALBATCH_CORPUS_TABLE"] {
            try table.write(toFile: path, atomically: true, encoding: .utf8)
        }
        for p in problems { print("corpus: \(p)") }
        #expect((score["parse"]?.ours ?? 0) >= 40, "parse: \(score["parse"]?.ours ?? 0)/\(score["parse"]?.total ?? 0)")
        #expect((score["repair"]?.ours ?? 0) >= 10, "repair: \(score["repair"]?.ours ?? 0)/\(score["repair"]?.total ?? 0)")
        #expect(score["reject"].map { $0.ours == $0.total } ?? true, "every reject row refused")
    }
}
