import Foundation
import Logging
@testable import Pipeline
import TestSupport
import Testing

/// Each test recreates the files and journal a crash would leave at one instant, then restarts.
@Suite struct RecoveryTests {
    func engine(_ config: PipelineConfig) throws -> Engine {
        Engine(config: config, stages: try config.makeStages(registry: Bench.registry()), journal: try Journal(url: config.journal),
               logger: quietLogger, metricsFactory: PrometheusRegistry())
    }

    func record(_ config: PipelineConfig, id: String, name: String, state: DocumentState, attempts: Int = 1, crashes: Int = 0,
                isolated: Bool = false) -> DocumentRecord {
        DocumentRecord(id: id, pipeline: "test", name: name, sourcePath: config.folders.inbox.appendingPathComponent(name).path,
                       workDir: config.folders.work.appendingPathComponent(id).path, state: state, stage: nil, attempts: attempts,
                       digest: nil, currentPath: nil, outboxPath: nil, quarantinePath: nil, reasonCode: nil, reasonJSON: nil,
                       claimedAt: Date().timeIntervalSince1970, updatedAt: Date().timeIntervalSince1970, crashes: crashes, isolated: isolated)
    }

    /// What the fault-signal handler leaves when the program crashes by itself.
    func writeCrashMarker(_ config: PipelineConfig) throws {
        try Data("signal 11\n".utf8).write(to: config.folders.work.appendingPathComponent(".sealbatch-crashed"))
    }

    func claimInto(_ config: PipelineConfig, id: String, name: String) throws -> URL {
        let work = config.folders.work.appendingPathComponent(id)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let original = work.appendingPathComponent("original.pdf")
        try FileManager.default.moveItem(at: config.folders.inbox.appendingPathComponent(name), to: original)
        return original
    }

    @Test func claimThatNeverHappenedIsReleasedAndProcessedOnce() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        try Journal(url: config.journal).insert(record(config, id: "00000000000000a1", name: "doc0000.pdf", state: .claiming))
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 1)
        #expect(Bench.files(dir.appendingPathComponent("outbox")) == ["doc0000.pdf"])
        #expect(try Journal(url: config.journal).document("00000000000000a1")?.state == .released)
    }

    @Test func claimedButUnjournaledRenameIsResumed() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        try Journal(url: config.journal).insert(record(config, id: "00000000000000a2", name: "doc0000.pdf", state: .claiming))
        _ = try claimInto(config, id: "00000000000000a2", name: "doc0000.pdf")
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 1)
        #expect(s.resumed == 1)
        #expect(Bench.markers(dir.appendingPathComponent("outbox/doc0000.pdf")) == 1)
    }

    @Test func interruptedProcessingRestartsFromOriginalDiscardingPartialOutput() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        try j.insert(record(config, id: "00000000000000a3", name: "doc0000.pdf", state: .processing))
        let original = try claimInto(config, id: "00000000000000a3", name: "doc0000.pdf")
        try Data("half-written".utf8).write(to: original.deletingLastPathComponent().appendingPathComponent("sealed.pdf"))
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 1)
        #expect(Bench.markers(dir.appendingPathComponent("outbox/doc0000.pdf")) == 1)
        #expect(try j.document("00000000000000a3")?.attempts == 2)
    }

    @Test func deliveryAlreadyRenamedIsNotDeliveredAgain() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        var r = record(config, id: "00000000000000a4", name: "doc0000.pdf", state: .delivering)
        let out = config.folders.outbox.appendingPathComponent("doc0000.pdf")
        r.outboxPath = out.path
        r.currentPath = config.folders.work.appendingPathComponent("00000000000000a4/sealed.pdf").path
        try j.insert(r)
        let original = try claimInto(config, id: "00000000000000a4", name: "doc0000.pdf")
        var sealed = try Data(contentsOf: original); sealed.append(Data("\n%SEALED x\n".utf8))
        try sealed.write(to: out)
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 1)
        #expect(Bench.files(dir.appendingPathComponent("outbox")) == ["doc0000.pdf"])
        #expect(Bench.markers(out) == 1)
        #expect(try j.document("00000000000000a4")?.state == .done)
        #expect(!FileOps.exists(original.deletingLastPathComponent()))
    }

    @Test func deliveredDocumentWhoseDoneWasLostIsNotReleasedOrRedone() async throws {
        // `done` is committed without a flush: after a power cut the journal may still say `delivering`
        // while the output has already been taken from the outbox and the original archived.
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        var r = record(config, id: "00000000000000a6", name: "doc0000.pdf", state: .delivering)
        r.outboxPath = config.folders.outbox.appendingPathComponent("doc0000.pdf").path
        r.currentPath = config.folders.work.appendingPathComponent("00000000000000a6/sealed.pdf").path
        try j.insert(r)
        let e = try engine(config)
        let archive = e.archiveDir(id: r.id, name: r.name, claimedAt: Date(timeIntervalSince1970: r.claimedAt))
        try FileManager.default.createDirectory(at: archive, withIntermediateDirectories: true)
        try FileManager.default.moveItem(at: config.folders.inbox.appendingPathComponent("doc0000.pdf"), to: archive.appendingPathComponent("original.pdf"))
        let s = try await e.run(mode: .once)
        #expect(s.delivered == 1 && s.resumed == 0 && s.quarantinedTotal == 0 && s.warnings.isEmpty) // finished, not redone
        #expect(try j.document("00000000000000a6")?.state == .done)
        #expect(Bench.files(dir.appendingPathComponent("outbox")).isEmpty)
    }

    @Test func deliveredOutputAlreadyTakenFromTheOutboxIsNotSealedAgain() async throws {
        // `delivering` is journalled only after the staged output is durable; if it is gone from the work
        // folder and not in the outbox, it went to the outbox and someone took it: finish, do not redo.
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        var r = record(config, id: "00000000000000a7", name: "doc0000.pdf", state: .delivering)
        r.outboxPath = config.folders.outbox.appendingPathComponent("doc0000.pdf").path
        r.currentPath = config.folders.work.appendingPathComponent("00000000000000a7/sealed.pdf").path
        try j.insert(r)
        _ = try claimInto(config, id: "00000000000000a7", name: "doc0000.pdf")
        let s = try await engine(config).run(mode: .once)
        #expect(s.quarantinedTotal == 0 && s.resumed == 0)
        #expect(try j.document("00000000000000a7")?.state == .done)
        #expect(Bench.files(dir.appendingPathComponent("outbox")).isEmpty) // nothing sealed a second time
    }

    @Test func deliveryBeforeRenameCompletesFromStagedOutput() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        var r = record(config, id: "00000000000000a5", name: "doc0000.pdf", state: .delivering)
        let out = config.folders.outbox.appendingPathComponent("doc0000.pdf")
        let staged = config.folders.work.appendingPathComponent("00000000000000a5/sealed.pdf")
        r.outboxPath = out.path; r.currentPath = staged.path
        try j.insert(r)
        let original = try claimInto(config, id: "00000000000000a5", name: "doc0000.pdf")
        var sealed = try Data(contentsOf: original); sealed.append(Data("\n%SEALED x\n".utf8))
        try sealed.write(to: staged)
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 1)
        #expect(try Data(contentsOf: out) == sealed)
        #expect(Bench.files(dir.appendingPathComponent("outbox")) == ["doc0000.pdf"])
    }

    @Test func interruptedQuarantineIsCompleted() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        var r = record(config, id: "00000000000000a6", name: "doc0000.pdf", state: .quarantining)
        r.reasonCode = "not-approved"; r.reasonJSON = #"{"code": "not-approved"}"#
        r.quarantinePath = config.folders.quarantine.appendingPathComponent("doc0000.pdf").path
        try j.insert(r)
        _ = try claimInto(config, id: "00000000000000a6", name: "doc0000.pdf")
        let s = try await engine(config).run(mode: .once)
        #expect(s.quarantined == ["not-approved": 1])
        #expect(Bench.files(dir.appendingPathComponent("quarantine")) == ["doc0000.pdf", "doc0000.pdf.reason.json"])
    }

    @Test func documentThatKeepsCrashingGoesToQuarantine() async throws {
        // the program crashed by itself (the marker) for the tenth time while this document was processed alone
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        try Journal(url: config.journal).insert(record(config, id: "00000000000000a7", name: "doc0000.pdf", state: .processing,
                                                       attempts: 10, crashes: 9, isolated: true))
        _ = try claimInto(config, id: "00000000000000a7", name: "doc0000.pdf")
        try writeCrashMarker(config)
        let s = try await engine(config).run(mode: .once)
        #expect(s.quarantined == ["crash-loop": 1])
        #expect(Bench.files(dir.appendingPathComponent("quarantine")).contains("doc0000.pdf"))
        #expect(!FileOps.exists(config.folders.work.appendingPathComponent(".sealbatch-crashed")), "the marker is read once")
    }

    @Test func externalKillsDoNotCountAsCrashes() async throws {
        // ten interruptions without a crash marker (kill -9 from outside, power cuts): not the document's fault
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        try Journal(url: config.journal).insert(record(config, id: "00000000000000a8", name: "doc0000.pdf", state: .processing, attempts: 10))
        _ = try claimInto(config, id: "00000000000000a8", name: "doc0000.pdf")
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 1 && s.quarantinedTotal == 0, "\(s.table())")
        #expect(Bench.files(dir.appendingPathComponent("outbox")) == ["doc0000.pdf"])
        let r = try Journal(url: config.journal).document("00000000000000a8")
        #expect(r?.attempts == 11 && r?.crashes == 0)
        // the backstop: interruptions of any kind, ten times max-attempts
        let (_, config2) = try Bench.setUp(files: 1)
        try config2.folders.create()
        try Journal(url: config2.journal).insert(record(config2, id: "00000000000000a9", name: "doc0000.pdf", state: .processing,
                                                        attempts: config2.engine.interruptionLimit))
        _ = try claimInto(config2, id: "00000000000000a9", name: "doc0000.pdf")
        #expect(try await engine(config2).run(mode: .once).quarantined == ["crash-loop": 1])
    }

    @Test func aCrashWhileOneDocumentWasProcessedAloneIsThatDocumentsOnly() async throws {
        // two documents resumed after a crash; the program crashed again while the first was processed alone
        let (dir, config) = try Bench.setUp(files: 2, extra: #""engine": {"max-attempts": 2},"#)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        try j.insert(record(config, id: "00000000000000b1", name: "doc0000.pdf", state: .claimed, attempts: 2, crashes: 1, isolated: true))
        try j.insert(record(config, id: "00000000000000b2", name: "doc0001.pdf", state: .claimed, attempts: 2, crashes: 1))
        _ = try claimInto(config, id: "00000000000000b1", name: "doc0000.pdf")
        _ = try claimInto(config, id: "00000000000000b2", name: "doc0001.pdf")
        try writeCrashMarker(config)
        let s = try await engine(config).run(mode: .once)
        #expect(s.quarantined == ["crash-loop": 1] && s.delivered == 1, "\(s.table())")
        #expect(Bench.files(dir.appendingPathComponent("quarantine")).contains("doc0000.pdf"))
        #expect(Bench.files(dir.appendingPathComponent("outbox")) == ["doc0001.pdf"])
        #expect(try j.document("00000000000000b2")?.crashes == 1)
        // it was processed alone (journalled first), and nothing else was in flight meanwhile
        #expect(try j.events(of: "00000000000000b2").contains { $0.detail?.hasPrefix("processed alone after a crash") == true })
    }

    @Test func aCrashWithNoDocumentAloneBlamesEveryDocumentInFlightOnce() async throws {
        let (_, config) = try Bench.setUp(files: 3)
        try config.folders.create()
        let j = try Journal(url: config.journal)
        for i in 0..<3 {
            let id = "00000000000000c\(i)"
            try j.insert(record(config, id: id, name: "doc000\(i).pdf", state: .processing))
            _ = try claimInto(config, id: id, name: "doc000\(i).pdf")
        }
        try writeCrashMarker(config)
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 3, "\(s.table())")
        for i in 0..<3 { #expect(try j.document("00000000000000c\(i)")?.crashes == 1) }
        #expect(try j.events(since: .distantPast, kind: "crash").count == 1)
    }
}
