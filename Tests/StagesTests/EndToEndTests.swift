import Foundation
import Governance
import Logging
@testable import Pipeline
import Signing
import Stages
import TestSupport
import Testing
import Token

@Suite(.serialized) struct EndToEndTests {
    func engine(_ config: PipelineConfig, registry: StageRegistry = StandardStages.registry()) throws -> (Engine, StagesRuntime) {
        let shared = SharedObjects()
        let stages = try config.makeStages(registry: registry, shared: shared)
        let rt = try StandardStages.runtime(StageEnvironment(sections: config.sections, baseDir: config.baseDir, folders: config.folders, shared: shared))
        return (Engine(config: config, stages: stages, journal: try Journal(url: config.journal), logger: quietLogger,
                       metricsFactory: PrometheusRegistry()), rt)
    }

    @Test func sealsTwoHundredApprovedDocumentsAndQuarantinesTheRest() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("e2e")
        let inbox = root.appendingPathComponent("inbox"), staging = root.appendingPathComponent("staging")
        let approved = try SamplePDFs.make(in: staging, count: 200)
        let unapproved = try SamplePDFs.make(in: staging, count: 2, prefix: "unapproved")
        let manifest = try world.approve(approved)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch-1.json"))
        let corpus = TestSupport.corpusDir
        let bad: [(String, String, Set<String>)] = [
            ("damaged-truncated-linearized-acrobat-dss.pdf", "damaged.pdf", ["damaged", "truncated"]),
            ("encrypted-aes256-r6-userpw-qpdf.pdf", "encrypted.pdf", ["encrypted-password-required"]),
            ("certified-docmdp-p1-pyhanko.pdf", "certified.pdf", ["certified-no-changes"]),
        ]
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        var inputDigest: [String: String] = [:]
        for f in approved + unapproved {
            inputDigest[f.lastPathComponent] = try SHA256Stream.hexDigest(ofFile: f)
            try FileManager.default.moveItem(at: f, to: inbox.appendingPathComponent(f.lastPathComponent))
        }
        for (src, name, _) in bad { try FileManager.default.copyItem(at: corpus.appendingPathComponent(src), to: inbox.appendingPathComponent(name)) }
        try Data("Dear clerk, this is not a PDF.\n".utf8).write(to: inbox.appendingPathComponent("letter.pdf"))
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(world.pipelineJSON().utf8).write(to: cfg)
        let config = try PipelineConfig.load(from: cfg, registry: StandardStages.registry())
        let (e, rt) = try engine(config)

        let summary = try await e.run(mode: .once)

        #expect(summary.delivered == 200, "\(summary.table())")
        let outbox = listing(root.appendingPathComponent("outbox"))
        #expect(outbox.count == 200)
        #expect(Set(outbox) == Set(approved.map(\.lastPathComponent)))
        // Quarantine: untouched originals with the right reason.
        let q = root.appendingPathComponent("quarantine")
        func reason(_ name: String) throws -> QuarantineReason {
            try JSONDecoder().decode(QuarantineReason.self, from: Data(contentsOf: q.appendingPathComponent(name + ".reason.json")))
        }
        for u in unapproved {
            let r = try reason(u.lastPathComponent)
            #expect(r.code == "not-approved")
            #expect(r.stage == "approval")
            #expect(try SHA256Stream.hexDigest(ofFile: q.appendingPathComponent(u.lastPathComponent)) == inputDigest[u.lastPathComponent])
        }
        for (src, name, codes) in bad {
            let r = try reason(name)
            #expect(codes.contains(r.code), "\(name): \(r.code) \(r.message)")
            #expect(try Data(contentsOf: q.appendingPathComponent(name)) == Data(contentsOf: corpus.appendingPathComponent(src)))
        }
        #expect(try reason("letter.pdf").code == "not-a-pdf")
        // Every sealed document passes pyHanko (intact, valid, trusted).
        let verdicts = try PyHanko.validate(outbox.map { root.appendingPathComponent("outbox/\($0)") }, trustRoot: world.token.caCertificate)
        #expect(verdicts.count == 200, "\(verdicts["_stderr"] ?? "")")
        let failures = verdicts.filter { !$0.value.hasPrefix("OK") }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        // Archive: sealed copy + receipt with hashes, approval, signer fingerprint; original kept.
        let receipts = FileManager.default.enumerator(atPath: root.appendingPathComponent("archive").path)!.compactMap { $0 as? String }.filter { $0.hasSuffix("receipt.json") }
        #expect(receipts.count == 200)
        let leaf = try DevToken.derFromPEM(world.token.certificate)
        var s = SHA256Stream(); s.update(leaf)
        let fingerprint = s.finalize().map { String(format: "%02x", $0) }.joined()
        for r in receipts.prefix(20) {
            let dir = root.appendingPathComponent("archive").appendingPathComponent(r).deletingLastPathComponent()
            let dec = JSONDecoder(); dec.dateDecodingStrategy = .iso8601
            let receipt = try dec.decode(Receipt.self, from: Data(contentsOf: dir.appendingPathComponent("receipt.json")))
            #expect(receipt.sha256Before == inputDigest[receipt.document])
            #expect(receipt.sha256After == (try SHA256Stream.hexDigest(ofFile: root.appendingPathComponent("outbox/\(receipt.document)"))))
            #expect(receipt.approval == manifest.manifest.id)
            #expect(receipt.signerCertificateSHA256 == fingerprint)
            #expect(receipt.level == "B-B")
            #expect(receipt.verificationPassed == true)
            #expect(try SHA256Stream.hexDigest(ofFile: dir.appendingPathComponent("original.pdf")) == receipt.sha256Before)
            #expect(try Data(contentsOf: dir.appendingPathComponent("sealed.pdf")) == Data(contentsOf: root.appendingPathComponent("outbox/\(receipt.document)")))
        }
        // The seal carries the registered seal's name, which `sealbatch verify` reports as the seal name.
        let report = await Verifier(trustAnchorsDER: [try DevToken.derFromPEM(world.token.caCertificate)])
            .verify(url: root.appendingPathComponent("outbox/\(outbox[0])"))
        #expect(report.signatures.first?.name == "ACME 合同专用章")
        // The audit log has one stamp per document and verifies.
        let stamps = try world.registry.audit.query(AuditQuery(action: "stamp")).filter { $0.entry.approval == manifest.manifest.id }
        #expect(stamps.count == 200)
        #expect(try world.registry.audit.verify().ok)
        // The token was the single serialization point and was kept busy.
        let usage = try await rt.keyIfOpen()!.usage
        #expect(usage.signatures == 200)
        print(summary.table())
        print(String(format: "token busy %.0f%% of the signing span", usage.utilisation * 100))
    }

    @Test func aDocumentQuarantinedAfterSigningGivesItsApprovalUseBack() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("e2e")
        let inbox = root.appendingPathComponent("inbox")
        let files = try SamplePDFs.make(in: inbox, count: 3, prefix: "refused")
        let manifest = try world.approve(files)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        // verification trusts another root: every sealed output is refused after its use was consumed
        let wrongRoot = root.appendingPathComponent("other-root.pem")
        let der = try world.pki.identity("boss").certificate.der
        try Data("-----BEGIN CERTIFICATE-----\n\(Data(der).base64EncodedString(options: .lineLength64Characters))\n-----END CERTIFICATE-----\n".utf8).write(to: wrongRoot)
        let refusing = world.pipelineJSON(name: "refusing").replacingOccurrences(of: world.token.caCertificate.path, with: wrongRoot.path)
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(refusing.utf8).write(to: cfg)
        let first = try await engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry())).0.run(mode: .once)
        #expect(first.delivered == 0 && first.quarantinedTotal == 3, "\(first.table())")
        #expect(try world.book.show(manifest.manifest.id)?.1.isEmpty == true)
        let released = try world.registry.audit.query(AuditQuery(action: "approval.release")).filter { $0.entry.approval == manifest.manifest.id }
        #expect(released.count == 3)
        // put back with the right trust root, the same documents are sealed under the same approval
        for f in files { try FileManager.default.moveItem(at: root.appendingPathComponent("quarantine/\(f.lastPathComponent)"), to: f) }
        try Data(world.pipelineJSON(name: "fixed").utf8).write(to: cfg)
        let second = try await engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry())).0.run(mode: .once)
        #expect(second.delivered == 3, "\(second.table())")
        #expect(try world.book.show(manifest.manifest.id)?.1.count == 3)
    }

    @Test func aDocumentGivenUpAfterCrashesGivesItsApprovalUseBack() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("e2e")
        let inbox = root.appendingPathComponent("inbox")
        let file = try SamplePDFs.make(in: inbox, count: 1, prefix: "crashing")[0]
        let sha = try SHA256Stream.hexDigest(ofFile: file)
        let manifest = try world.approve([file])
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(world.pipelineJSON(name: "crashing", maxAttempts: 3).utf8).write(to: cfg)
        let config = try PipelineConfig.load(from: cfg, registry: StandardStages.registry())
        try config.folders.create()
        // What three crashes of the program in the sign stage leave: the use consumed by the journal's job id, the
        // original in the work folder, the document `processing` with its attempts spent and no digest
        // journalled yet (stage progress is deferred).
        let id = "00000000000000c1"
        let grant = try world.book.admit(documentSHA256: sha, fileName: file.lastPathComponent, seal: SealWorld.sealID, user: "clerk",
                                         manifest: manifest, job: id)
        try world.book.consume(grant)
        // another job's use of another approval of the same bytes is not this document's to give back
        let other = try world.approve([file])
        try world.book.consume(try world.book.admit(documentSHA256: sha, seal: SealWorld.sealID, user: "clerk", manifest: other, job: "other-job"))
        let work = config.folders.work.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: file, to: work.appendingPathComponent("original.pdf"))
        let now = Date().timeIntervalSince1970
        try Journal(url: config.journal).insert(DocumentRecord(
            id: id, pipeline: "crashing", name: file.lastPathComponent, sourcePath: file.path, workDir: work.path, state: .processing,
            stage: "sign", attempts: 3, digest: nil, currentPath: nil, outboxPath: nil, quarantinePath: nil, reasonCode: nil,
            reasonJSON: nil, claimedAt: now, updatedAt: now, crashes: 3))

        let first = try await engine(config).0.run(mode: .once)

        #expect(first.quarantined == ["crash-loop": 1], "\(first.table())")
        #expect(try world.book.show(manifest.manifest.id)?.1.isEmpty == true)
        #expect(try world.book.show(other.manifest.id)?.1.map(\.job) == ["other-job"])
        let released = try world.registry.audit.query(AuditQuery(action: "approval.release")).filter { $0.entry.approval == manifest.manifest.id }
        #expect(released.count == 1)
        #expect(released.first?.entry.actor == "clerk")
        // put back, the document is sealed under the same approval
        try FileManager.default.moveItem(at: root.appendingPathComponent("quarantine/\(file.lastPathComponent)"), to: file)
        let second = try await engine(config).0.run(mode: .once)
        #expect(second.delivered == 1, "\(second.table())")
        #expect(try world.book.show(manifest.manifest.id)?.1.count == 1)
    }

    /// A writer that still had the file open when it was claimed, appending to it after its approval
    /// (to files named `early…` before signing, `late…` after).
    static func append(to job: Job, ifNamed prefix: String) throws {
        guard job.sourceName.hasPrefix(prefix) else { return }
        let h = try FileHandle(forWritingTo: job.originalURL)
        try h.seekToEnd(); try h.write(contentsOf: Data("\n% one more line from the sender\n".utf8)); try h.close()
    }
    struct EarlyWriterStage: Stage {
        static let kind: StageKind = "early-writer"
        static let requires: Set<Fact> = [.approved]
        static let produces: Set<Fact> = []
        func process(_ job: Job, context: StageContext) async throws -> Job { try EndToEndTests.append(to: job, ifNamed: "early"); return job }
    }
    struct LateWriterStage: Stage {
        static let kind: StageKind = "late-writer"
        static let requires: Set<Fact> = [.signed]
        static let produces: Set<Fact> = []
        func process(_ job: Job, context: StageContext) async throws -> Job { try EndToEndTests.append(to: job, ifNamed: "late"); return job }
    }

    @Test func aDocumentChangedAfterItsApprovalIsNotSealed() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("e2e")
        let inbox = root.appendingPathComponent("inbox")
        let files = try SamplePDFs.make(in: inbox, count: 1, prefix: "early") + SamplePDFs.make(in: inbox, count: 1, prefix: "late")
            + SamplePDFs.make(in: inbox, count: 1, prefix: "steady")
        let manifest = try world.approve(files)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        let stages = """
            [{"kind": "ingest"}, {"kind": "approval", "manifests": "approvals"}, {"kind": "early-writer"},
             {"kind": "render", "placement": {"corner": "bottom-right"}}, {"kind": "sign", "level": "B-B"},
             {"kind": "verify", "trust": "\(world.token.caCertificate.path)"},
             {"kind": "late-writer"}, {"kind": "archive"}]
            """
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(world.pipelineJSON(name: "late", extraStages: stages).utf8).write(to: cfg)
        var registry = StandardStages.registry()
        registry.register(StageDescriptor(EarlyWriterStage.self) { _, _, _ in EarlyWriterStage() })
        registry.register(StageDescriptor(LateWriterStage.self) { _, _, _ in LateWriterStage() })

        let s = try await engine(try PipelineConfig.load(from: cfg, registry: registry), registry: registry).0.run(mode: .once)

        #expect(s.delivered == 1 && s.quarantined == ["document-altered": 2], "\(s.table())")
        #expect(listing(root.appendingPathComponent("outbox")) == ["steady-0000.pdf"])
        func reason(_ name: String) throws -> QuarantineReason {
            try JSONDecoder().decode(QuarantineReason.self, from: Data(contentsOf: root.appendingPathComponent("quarantine/\(name).reason.json")))
        }
        // changed before signing: the sealer refuses to seal bytes nobody approved
        let early = try reason("early-0000.pdf"), late = try reason("late-0000.pdf")
        #expect(early.stage == "sign")
        #expect(early.message.contains("changed after it was approved"), "\(early.message)")
        // changed after signing: the archive would not hold the admitted bytes, so nothing is delivered
        #expect(late.stage == "archive")
        #expect(late.message.contains("changed while it was being processed"), "\(late.message)")
        // the quarantine holds the files as the writer left them
        #expect(try String(contentsOf: root.appendingPathComponent("quarantine/late-0000.pdf"), encoding: .isoLatin1).hasSuffix("from the sender\n"))
        // nothing was delivered for them, so their approval uses were given back
        #expect(try world.book.show(manifest.manifest.id)?.1.count == 1)
        // the delivered document's archived original is a copy with the admitted bytes
        let archived = FileManager.default.enumerator(atPath: root.appendingPathComponent("archive").path)!.compactMap { $0 as? String }
        let receipts = archived.filter { $0.hasSuffix("receipt.json") }
        #expect(receipts.count == 1)
        // and the archive holds nothing of the quarantined ones (not even the sealed copy written before the refusal)
        #expect(archived.filter { $0.hasSuffix(".pdf") }.count == 2, "\(archived)")
        #expect(archived.filter { $0.split(separator: "/").count == 4 }.count == 1, "one entry folder (YYYY/MM/DD/<id>-<name>): \(archived)")
        let entry = root.appendingPathComponent("archive").appendingPathComponent(receipts[0]).deletingLastPathComponent()
        let dec = JSONDecoder(); dec.dateDecodingStrategy = .iso8601
        let receipt = try dec.decode(Receipt.self, from: Data(contentsOf: entry.appendingPathComponent("receipt.json")))
        #expect(try SHA256Stream.hexDigest(ofFile: entry.appendingPathComponent("original.pdf")) == receipt.sha256Before)
    }
}
