import Foundation
import Render
import Governance
import Logging
import Pipeline
import Signing
import Stages
import TestSupport
import Token

/// Throwaway user PKI made with the `openssl` CLI (password "test-pass").
final class UserPKI: @unchecked Sendable {
    let dir: URL
    static let password = "test-pass"
    init() throws {
        dir = try TestSupport.tempDir("stages-pki")
        try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
                          "-out", "ca.crt", "-days", "3650", "-subj", "/O=ACME Test/CN=ACME Test Users CA"], cwd: dir)
        for u in ["root", "sys", "sadmin", "boss", "clerk"] {
            try Self.openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(u).key", "-out", "\(u).csr",
                              "-subj", "/O=ACME Test/CN=\(u)"], cwd: dir)
            try Self.openssl(["x509", "-req", "-in", "\(u).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "\(u).crt", "-days", "365"], cwd: dir)
            try Self.openssl(["pkcs12", "-export", "-inkey", "\(u).key", "-in", "\(u).crt", "-out", "\(u).p12", "-passout", "pass:\(Self.password)",
                              "-name", u, "-certfile", "ca.crt"], cwd: dir)
        }
    }
    static func openssl(_ args: [String], cwd: URL) throws {
        let r = try TestSupport.run("openssl", args, cwd: cwd)
        guard r.status == 0 else { throw NSError(domain: "openssl", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.err]) }
    }
    func identity(_ u: String) throws -> DetachedSignature.Identity {
        try DetachedSignature.Identity.pkcs12(Array(try Data(contentsOf: dir.appendingPathComponent("\(u).p12"))), password: Array(Self.password.utf8))
    }
}

/// A SoftHSM2 dev token, a registry with organisation `acme` (one user per role, approver `boss`,
/// seal user `clerk`) and the seal `acme-contract` bound to the token's certificate.
final class SealWorld: @unchecked Sendable {
    static let sealID = "acme-contract"
    static let pinText = "493817"
    let dir: URL
    let token: DevTokenInfo
    let pinFile: URL
    let pki: UserPKI
    let registryPath: String
    let registry: Registry
    let book: ApprovalBook
    let boss: AuthenticatedUser
    let root, sys, sadmin, clerk: AuthenticatedUser

    nonisolated(unsafe) private static var cached: SealWorld?
    private static let lock = NSLock()
    /// One world per test process (token creation and PKI take a few seconds).
    static func shared() throws -> SealWorld {
        lock.lock(); defer { lock.unlock() }
        if let c = cached { return c }
        let w = try SealWorld()
        cached = w
        return w
    }

    init() throws {
        dir = try TestSupport.tempDir("stages-world")
        token = try DevToken.create(in: dir.appendingPathComponent("token"), label: "sealbatch-test", keyType: .rsa2048, pin: PIN(Self.pinText))
        pinFile = dir.appendingPathComponent("pin.txt")
        FileManager.default.createFile(atPath: pinFile.path, contents: Data(Self.pinText.utf8), attributes: [.posixPermissions: 0o600])
        let pki = try UserPKI()
        self.pki = pki
        registryPath = dir.appendingPathComponent("registry.sqlite").path
        let registry = Registry(store: try SQLiteGovernanceStore(path: registryPath))
        self.registry = registry
        book = ApprovalBook(registry: registry)
        func cert(_ u: String) throws -> [UInt8] { try pki.identity(u).certificate.der }
        try registry.bootstrap(userID: "root", name: "Root", certificateDER: cert("root"))
        let root = try registry.authenticate(.identity(user: "root", try pki.identity("root")))
        self.root = root
        try registry.createOrganisation(id: "acme", name: "ACME 有限公司", as: root)
        try registry.createUser(id: "sys", name: "Sys Admin", organisation: "acme", certificateDER: cert("sys"), as: root)
        try registry.grantRole(.systemAdmin, to: "sys", in: "acme", as: root)
        let sys = try registry.authenticate(.identity(user: "sys", try pki.identity("sys")))
        self.sys = sys
        try registry.createUser(id: "sadmin", name: "Seal Admin", organisation: "acme", certificateDER: cert("sadmin"), as: sys)
        try registry.grantRole(.sealAdmin, to: "sadmin", in: "acme", as: sys)
        try registry.createUser(id: "boss", name: "Boss", organisation: "acme", certificateDER: cert("boss"), as: sys)
        try registry.createUser(id: "clerk", name: "Clerk", organisation: "acme", certificateDER: cert("clerk"), as: sys)
        try registry.grantRole(.sealUser, to: "clerk", in: "acme", as: sys)
        let sadmin = try registry.authenticate(.identity(user: "sadmin", try pki.identity("sadmin")))
        self.sadmin = sadmin
        boss = try registry.authenticate(.identity(user: "boss", try pki.identity("boss")))
        clerk = try registry.authenticate(.identity(user: "clerk", try pki.identity("clerk")))
        try registry.registerSeal(id: Self.sealID, name: "ACME 合同专用章", kind: .contract, organisation: "acme",
                                  certificateDER: try DevToken.derFromPEM(self.token.certificate), tokenURI: self.token.keyURI.description,
                                  design: .round(RoundSeal(diameterMM: 38, organisation: "ACME 有限公司", name: "合同专用章")), as: sadmin)
        try registry.grantSealRight(.approve, on: Self.sealID, to: "boss", as: sadmin)
        try registry.grantSealRight(.use, on: Self.sealID, to: "clerk", as: sadmin)
    }

    /// boss approves these files (by their bytes) for clerk; returns the signed manifest.
    func approve(_ files: [URL], validFor: TimeInterval = 3600) throws -> SignedApprovalManifest {
        let docs = try files.map { f in
            ApprovalManifest.Document(sha256: try SHA256Stream.hexDigest(ofFile: f), name: f.lastPathComponent, pages: nil)
        }
        return try book.approve(documents: docs, seal: Self.sealID, purpose: "contracts", requester: "clerk",
                                validUntil: Date().addingTimeInterval(validFor), identity: try pki.identity("boss"), as: boss)
    }

    /// A pipeline file in `root` using this world's token and registry.
    func pipelineJSON(name: String = "e2e", extraStages: String? = nil, signConcurrency: Int = 3, maxAttempts: Int = 10, tokenDelayMS: Int = 0) -> String {
        """
        {
          // end-to-end test pipeline
          "name": "\(name)",
          "folders": {"root": "."},
          "watch": {"settle-seconds": 0},
          "engine": {"max-attempts": \(maxAttempts)},
          "governance": {"registry": "\(registryPath)"},
          "token": {"config": "\(token.directory.appendingPathComponent("token.json").path)", "pin-file": "\(pinFile.path)", "test-delay-ms": \(tokenDelayMS)},
          "seal": {"id": "\(Self.sealID)", "user": "clerk"},
          "stages": \(extraStages ?? """
            [{"kind": "ingest"},
             {"kind": "approval", "manifests": "approvals"},
             {"kind": "render", "placement": {"corner": "bottom-right"}},
             {"kind": "sign", "level": "B-B", "concurrency": \(signConcurrency)},
             {"kind": "verify", "trust": "\(token.caCertificate.path)"},
             {"kind": "archive"}]
          """)
        }
        """
    }
}

/// Real PDFs from reportlab (one Python process for all of them).
enum SamplePDFs {
    static func make(in dir: URL, count: Int, prefix: String = "contract") throws -> [URL] {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let script = """
        import sys, uuid
        from reportlab.pdfgen import canvas
        from reportlab.lib.pagesizes import A4
        out, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        for i in range(n):
            c = canvas.Canvas(f"{out}/{prefix}-{i:04d}.pdf", pagesize=A4)
            c.setFont("Helvetica", 14)
            c.drawString(72, 760, f"Contract {i}: supply agreement {uuid.uuid4()}")
            c.drawString(72, 740, "Party A (Seal):")
            c.showPage()
            c.drawString(72, 760, f"Page 2 of contract {i}")
            c.save()
        """
        let py = dir.appendingPathComponent(".make.py")
        try Data(script.utf8).write(to: py)
        let r = try TestSupport.run("python3", [py.path, dir.path, "\(count)", prefix])
        guard r.status == 0 else { throw NSError(domain: "reportlab", code: Int(r.status), userInfo: [NSLocalizedDescriptionKey: r.err]) }
        try FileManager.default.removeItem(at: py)
        return (0..<count).map { dir.appendingPathComponent(String(format: "%@-%04d.pdf", prefix, $0)) }
    }
}

/// pyHanko validation of many files in one Python process: prints one line per file, "OK name" or "BAD name reason".
enum PyHanko {
    static func validate(_ files: [URL], trustRoot: URL) throws -> [String: String] {
        let script = """
        import sys
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext
        from pyhanko.keys import load_cert_from_pemder
        root = load_cert_from_pemder(sys.argv[1])
        vc = ValidationContext(trust_roots=[root], allow_fetching=False, revocation_mode='soft-fail')
        for f in sys.argv[2:]:
            try:
                with open(f, 'rb') as fh:
                    r = PdfFileReader(fh, strict=False)
                    sigs = r.embedded_signatures
                    if len(sigs) != 1:
                        print("BAD", f, "signatures=%d" % len(sigs)); continue
                    st = validate_pdf_signature(sigs[0], vc)
                    print(("OK" if st.bottom_line and st.intact and st.valid and st.trusted else "BAD"), f, st.summary())
            except Exception as e:
                print("BAD", f, repr(e))
        """
        let dir = try TestSupport.tempDir("pyhanko")
        let py = dir.appendingPathComponent("validate.py")
        try Data(script.utf8).write(to: py)
        let r = try TestSupport.run("python3", [py.path, trustRoot.path] + files.map(\.path))
        var out: [String: String] = [:]
        for line in r.out.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
            if parts.count >= 2 { out[URL(fileURLWithPath: parts[1]).lastPathComponent] = parts[0] + (parts.count > 2 ? " " + parts[2] : "") }
        }
        if out.isEmpty { out["_stderr"] = r.err }
        return out
    }
}

let quietLogger: Logger = { var l = Logger(label: "stages-test"); l.logLevel = .error; return l }()

/// Files (not hidden) in a folder.
func listing(_ dir: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
}
