import Foundation
import Governance
import Signing
import Stages
import TestSupport
import Testing
import Token
#if canImport(Glibc)
import Glibc
#endif

/// Issue #13 item 2: `sealbatch check PIPELINE` through the built binary, on a real workspace (SoftHSM2
/// token, registry with the seal, real folders and permissions): everything there → exit 0; each missing or
/// wrong part → exit 2 with one `sealbatch: <code>: …` line and its fix; `sealbatch run` refuses the same
/// pipelines at start, claims nothing and creates no folders. (Here rather than in CLITests: the world with
/// a token, a registry and a bound seal lives in this target.)
@Suite(.serialized) struct PipelineCheckTests {
    static func binary() throws -> URL {
        let bin = TestSupport.sealbatchBinary
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build the sealbatch executable first")
        return bin
    }

    /// A pipeline folder (inbox with one file, approvals) using the world's pipeline, edited by `edit`.
    func workspace(_ world: SealWorld, name: String, edit: (String) -> String = { $0 }) throws -> (root: URL, config: URL) {
        let root = try TestSupport.tempDir("check-\(name)")
        for d in ["inbox", "approvals"] { try FileManager.default.createDirectory(at: root.appendingPathComponent(d), withIntermediateDirectories: true) }
        try Data("%PDF-1.4\n% not processed\n".utf8).write(to: root.appendingPathComponent("inbox/waiting.pdf"))
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(edit(world.pipelineJSON(name: name)).utf8).write(to: cfg)
        return (root, cfg)
    }

    func check(_ cfg: URL, _ extra: [String] = []) throws -> TestSupport.ProcessResult {
        try TestSupport.run(try Self.binary().path, ["check", cfg.path] + extra, cwd: cfg.deletingLastPathComponent(), timeout: 120)
    }

    /// The failure lines (`sealbatch: <code>: …`) of a check's stderr, by code.
    func codes(_ r: TestSupport.ProcessResult) -> [String] {
        r.err.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("sealbatch: "), !line.hasPrefix("sealbatch: warning: ") else { return nil }
            return line.dropFirst("sealbatch: ".count).split(separator: ":").first.map(String.init)
        }
    }

    @Test func aCompletePipelinePassesInTextAndJSON() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let (root, cfg) = try workspace(world, name: "good")
        let r = try check(cfg)
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        #expect(r.out.contains("pipeline ready"), "\(r.out)")
        #expect(r.out.contains("registered certificate"), "the binding was checked: \(r.out)")
        #expect(codes(r).isEmpty, "\(r.err)")
        let j = try check(cfg, ["--format", "json"])
        #expect(j.status == 0)
        let obj = try #require(try JSONSerialization.jsonObject(with: j.stdout) as? [String: Any])
        #expect(obj["ok"] as? Bool == true)
        #expect((obj["findings"] as? [[String: Any]])?.contains { $0["check"] as? String == "token" && $0["level"] as? String == "ok" } == true)
        // nothing was created or moved by the check
        #expect(listing(root) == ["approvals", "inbox", "pipeline.json"])
        #expect(listing(root.appendingPathComponent("inbox")) == ["waiting.pdf"])
    }

    /// The pipeline's seal user must be one who may stamp with the seal (the admission's Policy): an approver
    /// without the use right and an unknown user each fail the check, naming the missing right.
    @Test func aSealUserWhoMayNotStampFailsTheCheck() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        for (user, expected) in [("boss", "seal-user"), ("nobody-here", "not a registered user")] {
            let (_, cfg) = try workspace(world, name: "user-\(user)") {
                $0.replacingOccurrences(of: "\"user\": \"clerk\"", with: "\"user\": \"\(user)\"")
            }
            let r = try check(cfg)
            #expect(r.status == 2, "\(user): \(r.out)\n\(r.err)")
            #expect(codes(r).contains("seal-user-not-allowed"), "\(user): \(r.err)")
            #expect(r.err.contains(expected), "\(user): \(r.err)")
        }
        let (_, good) = try workspace(world, name: "user-clerk")
        let ok = try check(good)
        #expect(ok.status == 0 && ok.out.contains("user clerk may stamp"), "\(ok.out)\n\(ok.err)")
    }

    @Test func aMissingRegistryOrAuditKeyFailsAtLoadAndCreatesNoFolders() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let (root, cfg) = try workspace(world, name: "no-registry") {
            $0.replacingOccurrences(of: world.registryPath, with: "/nonexistent/sealbatch/registry.sqlite")
        }
        let r = try check(cfg)
        #expect(r.status == 2, "\(r.out)\n\(r.err)")
        #expect(codes(r).contains("registry-missing"), "\(r.err)")
        #expect(r.err.contains("fix: ") && r.err.contains("sealbatch org init"), "\(r.err)")
        // the folders of a pipeline under a path that does not exist: named, not created (like /srv, /var/lib)
        let system = root.appendingPathComponent("srv-like")
        let (_, cfg2) = try workspace(world, name: "no-key") {
            $0.replacingOccurrences(of: "\"folders\": {\"root\": \".\"}", with: "\"folders\": {\"root\": \"\(system.path)/contracts\"}")
              .replacingOccurrences(of: "\"registry\": \"\(world.registryPath)\"", with: "\"registry\": \"\(world.registryPath)\", \"audit-key\": \"/nonexistent/audit-key.pem\"")
        }
        let k = try check(cfg2)
        #expect(k.status == 2)
        #expect(codes(k).contains("audit-key-missing") && codes(k).contains("folder-missing"), "\(k.err)")
        for c in [cfg, cfg2] {
            let run = try TestSupport.run(try Self.binary().path, ["run", c.path, "--once", "--no-progress"], cwd: c.deletingLastPathComponent(), timeout: 120)
            #expect(run.status == 2, "\(run.out)\n\(run.err)")
            #expect(listing(c.deletingLastPathComponent().appendingPathComponent("inbox")) == ["waiting.pdf"], "nothing claimed")
        }
        #expect(!FileManager.default.fileExists(atPath: system.path), "run created \(system.path)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("work").path), "run created the work folder (journal) before refusing")
    }

    @Test func anAbsentTokenOrAMissingModuleFails() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let real = world.token.directory.appendingPathComponent("token.json").path
        let text = try String(contentsOfFile: real, encoding: .utf8)
        for (what, code, broken) in [("absent", "token-absent", text.replacingOccurrences(of: "token=sealbatch-test", with: "token=not-plugged-in")),
                                     ("module", "token-module", text.replacingOccurrences(of: "/usr/lib/softhsm/libsofthsm2.so", with: "/usr/lib/nonexistent/libpkcs11-gone.so"))] {
            let dir = try TestSupport.tempDir("check-token-\(what)")
            let conf = dir.appendingPathComponent("token.json")
            try Data(broken.utf8).write(to: conf)
            let (_, cfg) = try workspace(world, name: "token-\(what)") { $0.replacingOccurrences(of: real, with: conf.path) }
            let r = try check(cfg)
            #expect(r.status == 2, "\(what): \(r.out)\n\(r.err)")
            #expect(codes(r) == [code], "\(what): \(r.err)")
        }
        // no token configuration at all
        let (_, cfg) = try workspace(world, name: "token-none") { $0.replacingOccurrences(of: real, with: "/nonexistent/token.json") }
        #expect(codes(try check(cfg)) == ["token-config-unreadable"])
    }

    @Test func aTokenWithAnotherCertificateFailsNamingBothFingerprints() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let other = try SealKeyBindingTests.otherToken(world, label: "check-other", sameRoot: true)
        let otherFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(other.certificate))
        let registeredFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(world.token.certificate))
        let before = try world.registry.audit.query(AuditQuery(action: "seal.key-mismatch")).count
        let (_, cfg) = try workspace(world, name: "wrong-cert") {
            $0.replacingOccurrences(of: world.token.directory.appendingPathComponent("token.json").path, with: other.directory.appendingPathComponent("token.json").path)
        }
        let r = try check(cfg)
        #expect(r.status == 2, "\(r.out)\n\(r.err)")
        #expect(codes(r) == ["seal-key-mismatch"], "\(r.err)")
        #expect(r.err.contains(otherFP) && r.err.contains(registeredFP), "\(r.err)")
        #expect(try world.registry.audit.query(AuditQuery(action: "seal.key-mismatch")).count == before, "check only reads: the run audits")
    }

    @Test func unreadableTrustAnchorsAreARefusalNotAnEmptyList() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("check-anchors")
        let anchors = dir.appendingPathComponent("trust")
        try FileManager.default.createDirectory(at: anchors, withIntermediateDirectories: true)
        let ca = anchors.appendingPathComponent("ca.pem")
        try FileManager.default.copyItem(at: world.token.caCertificate, to: ca)
        let (root, cfg) = try workspace(world, name: "anchors") { $0.replacingOccurrences(of: world.token.caCertificate.path, with: anchors.path) }
        #expect(try check(cfg).status == 0, "readable anchors pass")
        chmod(ca.path, 0o000)
        defer { chmod(ca.path, 0o644) }
        let r = try check(cfg)
        #expect(r.status == 2, "\(r.out)\n\(r.err)")
        #expect(codes(r) == ["trust-anchors-unreadable"], "\(r.err)")
        #expect(r.err.contains(ca.lastPathComponent), "\(r.err)")
        // the run refuses at start: nothing claimed, nothing quarantined
        let run = try TestSupport.run(try Self.binary().path, ["run", cfg.path, "--once", "--no-progress"], cwd: root, timeout: 120)
        #expect(run.status == 2, "\(run.out)\n\(run.err)")
        #expect(run.err.contains("trust-anchors-unreadable"), "\(run.err)")
        #expect(listing(root.appendingPathComponent("inbox")) == ["waiting.pdf"])
        #expect(listing(root.appendingPathComponent("quarantine")).isEmpty)
        // a folder without any certificate is no trust list either
        chmod(ca.path, 0o644)
        try FileManager.default.removeItem(at: ca)
        try Data("not a certificate\n".utf8).write(to: anchors.appendingPathComponent("notes.txt"))
        #expect(codes(try check(cfg)) == ["trust-anchors-unreadable"])
    }

    @Test func anInboxOnAnotherFileSystemThanTheWorkFolderFails() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        // /dev/shm is a tmpfs on Linux; the workspace is on the disk
        let shm = URL(fileURLWithPath: "/dev/shm/sealbatch-check-\(getpid())")
        try FileManager.default.createDirectory(at: shm.appendingPathComponent("inbox"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: shm) }
        let (root, cfg) = try workspace(world, name: "xdev") {
            $0.replacingOccurrences(of: "\"folders\": {\"root\": \".\"}", with: "\"folders\": {\"inbox\": \"\(shm.path)/inbox\", \"work\": \"work\", \"outbox\": \"outbox\", \"quarantine\": \"quarantine\", \"archive\": \"archive\"}")
        }
        var a = stat(), b = stat()
        try #require(stat(shm.path, &a) == 0 && stat(root.path, &b) == 0 && a.st_dev != b.st_dev, "/dev/shm is not another file system here")
        let r = try check(cfg)
        #expect(r.status == 2, "\(r.out)\n\(r.err)")
        #expect(codes(r) == ["folders-on-different-file-systems"], "\(r.err)")
    }

    @Test func aBrokenAuditLogOrAnUnwritableWitnessFails() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util"), try TestSupport.haveTool("sqlite3") else { return }
        let world = try SealWorld.shared()
        // a witness that cannot be written
        let (_, cfg) = try workspace(world, name: "witness")
        let w = try check(cfg, ["--audit-witness", "/nonexistent/witness/audit.log"])
        #expect(w.status == 2, "\(w.out)\n\(w.err)")
        #expect(codes(w) == ["audit-witness-not-writable"], "\(w.err)")
        let witnessDir = try TestSupport.tempDir("check-witness")
        #expect(try check(cfg, ["--audit-witness", witnessDir.appendingPathComponent("audit.log").path]).status == 0)
        // a copy of the registry with one record edited
        let copy = try TestSupport.tempDir("check-audit").appendingPathComponent("registry.sqlite")
        let b = try TestSupport.run("sqlite3", [world.registryPath, ".backup '\(copy.path)'"])
        try #require(b.status == 0, "\(b.err)")
        let e = try TestSupport.run("sqlite3", [copy.path, "UPDATE audit SET detail = 'nothing happened' WHERE seq = 2"])
        try #require(e.status == 0, "\(e.err)")
        let (root, bad) = try workspace(world, name: "audit-broken") { $0.replacingOccurrences(of: world.registryPath, with: copy.path) }
        let r = try check(bad)
        #expect(r.status == 2, "\(r.out)\n\(r.err)")
        #expect(codes(r) == ["audit-log-broken"], "\(r.err)")
        #expect(r.err.contains("record 2"), "\(r.err)")
        let run = try TestSupport.run(try Self.binary().path, ["run", bad.path, "--once", "--no-progress"], cwd: root, timeout: 120)
        #expect(run.status == 2 && run.err.contains("audit-log-broken"), "\(run.out)\n\(run.err)")
        #expect(listing(root.appendingPathComponent("inbox")) == ["waiting.pdf"])
    }
}
