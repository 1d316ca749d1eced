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
        #expect(try await code("encrypted-aes128-emptyuserpw-sigfield-acrobat-dss.pdf") == "encrypted")
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
