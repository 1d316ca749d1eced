import Foundation
import Signing

/// Where a workspace keeps its registry and audit key, and how the pipeline opens them.
public enum GovernanceWorkspace {
    /// `$SEALBATCH_HOME/sealbatch-registry.sqlite`, else `./sealbatch-registry.sqlite`.
    public static func defaultRegistryPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["SEALBATCH_HOME"], !home.isEmpty {
            return URL(fileURLWithPath: home).appendingPathComponent("sealbatch-registry.sqlite").path
        }
        return "sealbatch-registry.sqlite"
    }

    /// `$SEALBATCH_AUDIT_KEY`, else `<registry>.audit-key.pem`.
    public static func defaultAuditKeyPath(registryPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment["SEALBATCH_AUDIT_KEY"] ?? registryPath + ".audit-key.pem"
    }

    /// Loads a PEM file holding the audit private key and its certificate.
    public static func auditSigner(pemFile path: String) throws -> IdentityCheckpointSigner {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        return IdentityCheckpointSigner(try DetachedSignature.Identity.pem(key: bytes, certificate: bytes))
    }

    /// Opens an existing registry with its audit key (if the key file exists).
    public static func open(registryPath: String? = nil, auditKeyPath: String? = nil, checkpointInterval: Int = 100,
                            flushEachCommit: Bool = true) throws -> Registry {
        let path = registryPath ?? defaultRegistryPath()
        guard FileManager.default.fileExists(atPath: path) else {
            throw GovernanceError(.notFound, "no registry at \(path): create one with `sealbatch org init`")
        }
        let keyPath = auditKeyPath ?? defaultAuditKeyPath(registryPath: path)
        // a key that was named (configuration, $SEALBATCH_AUDIT_KEY) must exist: without it nothing is checkpointed
        let named = auditKeyPath != nil || ProcessInfo.processInfo.environment["SEALBATCH_AUDIT_KEY"] != nil
        if named && !FileManager.default.fileExists(atPath: keyPath) {
            throw GovernanceError(.notFound, "the audit key \(keyPath) does not exist: fix governance.audit-key / $SEALBATCH_AUDIT_KEY, or remove it to run without checkpoints")
        }
        let signer = FileManager.default.fileExists(atPath: keyPath) ? try auditSigner(pemFile: keyPath) : nil
        return Registry(store: try SQLiteGovernanceStore(path: path, flushEachCommit: flushEachCommit), auditSigner: signer,
                        checkpointInterval: checkpointInterval)
    }
}

extension AuditLog {
    /// Records a stamping outcome for a grant (the pipeline's sign/verify/archive result).
    @discardableResult
    public func recordStamp(_ grant: ApprovalGrant, outputSHA256: String?, tokenSerial: String?, outcome: AuditOutcome = .ok,
                            reason: String? = nil, detail: String = "", at time: Date = Date()) throws -> AuditRecord {
        try append(AuditEntry(actor: grant.user, action: "stamp", organisation: grant.organisation, seal: grant.seal,
                              documentsBefore: [grant.documentSHA256], documentsAfter: outputSHA256.map { [$0] } ?? [],
                              approval: grant.approval, tokenSerial: tokenSerial, outcome: outcome, reason: reason,
                              detail: detail.isEmpty ? "\(grant.listedName) stamped (job \(grant.job))" : detail), at: time)
    }
}
