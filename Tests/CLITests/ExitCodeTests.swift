import Foundation
import Testing
import TestSupport

/// The documented exit codes hold for the built binary: 0 ok, 1 rejected/failed, 2 usage.
@Suite struct ExitCodeTests {
    let bin = TestSupport.sealbatchBinary.path

    @Test func unknownOptionIsAUsageErrorWithExitTwo() throws {
        let r = try TestSupport.run(bin, ["--no-such-option"])
        #expect(r.status == 2)
        #expect(r.err.contains("Unknown option"))
    }

    @Test func missingArgumentIsAUsageErrorWithExitTwo() throws {
        let r = try TestSupport.run(bin, ["inspect"])
        #expect(r.status == 2)
    }

    @Test func helpExitsZeroAndListsTheCommands() throws {
        let r = try TestSupport.run(bin, ["--help"])
        #expect(r.status == 0)
        for c in ["inspect", "verify", "token", "run", "stamp", "approve", "audit"] {
            #expect(r.out.contains(c), "help lists \(c)")
        }
    }

    @Test func readablePDFExitsZeroAndNotAPDFExitsOne() throws {
        let ok = try TestSupport.run(bin, ["inspect", TestSupport.corpusDir.appendingPathComponent("xref-classic-minimal-pyhanko.pdf").path])
        #expect(ok.status == 0)
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let junk = dir.appendingPathComponent("letter.pdf")
        try Data("Dear clerk, this is not a PDF.\n".utf8).write(to: junk)
        let bad = try TestSupport.run(bin, ["inspect", junk.path])
        #expect(bad.status == 1)
        #expect(!(bad.out + bad.err).isEmpty, "a rejection says why")
    }

    @Test func verifyOfAnUnsignedDocumentDoesNotPass() throws {
        let r = try TestSupport.run(bin, ["verify", TestSupport.corpusDir.appendingPathComponent("xref-classic-minimal-pyhanko.pdf").path])
        #expect(r.status != 0)
    }

    /// One time grammar: `--since -7d`, `--since=-7d`, `7d`, `12h`, `2w`, dates and date-times are all read
    /// (the command then goes on to its next check: here, that there is no journal), and a sign that
    /// contradicts the option is refused with the accepted forms.
    @Test func sinceAcceptsEveryDocumentedFormWithOrWithoutEquals() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let journal = dir.appendingPathComponent("none.sqlite").path
        for form in [["--since", "-7d"], ["--since=-7d"], ["--since", "7d"], ["--since", "12h"], ["--since", "2w"],
                     ["--since", "2026-11-24"], ["--since", "2026-11-24T18:00:00Z"]] {
            let r = try TestSupport.run(bin, ["report", "--journal", journal] + form)
            #expect(r.status == 2 && r.err.contains("no journal"), "\(form): \(r.err)")
            #expect(!r.err.contains("Missing value"), "\(form)")
        }
        let future = try TestSupport.run(bin, ["report", "--journal", journal, "--since", "+7d"])
        #expect(future.status == 2 && future.err.contains("in the past") && future.err.contains("7d, 12h"), "\(future.err)")
        let junk = try TestSupport.run(bin, ["report", "--journal", journal, "--since", "yesterday"])
        #expect(junk.status == 2 && junk.err.contains("cannot read 'yesterday'"), "\(junk.err)")
        let tail = try TestSupport.run(bin, ["audit", "tail", "-n", "5", "--help"])
        #expect(tail.status == 0 && tail.out.contains("-n, --lines"), "\(tail.out)")
    }

    /// One error shape everywhere: `sealbatch: <kebab-case code>: <message>`, once, with no Swift type or
    /// case names, and a `next:` line where there is one.
    @Test func errorsHaveOneShapeWithAStableCodeAndNoTypeNames() throws {
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let junk = dir.appendingPathComponent("letter.pdf")
        try Data("Dear clerk, this is not a PDF.\n".utf8).write(to: junk)
        let cases: [([String], String)] = [
            (["inspect", junk.path], "sealbatch: not-a-pdf: "),
            (["token", "status", "--module", dir.appendingPathComponent("missing.so").path, "--token-uri", "pkcs11:token=x;object=y;type=private"], "sealbatch: invalid-configuration: "),
            (["report", "--journal", dir.appendingPathComponent("none.sqlite").path], "sealbatch: journal: "),
            (["audit", "verify", "--registry", dir.appendingPathComponent("none.sqlite").path], "sealbatch: configuration: no registry"),
        ]
        for (args, prefix) in cases {
            let r = try TestSupport.run(bin, args)
            #expect(r.status != 0, "\(args)")
            let lines = r.err.split(separator: "\n").filter { !$0.hasPrefix("  next:") }
            #expect(lines.count == 1, "one line, not the same refusal twice: \(r.err)")
            #expect(r.err.hasPrefix(prefix), "\(args): \(r.err)")
            for leaked in ["Error(", "chainInvalid", "moduleLoadFailed", "notAPDF", "TokenError", "PipelineError", "refused: ", "error: "] {
                #expect(!r.err.contains(leaked), "\(args) leaks \(leaked): \(r.err)")
            }
        }
        let next = try TestSupport.run(bin, ["report", "--journal", dir.appendingPathComponent("none.sqlite").path])
        #expect(next.err.contains("\n  next: Run the pipeline first"), "\(next.err)")
        let zh = try TestSupport.run(bin, ["inspect", junk.path], env: ["LANG": "zh_CN.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""])
        #expect(zh.err.contains("next: 请发件人重新导出完整的 PDF"), "\(zh.err)")
    }
}
