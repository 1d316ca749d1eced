import Foundation
import Governance
import Pipeline
import Stages
import TestSupport
import Testing
import Token

/// Issue #6 item 5: organisation and users for the four roles, a seal on a SoftHSM2 token, three
/// approved contracts stamped with `sealbatch stamp`, the audit trail queried and verified — all through
/// the real command line.
@Suite(.serialized) struct GovernanceStampTests {
    @Test func fourRolesSealOnTokenContractsStampedAuditedAndVerified() throws {
        guard try TestSupport.haveTool("openssl"), try TestSupport.haveTool("softhsm2-util"), try TestSupport.haveTool("python3") else { return }
        let bin = TestSupport.sealbatchBinary
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build the sealbatch executable first")
        let dir = try TestSupport.tempDir("gov-stamp")
        let pki = try UserPKI()
        let token = try DevToken.create(in: dir.appendingPathComponent("token"), label: "gov-stamp", keyType: .ecP256, pin: PIN("271828"))
        let pinFile = dir.appendingPathComponent("pin.txt")
        FileManager.default.createFile(atPath: pinFile.path, contents: Data("271828\n".utf8), attributes: [.posixPermissions: 0o600])
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
        // Platform administrator, organisation, system administrator, seal administrator, approver, seal user.
        try sb(["org", "init", "--user", "root", "--key", pki.dir.appendingPathComponent("root.p12").path, "--key-password-fd", "0"])
        try sb(["org", "create", "acme", "--name", "ACME 有限公司"], as: "root")
        try sb(["user", "add", "sys", "--org", "acme", "--cert", crt("sys")], as: "root")
        try sb(["user", "grant", "sys", "--role", "system-admin", "--org", "acme"], as: "root")
        for u in ["sadmin", "boss", "clerk"] { try sb(["user", "add", u, "--org", "acme", "--cert", crt(u)], as: "sys") }
        try sb(["user", "grant", "sadmin", "--role", "seal-admin", "--org", "acme"], as: "sys")
        try sb(["user", "grant", "clerk", "--role", "seal-user", "--org", "acme"], as: "sys")
        // The seal, its key on the SoftHSM2 token.
        let designFile = dir.appendingPathComponent("design.json")
        try Data(#"{"kind": "round", "organisation": "ACME 有限公司", "name": "合同专用章"}"#.utf8).write(to: designFile)
        try sb(["seal", "register", "acme-contract", "--name", "ACME 合同专用章", "--kind", "contract", "--org", "acme",
                "--cert", token.certificate.path, "--token-uri", token.keyURI.description, "--design", designFile.path], as: "sadmin")
        try sb(["seal", "grant", "acme-contract", "--user", "boss", "--right", "approve"], as: "sadmin")
        try sb(["seal", "grant", "acme-contract", "--user", "clerk", "--right", "use"], as: "sadmin")
        // Three contracts approved by boss for clerk.
        let contracts = try SamplePDFs.make(in: dir.appendingPathComponent("contracts"), count: 4)
        let manifest = dir.appendingPathComponent("approval.json").path
        try sb(["approve"] + contracts.map(\.path) + ["--seal", "acme-contract", "--requester", "clerk", "--purpose", "Q3 contracts",
                                                     "--valid-until", "+1d", "-o", manifest], as: "boss")
        // Stamp them.
        let out = dir.appendingPathComponent("stamped")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        func stamp(_ file: URL, as user: String, expect status: Int32 = 0, trust: String? = nil) throws -> TestSupport.ProcessResult {
            try sb(["stamp", file.path, "-o", out.appendingPathComponent(file.lastPathComponent).path, "--seal", "acme-contract",
                    "--approval", manifest, "--token-config", token.directory.appendingPathComponent("token.json").path,
                    "--pin-file", pinFile.path, "--trust", trust ?? token.caCertificate.path,
                    "--placement", #"{"anchor": {"text": "Party A (Seal):", "position": "right", "fallback": "last-page"}}"#],
                   as: user, expect: status)
        }
        let originals = try contracts.map { try Data(contentsOf: $0) }
        for c in contracts.prefix(3) { #expect(try stamp(c, as: "clerk").out.contains("stamped")) }
        // A stamp refused by the final verification (it trusts another root) leaves no output and gives
        // its approval use back: stamping the same bytes again is not a replay.
        let refused = try stamp(contracts[3], as: "clerk", expect: 1, trust: crt("boss"))
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent(contracts[3].lastPathComponent).path), "\(refused.err)")
        #expect(try stamp(contracts[3], as: "clerk").out.contains("stamped"))
        #expect(try contracts.map { try Data(contentsOf: $0) } == originals, "originals are never modified")
        // Stamping the same document again is a replay; a seal administrator may not stamp.
        let again = try stamp(contracts[0], as: "clerk", expect: 1)
        #expect(again.err.contains("replay"))
        let admin = try stamp(contracts[1], as: "sadmin", expect: 1)
        #expect(admin.err.contains("not-allowed"))
        // pyHanko accepts each stamped contract.
        let verdicts = try PyHanko.validate(contracts.map { out.appendingPathComponent($0.lastPathComponent) }, trustRoot: token.caCertificate)
        #expect(verdicts.values.filter { $0.hasPrefix("OK") }.count == 4, "\(verdicts)")
        // The audit trail shows the four stamps and the use given back, and verifies.
        let q = try sb(["audit", "query", "--action", "stamp", "--format", "json"], as: "sadmin")
        let records = try JSONSerialization.jsonObject(with: q.stdout) as? [[String: Any]] ?? []
        let ok = records.filter { (($0["entry"] as? [String: Any])?["outcome"] as? String ?? $0["outcome"] as? String) == "ok" }
        #expect(ok.count == 4, "\(q.out)")
        let released = try sb(["audit", "query", "--action", "approval.release", "--format", "json"], as: "sadmin")
        #expect((try JSONSerialization.jsonObject(with: released.stdout) as? [Any])?.count == 1, "\(released.out)")
        try sb(["audit", "verify"])
    }
}
