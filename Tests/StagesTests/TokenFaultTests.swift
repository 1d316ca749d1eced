import Foundation
import Render
import Governance
import Logging
@testable import Pipeline
import Signing
import Stages
import TestSupport
import Testing
import Token

/// Token faults are not document faults: a wrong PIN (or a token that cannot be used) stops the batch and
/// puts every claimed document back into the inbox, untouched; nothing is quarantined.
@Suite(.serialized) struct TokenFaultTests {
    func run(_ root: URL, pipeline: String) async throws -> RunSummary {
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(pipeline.utf8).write(to: cfg)
        let config = try PipelineConfig.load(from: cfg, registry: StandardStages.registry())
        let shared = SharedObjects()
        let stages = try config.makeStages(registry: StandardStages.registry(), shared: shared)
        let engine = Engine(config: config, stages: stages, journal: try Journal(url: config.journal), logger: quietLogger,
                            metricsFactory: PrometheusRegistry())
        return try await engine.run(mode: .once)
    }

    /// Per-document folders left in the work area (the journal lives there too).
    func jobFolders(_ root: URL) -> [String] {
        listing(root.appendingPathComponent("work")).filter { $0.count == 16 && $0.allSatisfy(\.isHexDigit) }
    }

    /// Approved documents in a fresh pipeline folder's inbox (and their manifest in `approvals/`).
    func batch(_ world: SealWorld, prefix: String, count: Int, seal: String = SealWorld.sealID) throws -> (URL, [String: String]) {
        let root = try TestSupport.tempDir("token-fault")
        let inbox = root.appendingPathComponent("inbox")
        let files = try SamplePDFs.make(in: root.appendingPathComponent("staging"), count: count, prefix: prefix)
        let docs = try files.map { ApprovalManifest.Document(sha256: try SHA256Stream.hexDigest(ofFile: $0), name: $0.lastPathComponent, pages: nil) }
        let manifest = try world.book.approve(documents: docs, seal: seal, purpose: "contracts", requester: "clerk",
                                              validUntil: Date().addingTimeInterval(3600), identity: try world.pki.identity("boss"), as: world.boss)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        var digests: [String: String] = [:]
        for f in files {
            digests[f.lastPathComponent] = try SHA256Stream.hexDigest(ofFile: f)
            try FileManager.default.moveItem(at: f, to: inbox.appendingPathComponent(f.lastPathComponent))
        }
        return (root, digests)
    }

    @Test func aMissingModuleOrAnAbsentTokenStopsTheBatchWithoutQuarantining() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let realConfig = world.token.directory.appendingPathComponent("token.json").path
        let text = try String(contentsOfFile: realConfig, encoding: .utf8)
        for (what, broken) in [("module", text.replacingOccurrences(of: "/usr/lib/softhsm/libsofthsm2.so", with: "/usr/lib/nonexistent/libpkcs11-gone.so")),
                               ("absent", text.replacingOccurrences(of: "token=sealbatch-test", with: "token=not-plugged-in"))] {
            let (root, digests) = try batch(world, prefix: "tok-\(what)", count: 3)
            let conf = root.appendingPathComponent("token-\(what).json")
            try Data(broken.utf8).write(to: conf)
            let s = try await run(root, pipeline: world.pipelineJSON(name: "tok-\(what)").replacingOccurrences(of: realConfig, with: conf.path))
            #expect(s.quarantinedTotal == 0, "\(what): \(s.quarantined)")
            #expect(s.exitCode == 1)
            #expect(s.stoppedBecause?.contains("token-error") == true, "\(what): \(s.stoppedBecause ?? "-")")
            #expect(s.returnedToInbox > 0 && s.returnedToInbox <= 3, "\(what): \(s.table())")
            #expect(Set(listing(root.appendingPathComponent("inbox"))) == Set(digests.keys))
            #expect(listing(root.appendingPathComponent("quarantine")).isEmpty)
            #expect(jobFolders(root).isEmpty)
        }
    }

    /// `sealbatch run` in a process of its own: PKCS#11 login state is per process, and a token another
    /// session of this process is logged in to accepts any PIN (CKR_USER_ALREADY_LOGGED_IN).
    static func binary() -> URL? {
        let bin = TestSupport.sealbatchBinary
        if FileManager.default.isExecutableFile(atPath: bin.path) { return bin }
        if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("no sealbatch binary at \(bin.path)") }
        return nil
    }

    /// A token of its own for the wrong-PIN tests, registered as seal `pin-test-seal`: a failed login makes
    /// SoftHSM rewrite the token's flags in its token folder, which other processes reading the shared
    /// token at that moment see as "no token".
    static let pinSealID = "pin-test-seal"
    nonisolated(unsafe) static var pinToken: DevTokenInfo?
    static let lock = NSLock()
    static func privateToken(_ world: SealWorld) throws -> DevTokenInfo {
        lock.lock(); defer { lock.unlock() }
        if let t = pinToken { return t }
        let dir = try TestSupport.tempDir("pin-token")
        let t = try DevToken.create(in: dir.appendingPathComponent("token"), label: "sealbatch-pin-test", keyType: .ecP256, pin: PIN(SealWorld.pinText))
        try world.registry.registerSeal(id: pinSealID, name: "PIN 测试章", kind: .contract, organisation: "acme",
                                        certificateDER: try DevToken.derFromPEM(t.certificate), tokenURI: t.keyURI.description,
                                        design: .round(RoundSeal(organisation: "ACME 有限公司", name: "测试章")), as: world.sadmin)
        try world.registry.grantSealRight(.approve, on: pinSealID, to: "boss", as: world.sadmin)
        try world.registry.grantSealRight(.use, on: pinSealID, to: "clerk", as: world.sadmin)
        pinToken = t
        return t
    }

    /// The world's pipeline on the private token and its seal, reading the PIN from `pinFile`.
    static func pinPipeline(_ world: SealWorld, token: DevTokenInfo, pinFile: URL, name: String) -> String {
        world.pipelineJSON(name: name, maxAttempts: 2)
            .replacingOccurrences(of: "\"pin-file\": \"\(world.pinFile.path)\"", with: "\"pin-file\": \"\(pinFile.path)\"")
            .replacingOccurrences(of: world.token.directory.appendingPathComponent("token.json").path, with: token.directory.appendingPathComponent("token.json").path)
            .replacingOccurrences(of: "\"id\": \"\(SealWorld.sealID)\"", with: "\"id\": \"\(pinSealID)\"")
            .replacingOccurrences(of: world.token.caCertificate.path, with: token.caCertificate.path)
    }

    @Test func theDaemonWaitsOutAWrongPINAndResumesWhenThePINFileIsFixed() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util"), let bin = Self.binary() else { return }
        let world = try SealWorld.shared()
        let token = try Self.privateToken(world)
        let (root, digests) = try batch(world, prefix: "daemon", count: 3, seal: Self.pinSealID)
        let pinFile = root.appendingPathComponent("pin.txt")
        FileManager.default.createFile(atPath: pinFile.path, contents: Data("111111".utf8), attributes: [.posixPermissions: 0o600])
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(Self.pinPipeline(world, token: token, pinFile: pinFile, name: "daemon").utf8).write(to: cfg)
        let errLog = root.appendingPathComponent("stderr.log")
        let p = try TestSupport.spawn(bin.path, ["run", cfg.path, "--no-progress", "--log-level", "notice"], stdout: .null, stderr: .file(errLog.path))
        defer { p.killAndWait() }
        func log() -> String { (try? String(contentsOf: errLog, encoding: .utf8)) ?? "" }
        func until(_ seconds: Double, _ cond: () -> Bool) async throws -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end { if cond() { return true }; try await Task.sleep(for: .milliseconds(200)) }
            return cond()
        }
        // the wrong PIN: the batch stops, the documents are back in the inbox, and the daemon waits (not exits)
        #expect(try await until(60) { log().contains("waiting for the token") }, "\(log())")
        #expect(Set(listing(root.appendingPathComponent("inbox"))) == Set(digests.keys))
        #expect(listing(root.appendingPathComponent("quarantine")).isEmpty)
        try await Task.sleep(for: .seconds(3))
        #expect(p.isRunning, "the daemon exited: \(log())")
        #expect(!log().contains("starting again"), "the daemon retried the PIN by itself: \(log())")
        // the operator fixes the PIN file: the daemon starts again and delivers everything
        let tmp = root.appendingPathComponent(".pin.new")
        FileManager.default.createFile(atPath: tmp.path, contents: Data(SealWorld.pinText.utf8), attributes: [.posixPermissions: 0o600])
        #expect(rename(tmp.path, pinFile.path) == 0)
        #expect(try await until(90) { Set(listing(root.appendingPathComponent("outbox"))) == Set(digests.keys) }, "\(log())")
        #expect(log().contains("starting again"))
        #expect(listing(root.appendingPathComponent("quarantine")).isEmpty)
        p.signal(SIGTERM)
        #expect(p.wait(timeout: 30) != nil, "the daemon did not stop on SIGTERM")
    }

    @Test func aWrongPINReturnsEveryDocumentToTheInboxAndTheRightPINDeliversThem() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util"), let bin = Self.binary() else { return }
        let world = try SealWorld.shared()
        let token = try Self.privateToken(world)
        let (root, digests) = try batch(world, prefix: "pin", count: 8, seal: Self.pinSealID)
        let inbox = root.appendingPathComponent("inbox")
        let wrongPIN = root.appendingPathComponent("wrong-pin.txt")
        FileManager.default.createFile(atPath: wrongPIN.path, contents: Data("000000".utf8), attributes: [.posixPermissions: 0o600])
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(Self.pinPipeline(world, token: token, pinFile: wrongPIN, name: "pin-fault").utf8).write(to: cfg)
        let someDigest = try #require(digests.values.first)
        let approval = try #require(try world.registry.store.approvals(listing: someDigest).first?.id)

        // three runs with the wrong PIN (more than max-attempts): each stops, nothing is quarantined
        for attempt in 1...3 {
            let r = try TestSupport.run(bin.path, ["run", cfg.path, "--once", "--no-progress"], timeout: 120)
            #expect(r.status == 1, "run \(attempt): \(r.out)\n\(r.err)")
            #expect(r.out.contains("batch stopped: pin-incorrect"), "run \(attempt): \(r.out)")
            #expect(r.out.contains("returned to the inbox untouched"), "run \(attempt): \(r.out)")
            #expect(r.out.contains("0 delivered, 0 quarantined"), "run \(attempt): \(r.out)")
            #expect(!(r.out + r.err).contains("000000"), "the PIN reached the output")
            #expect(listing(root.appendingPathComponent("quarantine")).isEmpty)
            // every document is back in the inbox with its original bytes; the work folder is empty
            #expect(Set(listing(inbox)) == Set(digests.keys), "run \(attempt): inbox \(listing(inbox))")
            for (name, d) in digests { #expect(try SHA256Stream.hexDigest(ofFile: inbox.appendingPathComponent(name)) == d) }
            #expect(jobFolders(root).isEmpty, "\(jobFolders(root))")
            #expect(listing(root.appendingPathComponent("outbox")).isEmpty)
        }
        // the PIN was tried once per run, never again by itself; no approval use is left consumed
        #expect(try world.registry.store.uses(approval: approval).isEmpty)

        // the right PIN: everything is delivered, without anyone copying files around
        try Data(Self.pinPipeline(world, token: token, pinFile: world.pinFile, name: "pin-fault").utf8).write(to: cfg)
        let r = try TestSupport.run(bin.path, ["run", cfg.path, "--once", "--no-progress"], timeout: 120)
        #expect(r.status == 0, "\(r.out)\n\(r.err)")
        #expect(Set(listing(root.appendingPathComponent("outbox"))) == Set(digests.keys))
        #expect(listing(root.appendingPathComponent("quarantine")).isEmpty)
        #expect(listing(inbox).isEmpty)
        let stamps = try world.registry.audit.query(AuditQuery(action: "stamp")).filter { $0.entry.approval == approval }
        #expect(stamps.count == digests.count)
    }
}
