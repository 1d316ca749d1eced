import Foundation
import SealModel
import Governance
import Signing
import TestSupport

/// Throwaway test PKI made with the `openssl` CLI: a CA and one PKCS#12 per user (password "test-pass").
final class TestPKI: @unchecked Sendable {
    let dir: URL
    let caCert: URL
    let caKey: URL
    static let password = "test-pass"

    init() throws {
        dir = try TestSupport.tempDir("gov-pki")
        caKey = dir.appendingPathComponent("ca.key")
        caCert = dir.appendingPathComponent("ca.crt")
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", caKey.path,
                          "-out", caCert.path, "-days", "3650", "-subj", "/O=ACME Test/CN=ACME Test Users CA"], cwd: dir)
    }

    static func openssl(_ args: [String], cwd: URL) throws {
        let r = try TestSupport.run("openssl", args, cwd: cwd)
        guard r.status == 0 else { throw NSError(domain: "openssl", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.err]) }
    }

    /// Issues a user certificate signed by the CA (or self-signed) and returns the .p12 path.
    func issue(_ name: String, selfSigned: Bool = false, days: Int = 365) throws -> URL {
        let key = dir.appendingPathComponent("\(name).key"), csr = dir.appendingPathComponent("\(name).csr")
        let crt = dir.appendingPathComponent("\(name).crt"), p12 = dir.appendingPathComponent("\(name).p12")
        try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key.path, "-out", csr.path,
                          "-subj", "/O=ACME Test/CN=\(name)"], cwd: dir)
        if selfSigned {
            try Self.openssl(["x509", "-req", "-in", csr.path, "-key", key.path, "-out", crt.path, "-days", "\(days)"], cwd: dir)
        } else {
            try Self.openssl(["x509", "-req", "-in", csr.path, "-CA", caCert.path, "-CAkey", caKey.path, "-CAcreateserial",
                              "-out", crt.path, "-days", "\(days)"], cwd: dir)
        }
        var args = ["pkcs12", "-export", "-inkey", key.path, "-in", crt.path, "-out", p12.path, "-passout", "pass:\(Self.password)", "-name", name]
        if !selfSigned { args += ["-certfile", caCert.path] }
        try Self.openssl(args, cwd: dir)
        return p12
    }

    func identity(_ name: String) throws -> DetachedSignature.Identity {
        let data = try Data(contentsOf: dir.appendingPathComponent("\(name).p12"))
        return try DetachedSignature.Identity.pkcs12(Array(data), password: Array(Self.password.utf8))
    }

    /// The shared PKI for the whole test run (users: root, sys, sadmin, boss, boss2, clerk, clerk2, mallory, auditor).
    nonisolated(unsafe) static var sharedStorage: TestPKI?
    static let lock = NSLock()
    static func shared() throws -> TestPKI {
        lock.lock(); defer { lock.unlock() }
        if let s = sharedStorage { return s }
        let pki = try TestPKI()
        for u in ["root", "sys", "sadmin", "boss", "boss2", "clerk", "clerk2", "sealcert", "auditkey"] { _ = try pki.issue(u) }
        _ = try pki.issue("mallory", selfSigned: true)
        sharedStorage = pki
        return pki
    }
}

/// A registry with organisation `acme`, one user per role, an approver and the seal `acme-contract`.
struct World {
    let dir: URL
    let path: String
    let registry: Registry
    let book: ApprovalBook
    let pki: TestPKI
    let root, sys, sadmin, boss, clerk: AuthenticatedUser
    let now: Date

    static let sealID = "acme-contract"

    init(checkpointInterval: Int = 100) throws {
        let pki = try TestPKI.shared()
        self.pki = pki
        now = Date().addingTimeInterval(2) // certificates were issued up to now (whole seconds)
        dir = try TestSupport.tempDir("gov-world")
        path = dir.appendingPathComponent("registry.sqlite").path
        let signer = IdentityCheckpointSigner(try pki.identity("auditkey"))
        let registry = Registry(store: try SQLiteGovernanceStore(path: path), auditSigner: signer, checkpointInterval: checkpointInterval)
        self.registry = registry
        book = ApprovalBook(registry: registry)
        func cert(_ n: String) throws -> [UInt8] { try pki.identity(n).certificate.der }
        try registry.bootstrap(userID: "root", name: "Root", certificateDER: cert("root"))
        let root = try registry.authenticate(.identity(user: "root", try pki.identity("root")))
        self.root = root
        // the platform administrator pins the audit key as the only checkpoint signer
        try registry.pinAuditSigners([signer.certificateDER], identity: try pki.identity("root"), as: root)
        try registry.createOrganisation(id: "acme", name: "ACME Trading", as: root)
        try registry.createUser(id: "sys", name: "Sys Admin", organisation: "acme", certificateDER: cert("sys"), as: root)
        try registry.grantRole(.systemAdmin, to: "sys", in: "acme", as: root)
        let sys = try registry.authenticate(.identity(user: "sys", try pki.identity("sys")))
        self.sys = sys
        for (u, role) in [("sadmin", Role.sealAdmin), ("boss", nil), ("boss2", nil), ("clerk", .sealUser), ("clerk2", .sealUser)] as [(String, Role?)] {
            try registry.createUser(id: u, name: u.capitalized, organisation: "acme", certificateDER: cert(u), as: sys)
            if let role { try registry.grantRole(role, to: u, in: "acme", as: sys) }
        }
        let sadmin = try registry.authenticate(.identity(user: "sadmin", try pki.identity("sadmin")))
        self.sadmin = sadmin
        boss = try registry.authenticate(.identity(user: "boss", try pki.identity("boss")))
        clerk = try registry.authenticate(.identity(user: "clerk", try pki.identity("clerk")))
        try registry.registerSeal(id: Self.sealID, name: "ACME 合同专用章", kind: .contract, organisation: "acme",
                                  certificateDER: cert("sealcert"), tokenURI: "pkcs11:token=seal;object=contract",
                                  design: .round(RoundSeal(organisation: "ACME 有限公司", name: "合同专用章")), as: sadmin)
        try registry.grantSealRight(.approve, on: Self.sealID, to: "boss", as: sadmin)
        try registry.grantSealRight(.use, on: Self.sealID, to: "clerk", as: sadmin)
    }

    func identity(_ n: String) throws -> DetachedSignature.Identity { try pki.identity(n) }

    /// Three fake documents (bytes) and their manifest entries.
    static func documents(_ n: Int = 3, tag: String = "") -> [(bytes: [UInt8], doc: ApprovalManifest.Document)] {
        (1...n).map { i in
            let b = Array("%PDF-1.7\n% contract \(i) \(tag) \(UUID().uuidString)\n%%EOF\n".utf8)
            return (b, ApprovalManifest.Document(sha256: DetachedSignature.hex(DetachedSignature.sha256(b)), name: "contract-\(i).pdf", pages: 1))
        }
    }

    /// boss approves `docs` for clerk.
    func approve(_ docs: [ApprovalManifest.Document], uses: Int? = nil, validFor: TimeInterval = 3600) throws -> SignedApprovalManifest {
        try book.approve(documents: docs, seal: Self.sealID, purpose: "sales contracts", requester: "clerk",
                         validUntil: now.addingTimeInterval(validFor), uses: uses, identity: try identity("boss"), as: boss, at: now)
    }

    func sqlite(_ sql: String) throws {
        let r = try TestSupport.run("sqlite3", [path, sql])
        guard r.status == 0 else { throw NSError(domain: "sqlite3", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.err]) }
    }
}
