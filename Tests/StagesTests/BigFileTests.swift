import Foundation
import Governance
import Logging
import Pipeline
import Render
import Signing
import Stages
import TestSupport
import Testing

/// Big scans (issue #15): sealed with one read of the original (ingest's hash state carried into the signed
/// digest, the verify stage reading the output once, the archive copying without reading), limited by
/// `--max-size-mb`; a corrupted output still fails verification.
@Suite(.serialized) struct BigFileTests {
    /// A PDF of `pages` A4 pages, each one uncompressed RGB image of about `mbPerPage` MB of noise (like a
    /// high-resolution colour scan): written directly, in well under a second for 64 MB.
    static func bigScan(_ url: URL, pages: Int, mbPerPage: Int) throws -> URL {
        let width = 2048, height = (mbPerPage << 20) / (2048 * 3), size = width * height * 3
        var noise = [UInt8](repeating: 0, count: 1 << 20)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in noise.indices { x ^= x << 13; x ^= x >> 7; x ^= x << 17; noise[i] = UInt8(truncatingIfNeeded: x) }
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let h = try FileHandle(forWritingTo: url)
        defer { try? h.close() }
        var offset = 0, offsets: [Int: Int] = [:]
        func put(_ s: String) throws { let d = Data(s.utf8); try h.write(contentsOf: d); offset += d.count }
        func obj(_ n: Int, _ body: String) throws { offsets[n] = offset; try put("\(n) 0 obj\n\(body)\nendobj\n") }
        try put("%PDF-1.7\n")
        try obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
        try obj(2, "<< /Type /Pages /Count \(pages) /Kids [\((0..<pages).map { "\(3 + 3 * $0) 0 R" }.joined(separator: " "))] >>")
        for p in 0..<pages {
            let page = 3 + 3 * p, content = page + 1, image = page + 2
            try obj(page, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 \(image) 0 R >> >> /Contents \(content) 0 R >>")
            let ops = "q 595 0 0 842 0 0 cm /Im0 Do Q\n"
            try obj(content, "<< /Length \(ops.utf8.count) >>\nstream\n\(ops)endstream")
            offsets[image] = offset
            try put("\(image) 0 obj\n<< /Type /XObject /Subtype /Image /Width \(width) /Height \(height) /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length \(size) >>\nstream\n")
            var left = size
            noise[p % noise.count] &+= 1 // pages differ
            while left > 0 {
                let n = min(left, noise.count)
                try h.write(contentsOf: Data(noise[0..<n])); offset += n; left -= n
            }
            try put("\nendstream\nendobj\n")
        }
        let count = 3 + 3 * pages, xref = offset
        var table = "xref\n0 \(count)\n0000000000 65535 f \n"
        for n in 1..<count { table += String(format: "%010d 00000 n \n", offsets[n]!) }
        try put(table + "trailer\n<< /Size \(count) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n")
        return url
    }

    func runtime(_ world: SealWorld, _ dir: URL) -> StagesRuntime {
        let rt = StagesRuntime(token: TokenSection(config: world.token.directory.appendingPathComponent("token.json").path, pinFile: world.pinFile.path),
                               seal: SealSection(id: SealWorld.sealID, user: "clerk"), governance: nil, baseDir: dir)
        rt.use(registry: world.registry)
        return rt
    }

    @Test func aLargeScanIsSealedAndArchivedWithoutChangingTheOriginalAndPyHankoValidatesIt() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("bigfile-stamp")
        let file = try Self.bigScan(dir.appendingPathComponent("scan-64mb.pdf"), pages: 4, mbPerPage: 16)
        let before = try SHA256Stream.hexDigest(ofFile: file)
        let manifest = try world.approve([file])
        var stamper = Stamper(runtime: runtime(world, dir), manifest: manifest)
        stamper.trust = [world.token.caCertificate]
        stamper.archive = dir.appendingPathComponent("archive")
        let out = dir.appendingPathComponent("out/scan-sealed.pdf")
        let outcome = try await stamper.stamp(input: file, output: out, logger: quietLogger)

        #expect(try SHA256Stream.hexDigest(ofFile: file) == before, "the original is unchanged")
        #expect(outcome.outputSHA256 == (try SHA256Stream.hexDigest(ofFile: out)), "the reported hash is the output's")
        // the verify stage checked the output's first bytes against the approved hash, in its one read of it
        let verified = try #require(outcome.job.facts[StageFacts.verifiedOutput])
        #expect(verified.originalLength == Int(FileOps.regularFileInfo(file)!.size) && verified.sha256 == outcome.outputSHA256)
        #expect(outcome.job.facts[StageFacts.verification]?.checks.contains { $0.hasPrefix("ok: the output starts with the approved original") } == true)
        // the archive's copies (made without reading): the original's exact bytes, and the sealed document
        let files = FileManager.default.enumerator(atPath: stamper.archive!.path)!.compactMap { $0 as? String }
        let original = try #require(files.first { $0.hasSuffix("/scan-64mb.pdf") }), sealed = try #require(files.first { $0.hasSuffix("/sealed.pdf") })
        #expect(try SHA256Stream.hexDigest(ofFile: stamper.archive!.appendingPathComponent(original)) == before)
        #expect(try SHA256Stream.hexDigest(ofFile: stamper.archive!.appendingPathComponent(sealed)) == outcome.outputSHA256)
        // no work folder is left beside the output
        #expect(listing(out.deletingLastPathComponent()) == ["scan-sealed.pdf"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path).count == 1)
        let verdict = try PyHanko.validate([out], trustRoot: world.token.caCertificate)
        #expect(verdict["scan-sealed.pdf"]?.hasPrefix("OK") == true, "\(verdict)")
    }

    @Test func aDocumentAboveTheSizeLimitIsRefusedUntouchedAndNothingIsUsed() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("bigfile-limit")
        let file = try Self.bigScan(dir.appendingPathComponent("scan-3mb.pdf"), pages: 1, mbPerPage: 3)
        let before = try SHA256Stream.hexDigest(ofFile: file)
        let manifest = try world.approve([file])
        var stamper = Stamper(runtime: runtime(world, dir), manifest: manifest)
        stamper.trust = [world.token.caCertificate]
        stamper.maxBytes = 2 << 20
        let out = dir.appendingPathComponent("out.pdf")
        do {
            _ = try await stamper.stamp(input: file, output: out, logger: quietLogger)
            Issue.record("a 3 MB file was stamped under a 2 MB limit")
        } catch let r as StageRejection {
            #expect(r.code == .tooLarge, "\(r)")
            #expect(r.message.contains("2 MB") && r.message.contains("--max-size-mb"), "the refusal names the limit and the option: \(r.message)")
        }
        #expect(try SHA256Stream.hexDigest(ofFile: file) == before)
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["scan-3mb.pdf"], "no output, no work folder left")
        #expect(try world.book.show(manifest.manifest.id)?.1.isEmpty == true, "no approval use consumed")
        // the default limit (2 GiB) takes it
        #expect(IngestStage.defaultMaxBytes == 2048 << 20)
        stamper.maxBytes = IngestStage.defaultMaxBytes
        _ = try await stamper.stamp(input: file, output: out, logger: quietLogger)
        #expect(FileManager.default.fileExists(atPath: out.path))
    }

    /// The sign stage no longer reads the original's copy in the output (it continues ingest's hash state), so
    /// the verify stage is what reads every byte of it: a damaged byte in the original's part, or in the update,
    /// is a refusal; the same file undamaged passes (the check can fail and can pass).
    @Test func aCorruptedOutputFailsVerification() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("bigfile-corrupt")
        let file = try Self.bigScan(dir.appendingPathComponent("scan-8mb.pdf"), pages: 2, mbPerPage: 4)
        let size = Int(FileOps.regularFileInfo(file)!.size)
        let manifest = try world.approve([file])
        let rt = runtime(world, dir)
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var job = Job(id: "corrupt0001", sourceName: file.lastPathComponent, originalURL: file, workDir: work,
                      archiveDir: dir.appendingPathComponent("archive"), claimedAt: Date(), attempt: 1)
        let stages: [any Stage] = [IngestStage(), ApprovalStage(runtime: rt, manifests: nil, manifest: manifest),
                                   RenderStage(runtime: rt, placement: PlacementSpec(corner: .bottomRight)), SignStage(runtime: rt)]
        for (i, s) in stages.enumerated() {
            job = try await s.process(job, context: StageContext(pipeline: "t", index: i, stageName: type(of: s).kind.name, logger: quietLogger,
                                                                 folders: Folders(root: dir)))
            job.established.formUnion(type(of: s).produces)
        }
        let verify = VerifyStage(runtime: rt, trust: [world.token.caCertificate])
        func verifies() async -> StageRejection? {
            do {
                _ = try await verify.process(job, context: StageContext(pipeline: "t", index: 4, stageName: "verify", logger: quietLogger, folders: Folders(root: dir)))
                return nil
            } catch { return error as? StageRejection ?? StageRejection(.verifyFailed, "\(error)") }
        }
        func flip(_ offset: Int) throws {
            let h = try FileHandle(forUpdating: job.currentURL)
            try h.seek(toOffset: UInt64(offset)); let b = try h.read(upToCount: 1)![0]
            try h.seek(toOffset: UInt64(offset)); try h.write(contentsOf: Data([b ^ 0x20])); try h.close()
        }
        #expect(await verifies() == nil, "the sealed output as written passes")
        // one byte of an image in the original's part of the output
        try flip(size / 2)
        let inOriginal = await verifies()
        #expect(inOriginal?.code == .documentAltered, "\(String(describing: inOriginal))")
        #expect(inOriginal?.message.contains("does not start with the approved original") == true)
        try flip(size / 2)
        #expect(await verifies() == nil, "restored, it passes again")
        // one byte of the update's second byte range (after the signature value): the seal no longer holds
        let br = try #require(job.facts[StageFacts.seal]?.result.byteRange)
        try flip(br[2] + 2)
        let inUpdate = await verifies()
        #expect(inUpdate?.code == .verifyFailed, "\(String(describing: inUpdate))")
    }

    /// A sender's program overwriting bytes of the claimed file in place (same size) after its approval: the
    /// token signs the bytes approved (ingest's hash state), the output holds the changed ones, and the verify
    /// stage refuses it as document-altered.
    @Test func aFileChangedInPlaceAfterIngestIsNotDelivered() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("bigfile-inplace")
        let file = try Self.bigScan(dir.appendingPathComponent("scan-4mb.pdf"), pages: 1, mbPerPage: 4)
        let manifest = try world.approve([file])
        let rt = runtime(world, dir)
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        var job = Job(id: "inplace0001", sourceName: file.lastPathComponent, originalURL: file, workDir: work,
                      archiveDir: dir.appendingPathComponent("archive"), claimedAt: Date(), attempt: 1)
        let stages: [any Stage] = [IngestStage(), ApprovalStage(runtime: rt, manifests: nil, manifest: manifest),
                                   RenderStage(runtime: rt, placement: PlacementSpec(corner: .bottomRight)), SignStage(runtime: rt),
                                   VerifyStage(runtime: rt, trust: [world.token.caCertificate])]
        for (i, s) in stages.enumerated() {
            if i == 2 { // after the approval: one byte of the image changes, the size does not
                let h = try FileHandle(forUpdating: file)
                try h.seek(toOffset: 1 << 20); try h.write(contentsOf: Data([0x42, 0x42, 0x42, 0x42])); try h.close()
            }
            do {
                job = try await s.process(job, context: StageContext(pipeline: "t", index: i, stageName: type(of: s).kind.name, logger: quietLogger,
                                                                     folders: Folders(root: dir)))
            } catch let r as StageRejection {
                #expect(i == 4 && r.code == .documentAltered, "stage \(i): \(r)")
                return
            }
            job.established.formUnion(type(of: s).produces)
        }
        Issue.record("a file changed after its approval passed verification")
    }
}
