import Foundation
import Governance
import Pipeline

/// Admits a document only if a registered, valid approval manifest lists its exact bytes for the
/// pipeline's seal, its approver may approve, it is unexpired and not consumed by another job.
/// New manifest files in `manifests` are registered first. The use is consumed by the sign stage.
public struct ApprovalStage: Stage {
    public static let kind: StageKind = "approval"
    public static let requires: Set<Fact> = [.ingested]
    public static let produces: Set<Fact> = [.approved]
    let runtime: StagesRuntime
    /// The registry's folder: admission audits there.
    public var durableFolders: [URL] { runtime.registryFolder.map { [$0] } ?? [] }
    let manifests: URL?
    let intake: ManifestIntake
    let manifest: SignedApprovalManifest?

    /// Creates the stage. `manifest`: check exactly this approval (`sealbatch stamp --approval`).
    public init(runtime: StagesRuntime, manifests: URL?, manifest: SignedApprovalManifest? = nil) {
        self.runtime = runtime; self.manifests = manifests; self.intake = ManifestIntake(); self.manifest = manifest
    }

    /// Opens the registry before the first document needs it.
    public func prepare(context: StageContext) async {
        _ = try? runtime.approvalBook() // warm-up only: a failure surfaces again, with its error, on the first document
    }

    /// Every quarantine leaves an audit record, also one decided before admission (an engine duplicate,
    /// a damaged file): see `StagesRuntime.recordQuarantine`.
    public func quarantined(_ job: Job, code: String, context: StageContext) {
        runtime.recordQuarantine(job, code: code, context: context)
    }

    public func process(_ job: Job, context: StageContext) async throws -> Job {
        let seal = try runtime.seal()
        let book = try runtime.approvalBook()
        if let manifests { intake.scan(manifests, book: book, logger: context) }
        guard let digest = job.digest else { throw StageRejection(.unreadable, "no digest: the ingest stage must run first") }
        var job = job
        do {
            let grant = try book.admit(documentSHA256: digest, fileName: job.sourceName, seal: seal.id, user: seal.user,
                                       manifest: manifest, job: job.id)
            job.facts[StageFacts.grant] = grant
            job.notes["approval"] = grant.approval
            return job
        } catch {
            throw Self.rejection(error, name: job.sourceName)
        }
    }

    static func rejection(_ r: ApprovalRefusal, name: String) -> StageRejection {
        let code: StageRejection.Code
        switch r.code {
        case .notListed: code = .notApproved
        case .documentAltered: code = .documentAltered
        case .expired: code = .approvalExpired
        case .revoked: code = .approvalRevoked
        case .usedUp: code = .approvalUsedUp
        case .replay: code = .replay
        case .userNotAllowed, .separationOfDuties: code = .notAllowed
        case .sealNotUsable, .wrongSeal: code = .sealNotUsable
        case .storage: code = .approvalStorage
        default: code = .approvalInvalid
        }
        // the registry failing (its audit log, its trust anchors, its database) is not the document's fault:
        // the batch stops and the documents go back to the inbox, untouched and uncharged
        return StageRejection(code, "\(name): \(r.detail)", routing: code == .approvalStorage ? .stopBatch : .quarantine)
    }

    static func descriptor() -> StageDescriptor {
        StageDescriptor(ApprovalStage.self, defaultConcurrency: 4, settingsKeys: ["manifests"]) { s, path, env in
            let rt = try StandardStages.runtime(env)
            let m = try s["manifests"].map { env.resolve(try $0.decode(String.self, path: path + ".manifests")) }
            return ApprovalStage(runtime: rt, manifests: m)
        }
    }
}

/// Registers approval manifest files dropped into a folder (each file once per modification).
final class ManifestIntake: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: [String: Double] = [:]
    private var lastScan = 0.0

    func scan(_ dir: URL, book: ApprovalBook, logger context: StageContext) {
        lock.lock(); defer { lock.unlock() }
        let now = Date().timeIntervalSince1970
        if now - lastScan < 1 { return }
        lastScan = now
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir.path) } catch {
            // not fatal (documents are still admitted by approvals already registered), but never silent
            context.logger.error("the approval manifest folder cannot be read", metadata: ["folder": "\(dir.path)", "error": "\(error)"])
            context.recordEvent(kind: "approval-manifests-unreadable", detail: "\(dir.path): \(error)")
            return
        }
        for n in names.sorted() where !n.hasPrefix(".") {
            let url = dir.appendingPathComponent(n)
            guard let info = FileOps.regularFileInfo(url), seen[n] != info.mtime else { continue }
            seen[n] = info.mtime
            do {
                let bytes = [UInt8](try Data(contentsOf: url))
                let signed: SignedApprovalManifest
                do { signed = try SignedApprovalManifest.parse(bytes) } catch {
                    // a file that is not an approval at all is a refusal too, and audited as one
                    try book.recordUnreadable(n, error, actor: "pipeline:\(context.pipeline)")
                    throw error
                }
                let rec = try book.register(signed)
                context.logger.info("approval manifest registered", metadata: ["file": "\(n)", "approval": "\(rec.id)"])
            } catch {
                // a registry failure is not the manifest's fault: look at the file again on the next scan
                if let r = error as? ApprovalRefusal, r.code == .storage { seen[n] = nil }
                context.logger.warning("approval manifest refused", metadata: ["file": "\(n)", "reason": "\(error)"])
                context.recordEvent(kind: "approval-manifest-refused", detail: "\(n): \(error)")
            }
        }
    }
}
