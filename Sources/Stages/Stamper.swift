import Foundation
import Governance
import Logging
import PDF
import Pipeline
import Render
import Signing

/// One document through the pipeline's stages without the engine: `sealbatch stamp FILE -o OUT`.
/// Same checks (ingest, approval against the given manifest, render, sign, verify) and the same
/// audit record as the pipeline; the original is never modified and OUT is written atomically.
public struct Stamper: Sendable {
    /// Shared registry, token, seal.
    public let runtime: StagesRuntime
    /// The approval to check against (nil: any registered approval listing the document).
    public var manifest: SignedApprovalManifest?
    /// Placement of the seal.
    public var placement: PlacementSpec = PlacementSpec(corner: .bottomRight)
    /// PAdES level and time-stamp authorities.
    public var level: PAdESLevel = .bB
    public var tsa: [URL] = []
    /// Trust anchors for the final verification (empty: the seal chain's root).
    public var trust: [URL] = []
    /// Keep an archive entry (sealed copy + receipt) under this folder.
    public var archive: URL?
    /// Refuse documents larger than this (`--max-size-mb`, default 2 GiB).
    public var maxBytes = IngestStage.defaultMaxBytes
    /// Password of an input that the empty user password does not open (`--pdf-password-fd`); bound for every
    /// stage of this stamp (ingest, render, sign, verify open the document with it).
    public var pdfPassword: PDFPassword?

    /// Creates a stamper.
    public init(runtime: StagesRuntime, manifest: SignedApprovalManifest?) { self.runtime = runtime; self.manifest = manifest }

    /// What a stamp produced.
    public struct Outcome: Sendable {
        /// The job (facts: grant, seal result, verification).
        public var job: Job
        /// SHA-256 of the output.
        public var outputSHA256: String
    }

    /// Stamps `input` into `output`. Throws `StageRejection` (with a reason code) when a check refuses.
    public func stamp(input: URL, output: URL, logger: Logger = Logger(label: "sealbatch.stamp")) async throws -> Outcome {
        try await PDFPassword.$current.withValue(pdfPassword ?? PDFPassword.current) {
            try await stampBound(input: input, output: output, logger: logger)
        }
    }

    private func stampBound(input: URL, output: URL, logger: Logger) async throws -> Outcome {
        // the token must hold the registered seal's certificate before anything is admitted (and its key
        // before the signature: the sign stage checks that)
        try await runtime.checkSealCertificate()
        // The work folder sits beside OUT (same file system): the sealed file is renamed into place at the end,
        // not copied (a big scan is not written twice).
        let work = output.deletingLastPathComponent().appendingPathComponent(".sealbatch-stamp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) } // our own temporary folder; nothing in it outlives the stamp
        let id = String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16))
        let now = Date()
        let archiveRoot = archive ?? work.appendingPathComponent("archive")
        var cal = Calendar(identifier: .gregorian); cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day], from: now)
        let archiveDir = archiveRoot.appendingPathComponent(String(format: "%04d/%02d/%02d", c.year!, c.month!, c.day!))
            .appendingPathComponent("\(id)-\((input.lastPathComponent as NSString).deletingPathExtension)")
        var job = Job(id: id, sourceName: input.lastPathComponent, originalURL: input, workDir: work, archiveDir: archiveDir,
                      claimedAt: now, attempt: 1)
        var verify = VerifyStage(runtime: runtime, trust: trust)
        verify.requireSignature = true
        var ingest = IngestStage(maxBytes: maxBytes)
        ingest.limitHint = "sealbatch stamp --max-size-mb raises it"
        var stages: [any Stage] = [ingest, ApprovalStage(runtime: runtime, manifests: nil, manifest: manifest),
                                   RenderStage(runtime: runtime, placement: placement),
                                   SignStage(runtime: runtime, level: level, tsa: tsa), verify]
        if archive != nil || runtime.governanceSection != nil || runtime.registryIfOpen != nil { stages.append(ArchiveStage(runtime: runtime, keepsCopies: archive != nil)) }
        let folders = Folders(root: work)
        func context(_ i: Int) -> StageContext {
            StageContext(pipeline: "stamp", index: i, stageName: type(of: stages[i]).kind.name, logger: logger, folders: folders)
        }
        for i in stages.indices {
            do { job = try await stages[i].process(job, context: context(i)) } catch {
                // as in the pipeline: every stage undoes what would outlive the refusal (a consumed approval
                // use would otherwise make the next stamp of the same bytes a replay)
                let code = (error as? any StageFailure)?.reasonCode ?? "stage-error"
                for k in stages.indices.reversed() { stages[k].quarantined(job, code: code, context: context(k)) }
                throw error
            }
            job.established.formUnion(type(of: stages[i]).produces)
        }
        // as in the pipeline: the stages record the delivery (the `stamp` audit record) and that record is
        // flushed before the output appears; a record that cannot be written means no output
        for i in stages.indices {
            do { try stages[i].delivering(job, recovered: false, context: context(i)) } catch {
                let code = (error as? any StageFailure)?.reasonCode ?? "stage-error"
                for k in stages.indices.reversed() { stages[k].quarantined(job, code: code, context: context(k)) }
                throw error
            }
        }
        let records = stages.flatMap(\.durableFolders).filter { FileOps.exists($0) }
        if !records.isEmpty { try DurabilityBarrier(folders: records).sync() }
        try FileOps.fsync(job.currentURL)
        guard rename(job.currentURL.path, output.path) == 0 else {
            throw PipelineError(.io, path: output.path, "cannot move the sealed file into place: \(String(cString: strerror(errno)))")
        }
        try FileOps.fsync(output.deletingLastPathComponent())
        // the hash of the bytes the verify stage read (the file renamed into place), else read once more
        let digest = job.facts[StageFacts.verifiedOutput].flatMap { $0.path == job.currentURL.path ? $0.sha256 : nil }
        return Outcome(job: job, outputSHA256: try digest ?? SHA256Stream.hexDigest(ofFile: output))
    }
}
