import Foundation
import Pipeline
import Stages
import TestSupport
import Testing

@Suite struct IngestTests {
    func job(_ url: URL) throws -> (Job, StageContext) {
        let dir = try TestSupport.tempDir("ingest")
        let j = Job(id: "0000000000000001", sourceName: url.lastPathComponent, originalURL: url, workDir: dir,
                    archiveDir: dir.appendingPathComponent("archive"), claimedAt: Date(), attempt: 1)
        return (j, StageContext(pipeline: "t", index: 0, stageName: "ingest", logger: quietLogger, folders: Folders(root: dir)))
    }

    func code(_ file: String, _ stage: IngestStage = IngestStage()) async throws -> String? {
        let (j, ctx) = try job(TestSupport.corpusDir.appendingPathComponent(file))
        do { _ = try await stage.process(j, context: ctx); return nil }
        catch let r as StageRejection { return r.code.rawValue }
    }

    @Test func rejectsCorpusFilesWithSpecificCodes() async throws {
        #expect(try await code("encrypted-aes256-r6-userpw-qpdf.pdf") == "encrypted-password-required")
        #expect(try await code("encrypted-pubkey-aes256-pyhanko.pdf") == "encrypted-password-required")
        // owner-password-only files are sealable when their permissions allow it; these forbid any change
        #expect(try await code("encrypted-rc4-40-emptyuserpw-linearized-qpdf.pdf") == "encrypted")
        #expect(try await code("encrypted-rc4-128-ownerpw-rotated-pages-poppler.pdf") == "encrypted")
        #expect(try await code("certified-docmdp-p1-pyhanko.pdf") == "certified-no-changes")
        let damaged = try await code("damaged-intmax-objnum-no-xref-pdfjs.pdf")
        #expect(damaged == "damaged" || damaged == "truncated")
        let truncated = try await code("damaged-truncated-linearized-acrobat-dss.pdf")
        #expect(truncated == "damaged" || truncated == "truncated")
    }

    @Test func acceptsSealableCorpusFilesAndHashesThem() async throws {
        let accepted = ["xref-classic-minimal-pyhanko.pdf", "xrefstream-minimal-pyhanko.pdf", "objstm-264-objects-per-stream-qpdf.pdf",
                        "cjk-zh-invoice-sourcehan-subset-openpdf-ofdrw.pdf", "signed-pades-b-libreoffice-dss.pdf"]
        for f in accepted {
            let url = TestSupport.corpusDir.appendingPathComponent(f)
            let (j, ctx) = try job(url)
            let out = try await IngestStage().process(j, context: ctx)
            let r = try TestSupport.run("sha256sum", [url.path])
            #expect(out.digest == String(r.out.prefix(64)), "\(f)")
            #expect((out.facts[StageFacts.sniff]?.pages ?? 0) >= 1, "\(f)")
        }
    }

    @Test func ownerPasswordOnlyFilesThatAllowSigningAreAccepted() async throws {
        #expect(try await code("encrypted-aes128-emptyuserpw-sigfield-acrobat-dss.pdf") == nil)
        #expect(try await code("encrypted-aes256-r6-emptyuserpw-acrobat-dss.pdf") == nil)
    }

    /// Broken earlier signatures are found before an approval use or a token signature is spent (issue #14 item 4).
    @Test func earlierSignatureAlreadyBrokenIsQuarantinedAtIngestUnlessAllowed() async throws {
        #expect(try await code("signed-twice-second-tampered-dss.pdf") == "earlier-signature-broken")
        #expect(try await code("signed-byterange-beyond-eof-dss.pdf") == "earlier-signature-broken")
        // intact earlier signatures, document time-stamps included, pass
        #expect(try await code("signed-plus-doctimestamp-fpdf-pdf13-dss.pdf") == nil)
        #expect(try await code("signed-pades-lta-7revisions-pyhanko.pdf") == nil)
        #expect(try await code("signed-twice-xrefstream-pyhanko.pdf") == nil)
        // allowed by the pipeline: admitted, the broken signature named for the verify stage and the receipt
        let (j, ctx) = try job(TestSupport.corpusDir.appendingPathComponent("signed-twice-second-tampered-dss.pdf"))
        let out = try await IngestStage(allowBrokenSignatures: true).process(j, context: ctx)
        #expect(out.facts[StageFacts.sniff]?.brokenSignatures == ["Signature2"])
        #expect(out.facts[StageFacts.warnings]?.first?.contains("Signature2") == true)
    }

    @Test func verifyOnlyIngestAcceptsCertifiedDocuments() async throws {
        #expect(try await code("certified-docmdp-p1-pyhanko.pdf", IngestStage(requireSealable: false)) == nil)
    }

    @Test func rejectsTextPretendingToBePDF() async throws {
        let dir = try TestSupport.tempDir("ingest")
        let f = dir.appendingPathComponent("letter.pdf")
        try Data("hello".utf8).write(to: f)
        let (j, ctx) = try job(f)
        await #expect(throws: StageRejection.self) { _ = try await IngestStage().process(j, context: ctx) }
        do { _ = try await IngestStage().process(j, context: ctx) } catch let r as StageRejection {
            #expect(r.code == .notAPDF)
            #expect(!r.nextStep.isEmpty)
        }
    }
}
