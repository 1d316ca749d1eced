import Foundation
import Governance
import Signing
import Testing
import TestSupport

/// The governance commands end to end through the built `sealbatch` binary: an organisation with the
/// four roles, a seal whose key lives on a SoftHSM2 token, three contracts approved, admission checked,
/// refusals, audit query and verification, tampering detected.
@Suite(.serialized) struct GovernanceCLITests {
    struct Env {
        let dir: URL
        let pki: TestPKI
        var reg: String { dir.appendingPathComponent("registry.sqlite").path }

        /// Runs sealbatch; `secret` goes to stdin (read through `--…-fd 0`).
        @discardableResult
        func sb(_ args: [String], secret: String? = TestPKI.password, expect status: Int32 = 0,
                sourceLocation: SourceLocation = #_sourceLocation) throws -> TestSupport.ProcessResult {
            let r = try TestSupport.run(TestSupport.sealbatchBinary.path, args + ["--registry", reg], cwd: dir,
                                        stdin: secret.map { Data(($0 + "\n").utf8) })
            #expect(r.status == status, "sealbatch \(args.joined(separator: " ")): \(r.err)", sourceLocation: sourceLocation)
            return r
        }
        func key(_ user: String) -> [String] {
            ["--as", user, "--key", pki.dir.appendingPathComponent("\(user).p12").path, "--key-password-fd", "0"]
        }
        func crt(_ user: String) -> String { pki.dir.appendingPathComponent("\(user).crt").path }
    }

    func setUp() throws -> Env? {
        guard try TestSupport.haveTool("openssl"), try TestSupport.haveTool("sqlite3") else { return nil }
        guard FileManager.default.isExecutableFile(atPath: TestSupport.sealbatchBinary.path) else {
            Issue.record("build the sealbatch binary first (swift build --build-tests)")
            return nil
        }
        return Env(dir: try TestSupport.tempDir("gov-cli"), pki: try TestPKI.shared())
    }

    /// A SoftHSM2 development token made by `sealbatch token init-dev`: (key URI, certificate path, token.json path).
    func devToken(_ env: Env, label: String, keyType: String) throws -> (uri: String, cert: String, config: String)? {
        guard try TestSupport.haveTool("softhsm2-util") else { return nil }
        let dir = env.dir.appendingPathComponent(label).path
        let r = try TestSupport.run(TestSupport.sealbatchBinary.path, ["token", "init-dev", "--dir", dir, "--label", label, "--key-type", keyType,
                                                                       "--pin-fd", "0"], stdin: Data("123456\n".utf8))
        #expect(r.status == 0, "\(r.err)")
        func field(_ name: String) -> String? {
            r.out.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(name) }
                .map { String($0.trimmingCharacters(in: .whitespaces).dropFirst(name.count)).trimmingCharacters(in: .whitespaces) }
        }
        guard let uri = field("key URI"), let cert = field("certificate"), let config = field("configuration") else {
            Issue.record("token init-dev output not understood: \(r.out)")
            return nil
        }
        return (uri, cert, config)
    }

    @Test func organisationFourRolesSealOnTokenThreeApprovedContractsAuditedAndVerified() throws {
        guard let env = try setUp() else { return }
        // bootstrap and organisation
        try env.sb(["org", "init", "--user", "root", "--name", "Platform Root", "--key", env.pki.dir.appendingPathComponent("root.p12").path, "--key-password-fd", "0"])
        try env.sb(["org", "init", "--user", "root2", "--cert", env.crt("boss")], secret: nil, expect: 2) // not empty any more
        try env.sb(["org", "create", "acme", "--name", "ACME Trading 有限公司"] + env.key("root"))
        try env.sb(["user", "add", "sys", "--org", "acme", "--cert", env.crt("sys")] + env.key("root"))
        try env.sb(["user", "grant", "sys", "--role", "system-admin", "--org", "acme"] + env.key("root"))
        for (u, role) in [("sadmin", "seal-admin"), ("clerk", "seal-user"), ("boss", nil)] as [(String, String?)] {
            try env.sb(["user", "add", u, "--org", "acme", "--cert", env.crt(u)] + env.key("sys"))
            if let role { try env.sb(["user", "grant", u, "--role", role, "--org", "acme"] + env.key("sys")) }
        }
        // a local-password account (scrypt), password through a descriptor
        // (stdin carries sys's key password, then pat's new password: each secret is one line)
        try env.sb(["user", "add", "pat", "--org", "acme", "--new-password-fd", "0"] + env.key("sys"), secret: "\(TestPKI.password)\npat's long password")
        try env.sb(["user", "grant", "pat", "--role", "seal-user", "--org", "acme"] + env.key("sys"))
        try env.sb(["audit", "query", "--as", "pat", "--password-fd", "0"], secret: "pat's long password")
        try env.sb(["audit", "query", "--as", "pat", "--password-fd", "0"], secret: "pat's wrong password", expect: 1)
        // a user who logs in with their own token (a bare signature over a challenge, checked with the registered certificate)
        var tinaToken: String? = nil
        if let own = try devToken(env, label: "tina-token", keyType: "ec-p256") {
            tinaToken = own.config
            try env.sb(["user", "add", "tina", "--org", "acme", "--cert", own.cert] + env.key("sys"))
            let q = try env.sb(["audit", "query", "--as", "tina", "--login-token-config", own.config, "--login-pin-fd", "0", "--format", "json"], secret: "123456")
            #expect(q.out.hasPrefix("["))
            let wrongUser = try env.sb(["audit", "query", "--as", "boss", "--login-token-config", own.config, "--login-pin-fd", "0"], secret: "123456", expect: 1)
            #expect(wrongUser.err.contains("authentication-failed"))
        }
        let users = try env.sb(["user", "list", "--format", "json"], secret: nil)
        #expect(users.out.contains("\"seal-admin@acme\""))
        // the seal, its key on a SoftHSM2 token
        let seal = try devToken(env, label: "acme-seals", keyType: "rsa2048")
        let uri = seal?.uri ?? "pkcs11:token=acme-seals;object=contract"
        // the design is checked at registration: a fault is refused (exit 2) naming its JSON path, nothing is stored
        let designFile = env.dir.appendingPathComponent("design.json")
        func register(_ design: String, expect: Int32) throws -> TestSupport.ProcessResult {
            try Data(design.utf8).write(to: designFile)
            return try env.sb(["seal", "register", "acme-contract", "--name", "ACME 合同专用章", "--kind", "contract", "--org", "acme",
                               "--cert", seal?.cert ?? env.crt("sealcert"), "--token-uri", uri, "--design", designFile.path] + env.key("sadmin"), expect: expect)
        }
        for (bad, path) in [(#"{"kind": "round", "organisation": "ACME", "diameter-mm": 400}"#, "design.diameter-mm:"),
                            (##"{"kind": "round", "organisation": "ACME", "colour": "#FF0000"}"##, "design.colour: unknown key"),
                            (#"{"kind": "round", "organisation": "ACME", "color": "red"}"#, "design.color: colour 'red'"),
                            (#"{"kind": "square", "characters": "张"}"#, "design.characters: a personal seal has 2 or 4"),
                            (#"{"kind": "round"}"#, "design.organisation: required key is missing"),
                            (#"{"kind": "star", "organisation": "ACME"}"#, "design.kind: unknown seal kind")] {
            let r = try register(bad, expect: 2)
            #expect(r.err.contains(path), "\(bad): \(r.err)")
        }
        let old = try env.sb(["seal", "register", "acme-contract", "--name", "ACME 合同专用章", "--kind", "contract", "--org", "acme",
                              "--cert", seal?.cert ?? env.crt("sealcert"), "--token-uri", uri, "--design", designFile.path,
                              "--appearance", "round"] + env.key("sadmin"), expect: 2)
        #expect(old.err.contains("--appearance is gone"), "\(old.err)")
        #expect(try env.sb(["seal", "list", "--format", "json"], secret: nil).out.contains("acme-contract") == false)
        let reg = try register(#"{"kind": "round", "organisation": "ACME 贸易有限公司", "name": "合同专用章", "diameter-mm": 42}"#, expect: 0)
        let shown = try env.sb(["seal", "show", "acme-contract"], secret: nil)
        #expect(shown.out.contains(uri))
        #expect(reg.out.contains("registered"))
        // a system administrator may not register seals: refused, names the right, audited
        let refused = try env.sb(["seal", "register", "sys-seal", "--name", "x", "--kind", "official", "--org", "acme",
                                  "--cert", env.crt("sealcert"), "--token-uri", uri, "--design", designFile.path] + env.key("sys"), expect: 1)
        #expect(refused.err.contains("missing right: seal-admin of acme"))
        try env.sb(["seal", "grant", "acme-contract", "--user", "boss", "--right", "approve"] + env.key("sadmin"))
        try env.sb(["seal", "grant", "acme-contract", "--user", "clerk", "--right", "use"] + env.key("sadmin"))
        try env.sb(["seal", "grant", "acme-contract", "--user", "sadmin", "--right", "use"] + env.key("sadmin"), expect: 1) // seal admins do not stamp
        // three contracts approved by boss for clerk
        // three real contracts from samples/ (copied: the originals are never touched)
        var files: [String] = []
        var expectedPages: [Int] = []
        for name in ["contract-en-libreoffice.pdf", "contract-zh-libreoffice.pdf", "contract-zh-reportlab-rotated.pdf"] {
            let src = TestSupport.packageRoot.appendingPathComponent("samples/\(name)")
            let dst = env.dir.appendingPathComponent(name)
            try FileManager.default.copyItem(at: src, to: dst)
            files.append(dst.path)
            if try TestSupport.haveTool("pdfinfo") {
                let info = try TestSupport.run("pdfinfo", [dst.path]).out
                expectedPages.append(Int(info.split(separator: "\n").first { $0.hasPrefix("Pages:") }?.split(separator: " ").last ?? "") ?? -1)
            }
        }
        let manifest = env.dir.appendingPathComponent("approval.json").path
        try env.sb(["approve"] + files + ["--seal", "acme-contract", "--requester", "clerk", "--purpose", "Q3 sales contracts",
                                          "--valid-until", "+2d", "-o", manifest] + env.key("boss"))
        let parsed = try SignedApprovalManifest.parse(Array(Data(contentsOf: URL(fileURLWithPath: manifest))))
        #expect(parsed.manifest.documents.count == 3)
        if !expectedPages.isEmpty { #expect(parsed.manifest.documents.map(\.pages) == expectedPages.map { Optional($0) }) }
        #expect(parsed.manifest.documents.map(\.sha256) == files.map { DetachedSignature.hex(try! DetachedSignature.sha256(fileAt: URL(fileURLWithPath: $0))) })
        // an approver who signs with the key on her own USB key (PKCS#11), not a PKCS#12 file
        if let tinaToken {
            try env.sb(["seal", "grant", "acme-contract", "--user", "tina", "--right", "approve"] + env.key("sadmin"))
            let tokenManifest = env.dir.appendingPathComponent("approval-tina.json").path
            try env.sb(["approve", files[0], "--seal", "acme-contract", "--requester", "clerk", "--purpose", "signed on a token",
                        "-o", tokenManifest, "--as", "tina", "--login-token-config", tinaToken, "--login-pin-fd", "0"], secret: "123456")
            let t = try SignedApprovalManifest.parse(Array(Data(contentsOf: URL(fileURLWithPath: tokenManifest))))
            #expect(t.manifest.approver == "tina" && t.signature != nil)
            let ok = try env.sb(["approvals", "check", files[0], "--seal", "acme-contract", "--user", "clerk", "--approval", tokenManifest], secret: nil)
            #expect(ok.out.contains("admitted"), "\(ok.out)")
            // the wrong PIN signs nothing and writes no manifest
            let other = env.dir.appendingPathComponent("approval-tina-2.json").path
            try env.sb(["approve", files[1], "--seal", "acme-contract", "--requester", "clerk", "--purpose", "x",
                        "-o", other, "--as", "tina", "--login-token-config", tinaToken, "--login-pin-fd", "0"], secret: "999999", expect: 2)
            #expect(!FileManager.default.fileExists(atPath: other))
        }
        // clerk may not approve his own request; boss may not approve a request by himself
        try env.sb(["approve", files[0], "--seal", "acme-contract", "--requester", "clerk", "--purpose", "x", "-o", "x.json"] + env.key("clerk"), expect: 1)
        try env.sb(["approve", files[0], "--seal", "acme-contract", "--requester", "boss", "--purpose", "x", "-o", "x.json"] + env.key("boss"), expect: 1)
        // the admission check: the three contracts pass for clerk, an altered one does not
        let check = try env.sb(["approvals", "check"] + files + ["--seal", "acme-contract", "--user", "clerk", "--approval", manifest], secret: nil)
        #expect(check.out.components(separatedBy: "admitted").count == 4)
        // one byte appended to the third contract after approval
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: files[2]))
        try h.seekToEnd(); try h.write(contentsOf: Data("\n".utf8)); try h.close()
        let altered = try env.sb(["approvals", "check", files[2], "--seal", "acme-contract", "--user", "clerk", "--approval", manifest], secret: nil, expect: 1)
        #expect(altered.out.contains("document-altered"))
        let list = try env.sb(["approvals", "list", "--format", "csv"], secret: nil)
        #expect(list.out.contains(parsed.manifest.id) && list.out.contains("0/3"))
        // audit: query as the seal admin, verify, then tamper
        let q = try env.sb(["audit", "query", "--seal", "acme-contract", "--format", "csv"] + env.key("sadmin"))
        #expect(q.out.contains("seal.register") && q.out.contains("approval.create") && q.out.contains("approval.admit"))
        #expect(q.out.contains("document-altered"))
        let own = try env.sb(["audit", "query", "--format", "json"] + env.key("clerk"))
        let ownRecs = try JSONDecoder.iso.decode([AuditRecord].self, from: own.stdout)
        #expect(!ownRecs.isEmpty && ownRecs.allSatisfy { $0.entry.actor == "clerk" })
        let v = try env.sb(["audit", "verify"], secret: nil)
        #expect(v.out.contains("audit log intact"))
        let auditCert = env.dir.appendingPathComponent("registry.sqlite.audit-key.pem").path
        try env.sb(["audit", "verify", "--audit-cert", auditCert], secret: nil)
        let r = try TestSupport.run("sqlite3", [env.reg, "UPDATE audit SET outcome = 'ok', reason = NULL WHERE reason = 'not-authorised'"])
        #expect(r.status == 0)
        let bad = try env.sb(["audit", "verify", "--format", "json"], secret: nil, expect: 1)
        #expect(bad.out.contains("\"problem\" : \"record-edited\""))
        let firstRefused = try TestSupport.run("sqlite3", [env.reg, "SELECT min(seq) FROM audit WHERE action = 'seal.register' AND actor = 'sys'"]).out
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(bad.out.contains("\"first-bad-record\" : \(firstRefused)"))
    }

    @Test func passwordAccountsThroughDescriptorsAndTailFollow() async throws {
        guard let env = try setUp() else { return }
        try env.sb(["org", "init", "--user", "root", "--new-password-fd", "0"], secret: "root password 1")
        try env.sb(["org", "create", "acme", "--as", "root", "--password-fd", "0"], secret: "root password 1")
        try env.sb(["org", "create", "evil", "--as", "root", "--password-fd", "0"], secret: "wrong password", expect: 1)
        // tail --follow sees records appended by another process
        let p = try TestSupport.spawn(TestSupport.sealbatchBinary.path,
                                      ["audit", "tail", "--follow", "--lines", "1", "--format", "json", "--as", "root", "--password-fd", "0", "--registry", env.reg],
                                      stdin: .pipe, stdout: .pipe)
        defer { p.killAndWait() }
        try p.write(Array("root password 1\n".utf8))
        // tail has logged in and read the log once it prints the latest record; it follows from there
        let first = p.readStdoutLine(timeout: 30)
        #expect(first?.hasPrefix("{") == true, "audit tail printed no record: \(first ?? "nothing")")
        try env.sb(["org", "create", "beta", "--as", "root", "--password-fd", "0"], secret: "root password 1")
        var seen = ""
        for _ in 0..<50 where !seen.contains("organisation beta") {
            seen += String(decoding: p.readStdout(timeout: 0.1), as: UTF8.self)
        }
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 10) != nil, "audit tail --follow did not stop on SIGTERM")
        #expect(seen.contains("\"action\":\"org.create\""))
        #expect(seen.contains("organisation beta"))
    }
}

extension JSONDecoder {
    static var iso: JSONDecoder { let d = JSONDecoder(); d.dateDecodingStrategy = .iso8601; return d }
}
