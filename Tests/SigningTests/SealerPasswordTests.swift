import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

/// Encrypted inputs that need a password to open (issue #14 item 6): sealed with the configured PDF password
/// (user or owner), written encrypted with the document's own handler and validated by pyHanko and pdfsig with
/// the user password; refused without it or with a wrong one. Permission-forbidden files refused with the reason.
@Suite("Sealing password-protected documents", .serialized)
struct SealerPasswordTests {
    static let userPassword = "open sesame"
    static let ownerPassword = "the-owner"

    /// qpdf `--encrypt USER OWNER BITS`: a file that opens only with a password.
    static func protected(_ label: String, _ args: [String], in dir: URL, extra: [String] = []) throws -> URL {
        let input = dir.appendingPathComponent("userpw-\(label).pdf")
        let q = try TestSupport.run("qpdf", ["--allow-weak-crypto", "--encrypt", userPassword, ownerPassword] + args + extra
                                    + ["--", SealerTests.corpus("xref-classic-minimal-pyhanko.pdf").path, input.path])
        try #require(q.status == 0 || q.status == 3, "qpdf: \(q.err)")
        return input
    }

    static func password(_ s: String) -> PDFPassword { PDFPassword(bytes: Array(s.utf8)) }

    @Test func userPasswordFileIsRefusedWithoutItsPasswordAndWithAWrongOne() async throws {
        guard try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = try Self.protected("aes256", ["256"], in: dir)
        #expect(throws: PDFError.self) { _ = try PDFDocument(url: input, password: nil) }
        for pw in [nil, Self.password("wrong")] {
            var o = SealerTests.options()
            o.pdfPassword = pw
            let out = dir.appendingPathComponent("never.pdf")
            do {
                _ = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
                Issue.record("sealed a password-protected file with \(pw == nil ? "no" : "a wrong") password")
            } catch let e as SigningError {
                #expect(e.code == .encrypted, "\(e)")
                #expect(e.message.contains(pw == nil ? "pdf-password-file" : "does not open it"), "\(e)")
                #expect(!e.description.contains("wrong"), "the password must not appear in the error: \(e)")
            }
            #expect(!FileManager.default.fileExists(atPath: out.path))
        }
    }

    /// AES-256 (R6), AES-128 and RC4-128 with a user password: sealed with the user password (and with the owner
    /// password), the update encrypted with the document's handler; pyHanko and pdfsig (given the user password)
    /// accept the seal; the receipt warnings say the input was opened with a password.
    @Test func userPasswordFileIsSealedWithItsPasswordAndValidatedByPyHankoAndPdfsig() async throws {
        guard try SealerTests.tools(), try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        var outs: [URL] = []
        for (label, args) in [("aes256", ["256"]), ("aes128", ["128", "--use-aes=y"]), ("rc4-128", ["128", "--use-aes=n"])] {
            let input = try Self.protected(label, args, in: dir)
            for (who, pw) in [("user", Self.userPassword), ("owner", Self.ownerPassword)] {
                let src = try PDFDocument(url: input, password: Self.password(pw))
                #expect(src.encryption?.userPasswordRequired == true)
                #expect(src.openedWith == (who == "user" ? .userPassword : .ownerPassword), "\(label) \(who)")
                var o = SealerTests.options()
                o.appearance = CorpusTableTests.appearance(src)
                o.pdfPassword = Self.password(pw)
                let out = dir.appendingPathComponent("sealed-\(label)-\(who).pdf")
                let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
                #expect(res.visible)
                #expect(res.warnings.contains { $0.contains("opened with the configured PDF password (\(who) password)") }, "\(res.warnings)")
                // still encrypted with the same handler and still needing the password; new strings not in clear
                #expect(throws: PDFError.self) { _ = try PDFDocument(url: out, password: nil) }
                let sealed = try PDFDocument(url: out, password: Self.password(Self.userPassword))
                #expect(sealed.encryption == src.encryption)
                #expect(try Data(contentsOf: out).range(of: Data("Records Office Seal".utf8)) == nil, "\(label): /Name written in clear")
                #expect(sealed.signatureFields.first { $0.name == "SealbatchSeal" }?.signerName == "Records Office Seal")
                let chk = try TestSupport.run("qpdf", ["--password=" + Self.userPassword, "--check", out.path])
                #expect(chk.status == 0 || chk.status == 3, "\(label): qpdf --check: \(chk.out.suffix(400))")
                outs.append(out)
            }
        }
        let ph = try Validators.pyhanko(outs, root: pki.root, password: Self.userPassword)
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)
        for out in outs {
            #expect(ph[out.path]?.allPass == true, "\(out.lastPathComponent): \(String(describing: ph[out.path]))")
            let ps = try Validators.pdfsig(out, nssDir: nss, userPassword: Self.userPassword)
            #expect(ps.count == 1 && ps[0].valid && ps[0].trusted, "\(out.lastPathComponent): \(ps.map(\.raw))")
        }
    }

    /// The corpus's user-password files (qpdf AES-256 R6, LibreOffice RC4-128, Acrobat 7 AES-128; expected.tsv's
    /// password column): refused without their password (the corpus table's "reject"), sealed with it, and the
    /// seal accepted by pyHanko and pdfsig given the password.
    @Test func corpusUserPasswordFilesAreSealedWithTheirPassword() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let tsv = try String(contentsOf: TestSupport.corpusDir.appendingPathComponent("expected.tsv"), encoding: .utf8)
        let rows = tsv.split(separator: "\n").dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
            .filter { $0.count > 3 && $0[1] == "encrypted-userpw" && !$0[3].isEmpty }
        #expect(rows.count == 3)
        let nss = try Validators.nssDB(in: pki.dir, root: pki.root)
        for r in rows {
            let (name, pw) = (r[0], r[3])
            let input = SealerTests.corpus(name)
            #expect(throws: PDFError.self) { _ = try PDFDocument(url: input, password: nil) }
            var o = SealerTests.options()
            o.pdfPassword = Self.password(pw)
            o.appearance = CorpusTableTests.appearance(try PDFDocument(url: input, password: Self.password(pw)))
            let out = dir.appendingPathComponent(name)
            let res = try await PAdESSealer().seal(input: input, output: out, key: try pki.key(), options: o)
            #expect(res.visible, "\(name)")
            let ph = try Validators.pyhanko([out], root: pki.root, password: pw)
            #expect(ph[out.path]?.allPass == true, "\(name): \(String(describing: ph[out.path]))")
            let ps = try Validators.pdfsig(out, nssDir: nss, userPassword: pw)
            #expect(ps.count == 1 && ps[0].valid && ps[0].trusted, "\(name): \(ps.map(\.raw))")
        }
    }

    /// An AES-256 file whose permissions forbid every change (qpdf --modify=none --annotate=n --form=n): refused
    /// with `encrypted` and the reason, with or without its password.
    @Test func permissionForbiddenAES256FileIsRefusedWithTheReason() async throws {
        guard try TestSupport.haveTool("qpdf") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = dir.appendingPathComponent("forbidden.pdf")
        let q = try TestSupport.run("qpdf", ["--encrypt", "", "owner", "256", "--modify=none", "--annotate=n", "--form=n", "--",
                                             SealerTests.corpus("xref-classic-minimal-pyhanko.pdf").path, input.path])
        try #require(q.status == 0 || q.status == 3, "qpdf: \(q.err)")
        do {
            _ = try await PAdESSealer().seal(input: input, output: dir.appendingPathComponent("x.pdf"), key: try pki.key(), options: SealerTests.options())
            Issue.record("sealed a file whose permissions forbid changes")
        } catch let e as SigningError {
            #expect(e.code == .encrypted && e.message.contains("permissions that forbid changing it"), "\(e)")
        }
    }
}
