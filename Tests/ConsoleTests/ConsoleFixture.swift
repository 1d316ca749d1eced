import Foundation
import SealModel
import Governance
import Signing
import TestSupport

/// A registry for the console tests, made like the governance tests make theirs (openssl test PKI), but
/// with local-account passwords: organisation `acme`, one user per role, an approver with a key for
/// `sealbatch approve`, and the seal `acme-contract`.
struct ConsoleWorld {
    let dir: URL
    let registryPath: String
    let registry: Registry
    let pipelineFile: URL
    let pipelineRoot: URL
    let keyPassword = "test-pass"

    /// Login passwords (the browser script types them).
    static let passwords = ["root": "root-pw-1", "sys": "sys-pw-1", "sadmin": "sadmin-pw-1", "boss": "boss-pw-1",
                            "clerk": "clerk-pw-1", "clerk2": "clerk2-pw-1", "mallory": "mallory-pw-1"]

    static func openssl(_ args: [String], cwd: URL) throws {
        let r = try TestSupport.run("openssl", args, cwd: cwd)
        guard r.status == 0 else { throw NSError(domain: "openssl", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.err]) }
    }

    /// A key and certificate (`name.key`, `name.crt`) signed by the test CA, and `name.p12`.
    static func issue(_ name: String, in dir: URL, password: String) throws {
        try openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key", "-out", "\(name).csr",
                     "-subj", "/O=ACME Test/CN=\(name)"], cwd: dir)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(name).crt", "-days", "30"], cwd: dir)
        try openssl(["pkcs12", "-export", "-inkey", "\(name).key", "-in", "\(name).crt", "-certfile", "ca.crt", "-out", "\(name).p12",
                     "-passout", "pass:\(password)", "-name", name], cwd: dir)
    }

    init() throws {
        let dir = try TestSupport.tempDir("console-world")
        self.dir = dir
        let pipelineRoot = dir.appendingPathComponent("pipeline")
        self.pipelineRoot = pipelineRoot
        let pipelineFile = dir.appendingPathComponent("console-test.json")
        self.pipelineFile = pipelineFile
        let registryPath = dir.appendingPathComponent("registry.sqlite").path
        self.registryPath = registryPath
        let keyPassword = self.keyPassword
        let keys = dir.appendingPathComponent("keys")
        try FileManager.default.createDirectory(at: keys, withIntermediateDirectories: true)
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
                          "-days", "30", "-subj", "/O=ACME Test/CN=ACME Console Test CA"], cwd: keys)
        for n in ["root", "boss", "sealcert", "auditkey"] { try Self.issue(n, in: keys, password: keyPassword) }
        func identity(_ n: String) throws -> DetachedSignature.Identity {
            try DetachedSignature.Identity.pkcs12(Array(try Data(contentsOf: keys.appendingPathComponent("\(n).p12"))), password: Array(keyPassword.utf8))
        }
        // the workspace audit key, where `sealbatch serve` finds it (<registry>.audit-key.pem)
        let pem = try Data(contentsOf: keys.appendingPathComponent("auditkey.key")) + Data(contentsOf: keys.appendingPathComponent("auditkey.crt"))
        try pem.write(to: URL(fileURLWithPath: registryPath + ".audit-key.pem"))
        let signer = try GovernanceWorkspace.auditSigner(pemFile: registryPath + ".audit-key.pem")
        let registry = Registry(store: try SQLiteGovernanceStore(path: registryPath), auditSigner: signer)
        let pw = { (u: String) in Array(Self.passwords[u]!.utf8) }
        try registry.bootstrap(userID: "root", name: "Platform Root", certificateDER: try identity("root").certificate.der, password: pw("root"))
        let root = try registry.authenticate(.password(user: "root", password: pw("root")))
        try registry.pinAuditSigners([signer.certificateDER], identity: try identity("root"), as: root)
        try registry.createOrganisation(id: "acme", name: "ACME 测试有限公司", as: root)
        try registry.createUser(id: "sys", name: "Sys Admin", organisation: "acme", password: pw("sys"), as: root)
        try registry.grantRole(.systemAdmin, to: "sys", in: "acme", as: root)
        let sys = try registry.authenticate(.password(user: "sys", password: pw("sys")))
        try registry.createUser(id: "sadmin", name: "Seal Admin", organisation: "acme", password: pw("sadmin"), as: sys)
        try registry.createUser(id: "boss", name: "The Boss", organisation: "acme", certificateDER: try identity("boss").certificate.der, password: pw("boss"), as: sys)
        try registry.createUser(id: "clerk", name: "Clerk", organisation: "acme", password: pw("clerk"), as: sys)
        try registry.createUser(id: "clerk2", name: "Clerk Two", organisation: "acme", password: pw("clerk2"), as: sys)
        // a display name that is HTML: must come out escaped everywhere
        try registry.createUser(id: "mallory", name: "<img src=x onerror=\"window.__injected=1\">", organisation: "acme", password: pw("mallory"), as: sys)
        try registry.grantRole(.sealAdmin, to: "sadmin", in: "acme", as: sys)
        try registry.grantRole(.sealUser, to: "clerk", in: "acme", as: sys)
        try registry.grantRole(.sealUser, to: "clerk2", in: "acme", as: sys)
        let sadmin = try registry.authenticate(.password(user: "sadmin", password: pw("sadmin")))
        try registry.registerSeal(id: "acme-contract", name: "ACME 合同专用章", kind: .contract, organisation: "acme",
                                  certificateDER: try identity("sealcert").certificate.der, tokenURI: "pkcs11:token=seal;object=contract",
                                  design: .round(RoundSeal(organisation: "ACME 有限公司", name: "合同专用章")), as: sadmin)
        try registry.grantSealRight(.approve, on: "acme-contract", to: "boss", as: sadmin)
        try registry.grantSealRight(.use, on: "acme-contract", to: "clerk", as: sadmin)
        try registry.grantSealRight(.use, on: "acme-contract", to: "clerk2", as: sadmin)
        _ = try registry.audit.checkpointNow(with: signer)
        self.registry = registry

        // a pipeline whose folders the console shows; nothing runs it here (the test plays the stamp)
        for f in ["inbox", "work", "outbox", "quarantine", "archive", "approvals"] {
            try FileManager.default.createDirectory(at: pipelineRoot.appendingPathComponent(f), withIntermediateDirectories: true)
        }
        let json = """
        {"name": "console-test",
         "folders": {"root": "pipeline"},
         "governance": {"registry": "registry.sqlite"},
         "seal": {"id": "acme-contract", "user": "clerk"},
         "stages": [{"kind": "ingest"}, {"kind": "approval", "manifests": "pipeline/approvals"}]}
        """
        try Data(json.utf8).write(to: pipelineFile)
    }

    /// Appends a seal use as the pipeline's archive stage does (`stamp`, ok).
    func recordStamp(sha256: String) throws {
        try registry.audit.append(AuditEntry(actor: "clerk", action: "stamp", organisation: "acme", seal: "acme-contract",
                                             documentsBefore: [sha256], documentsAfter: [String(repeating: "f", count: 64)],
                                             approval: nil, outcome: .ok, detail: "console-test.pdf stamped (test)"))
    }
}
