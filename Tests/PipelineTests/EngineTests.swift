import Foundation
import Logging
@testable import Pipeline
import TestSupport
import Testing

@Suite struct EngineTests {
    func engine(_ config: PipelineConfig, registry: StageRegistry = Bench.registry(), shutdown: ShutdownSignal = ShutdownSignal(),
                factory: PrometheusRegistry? = nil) throws -> Engine {
        let stages = try config.makeStages(registry: registry)
        let journal = try Journal(url: config.journal)
        return Engine(config: config, stages: stages, journal: journal, logger: quietLogger, shutdown: shutdown,
                      metricsFactory: factory ?? PrometheusRegistry())
    }

    @Test func deliversApprovedAndQuarantinesRejectedWithReasons() async throws {
        let (dir, config) = try Bench.setUp(files: 30)
        try Data("junk".utf8).write(to: dir.appendingPathComponent("inbox/damaged-scan.pdf"))
        try Data("not approved".utf8).write(to: dir.appendingPathComponent("inbox/unapproved-offer.pdf"))
        try Data("ignored".utf8).write(to: dir.appendingPathComponent("inbox/notes.txt"))
        let inputDigests = try Dictionary(uniqueKeysWithValues: Bench.files(dir.appendingPathComponent("inbox")).map {
            ($0, try SHA256Stream.hexDigest(ofFile: dir.appendingPathComponent("inbox/\($0)")))
        })
        let summary = try await engine(config).run(mode: .once)
        #expect(summary.delivered == 30)
        #expect(summary.quarantined == ["damaged": 1, "not-approved": 1])
        #expect(summary.exitCode == 1)
        let outbox = Bench.files(dir.appendingPathComponent("outbox"))
        #expect(outbox.count == 30)
        for f in outbox { #expect(Bench.markers(dir.appendingPathComponent("outbox/\(f)")) == 1) }
        #expect(Bench.files(dir.appendingPathComponent("quarantine")) == ["damaged-scan.pdf", "damaged-scan.pdf.reason.json", "unapproved-offer.pdf", "unapproved-offer.pdf.reason.json"])
        let reason = try JSONDecoder().decode(QuarantineReason.self, from: Data(contentsOf: dir.appendingPathComponent("quarantine/unapproved-offer.pdf.reason.json")))
        #expect(reason.code == "not-approved")
        #expect(reason.stage == "gate")
        #expect(reason.sha256 == inputDigests["unapproved-offer.pdf"])
        #expect(!reason.nextStep.isEmpty)
        // Originals are untouched: in quarantine and in the archive, byte for byte.
        #expect(try SHA256Stream.hexDigest(ofFile: dir.appendingPathComponent("quarantine/damaged-scan.pdf")) == inputDigests["damaged-scan.pdf"])
        let archived = FileManager.default.enumerator(atPath: dir.appendingPathComponent("archive").path)!.compactMap { $0 as? String }.filter { $0.hasSuffix("original.pdf") }
        #expect(archived.count == 30)
        for a in archived {
            let d = try SHA256Stream.hexDigest(ofFile: dir.appendingPathComponent("archive/\(a)"))
            #expect(inputDigests.values.contains(d))
        }
        #expect(Bench.files(dir.appendingPathComponent("inbox")) == ["notes.txt"])
        #expect(Bench.files(dir.appendingPathComponent("work")).allSatisfy { $0.hasPrefix("journal") })
        let journal = try Journal(url: config.journal)
        let docs = try journal.allDocuments()
        #expect(docs.filter { $0.state == .done }.count == 30)
        #expect(docs.filter { $0.state == .quarantined }.count == 2)
        let ev = try journal.events(of: docs.first { $0.state == .done }!.id).map(\.kind)
        #expect(ev == ["claiming", "claimed", "stage", "stage", "stage", "stage", "delivering", "done"])
    }

    @Test func memoryStaysBoundedWithManyFilesWaiting() async throws {
        let probe = Probe()
        let reg = Bench.registry(delayMS: 1, probe: probe)
        let (dir, config) = try Bench.setUp(files: 400, registry: reg, size: 100)
        let summary = try await engine(config, registry: reg).run(mode: .once)
        #expect(summary.delivered == 400)
        // append runs 2 at a time; claimed documents are held only by the claimers (4), the queues (one per
        // stage plus delivery, 4 each), the stage workers (2 per stage, 4 stages) and the delivery workers (4).
        #expect(probe.maxInFlight <= 2)
        let bound = 4 + 5 * 4 + 4 * 2 + 4
        #expect(probe.maxClaimed <= bound)
        #expect(probe.maxClaimed >= 2)
        _ = dir
    }

    @Test func everyStageIsPreparedOncePerRunEvenWithAnEmptyInbox() async throws {
        let probe = Probe()
        let reg = Bench.registry(probe: probe)
        let (_, config) = try Bench.setUp(files: 0, registry: reg)
        _ = try await engine(config, registry: reg).run(mode: .once)
        #expect(probe.prepared == 1)
        let (_, config2) = try Bench.setUp(files: 5, registry: reg)
        let s = try await engine(config2, registry: reg).run(mode: .once)
        #expect(s.delivered == 5 && probe.prepared == 2)
    }

    @Test func retriesTransientFailuresThenDelivers() async throws {
        let transient = TransientCounter(2)
        let reg = Bench.registry(transient: transient)
        let (dir, config) = try Bench.setUp(files: 3, registry: reg)
        let summary = try await engine(config, registry: reg).run(mode: .once)
        #expect(summary.delivered == 3)
        #expect(summary.stages[2].retries == 2)
        #expect(Bench.files(dir.appendingPathComponent("outbox")).count == 3)
    }

    @Test func quarantinesDuplicateOfDeliveredDocument() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        let e = try engine(config)
        _ = try await e.run(mode: .once)
        try FileManager.default.copyItem(at: dir.appendingPathComponent("outbox/doc0000.pdf"), to: dir.appendingPathComponent("x.pdf"))
        // Same bytes as the first input again:
        let archived = FileManager.default.enumerator(atPath: dir.appendingPathComponent("archive").path)!.compactMap { $0 as? String }.first { $0.hasSuffix("original.pdf") }!
        try FileManager.default.copyItem(at: dir.appendingPathComponent("archive/\(archived)"), to: dir.appendingPathComponent("inbox/again.pdf"))
        let s2 = try await engine(config).run(mode: .once)
        #expect(s2.quarantined == ["duplicate": 1])
        #expect(Bench.files(dir.appendingPathComponent("outbox")) == ["doc0000.pdf"])
    }

    @Test func outboxNameCollisionGetsDocumentTag() async throws {
        let (dir, config) = try Bench.setUp(files: 1)
        try config.folders.create()
        try Data("older".utf8).write(to: dir.appendingPathComponent("outbox/doc0000.pdf"))
        let s = try await engine(config).run(mode: .once)
        #expect(s.delivered == 1)
        let out = Bench.files(dir.appendingPathComponent("outbox"))
        #expect(out.count == 2)
        #expect(try String(contentsOf: dir.appendingPathComponent("outbox/doc0000.pdf"), encoding: .utf8) == "older")
    }

    @Test func reportSummarisesJournal() async throws {
        let (dir, config) = try Bench.setUp(files: 5)
        try Data("junk".utf8).write(to: dir.appendingPathComponent("inbox/damaged.pdf"))
        _ = try await engine(config).run(mode: .once)
        let journal = try Journal(url: config.journal)
        try journal.recordEvent(docID: nil, kind: "token", detail: "card removed")
        let r = try JournalReport.make(journal: journal, since: Date().addingTimeInterval(-3600))
        #expect(r.delivered == 5)
        #expect(r.quarantined == ["damaged": 1])
        #expect(r.tokenEvents == ["card removed": 1])
        #expect(r.runs == 1)
        #expect(r.text().contains("damaged: 1"))
        let none = try JournalReport.make(journal: journal, since: Date().addingTimeInterval(3600))
        #expect(none.delivered == 0)
    }

    @Test func reportCountsEachDocumentInItsFinalStateAndNoRateOverAnInstant() async throws {
        let (dir, config) = try Bench.setUp(files: 3)
        _ = try await engine(config).run(mode: .once)
        // late.pdf has the bytes of a document already delivered: quarantined as a duplicate.
        let archived = FileManager.default.enumerator(atPath: dir.appendingPathComponent("archive").path)!.compactMap { $0 as? String }.first { $0.hasSuffix("original.pdf") }!
        try FileManager.default.copyItem(at: dir.appendingPathComponent("archive/\(archived)"), to: dir.appendingPathComponent("inbox/late.pdf"))
        let s1 = try await engine(config).run(mode: .once)
        #expect(s1.quarantined == ["duplicate": 1])
        // The clerk puts the right document back under the same name: delivered this time.
        var g = SystemRandomNumberGenerator()
        try Data((0..<1500).map { _ in UInt8.random(in: 0...255, using: &g) }).write(to: dir.appendingPathComponent("inbox/late.pdf"))
        let s2 = try await engine(config).run(mode: .once)
        #expect(s2.delivered == 1)
        let r = try JournalReport.make(journal: try Journal(url: config.journal), since: Date().addingTimeInterval(-3600))
        #expect(r.delivered == 4)
        #expect(r.quarantined.isEmpty, "late.pdf was delivered in the end: \(r.quarantined)")
        #expect(r.quarantinedDocuments.isEmpty)
        // Four documents in well under a minute: no hourly rate is made up from that.
        #expect(r.perHour == nil)
        #expect(r.text().contains("too short a time for an hourly rate"))
        #expect(!r.text().contains("documents/hour"))
    }

    @Test func clerkTextsComeInChineseByLocaleAndReasonFilesCarryBoth() async throws {
        #expect(ClerkLanguage.choose(environment: ["LANG": "zh_CN.UTF-8"]) == .zhCN)
        #expect(ClerkLanguage.choose(environment: ["LANG": "zh_CN.UTF-8", "LC_ALL": "C"]) == .en, "LC_ALL wins")
        #expect(ClerkLanguage.choose(environment: ["LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN"]) == .zhCN)
        #expect(ClerkLanguage.choose("en", environment: ["LANG": "zh_CN.UTF-8"]) == .en, "--lang wins")
        #expect(ClerkLanguage.choose(environment: [:]) == .en)
        let (dir, config) = try Bench.setUp(files: 1)
        try Data("junk".utf8).write(to: dir.appendingPathComponent("inbox/damaged.pdf"))
        _ = try await engine(config).run(mode: .once)
        let reasonFile = try #require(try FileManager.default.contentsOfDirectory(atPath: config.folders.quarantine.path).first { $0.hasSuffix(".reason.json") })
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: config.folders.quarantine.appendingPathComponent(reasonFile))) as? [String: Any])
        let code = try #require(json["code"] as? String)
        #expect(json["next-step"] as? String != nil, "the English next step stays")
        #expect(json["next-step-zh-CN"] as? String == ClerkText.nextStepZH(code), "\(json)")
        #expect(ClerkText.nextStepZH(code) != nil, "code \(code) has a Chinese next step")
        // The reason file still decodes (scripts and the console read it).
        let decoded = try JSONDecoder().decode(QuarantineReason.self, from: Data(contentsOf: config.folders.quarantine.appendingPathComponent(reasonFile)))
        #expect(decoded.code == code)
        let r = try JournalReport.make(journal: try Journal(url: config.journal), since: Date().addingTimeInterval(-3600))
        let zh = r.text(.zhCN)
        #expect(zh.contains("已盖章并交付：1") && zh.contains("已隔离：1") && zh.contains("下一步："), "\(zh)")
        #expect(r.text(.en).contains("sealed and delivered: 1"))
    }

    @Test func exportsStageMetrics() async throws {
        let (_, config) = try Bench.setUp(files: 4)
        let reg = PrometheusRegistry()
        _ = try await engine(config, factory: reg).run(mode: .once)
        let text = reg.render()
        #expect(text.contains(#"sealbatch_documents_total{pipeline="test",outcome="delivered"} 4"#))
        #expect(text.contains(#"sealbatch_stage_seconds_count{pipeline="test",stage="append"} 4"#))
    }
}
