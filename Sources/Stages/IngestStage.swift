import Foundation
import PDF
import Pipeline

/// Hashes the claimed original (streaming SHA-256) and sniffs it with the PDF core: not a PDF,
/// truncated, damaged, encrypted and certified-no-changes documents are rejected with their own code.
public struct IngestStage: Stage {
    public static let kind: StageKind = "ingest"
    public static let requires: Set<Fact> = []
    public static let produces: Set<Fact> = [.ingested]
    /// Reject files larger than this.
    public var maxBytes: Int = 512 << 20
    /// `false` for verify-only pipelines: signed/certified/encrypted documents are accepted as they are.
    public var requireSealable = true

    /// Creates the stage.
    public init(maxBytes: Int = 512 << 20, requireSealable: Bool = true) { self.maxBytes = maxBytes; self.requireSealable = requireSealable }

    public func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        guard let info = FileOps.regularFileInfo(job.originalURL) else {
            throw StageRejection(.unreadable, "\(job.sourceName) could not be read.")
        }
        if info.size > Int64(maxBytes) {
            throw StageRejection(.tooLarge, "\(job.sourceName) is \(info.size >> 20) MB, above the pipeline's limit of \(maxBytes >> 20) MB.")
        }
        job.digest = try SHA256Stream.hexDigest(ofFile: job.originalURL)
        let doc: PDFDocument
        do {
            doc = try PDFDocument(url: job.originalURL)
            if requireSealable { try doc.checkSealable() }
        } catch let e as PDFError {
            throw Self.rejection(e, name: job.sourceName)
        }
        let signed = doc.signatureFields.filter(\.isSigned).count
        job.facts[StageFacts.sniff] = SniffResult(pages: doc.pages.count, version: doc.version, existingSignatures: signed, size: Int(info.size))
        job.notes["pages"] = "\(doc.pages.count)"
        return job
    }

    static func rejection(_ e: PDFError, name: String) -> StageRejection {
        let at = e.offset.map { " (at byte \($0))" } ?? ""
        switch e.code {
        case .notAPDF: return StageRejection(.notAPDF, "\(name) is not a PDF file.")
        case .truncated: return StageRejection(.truncated, "\(name) is cut off: its end is missing\(at).")
        case .damaged: return StageRejection(.damaged, "\(name) is damaged: \(e.message)\(at).")
        case .encrypted(let needsPassword):
            return needsPassword ? StageRejection(.encryptedPasswordRequired, "\(name) is protected by a password.")
                                 : StageRejection(.encrypted, "\(name) is encrypted; encrypted PDFs cannot be sealed.")
        case .certifiedNoChanges: return StageRejection(.certifiedNoChanges, "\(name) is certified by its author to allow no changes.")
        case .unsupported: return StageRejection(.unsupported, "\(name) uses a PDF feature we do not handle: \(e.message).")
        case .io: return StageRejection(.unreadable, "\(name) could not be read: \(e.message).")
        case .invalidArgument: return StageRejection(.damaged, "\(name): \(e.message)\(at).")
        }
    }

    static func descriptor() -> StageDescriptor {
        StageDescriptor(IngestStage.self, defaultConcurrency: 2, settingsKeys: ["max-size-mb", "require-sealable"]) { s, path, _ in
            var st = IngestStage()
            if let v = s["max-size-mb"] { st.maxBytes = try v.decode(Int.self, path: path + ".max-size-mb") << 20 }
            if let v = s["require-sealable"] { st.requireSealable = try v.decode(Bool.self, path: path + ".require-sealable") }
            return st
        }
    }
}
