import Foundation
import Governance
import Logging
@testable import Pipeline
import Signing
import Stages
import TestSupport
import Testing
@testable import Token

/// Issue #13 item 1: the registered seal is the only key that can seal. A pipeline whose token holds a
/// trusted-but-wrong key (another certificate under the same root), an untrusted key, or the registered
/// certificate beside another key seals nothing, stops, and is audited `seal.key-mismatch`; the right
/// token seals. Every quarantine, an engine duplicate too, leaves an audit record (item 3).
@Suite(.serialized) struct SealKeyBindingTests {
    func engine(_ config: PipelineConfig) throws -> (Engine, StagesRuntime) {
        let shared = SharedObjects()
        let stages = try config.makeStages(registry: StandardStages.registry(), shared: shared)
        let rt = try StandardStages.runtime(StageEnvironment(sections: config.sections, baseDir: config.baseDir, folders: config.folders, shared: shared))
        return (Engine(config: config, stages: stages, journal: try Journal(url: config.journal), logger: quietLogger,
                       metricsFactory: PrometheusRegistry()), rt)
    }

    /// Another SoftHSM token with the world's PIN. `sameRoot`: its certificate is issued by the world's
    /// DEV-ONLY CA (trusted by the pipeline's verify stage and by validators).
    static func otherToken(_ world: SealWorld, label: String, sameRoot: Bool, keyLabel: String = "seal") throws -> DevTokenInfo {
        let dir = try TestSupport.tempDir("other-token")
        if sameRoot {
            for f in ["DEV-ONLY-root-ca.crt", "DEV-ONLY-root-ca.key", "DEV-ONLY-issuing-ca.crt", "DEV-ONLY-issuing-ca.key"] {
                try FileManager.default.copyItem(at: world.token.directory.appendingPathComponent(f), to: dir.appendingPathComponent(f))
            }
        }
        return try DevToken.create(in: dir, label: label, keyType: .rsa2048, pin: PIN(SealWorld.pinText), keyLabel: keyLabel)
    }

    /// A pipeline folder with `count` approved documents in its inbox and the world's pipeline using `tokenConfig`.
    func pipeline(_ world: SealWorld, name: String, count: Int, tokenConfig: URL) throws -> (root: URL, config: URL, files: [URL]) {
        let root = try TestSupport.tempDir("binding")
        let files = try SamplePDFs.make(in: root.appendingPathComponent("inbox"), count: count, prefix: name)
        let manifest = try world.approve(files)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        let json = world.pipelineJSON(name: name).replacingOccurrences(of: world.token.directory.appendingPathComponent("token.json").path, with: tokenConfig.path)
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(json.utf8).write(to: cfg)
        return (root, cfg, files)
    }

    func mismatchRecords(_ world: SealWorld, mentioning text: String) throws -> [AuditRecord] {
        try world.registry.audit.query(AuditQuery(action: "seal.key-mismatch")).filter { $0.entry.detail.contains(text) }
    }

    func expectNothingSealed(_ root: URL, _ files: [URL], _ summary: RunSummary) {
        #expect(summary.delivered == 0, "\(summary.table())")
        #expect(listing(root.appendingPathComponent("outbox")).isEmpty)
        #expect(listing(root.appendingPathComponent("quarantine")).isEmpty, "a token fault is not the documents' fault")
    }

    @Test func aTrustedButWrongKeySealsNothingAndIsAudited() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let other = try Self.otherToken(world, label: "harbor-other-org", sameRoot: true)
        let otherFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(other.certificate))
        let registeredFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(world.token.certificate))
        #expect(otherFP != registeredFP)
        let (root, cfg, files) = try pipeline(world, name: "wrong-key", count: 2, tokenConfig: other.directory.appendingPathComponent("token.json"))
        let (e, rt) = try engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry()))

        let summary = try await e.run(mode: .once)

        expectNothingSealed(root, files, summary)
        #expect(rt.bindingFailure?.code == .sealKeyMismatch)
        #expect(summary.stoppedBecause?.contains(registeredFP) == true && summary.stoppedBecause?.contains(otherFP) == true, "\(summary.stoppedBecause ?? "")")
        let audited = try mismatchRecords(world, mentioning: otherFP)
        #expect(audited.count == 1, "one record per run, not per document")
        #expect(audited.first?.entry.outcome == .refused && audited.first?.entry.seal == SealWorld.sealID)
        #expect(audited.first?.entry.detail.contains(registeredFP) == true)
        #expect(try world.registry.audit.query(AuditQuery(action: "stamp")).filter { $0.entry.detail.contains("wrong-key-") }.isEmpty)
    }

    @Test func anUntrustedKeySealsNothingAndIsAudited() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let other = try Self.otherToken(world, label: "untrusted", sameRoot: false)
        let otherFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(other.certificate))
        let (root, cfg, files) = try pipeline(world, name: "untrusted-key", count: 2, tokenConfig: other.directory.appendingPathComponent("token.json"))
        let (e, rt) = try engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry()))
        let summary = try await e.run(mode: .once)
        expectNothingSealed(root, files, summary)
        #expect(rt.bindingFailure?.code == .sealKeyMismatch)
        #expect(try mismatchRecords(world, mentioning: otherFP).count == 1)
    }

    /// The attack a certificate comparison alone misses: the token configuration points the certificate
    /// at a copy of the registered certificate, the key at another key. The challenge signature fails.
    @Test func theRegisteredCertificateBesideAnotherKeySealsNothing() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let other = try Self.otherToken(world, label: "mixed", sameRoot: true, keyLabel: "own")
        // store the registered (public) certificate on the other token under its own label
        let registered = try DevToken.derFromPEM(world.token.certificate)
        let module = try PKCS11Module.load(path: other.modulePath, environment: other.configuration.moduleEnvironment.merging(["SEALBATCH_TEST_INSTANCE": UUID().uuidString]) { $1 })
        let slot = try #require(try module.slots().first { (try? module.tokenInfo($0))?.label == "mixed" })
        let session = try module.openSession(slot: slot, readWrite: true)
        try session.login(.user, pin: PIN(SealWorld.pinText))
        let parts = try DER.certificateParts(registered)
        _ = try session.createObject([.ulong(0x0, 1), .ulong(0x80, 0), .bool(0x1, true), .bool(0x2, false), .string(0x3, "registered-copy"),
                                      .bytes(0x102, Array("copy".utf8)), .bytes(0x101, parts.subject), .bytes(0x81, parts.issuer),
                                      .bytes(0x82, parts.serial), .bytes(0x11, registered)])
        session.logout(); session.close()
        var config = other.configuration
        config.certificate = try PKCS11URI("pkcs11:token=mixed;object=registered-copy;type=cert")
        let mixedConfig = other.directory.appendingPathComponent("mixed.json")
        try JSONEncoder().encode(config).write(to: mixedConfig)
        let (root, cfg, files) = try pipeline(world, name: "mixed-key", count: 2, tokenConfig: mixedConfig)
        let (e, rt) = try engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry()))

        let summary = try await e.run(mode: .once)

        expectNothingSealed(root, files, summary)
        #expect(rt.bindingFailure?.code == .sealKeyMismatch)
        #expect(rt.bindingFailure?.message.contains("its key is not that certificate's key") == true, "\(rt.bindingFailure?.message ?? "")")
        #expect(try mismatchRecords(world, mentioning: "the key does not match").isEmpty == false)
    }

    @Test func theRegisteredTokenSealsAndADuplicateIsQuarantinedWithAnAuditRecord() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let (root, cfg, files) = try pipeline(world, name: "right-key", count: 2, tokenConfig: world.token.directory.appendingPathComponent("token.json"))
        let copy = try Data(contentsOf: files[0])
        let config = try PipelineConfig.load(from: cfg, registry: StandardStages.registry())
        let (e, rt) = try engine(config)
        let summary = try await e.run(mode: .once)
        #expect(summary.delivered == 2, "\(summary.table())")
        #expect(rt.bindingFailure == nil)
        // a second copy of an already sealed document: quarantined by the engine, and audited
        try copy.write(to: root.appendingPathComponent("inbox/copy-of-\(files[0].lastPathComponent)"))
        let second = try await engine(config).0.run(mode: .once)
        #expect(second.quarantined == ["duplicate": 1], "\(second.table())")
        let sha = try SHA256Stream.hexDigest(ofFile: root.appendingPathComponent("quarantine/copy-of-\(files[0].lastPathComponent)"))
        let recs = try world.registry.audit.query(AuditQuery(action: "pipeline.quarantine")).filter { $0.entry.documentsBefore == [sha] }
        #expect(recs.count == 1, "one record for the duplicate, although every stage is told")
        #expect(recs.first?.entry.outcome == .refused && recs.first?.entry.reason == "duplicate")
        #expect(recs.first?.entry.seal == SealWorld.sealID && recs.first?.entry.organisation == "acme")
        #expect(try world.registry.audit.verify().ok)
    }

    /// Item 3 through the pipeline: with the audit table locked, no document is admitted, so none is
    /// sealed or consumes a use, and none is quarantined as if it were its fault (the batch stops, the
    /// documents are back in the inbox); unlocked, the same files are sealed. A file in the approvals folder
    /// that is not an approval is a refused `approval.register`.
    @Test func aPipelineWhoseAuditLogCannotBeWrittenSealsNothing() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util"), try TestSupport.haveTool("sqlite3") else { return }
        let world = try SealWorld() // its own registry: the audit table is locked below
        let (root, cfg, files) = try pipeline(world, name: "audit-locked", count: 2, tokenConfig: world.token.directory.appendingPathComponent("token.json"))
        try Data("not an approval".utf8).write(to: root.appendingPathComponent("approvals/garbage.json"))
        func sqlite(_ sql: String) throws {
            let r = try TestSupport.run("sqlite3", [world.registryPath, sql])
            #expect(r.status == 0, "\(r.err)")
        }
        try sqlite("CREATE TRIGGER test_lock_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit table locked'); END;")
        let config = try PipelineConfig.load(from: cfg, registry: StandardStages.registry())
        let first = try await engine(config).0.run(mode: .once)
        #expect(first.delivered == 0, "\(first.table())")
        #expect(first.quarantinedTotal == 0, "the registry's failure is not the documents' fault: \(first.table())")
        #expect(first.stoppedBecause?.contains("approval-storage") == true, "\(first.stoppedBecause ?? "-")")
        #expect(listing(root.appendingPathComponent("inbox")) == files.map(\.lastPathComponent), "back in the inbox, untouched")
        #expect(listing(root.appendingPathComponent("outbox")).isEmpty)
        #expect(try world.book.list().allSatisfy { try world.book.show($0.id)?.1.isEmpty == true }, "no use without its record")
        try sqlite("DROP TRIGGER test_lock_audit;")
        try Data("still not an approval".utf8).write(to: root.appendingPathComponent("approvals/garbage.json"))
        let second = try await engine(config).0.run(mode: .once)
        #expect(second.delivered == 2, "\(second.table())")
        let garbage = try world.registry.audit.query(AuditQuery(action: "approval.register")).filter { $0.entry.detail.hasPrefix("garbage.json") }
        #expect(garbage.count == 1 && garbage.first?.entry.outcome == .refused, "\(garbage)")
        #expect(try world.registry.audit.verify().ok)
    }

    /// `sealbatch stamp`'s engine-less path: the certificate check comes before admission, so a refused
    /// token consumes nothing and is audited; a key handed in by a caller is held to the same certificate.
    @Test func stampRefusesAWrongTokenBeforeAdmittingAnything() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let other = try Self.otherToken(world, label: "stamp-other", sameRoot: true)
        let otherFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(other.certificate))
        let dir = try TestSupport.tempDir("stamp-binding")
        let file = try SamplePDFs.make(in: dir, count: 1, prefix: "stamp-wrong")[0]
        let sha = try SHA256Stream.hexDigest(ofFile: file)
        let manifest = try world.approve([file])
        let runtime = StagesRuntime(token: TokenSection(config: other.directory.appendingPathComponent("token.json").path, pinFile: world.pinFile.path),
                                    seal: SealSection(id: SealWorld.sealID, user: "clerk"), governance: nil, baseDir: dir)
        runtime.use(registry: world.registry)
        let out = dir.appendingPathComponent("out.pdf")
        do {
            _ = try await Stamper(runtime: runtime, manifest: manifest).stamp(input: file, output: out, logger: quietLogger)
            Issue.record("stamped with another organisation's key")
        } catch let r as StageRejection {
            #expect(r.code == .sealKeyMismatch && r.routing == .stopBatch && r.message.contains(otherFP), "\(r)")
        }
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try world.registry.audit.query(AuditQuery(action: "approval.admit")).filter { $0.entry.documentsBefore == [sha] }.isEmpty)
        #expect(try world.book.show(manifest.manifest.id)?.1.isEmpty == true)
        #expect(try mismatchRecords(world, mentioning: otherFP).count == 1)
        // a software key with a certificate of its own, handed in directly, is refused the same way
        let injected = StagesRuntime(token: nil, seal: SealSection(id: SealWorld.sealID, user: "clerk"), governance: nil, baseDir: dir)
        injected.use(registry: world.registry)
        injected.use(key: try SoftwareKey(pkcs12: world.pki.dir.appendingPathComponent("clerk.p12"), password: UserPKI.password))
        await #expect(throws: StageRejection.self) { _ = try await injected.key() }
        #expect(injected.bindingFailure?.code == .sealKeyMismatch)
    }

    /// Through the command line: `run --once` refuses to start with exit 2 (nothing claimed), naming both
    /// fingerprints; `seal register --token-config` refuses a token without the certificate's key.
    @Test func theCommandLineRefusesAWrongTokenWithExitTwo() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let bin = TestSupport.sealbatchBinary
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build the sealbatch executable first")
        let world = try SealWorld.shared()
        let other = try Self.otherToken(world, label: "cli-other", sameRoot: true)
        let otherFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(other.certificate))
        let registeredFP = SealKeyBinding.fingerprint(try DevToken.derFromPEM(world.token.certificate))
        let (root, cfg, files) = try pipeline(world, name: "cli-wrong", count: 1, tokenConfig: other.directory.appendingPathComponent("token.json"))
        let r = try TestSupport.run(bin.path, ["run", "--once", "--no-progress", cfg.path], cwd: root)
        #expect(r.status == 2, "\(r.out) \(r.err)")
        #expect(r.err.contains(otherFP) && r.err.contains(registeredFP), "\(r.err)")
        #expect(listing(root.appendingPathComponent("inbox")) == files.map(\.lastPathComponent), "nothing was claimed")
        #expect(listing(root.appendingPathComponent("outbox")).isEmpty)
        #expect(try mismatchRecords(world, mentioning: otherFP).count == 1)

        // seal register: a URI naming no key is refused; with the token present, its key must be the certificate's
        let pki = world.pki
        func register(_ id: String, cert: URL, uri: String, token: DevTokenInfo?) throws -> TestSupport.ProcessResult {
            let designFile = root.appendingPathComponent("design.json")
            try Data(#"{"kind": "round", "organisation": "ACME 有限公司"}"#.utf8).write(to: designFile)
            var args = ["seal", "register", id, "--name", id, "--kind", "contract", "--org", "acme", "--cert", cert.path, "--token-uri", uri,
                        "--design", designFile.path,
                        "--registry", world.registryPath, "--as", "sadmin", "--key", pki.dir.appendingPathComponent("sadmin.p12").path, "--key-password-fd", "0"]
            if let token { args += ["--token-config", token.directory.appendingPathComponent("token.json").path, "--pin-file", world.pinFile.path] }
            return try TestSupport.run(bin.path, args, cwd: root, stdin: Data((UserPKI.password + "\n").utf8))
        }
        let noKey = try register("no-key", cert: world.token.certificate, uri: "pkcs11:token=sealbatch-test", token: nil)
        #expect(noKey.status == 2 && noKey.err.contains("names no key"), "\(noKey.err)")
        let wrong = try register("wrong-token", cert: world.token.certificate, uri: other.keyURI.description, token: other)
        #expect(wrong.status == 2 && wrong.err.contains(otherFP) && wrong.err.contains(registeredFP), "\(wrong.out) \(wrong.err)")
        #expect(try world.registry.seal("wrong-token") == nil)
        #expect(try mismatchRecords(world, mentioning: "registration refused").count == 1)
        let right = try register("right-token", cert: other.certificate, uri: other.keyURI.description, token: other)
        #expect(right.status == 0 && right.out.contains("the token holds its key"), "\(right.out) \(right.err)")
        // rebinding the seal to a certificate its token does not hold is refused the same way
        let rebind = try TestSupport.run(bin.path, ["seal", "rebind", "right-token", "--cert", world.token.certificate.path,
                                                    "--token-config", other.directory.appendingPathComponent("token.json").path, "--pin-file", world.pinFile.path,
                                                    "--registry", world.registryPath, "--as", "sadmin",
                                                    "--key", pki.dir.appendingPathComponent("sadmin.p12").path, "--key-password-fd", "0"],
                                         cwd: root, stdin: Data((UserPKI.password + "\n").utf8))
        #expect(rebind.status == 2 && rebind.err.contains("rebinding of seal right-token refused"), "\(rebind.out) \(rebind.err)")
        #expect(try world.registry.seal("right-token")?.certificateDER == (try DevToken.derFromPEM(other.certificate)))
    }
}
