import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

/// Issue #12 item 4: our own corpus of PDF signature attacks (USF / ISA / SWA, shadow hide / replace /
/// hide-and-replace, Evil Annotation, Sneaky Signature, DocMDP violations, certificate usage) and benign
/// controls, made by `Support/make_attacks.py` on pyHanko-signed, pyHanko-certified (P=1/2/3) and
/// sealbatch-sealed bases. Every attack must fail verification, every benign control must pass, and our
/// verdict must be pyHanko's except on the files `docs/dev/verifier-disagreements.md` lists with the reason.
@Suite("AttackCorpus", .serialized)
struct AttackCorpusTests {
    /// One line of `manifest.tsv`.
    struct Row: Sendable {
        let file: String
        let family: String
        let base: String
        /// true: an attack (must fail); false: a benign control (must pass).
        let attack: Bool
        /// The verdict recorded for pyHanko when the generator was written.
        let pyhankoPasses: Bool
        let description: String
        let url: URL
    }

    struct Corpus: Sendable {
        let dir: URL
        let rows: [Row]
        let root: URL
    }

    /// The families the corpus must cover (make_attacks.py's docstring says where each comes from).
    static let families: Set<String> = ["usf", "isa", "swa", "shadow-hide", "shadow-replace", "shadow-hide-replace",
                                        "eaa", "ssa", "docmdp", "cert-usage", "form", "benign"]

    static let support = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support")

    /// Made once per test process (nil when a tool is missing on a developer machine).
    static let corpus = Task<Corpus?, Error> { try await make() }

    /// openssl (TestPKI), python3 with pyHanko (generator and validator). In CI a missing one is a failure.
    static func tools() throws -> Bool {
        guard try TestSupport.haveTool("openssl"), try TestSupport.haveTool("python3") else { return false }
        let r = try TestSupport.run("python3", ["-c", "import pyhanko.sign, pyhanko_certvalidator"])
        if r.status != 0 {
            if TestSupport.toolsRequired { throw FixtureError(message: "required python3 module 'pyhanko' is not installed (run `make deps`): \(r.err.suffix(300))") }
            return false
        }
        return true
    }

    static func make() async throws -> Corpus? {
        guard try tools() else { return nil }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir("sealbatch-attacks")
        let script = support.appendingPathComponent("make_attacks.py").path
        let unsigned = dir.appendingPathComponent("unsigned")
        let w = try TestSupport.run("python3", [script, "--write-unsigned-bases", unsigned.path])
        guard w.status == 0 else { throw FixtureError(message: "make_attacks.py --write-unsigned-bases: \(w.err)") }
        // sealbatch-sealed bases, made in-process as SealerTests does: the generator attacks them like any other
        var sealed: [URL] = []
        for (name, input, certify) in [("sealbatch", unsigned.appendingPathComponent("base.pdf"), nil),
                                       ("sealbatch-certified-p2", unsigned.appendingPathComponent("base.pdf"), DocMDP.formFilling),
                                       ("sealbatch-xrefstream", unsigned.appendingPathComponent("base-xrefstream.pdf"), nil),
                                       ("sealbatch-corpus", TestSupport.corpusDir.appendingPathComponent("xref-classic-minimal-pyhanko.pdf"), nil)]
            as [(String, URL, DocMDP?)] {
            let out = dir.appendingPathComponent("\(name).pdf")
            var o = SealerTests.options()
            o.certify = certify
            _ = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
            sealed.append(out)
        }
        let out = dir.appendingPathComponent("corpus")
        let g = try TestSupport.run("python3", [script, pki.dir.path, out.path] + sealed.flatMap { ["--sealbatch-base", $0.path] })
        guard g.status == 0 else { throw FixtureError(message: "make_attacks.py failed: \(g.err.suffix(3000))") }
        let tsv = try String(contentsOf: out.appendingPathComponent("manifest.tsv"), encoding: .utf8)
        let rows: [Row] = tsv.split(separator: "\n").dropFirst().compactMap { line in
            let c = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard c.count >= 6 else { return nil }
            return Row(file: c[0], family: c[1], base: c[2], attack: c[3] == "attack", pyhankoPasses: c[4] == "pass",
                       description: c[5], url: out.appendingPathComponent(c[0]))
        }
        return Corpus(dir: out, rows: rows, root: pki.root)
    }

    static func verifier(_ pki: TestPKI) throws -> Verifier {
        var o = Verifier.Options()
        o.revocation = .off
        return try Verifier(trust: [pki.root], options: o)
    }

    /// Our verdict per file name, with a one-line reason.
    static func ours(_ c: Corpus) async throws -> [String: (passed: Bool, why: String)] {
        let report = await (try verifier(try TestPKI.get())).verify(urls: c.rows.map(\.url))
        var out: [String: (Bool, String)] = [:]
        for f in report.files {
            let why = f.error ?? f.signatures.map { s in
                "\(s.field) \(s.indication.rawValue)\(s.subIndication.map { "/" + $0.rawValue } ?? "") \(s.modifications.level.rawValue)"
            }.joined(separator: "; ")
            out[URL(fileURLWithPath: f.path).lastPathComponent] = (f.passed, why)
        }
        return out
    }

    /// File names (or `prefix*` patterns) listed in the first column of docs/dev/verifier-disagreements.md.
    static func documentedDisagreements() throws -> [String] {
        let doc = TestSupport.packageRoot.appendingPathComponent("docs/dev/verifier-disagreements.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 2, cells[1].hasPrefix("`"), cells[1].hasSuffix("`") else { return nil }
            return String(cells[1].dropFirst().dropLast())
        }
    }

    static func matches(_ pattern: String, _ name: String) -> Bool {
        pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
    }

    @Test func coversEveryFamilyOnPyHankoAndSealbatchBases() async throws {
        guard let c = try await Self.corpus.value else { return }
        let seen = Set(c.rows.map(\.family))
        #expect(seen == Self.families, "families: \(seen.symmetricDifference(Self.families))")
        for f in Self.families where f != "benign" {
            #expect(c.rows.contains { $0.family == f && $0.attack }, "no attack file in family \(f)")
        }
        let bases = Set(c.rows.map(\.base))
        for b in ["approval", "certified-p1", "certified-p2", "certified-p3", "approval-xrefstream", "sealbatch", "sealbatch-certified-p2",
                  "sealbatch-xrefstream", "sealbatch-corpus"] {
            #expect(bases.contains(b), "no file on base \(b)")
            #expect(c.rows.contains { $0.base == b && $0.attack }, "no attack on base \(b)")
        }
        #expect(c.rows.filter(\.attack).count >= 60)
        #expect(c.rows.filter { !$0.attack }.count >= 20)
        for r in c.rows { #expect(FileManager.default.fileExists(atPath: r.url.path), "\(r.file) missing") }
    }

    @Test func everyAttackFailsAndEveryBenignControlPasses() async throws {
        guard let c = try await Self.corpus.value else { return }
        let ours = try await Self.ours(c)
        var wrong: [String] = []
        for r in c.rows {
            guard let v = ours[r.file] else { Issue.record("\(r.file): no report"); continue }
            if v.passed == r.attack {
                wrong.append("\(r.file)\t\(r.attack ? "attack PASSES" : "benign REFUSED")\t\(v.why)")
            }
            #expect(v.passed != r.attack, "\(r.file) [\(r.family)] \(r.attack ? "attack passes" : "benign control refused"): \(r.description) — \(v.why)")
        }
        if !wrong.isEmpty {
            let text = wrong.joined(separator: "\n") + "\n"
            try? text.write(to: c.dir.appendingPathComponent("wrong-verdicts.tsv"), atomically: true, encoding: .utf8)
            print("AttackCorpus: \(wrong.count) of \(c.rows.count) wrong verdicts (\(c.dir.path)/wrong-verdicts.tsv):\n" + text)
        }
    }

    @Test func agreesWithPyHankoExceptWhereDocumented() async throws {
        guard let c = try await Self.corpus.value else { return }
        let ph = try Validators.pyhanko(c.rows.map(\.url), root: c.root, mode: "none")
        let ours = try await Self.ours(c)
        let documented = try Self.documentedDisagreements()
        var table: [String] = []
        for r in c.rows {
            guard let theirs = ph[r.url.path], let mine = ours[r.file] else { Issue.record("\(r.file): no result"); continue }
            let pyPass = theirs.allPass
            // the generator's record of pyHanko's verdict still holds (a pyHanko upgrade or a generator change shows here)
            #expect(pyPass == r.pyhankoPasses, "\(r.file): pyHanko now says \(pyPass ? "pass" : "fail"), manifest says \(r.pyhankoPasses ? "pass" : "fail"): \(theirs.error ?? theirs.signatures.map { "\($0.field ?? "?") \($0.bottom_line) \($0.modification_level ?? "-") \($0.coverage ?? "-")" }.joined(separator: "; "))")
            let listed = documented.contains { Self.matches($0, r.file) }
            if listed {
                // a documented disagreement is one where pyHanko's verdict is not the expected one
                #expect(pyPass == r.attack, "\(r.file) is listed in verifier-disagreements.md but pyHanko gives the expected verdict")
            } else {
                #expect(mine.passed == pyPass, "\(r.file): ours \(mine.passed ? "pass" : "fail") (\(mine.why)), pyHanko \(pyPass ? "pass" : "fail")")
            }
            if mine.passed != pyPass || pyPass == r.attack {
                table.append("| \(r.file) | \(mine.passed ? "pass" : "fail") | \(pyPass ? "pass" : "fail") | \(r.attack ? "fail" : "pass") | \(listed ? "documented" : "") |")
            }
        }
        if !table.isEmpty {
            print("AttackCorpus: ours vs pyHanko vs expected where they differ\n| file | ours | pyHanko | expected | |\n|---|---|---|---|---|\n" + table.joined(separator: "\n"))
        }
    }
}
