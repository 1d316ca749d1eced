import Foundation
import Pipeline
@_exported import PipelineTestStages
import TestSupport
import Testing

/// Counts concurrent calls and the number of documents present in the work folder.
final class Probe: @unchecked Sendable {
    let lock = NSLock()
    var inFlight = 0, maxInFlight = 0, maxClaimed = 0, calls = 0
    func enter(work: URL) {
        let n = ((try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []).filter { !$0.hasPrefix("journal") }.count
        lock.lock(); inFlight += 1; calls += 1; maxInFlight = max(maxInFlight, inFlight); maxClaimed = max(maxClaimed, n); lock.unlock()
    }
    func leave() { lock.lock(); inFlight -= 1; lock.unlock() }
    var prepared = 0
    func prepare() { lock.lock(); prepared += 1; lock.unlock() }
}

struct AppendStage: Stage {
    static let kind: StageKind = "append"
    static let requires: Set<Fact> = [.approved]
    static let produces: Set<Fact> = [.signed]
    let delayMS: Int
    let probe: Probe
    var transientFailures: TransientCounter?
    func prepare(context: StageContext) async { probe.prepare() }
    func process(_ job: Job, context: StageContext) async throws -> Job {
        probe.enter(work: context.folders.work)
        defer { probe.leave() }
        if let t = transientFailures, t.fail() {
            throw TestFailure(reasonCode: "tsa-busy", clerkMessage: "busy", routing: .retry(maxAttempts: 3, delaySeconds: 0.01))
        }
        var job = job
        var data = try Data(contentsOf: job.currentURL)
        if delayMS > 0 { try await Task.sleep(nanoseconds: UInt64(delayMS) * 1_000_000) }
        data.append(Data("\n%SEALED \(job.id)\n".utf8))
        let out = job.workDir.appendingPathComponent("sealed.pdf")
        try data.write(to: out)
        job.currentURL = out
        return job
    }
}

final class TransientCounter: @unchecked Sendable {
    let lock = NSLock(); var remaining: Int
    init(_ n: Int) { remaining = n }
    func fail() -> Bool { lock.lock(); defer { lock.unlock() }; if remaining > 0 { remaining -= 1; return true }; return false }
}

struct CheckStage: Stage {
    static let kind: StageKind = "check"
    static let requires: Set<Fact> = [.signed]
    static let produces: Set<Fact> = [.verified]
    func process(_ job: Job, context: StageContext) async throws -> Job {
        #expect(job.established.contains(.signed))
        return job
    }
}

enum Bench {
    static func registry(delayMS: Int = 0, probe: Probe = Probe(), transient: TransientCounter? = nil) -> StageRegistry {
        var r = StageRegistry()
        r.register(StageDescriptor(ChecksumStage.self) { _, _, _ in ChecksumStage() })
        r.register(StageDescriptor(GateStage.self) { _, _, _ in GateStage() })
        r.register(StageDescriptor(AppendStage.self, serialized: true, settingsKeys: ["delay-ms"]) { s, path, _ in
            var ms = delayMS
            if let v = s["delay-ms"] { ms = try v.decode(Int.self, path: path + ".delay-ms") }
            return AppendStage(delayMS: ms, probe: probe, transientFailures: transient)
        })
        r.register(StageDescriptor(CheckStage.self) { _, _, _ in CheckStage() })
        r.acceptSection("token")
        return r
    }

    static func pipelineJSON(settle: Double = 0, extra: String = "", stages: String? = nil) -> String {
        """
        {
          // a test pipeline
          "name": "test",
          "folders": {"root": "."},
          "watch": {"settle-seconds": \(settle), "rescan-seconds": 1},
          \(extra)
          "stages": \(stages ?? #"[{"kind": "checksum"}, {"kind": "gate"}, {"kind": "append", "concurrency": 2}, {"kind": "check"}]"#)
        }
        """
    }

    static func setUp(files: Int, settle: Double = 0, extra: String = "", registry: StageRegistry = registry(), size: Int = 1500) throws -> (URL, PipelineConfig) {
        let dir = try TestSupport.tempDir("pipeline")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("inbox"), withIntermediateDirectories: true)
        for i in 0..<files {
            var g = SystemRandomNumberGenerator()
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &g) }
            try Data(bytes).write(to: dir.appendingPathComponent("inbox/doc\(String(format: "%04d", i)).pdf"))
        }
        let cfgURL = dir.appendingPathComponent("pipeline.json")
        try Data(pipelineJSON(settle: settle, extra: extra).utf8).write(to: cfgURL)
        let config = try PipelineConfig.load(from: cfgURL, registry: registry)
        return (dir, config)
    }

    static func files(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    static func markers(_ url: URL) -> Int {
        guard let d = try? Data(contentsOf: url) else { return -1 }
        return d.split(separator: UInt8(ascii: "\n")).filter { $0.starts(with: Array("%SEALED".utf8)) }.count
    }
}

import Logging
let quietLogger: Logger = { var l = Logger(label: "test"); l.logLevel = .error; return l }()
