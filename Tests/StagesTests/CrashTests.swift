#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Governance
import Pipeline
import Stages
import TestSupport
import Testing

@Suite(.serialized) struct CrashTests {
    /// kill -9 the real `sealbatch run --once` at random moments of a 200-document batch, 20 times,
    /// restarting each time: every input is then sealed exactly once (one signature, valid) or
    /// quarantined; none is lost, none half-written, no approval use counted twice.
    @Test func everyDocumentSealedExactlyOnceAfterTwentyKillNines() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let bin = TestSupport.sealbatchBinary
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build the sealbatch executable first")
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("crash")
        let inbox = root.appendingPathComponent("inbox")
        let docs = try SamplePDFs.make(in: inbox, count: 200, prefix: "crash")
        let manifest = try world.approve(docs)
        let cfg = root.appendingPathComponent("pipeline.json")
        // More attempts than kills: this test is about exactly-once, not the crash-loop policy.
        // Lighter stages than the end-to-end test (no visible seal, no verify stage: pyHanko checks below).
        let stages = #"[{"kind": "ingest"}, {"kind": "approval"}, {"kind": "render", "invisible": true}, {"kind": "sign", "concurrency": 3}, {"kind": "archive"}]"#
        // A 60 ms token makes the batch last >= 12 s whatever the machine, so the kills land mid-batch.
        try Data(world.pipelineJSON(name: "crash", extraStages: stages, maxAttempts: 30, tokenDelayMS: 60).utf8).write(to: cfg)
        let inputs = Set(docs.map(\.lastPathComponent))

        var g = SystemRandomNumberGenerator()
        var kills = 0
        for _ in 0..<20 {
            let p = try Subprocess(bin.path, ["run", cfg.path, "--once", "--no-progress", "--log-level", "error"])
            usleep(UInt32.random(in: 300_000...1_200_000, using: &g))
            if p.isRunning { p.signal(SIGKILL); kills += 1 }
            p.killAndWait()
        }
        #expect(kills >= 15)
        let final = try TestSupport.run(bin.path, ["run", cfg.path, "--once", "--no-progress", "--log-level", "error"])
        #expect(final.status == 0 || final.status == 1, "\(final.out)\n\(final.err)")

        let outbox = listing(root.appendingPathComponent("outbox"))
        let quarantined = listing(root.appendingPathComponent("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        #expect(listing(inbox).isEmpty)
        #expect(outbox.count + quarantined.count == 200)
        #expect(Set(outbox).union(quarantined) == inputs)
        #expect(quarantined.isEmpty, "\(quarantined.prefix(3))")
        // Exactly one valid signature in each delivered document.
        let verdicts = try PyHanko.validate(outbox.map { root.appendingPathComponent("outbox/\($0)") }, trustRoot: world.token.caCertificate)
        #expect(verdicts.count == outbox.count, "\(verdicts["_stderr"] ?? "")")
        let bad = verdicts.filter { !$0.value.hasPrefix("OK") }
        #expect(bad.isEmpty, "\(bad.prefix(3))")
        // The journal agrees, and each approval use was recorded once.
        let journal = try Journal(url: root.appendingPathComponent("work/journal.sqlite"), readOnly: true)
        #expect(try journal.unfinished().isEmpty)
        #expect(try journal.allDocuments().filter { $0.state == .done }.count == outbox.count)
        let resumed = try journal.events(since: .distantPast).filter { $0.detail?.hasPrefix("resumed after interruption") == true }.count
        #expect(resumed >= 5)
        // Each delivered document consumed its approval exactly once (a crash-looped one may have consumed too).
        let uses = try world.book.show(manifest.manifest.id)?.1 ?? []
        #expect(Set(uses.map(\.documentSHA256)).count == uses.count)
        let delivered = try Set(journal.allDocuments().filter { $0.state == .done }.compactMap(\.digest))
        #expect(delivered.isSubset(of: Set(uses.map(\.documentSHA256))))
        #expect(uses.count <= 200)
        // The morning report reads the same journal.
        let report = try TestSupport.run(bin.path, ["report", cfg.path, "--since", "1h", "--json"])
        #expect(report.status == 0, "\(report.err)")
        let json = try JSONSerialization.jsonObject(with: report.stdout) as? [String: Any]
        #expect(json?["delivered"] as? Int == outbox.count)
        #expect((json?["runs"] as? Int ?? 0) >= 21)
        print("crash test: \(kills) kills, \(resumed) documents resumed, \(outbox.count) sealed, \(quarantined.count) quarantined")
    }
}
