import Foundation
import Governance
import Stages
import TestSupport
import Testing
import Token

/// The seal's chain from the registry (issue #14 item 5, issue #13 item 1): a SoftHSM token holding only
/// the seal certificate, its CA certificates registered with the seal (`seal register --chain`, checked
/// against the organisation's trust anchors), sealed with `sealbatch stamp` and accepted by pyHanko and pdfsig.
@Suite(.serialized) struct RegistryChainTests {
    @Test func aLeafOnlyTokenIsSealedWithTheRegisteredChain() throws {
        for t in ["openssl", "softhsm2-util", "python3", "pkcs11-tool", "pdfsig", "certutil"] where !(try TestSupport.haveTool(t)) { return }
        let bin = TestSupport.sealbatchBinary
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build the sealbatch executable first")
        let dir = try TestSupport.tempDir("registry-chain")
        let pki = try UserPKI()
        let token = try DevToken.create(in: dir.appendingPathComponent("token"), label: "leaf-only", keyType: .ecP256, pin: PIN("314159"))
        // the token keeps only the seal certificate (the common case): its CA certificates are deleted
        let env = ["SOFTHSM2_CONF": token.softhsmConf.path]
        for label in ["DEV-ONLY issuing CA", "DEV-ONLY root CA"] {
            let r = try TestSupport.run("pkcs11-tool", ["--module", token.modulePath, "--token-label", "leaf-only", "--delete-object",
                                                        "--type", "cert", "--label", label], env: env)
            #expect(r.status == 0, "\(r.out) \(r.err)")
        }
        let listed = try TestSupport.run("pkcs11-tool", ["--module", token.modulePath, "--token-label", "leaf-only", "--list-objects", "--type", "cert"], env: env)
        #expect(listed.out.components(separatedBy: "Certificate Object").count - 1 == 1, "\(listed.out)")

        let pinFile = dir.appendingPathComponent("pin.txt")
        FileManager.default.createFile(atPath: pinFile.path, contents: Data("314159\n".utf8), attributes: [.posixPermissions: 0o600])
        let reg = dir.appendingPathComponent("registry.sqlite").path
        @discardableResult
        func sb(_ args: [String], as user: String? = nil, expect status: Int32 = 0) throws -> TestSupport.ProcessResult {
            var a = args + ["--registry", reg]
            if let user { a += ["--as", user, "--key", pki.dir.appendingPathComponent("\(user).p12").path, "--key-password-fd", "0"] }
            let r = try TestSupport.run(bin.path, a, cwd: dir, stdin: Data((UserPKI.password + "\n").utf8))
            #expect(r.status == status, "sealbatch \(args.joined(separator: " ")): \(r.out) \(r.err)")
            return r
        }
        func crt(_ u: String) -> String { pki.dir.appendingPathComponent("\(u).crt").path }
        try sb(["org", "init", "--user", "root", "--key", pki.dir.appendingPathComponent("root.p12").path, "--key-password-fd", "0"])
        try sb(["org", "create", "acme", "--name", "ACME 有限公司"], as: "root")
        try sb(["user", "add", "sys", "--org", "acme", "--cert", crt("sys")], as: "root")
        try sb(["user", "grant", "sys", "--role", "system-admin", "--org", "acme"], as: "root")
        for u in ["sadmin", "boss", "clerk"] { try sb(["user", "add", u, "--org", "acme", "--cert", crt(u)], as: "sys") }
        try sb(["user", "grant", "sadmin", "--role", "seal-admin", "--org", "acme"], as: "sys")
        try sb(["user", "grant", "clerk", "--role", "seal-user", "--org", "acme"], as: "sys")
        let design = dir.appendingPathComponent("design.json")
        try Data(#"{"kind": "round", "organisation": "ACME 有限公司", "name": "合同专用章"}"#.utf8).write(to: design)
        let chain = dir.appendingPathComponent("chain.pem")
        let both = try String(contentsOf: token.intermediateCertificate, encoding: .utf8) + String(contentsOf: token.caCertificate, encoding: .utf8)
        try Data(both.utf8).write(to: chain)
        func register(_ chainFile: URL?, id: String = "acme-contract", expect: Int32) throws -> TestSupport.ProcessResult {
            try sb(["seal", "register", id, "--name", "ACME 合同专用章", "--kind", "contract", "--org", "acme",
                    "--cert", token.certificate.path, "--token-uri", token.keyURI.description, "--design", design.path]
                   + (chainFile.map { ["--chain", $0.path] } ?? []), as: "sadmin", expect: expect)
        }
        // no trust anchors yet: a chain cannot be checked, so it is refused
        let noAnchor = try register(chain, expect: 2)
        #expect(noAnchor.err.contains("no trust anchors"), "\(noAnchor.err)")
        // the organisation's anchors: the users' CA (approvers) and the seal CA's root
        try sb(["org", "anchor", "acme", "--cert", pki.dir.appendingPathComponent("ca.crt").path], as: "sys")
        try sb(["org", "anchor", "acme", "--cert", token.caCertificate.path], as: "sys")
        // a chain without the intermediate is refused naming the certificate whose issuer is missing
        let rootOnly = dir.appendingPathComponent("root-only.pem")
        try FileManager.default.copyItem(at: token.caCertificate, to: rootOnly)
        let gap = try register(rootOnly, expect: 2)
        #expect(gap.err.contains("the issuer of") && gap.err.contains("leaf-only seal (DEV-ONLY)") && gap.err.contains("DEV-ONLY"), "\(gap.err)")
        // `sealbatch check` names the missing issuer of a seal registered without a chain, and passes with it
        #expect(try register(nil, id: "no-chain", expect: 0).out.contains("registered"))
        #expect(try register(chain, expect: 0).out.contains("registered"))
        func check(_ sealID: String) throws -> String {
            let folder = dir.appendingPathComponent("pipe-\(sealID)")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("approvals"), withIntermediateDirectories: true)
            let cfg = folder.appendingPathComponent("pipeline.json")
            try Data("""
            {"name": "chain-\(sealID)", "folders": {"root": "\(folder.path)"},
             "governance": {"registry": "\(reg)"},
             "token": {"config": "\(token.directory.appendingPathComponent("token.json").path)", "pin-file": "\(pinFile.path)"},
             "seal": {"id": "\(sealID)", "user": "clerk"},
             "stages": [{"kind": "ingest"}, {"kind": "approval", "manifests": "\(folder.path)/approvals"},
                        {"kind": "render"}, {"kind": "sign"},
                        {"kind": "verify", "trust": "\(token.caCertificate.path)"}, {"kind": "archive"}]}
            """.utf8).write(to: cfg)
            let r = try TestSupport.run(bin.path, ["check", cfg.path], cwd: dir)
            return r.out + r.err
        }
        let missing = try check("no-chain")
        #expect(missing.contains("seal-chain-incomplete") && missing.contains("the issuer of") && missing.contains("leaf-only seal (DEV-ONLY)")
                && missing.contains("seal rebind no-chain --chain"), "\(missing)")
        let complete = try check("acme-contract")
        #expect(!complete.contains("seal-chain-incomplete") && complete.contains("certificate chain is complete"), "\(complete)")
        let shown = try sb(["seal", "show", "acme-contract"])
        #expect(shown.out.contains("DEV-ONLY issuing CA") || shown.out.contains("Issuing"), "\(shown.out)")
        try sb(["seal", "grant", "acme-contract", "--user", "boss", "--right", "approve"], as: "sadmin")
        try sb(["seal", "grant", "acme-contract", "--user", "clerk", "--right", "use"], as: "sadmin")

        let contracts = try SamplePDFs.make(in: dir.appendingPathComponent("contracts"), count: 1)
        let manifest = dir.appendingPathComponent("approval.json").path
        try sb(["approve"] + contracts.map(\.path) + ["--seal", "acme-contract", "--requester", "clerk", "--purpose", "chain",
                                                     "--valid-until", "+1d", "-o", manifest], as: "boss")
        let out = dir.appendingPathComponent("stamped.pdf")
        let stamped = try sb(["stamp", contracts[0].path, "-o", out.path, "--seal", "acme-contract", "--approval", manifest,
                              "--token-config", token.directory.appendingPathComponent("token.json").path, "--pin-file", pinFile.path,
                              "--trust", token.caCertificate.path], as: "clerk")
        #expect(stamped.out.contains("stamped"), "\(stamped.out) \(stamped.err)")
        let verdicts = try PyHanko.validate([out], trustRoot: token.caCertificate)
        #expect(verdicts.values.allSatisfy { $0.hasPrefix("OK") } && verdicts.count == 1, "\(verdicts)")
        let db = dir.appendingPathComponent("nss")
        try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
        _ = try TestSupport.run("certutil", ["-N", "-d", "sql:" + db.path, "--empty-password"])
        _ = try TestSupport.run("certutil", ["-A", "-d", "sql:" + db.path, "-n", "root", "-t", "C,C,C", "-i", token.caCertificate.path])
        let ps = try TestSupport.run("pdfsig", ["-nssdir", "sql:" + db.path, out.path])
        #expect(ps.out.contains("Signature is Valid.") && ps.out.contains("Certificate is Trusted."), "\(ps.out)")
    }
}
