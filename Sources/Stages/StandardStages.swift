import Foundation
import Pipeline

/// The registry of the standard stage kinds (ingest, approval, render, sign, verify, archive) and the
/// top-level sections they read (token, seal, governance).
public enum StandardStages {
    /// Every standard kind.
    public static func registry() -> StageRegistry {
        var r = StageRegistry()
        r.register(IngestStage.descriptor())
        r.register(ApprovalStage.descriptor())
        r.register(RenderStage.descriptor())
        r.register(SignStage.descriptor())
        r.register(VerifyStage.descriptor())
        r.register(ArchiveStage.descriptor())
        r.acceptSection("token") { v, path in _ = try v.decode(TokenSection.self, path: path) }
        r.acceptSection("seal") { v, path in _ = try v.decode(SealSection.self, path: path) }
        r.acceptSection("governance") { v, path in _ = try v.decode(GovernanceSection.self, path: path) }
        r.acceptSection(PDFPasswordSource.sectionKey) { v, path in _ = try PDFPasswordSource.from(sections: [path: v], baseDir: URL(fileURLWithPath: "/")) }
        return r
    }

    /// The run's shared runtime (one per `SharedObjects`).
    public static func runtime(_ env: StageEnvironment) throws -> StagesRuntime {
        try env.shared.get("stages.runtime") { try StagesRuntime(sections: env.sections, baseDir: env.baseDir) }
    }
}
