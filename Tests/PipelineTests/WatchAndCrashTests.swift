#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
@testable import Pipeline
import TestSupport
import Testing

@Suite(.serialized) struct WatchAndCrashTests {
    func engine(_ config: PipelineConfig, shutdown: ShutdownSignal) throws -> Engine {
        Engine(config: config, stages: try config.makeStages(registry: Bench.registry()), journal: try Journal(url: config.journal),
               logger: quietLogger, shutdown: shutdown, metricsFactory: PrometheusRegistry())
    }

    func waitFor(_ seconds: Double, _ cond: () -> Bool) async -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while Date() < end { if cond() { return true }; try? await Task.sleep(nanoseconds: 50_000_000) }
        return cond()
    }

    @Test func hotFolderTakesSlowCopyOnlyOnceComplete() async throws {
        let (dir, config) = try Bench.setUp(files: 0, settle: 0.4)
        let shutdown = ShutdownSignal()
        let e = try engine(config, shutdown: shutdown)
        let run = Task { try await e.run(mode: .watch) }
        try? await Task.sleep(nanoseconds: 300_000_000)
        // A writer keeps the file open and pauses longer than the settle time between chunks.
        let target = dir.appendingPathComponent("inbox/slow.pdf")
        FileManager.default.createFile(atPath: target.path, contents: nil)
        let fh = try FileHandle(forWritingTo: target)
        var expected = Data()
        for i in 0..<6 {
            let chunk = Data(repeating: UInt8(65 + i), count: 4096)
            try fh.write(contentsOf: chunk); expected.append(chunk)
            try? await Task.sleep(nanoseconds: 600_000_000)
            #expect(FileOps.exists(target), "taken while still being written (chunk \(i))")
        }
        try fh.close()
        let out = dir.appendingPathComponent("outbox/slow.pdf")
        #expect(await waitFor(10) { FileOps.exists(out) })
        shutdown.request()
        let s = try await run.value
        #expect(s.delivered == 1)
        let data = try Data(contentsOf: out)
        #expect(data.prefix(expected.count) == expected)
        #expect(Bench.markers(out) == 1)
    }

    @Test func aFileStillOpenForWritingIsNotTakenHowEverQuietItIs() async throws {
        // the daemon: a copy moved in while its writer still holds it open and pauses (no inotify write
        // events to go by: only the open writer tells)
        let (dir, config) = try Bench.setUp(files: 0, settle: 0.2)
        let shutdown = ShutdownSignal()
        let e = try engine(config, shutdown: shutdown)
        let run = Task { try await e.run(mode: .watch) }
        let staged = dir.appendingPathComponent("staged.pdf"), target = dir.appendingPathComponent("inbox/held.pdf")
        try Data(repeating: 65, count: 4096).write(to: staged)
        let fh = try FileHandle(forWritingTo: staged)
        try fh.seekToEnd()
        #expect(rename(staged.path, target.path) == 0)
        try? await Task.sleep(nanoseconds: 1_500_000_000) // far past the settle time
        #expect(FileOps.exists(target), "taken while a writer still had it open")
        try fh.write(contentsOf: Data(repeating: 66, count: 4096))
        try fh.close()
        let out = dir.appendingPathComponent("outbox/held.pdf")
        #expect(await waitFor(10) { FileOps.exists(out) })
        shutdown.request()
        let s = try await run.value
        #expect(s.delivered == 1)
        #expect(try Data(contentsOf: out).prefix(8192) == Data(repeating: 65, count: 4096) + Data(repeating: 66, count: 4096))

        // --once: it waits up to settle-max-seconds for the writer, then leaves the file for the next run
        let (dir2, _) = try Bench.setUp(files: 2, settle: 0)
        let cfg = dir2.appendingPathComponent("pipeline.json")
        let json = try String(contentsOf: cfg, encoding: .utf8).replacingOccurrences(of: #""rescan-seconds": 1}"#, with: #""rescan-seconds": 1, "settle-max-seconds": 0.5}"#)
        try Data(json.utf8).write(to: cfg)
        let config2 = try PipelineConfig.load(from: cfg, registry: Bench.registry())
        let held = try FileHandle(forWritingTo: dir2.appendingPathComponent("inbox/doc0001.pdf"))
        let first = try await engine(config2, shutdown: ShutdownSignal()).run(mode: .once)
        #expect(first.delivered == 1)
        #expect(first.warnings.contains { $0.contains("doc0001.pdf") && $0.contains("open for writing") }, "\(first.warnings)")
        #expect(first.exitCode == 3)
        #expect(Bench.files(dir2.appendingPathComponent("inbox")) == ["doc0001.pdf"])
        try held.close()
        let second = try await engine(config2, shutdown: ShutdownSignal()).run(mode: .once)
        #expect(second.delivered == 1 && second.warnings.isEmpty, "\(second.table())")
        #expect(Bench.files(dir2.appendingPathComponent("outbox")) == ["doc0000.pdf", "doc0001.pdf"])
    }

    @Test func hotFolderHandlesBurstAndShutsDownGracefully() async throws {
        let (dir, config) = try Bench.setUp(files: 0, settle: 0.2)
        let shutdown = ShutdownSignal()
        let e = try engine(config, shutdown: shutdown)
        let run = Task { try await e.run(mode: .watch) }
        try? await Task.sleep(nanoseconds: 200_000_000)
        // A burst: 1000 files renamed into the inbox at once.
        let staging = dir.appendingPathComponent("staging")
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        for i in 0..<1000 { try Data("doc \(i)".utf8).write(to: staging.appendingPathComponent("b\(i).pdf")) }
        for i in 0..<1000 { rename(staging.appendingPathComponent("b\(i).pdf").path, dir.appendingPathComponent("inbox/b\(i).pdf").path) }
        #expect(await waitFor(60) { Bench.files(dir.appendingPathComponent("outbox")).count >= 150 })
        shutdown.request()
        let s = try await run.value
        // Everything claimed was finished; the rest is untouched in the inbox.
        let outbox = Bench.files(dir.appendingPathComponent("outbox")).count
        let inbox = Bench.files(dir.appendingPathComponent("inbox")).count
        #expect(s.delivered == outbox)
        #expect(outbox + inbox == 1000)
        #expect(Bench.files(dir.appendingPathComponent("work")).allSatisfy { $0.hasPrefix("journal") })
        let j = try Journal(url: config.journal)
        #expect(try j.unfinished().isEmpty)
        // The next run drains the rest.
        let s2 = try await engine(config, shutdown: ShutdownSignal()).run(mode: .once)
        #expect(s2.delivered == inbox)
        #expect(Bench.files(dir.appendingPathComponent("outbox")).count == 1000)
    }

    /// How many runs have recorded their start in the journal (0 before the first run created it).
    static func runStarts(_ journal: URL) -> Int {
        guard FileOps.exists(journal), let j = try? Journal(url: journal, readOnly: true) else { return 0 }
        return (try? j.events(since: .distantPast, kind: "run-start").count) ?? 0
    }

    /// Starts the testbed and waits until it has recorded its run start (not a fixed time: under load the
    /// start-up alone can take longer than any delay chosen for the kill). False if it exited first.
    static func startAndWaitForRun(_ bin: URL, _ cfg: URL, journal: URL) throws -> (Subprocess, Bool) {
        let before = runStarts(journal)
        let p = try Subprocess(bin.path, [cfg.path, "--once"])
        let deadline = Date().addingTimeInterval(60)
        while runStarts(journal) == before {
            if !p.isRunning || Date() > deadline { return (p, false) }
            usleep(10_000)
        }
        return (p, true)
    }

    /// kill -9 the real process at random moments of its run, 20 times, restarting each time: every input
    /// ends sealed exactly once or quarantined, none lost, nothing half-written — and, with a crash-loop
    /// limit of 3 (30 interruptions), no document is quarantined `crash-loop` for kills from outside.
    @Test func survivesTwentyKillNineCrashes() throws {
        let bin = TestSupport.sealbatchBinary.deletingLastPathComponent().appendingPathComponent("pipeline-testbed")
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build pipeline-testbed first")
        let (dir, _) = try Bench.setUp(files: 200, size: 3000)
        try Data("junk".utf8).write(to: dir.appendingPathComponent("inbox/damaged-1.pdf"))
        try Data("x".utf8).write(to: dir.appendingPathComponent("inbox/unapproved-1.pdf"))
        let inputs = Set(Bench.files(dir.appendingPathComponent("inbox")))
        let cfg = dir.appendingPathComponent("pipeline.json")
        let journal = dir.appendingPathComponent("work/journal.sqlite")
        try Data(Bench.pipelineJSON(extra: #""engine": {"max-attempts": 3},"#,
                                    stages: #"[{"kind": "checksum"}, {"kind": "gate"}, {"kind": "append", "delay-ms": 100, "concurrency": 2}, {"kind": "check"}]"#).utf8).write(to: cfg)
        var g = SystemRandomNumberGenerator()
        var kills = 0, started = 0
        while kills < 20 {
            let (p, running) = try Self.startAndWaitForRun(bin, cfg, journal: journal)
            if running { started += 1 }
            usleep(UInt32.random(in: 20_000...600_000, using: &g))
            if p.isRunning { p.signal(SIGKILL); kills += 1 }
            p.killAndWait()
            let drained = try Bench.files(dir.appendingPathComponent("inbox")).isEmpty && Journal(url: journal, readOnly: true).unfinished().isEmpty
            if !running || drained { break }
        }
        #expect(kills == 20, "the batch ended after \(kills) kills")
        let final = try TestSupport.run(bin.path, [cfg.path, "--once"])
        #expect(final.status == 0 || final.status == 1, "final run: \(final.out) \(final.err)")
        let outbox = Bench.files(dir.appendingPathComponent("outbox"))
        let quarantine = Bench.files(dir.appendingPathComponent("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        #expect(Bench.files(dir.appendingPathComponent("inbox")).isEmpty)
        // Never lost, never twice: each input name appears exactly once across outbox and quarantine.
        #expect(outbox.count + quarantine.count == inputs.count)
        #expect(Set(outbox).union(quarantine) == inputs)
        // Only the two bad inputs are quarantined: external kills are not crashes of a document.
        #expect(Set(quarantine) == ["damaged-1.pdf", "unapproved-1.pdf"])
        // Never sealed twice, never half-written.
        for f in outbox {
            #expect(Bench.markers(dir.appendingPathComponent("outbox/\(f)")) == 1, "\(f)")
            #expect(try Data(contentsOf: dir.appendingPathComponent("outbox/\(f)")).count > 3000)
        }
        let hidden = ((try? FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("outbox").path)) ?? []).filter { $0.hasPrefix(".") }
        #expect(hidden.isEmpty)
        let j = try Journal(url: journal)
        #expect(try j.unfinished().isEmpty)
        #expect(try j.allDocuments().filter { $0.state == .done }.count == outbox.count)
        #expect(try j.allDocuments().allSatisfy { $0.crashes == 0 })
        // The kills really interrupted documents in flight, and every run that started is in the journal.
        let resumed = try j.events(since: .distantPast).filter { $0.detail?.hasPrefix("resumed after interruption") == true }
        #expect(resumed.count >= 3)
        #expect(try j.events(since: .distantPast, kind: "run-start").count == started + 1)
        #expect(try j.events(since: .distantPast, kind: "crash").isEmpty)
    }

    /// A document that crashes the program (a Swift trap in a stage) every time: the crash marker tells the
    /// next start it was a crash, not a kill; the documents then in flight are processed one at a time, so
    /// the crash is pinned on the one document, which is quarantined `crash-loop` after `max-attempts`
    /// crashes. Every other document is delivered once, none quarantined with it.
    @Test func aDocumentThatCrashesTheProgramIsQuarantinedAloneAfterMaxAttemptsCrashes() throws {
        let bin = TestSupport.sealbatchBinary.deletingLastPathComponent().appendingPathComponent("pipeline-testbed")
        try #require(FileManager.default.isExecutableFile(atPath: bin.path), "build pipeline-testbed first")
        let (dir, _) = try Bench.setUp(files: 24, size: 2000)
        try Data(repeating: 7, count: 2000).write(to: dir.appendingPathComponent("inbox/poison-1.pdf"))
        let cfg = dir.appendingPathComponent("pipeline.json")
        try Data(Bench.pipelineJSON(extra: #""engine": {"max-attempts": 3},"#,
                                    stages: #"[{"kind": "checksum"}, {"kind": "gate"}, {"kind": "crash", "concurrency": 2}, {"kind": "append", "delay-ms": 20, "concurrency": 2}, {"kind": "check"}]"#).utf8).write(to: cfg)
        var crashed = 0, runs = 0
        var last: TestSupport.ProcessResult?
        while runs < 10 {
            runs += 1
            let r = try TestSupport.run(bin.path, [cfg.path, "--once"], env: ["SWIFT_BACKTRACE": "enable=no"])
            last = r
            if r.status >= 128 { crashed += 1; continue }
            break
        }
        #expect(last?.status == 1, "the last run: \(last?.out ?? "") \(last?.err ?? "")")
        // the first crash blames every document in flight; the two after it are the poison's alone
        #expect(crashed == 3, "\(runs) runs")
        let outbox = Bench.files(dir.appendingPathComponent("outbox"))
        let quarantine = Bench.files(dir.appendingPathComponent("quarantine")).filter { !$0.hasSuffix(".reason.json") }
        #expect(outbox.count == 24)
        #expect(quarantine == ["poison-1.pdf"])
        let reason = try JSONDecoder().decode(QuarantineReason.self, from: Data(contentsOf: dir.appendingPathComponent("quarantine/poison-1.pdf.reason.json")))
        #expect(reason.code == "crash-loop")
        #expect(reason.message.contains("crashed 3 times"), "\(reason.message)")
        for f in outbox { #expect(Bench.markers(dir.appendingPathComponent("outbox/\(f)")) == 1, "\(f)") }
        let j = try Journal(url: dir.appendingPathComponent("work/journal.sqlite"))
        #expect(try j.unfinished().isEmpty)
        let crashEvents = try j.events(since: .distantPast, kind: "crash")
        #expect(crashEvents.count == 3)
        let poison = try #require(try j.allDocuments().first { $0.name == "poison-1.pdf" })
        // the second and third crashes name the poison as the document processed alone
        #expect(crashEvents.filter { $0.docID == poison.id }.count == 2)
        #expect(try j.allDocuments().filter { $0.name != "poison-1.pdf" }.allSatisfy { $0.crashes <= 1 })
    }
}
