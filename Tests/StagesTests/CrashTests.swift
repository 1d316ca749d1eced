#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Governance
import Pipeline
import Signing
import Stages
import TestSupport
import Testing

/// A small seeded generator, so a failing crash run can be repeated with its seed (`SEALBATCH_CRASH_SEED`).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// What one crash run measured.
struct CrashRunResult: CustomStringConvertible {
    var seed: UInt64, documents: Int, kills: Int, runs: Int, resumed: Int, delivered: Int, quarantined: Int
    var stamps: Int, uses: Int, consumes: Int, releases: Int, crashLoops: Int, tokenRepairs: Int, seconds: Double
    var description: String {
        "crash run seed \(seed): \(documents) documents, \(kills) kills, \(runs) runs, \(resumed) resumed, \(delivered) delivered, "
            + "\(quarantined) quarantined (\(crashLoops) crash-loop), \(stamps) stamp records, \(uses) approval uses, "
            + "\(consumes) approval.consume, \(releases) approval.release, SoftHSM token file restored \(tokenRepairs)x, "
            + "\(String(format: "%.1f", seconds)) s"
    }
}

@Suite(.serialized) struct CrashTests {
    /// `make test`: 60 documents and 12 kills with one random seed (printed). The full version the issue
    /// asks for (200 documents, 25 kills, 3 seeds) is `scripts/kill-soak.sh`, which sets these variables.
    static var documents: Int { Int(ProcessInfo.processInfo.environment["SEALBATCH_CRASH_DOCS"] ?? "") ?? 60 }
    static var kills: Int { Int(ProcessInfo.processInfo.environment["SEALBATCH_CRASH_KILLS"] ?? "") ?? 12 }
    static var seeds: [UInt64] {
        if let s = ProcessInfo.processInfo.environment["SEALBATCH_CRASH_SEEDS"] {
            return s.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        }
        var g = SystemRandomNumberGenerator()
        return [UInt64.random(in: 1...999_999, using: &g)]
    }

    /// kill -9 the real `sealbatch run --once` at random moments of an approved batch, restarting each time:
    /// every document is delivered with exactly one new valid signature, the audit log holds exactly one
    /// `stamp` record per delivered file (naming its bytes) and the approval exactly one use per document,
    /// nothing is quarantined (external kills are not crashes of a document), and `audit verify` is intact.
    @Test func everyDocumentSealedAndRecordedExactlyOnceAcrossKillNines() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        for seed in Self.seeds {
            let r = try await Self.crashRun(documents: Self.documents, kills: Self.kills, seed: seed)
            print(r)
        }
    }

    static func runStarts(_ journal: URL) -> Int {
        guard FileManager.default.fileExists(atPath: journal.path), let j = try? Journal(url: journal, readOnly: true) else { return 0 }
        return (try? j.events(since: .distantPast, kind: "run-start").count) ?? 0
    }

    static func crashRun(documents n: Int, kills target: Int, seed: UInt64) async throws -> CrashRunResult {
        let t0 = Date()
        let bin = TestSupport.sealbatchBinary
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build the sealbatch executable first")
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("crash")
        let inbox = root.appendingPathComponent("inbox")
        let docs = try SamplePDFs.make(in: inbox, count: n, prefix: "crash")
        let originals = Set(try docs.map { try SHA256Stream.hexDigest(ofFile: $0) })
        let manifest = try world.approve(docs)
        let cfg = root.appendingPathComponent("pipeline.json")
        let journalURL = root.appendingPathComponent("work/journal.sqlite")
        // A private copy of the world's SoftHSM token (same key and certificate). SoftHSM's file store rewrites
        // its token.object in place at every login; a kill -9 in the middle of that write leaves it empty and
        // the token gone ("no token matches"): a flaw of the test token, not of a hardware token, which the
        // pipeline meets as a token fault (the batch stops, every document back in the inbox). Restored from
        // the copy after such a kill, and counted; on the shared token it would break the tests running beside.
        let tokenDir = root.appendingPathComponent("token")
        let (tokenObject, goodTokenObject) = try Self.privateToken(copying: world.token.directory, to: tokenDir)
        var tokenRepairs = 0
        // The token's delay makes the batch last long enough that every kill lands mid-batch: the kills
        // together take at most 80 % of the token time the batch needs (the token works one at a time).
        let tokenMS = n >= 150 ? 60 : 150
        let maxDelay = min(0.7, 0.8 * Double(n * tokenMS) / 1000 / Double(target))
        let name = "crash-\(seed)"
        // Lighter stages than the end-to-end test (no visible seal, no verify stage: pyHanko checks below).
        let stages = #"[{"kind": "ingest"}, {"kind": "approval"}, {"kind": "render", "invisible": true}, {"kind": "sign", "concurrency": 3}, {"kind": "archive"}]"#
        // the default crash-loop limit (10): kills from outside must not come near it
        try Data(world.pipelineJSON(name: name, extraStages: stages, tokenDelayMS: tokenMS)
            .replacingOccurrences(of: world.token.directory.appendingPathComponent("token.json").path, with: tokenDir.appendingPathComponent("token.json").path)
            .utf8).write(to: cfg)
        let inputs = Set(docs.map(\.lastPathComponent))

        var g = SplitMix64(state: seed)
        var kills = 0, started = 0
        let args = ["run", cfg.path, "--once", "--no-progress", "--log-level", "error"]
        while kills < target {
            let before = runStarts(journalURL)
            let p = try Subprocess(bin.path, args)
            // a kill at a random moment of the run, counted from its start in the journal (not from the
            // process start: under load the start-up alone can outlast any fixed delay)
            let deadline = Date().addingTimeInterval(120)
            while runStarts(journalURL) == before && p.isRunning && Date() < deadline { usleep(5_000) }
            let running = runStarts(journalURL) > before
            if running { started += 1 }
            usleep(UInt32(Double.random(in: 0.03...maxDelay, using: &g) * 1e6))
            if p.isRunning { p.signal(SIGKILL); kills += 1 }
            p.killAndWait()
            // emptied (or cut short) by the kill; other differences are SoftHSM's own flag updates
            if (try? Data(contentsOf: tokenObject))?.count ?? 0 < goodTokenObject.count / 2 {
                try goodTokenObject.write(to: tokenObject)
                tokenRepairs += 1
            }
            if !running { break }
            let journal = try Journal(url: journalURL, readOnly: true)
            if listing(inbox).isEmpty, try journal.unfinished().isEmpty { break } // done before all kills: fails below
        }
        #expect(kills == target, "seed \(seed): the batch ended after \(kills) kills")
        let final = try TestSupport.run(bin.path, args)
        #expect(final.status == 0, "seed \(seed): \(final.out)\n\(final.err)")
        started += 1

        let outbox = listing(root.appendingPathComponent("outbox"))
        let quarantined = listing(root.appendingPathComponent("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        #expect(listing(inbox).isEmpty)
        #expect(Set(outbox) == inputs, "seed \(seed): \(outbox.count) delivered of \(n)")
        #expect(quarantined.isEmpty, "seed \(seed): \(quarantined.prefix(3))")
        let crashLoops = try quarantined.filter { q in
            let r = try JSONDecoder().decode(QuarantineReason.self, from: Data(contentsOf: root.appendingPathComponent("quarantine/\(q).reason.json")))
            return r.code == "crash-loop"
        }.count
        // Exactly one signature in each delivered document, and valid (pyHanko refuses any other count).
        let verdicts = try PyHanko.validate(outbox.map { root.appendingPathComponent("outbox/\($0)") }, trustRoot: world.token.caCertificate)
        #expect(verdicts.count == outbox.count, "\(verdicts["_stderr"] ?? "")")
        let bad = verdicts.filter { !$0.value.hasPrefix("OK") }
        #expect(bad.isEmpty, "seed \(seed): \(bad.prefix(3))")
        // Exactly one `stamp` record per delivered file, naming the delivered bytes and the original's.
        let delivered = try outbox.map { try SHA256Stream.hexDigest(ofFile: root.appendingPathComponent("outbox/\($0)")) }
        let stamps = try world.registry.audit.query(AuditQuery(seal: SealWorld.sealID, action: "stamp", since: t0.addingTimeInterval(-1)))
            .filter { $0.entry.detail.contains("by pipeline \(name) (") }
        #expect(stamps.count == n, "seed \(seed): \(stamps.count) stamp records for \(n) documents")
        #expect(stamps.allSatisfy { $0.entry.outcome == .ok })
        #expect(Set(stamps.flatMap(\.entry.documentsAfter)) == Set(delivered), "seed \(seed): a stamp record names bytes that were not delivered")
        #expect(Set(stamps.flatMap(\.entry.documentsBefore)) == originals)
        // Exactly one approval use per document, consumed once, never given back.
        let uses = try world.book.show(manifest.manifest.id)?.1 ?? []
        #expect(uses.count == n && Set(uses.map(\.documentSHA256)) == originals, "seed \(seed): \(uses.count) uses")
        let approvalRecords = try world.registry.audit.query(AuditQuery(action: "approval.", since: t0.addingTimeInterval(-1)))
            .filter { $0.entry.approval == manifest.manifest.id }
        let consumes = approvalRecords.filter { $0.entry.action == "approval.consume" && $0.entry.outcome == .ok }.count
        let releases = approvalRecords.filter { $0.entry.action == "approval.release" }.count
        #expect(consumes == n && releases == 0, "seed \(seed): \(consumes) consumed, \(releases) given back")
        // The journal agrees; no interruption was taken for a crash; every run that started is counted.
        let journal = try Journal(url: journalURL, readOnly: true)
        #expect(try journal.unfinished().isEmpty)
        #expect(try journal.allDocuments().filter { $0.state == .done }.count == n)
        #expect(try journal.allDocuments().allSatisfy { $0.crashes == 0 })
        #expect(try journal.events(since: .distantPast, kind: "crash").isEmpty)
        let resumed = try journal.events(since: .distantPast).filter { $0.detail?.hasPrefix("resumed after interruption") == true }.count
        #expect(resumed >= target / 3, "seed \(seed): the kills interrupted only \(resumed) documents")
        let report = try TestSupport.run(bin.path, ["report", cfg.path, "--since", "1h", "--format", "json"])
        #expect(report.status == 0, "\(report.err)")
        let json = try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any]
        #expect(json?["delivered"] as? Int == n)
        #expect(json?["runs"] as? Int == started, "seed \(seed): \(started) runs started")
        // The audit log's chain is intact after all of it.
        let verify = try TestSupport.run(bin.path, ["audit", "verify", "--registry", world.registryPath])
        #expect(verify.status == 0 && verify.out.contains("intact"), "\(verify.out)\n\(verify.err)")
        return CrashRunResult(seed: seed, documents: n, kills: kills, runs: started, resumed: resumed, delivered: outbox.count,
                              quarantined: quarantined.count, stamps: stamps.count, uses: uses.count, consumes: consumes,
                              releases: releases, crashLoops: crashLoops, tokenRepairs: tokenRepairs, seconds: Date().timeIntervalSince(t0))
    }

    /// Copies a SoftHSM dev token folder (its config and token.json point into the copy). Returns the copy's
    /// token.object and its intact bytes (copied again if another process was rewriting it at that moment).
    static func privateToken(copying source: URL, to dir: URL) throws -> (URL, Data) {
        for _ in 0..<50 {
            try? FileManager.default.removeItem(at: dir) // our own folder, from an attempt that copied a file mid-write
            try FileManager.default.copyItem(at: source, to: dir)
            for f in ["softhsm2.conf", "token.json"] {
                let url = dir.appendingPathComponent(f)
                try Data(try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: source.path, with: dir.path).utf8).write(to: url)
            }
            let tokens = dir.appendingPathComponent("softhsm-tokens")
            let slots = try FileManager.default.contentsOfDirectory(atPath: tokens.path).filter { !$0.hasPrefix(".") }
            try #require(slots.count == 1, "one SoftHSM token in \(tokens.path)")
            let object = tokens.appendingPathComponent(slots[0]).appendingPathComponent("token.object")
            let bytes = try Data(contentsOf: object)
            if !bytes.isEmpty { return (object, bytes) }
            usleep(20_000)
        }
        throw CancellationError()
    }
}

/// kill -9 at the two instants of a delivery that matter, made exact (`$SEALBATCH_FAILPOINT`): the
/// document is sealed, archived and about to be delivered but the journal does not know yet; and its
/// `stamp` record is written and flushed but the file is not in the outbox yet. Either way the restart
/// delivers it with one signature and one `stamp` record naming the delivered bytes.
@Suite(.serialized) struct ExactlyOnceDeliveryTests {
    @Test(arguments: ["before-delivering", "delivery-recorded"])
    func aKillAtTheDeliveryLeavesOneStampRecord(failpoint: String) throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let t0 = Date()
        let bin = TestSupport.sealbatchBinary
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build the sealbatch executable first")
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("failpoint")
        let inbox = root.appendingPathComponent("inbox")
        let docs = try SamplePDFs.make(in: inbox, count: 3, prefix: "fp")
        let manifest = try world.approve(docs)
        let cfg = root.appendingPathComponent("pipeline.json")
        let name = "failpoint-\(failpoint)-\(UInt32.random(in: 1...999_999))"
        let stages = #"[{"kind": "ingest"}, {"kind": "approval"}, {"kind": "render", "invisible": true}, {"kind": "sign"}, {"kind": "archive"}]"#
        try Data(world.pipelineJSON(name: name, extraStages: stages).utf8).write(to: cfg)
        let args = ["run", cfg.path, "--once", "--no-progress", "--log-level", "error"]
        let killed = try TestSupport.run(bin.path, args, env: ["SEALBATCH_FAILPOINT": failpoint])
        #expect(killed.status == 128 + SIGKILL, "\(killed.out)\n\(killed.err)")
        let stampsAfterKill = try world.registry.audit.query(AuditQuery(seal: SealWorld.sealID, action: "stamp", since: t0.addingTimeInterval(-1)))
            .filter { $0.entry.detail.contains("by pipeline \(name) (") }
        // the record is written at delivery: none before it; at least the killed delivery's once flushed
        if failpoint == "delivery-recorded" { #expect(stampsAfterKill.count >= 1) } else { #expect(stampsAfterKill.isEmpty) }
        #expect(listing(root.appendingPathComponent("outbox")).isEmpty)
        let again = try TestSupport.run(bin.path, args)
        #expect(again.status == 0, "\(again.out)\n\(again.err)")
        let outbox = listing(root.appendingPathComponent("outbox"))
        #expect(outbox == docs.map(\.lastPathComponent).sorted())
        let delivered = try outbox.map { try SHA256Stream.hexDigest(ofFile: root.appendingPathComponent("outbox/\($0)")) }
        let stamps = try world.registry.audit.query(AuditQuery(seal: SealWorld.sealID, action: "stamp", since: t0.addingTimeInterval(-1)))
            .filter { $0.entry.detail.contains("by pipeline \(name) (") }
        #expect(stamps.count == 3, "\(stamps.map(\.entry.detail))")
        #expect(Set(stamps.flatMap(\.entry.documentsAfter)) == Set(delivered))
        #expect(try world.book.show(manifest.manifest.id)?.1.count == 3)
        let verdicts = try PyHanko.validate(outbox.map { root.appendingPathComponent("outbox/\($0)") }, trustRoot: world.token.caCertificate)
        #expect(verdicts.values.filter { $0.hasPrefix("OK") }.count == 3, "\(verdicts)")
    }
}
