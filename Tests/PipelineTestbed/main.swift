// pipeline-testbed: runs the engine with simple byte-level stages, so PipelineTests can kill -9 a real
// process at random moments. Usage: pipeline-testbed PIPELINE.json [--once]
import Foundation
import Logging
import Pipeline
import PipelineTestStages

/// A one-at-a-time "token" with a fixed delay per operation.
actor FakeToken {
    let delay: UInt64
    var operations = 0
    init(delayMS: Int) { delay = UInt64(delayMS) * 1_000_000 }
    func sign() async -> Int {
        operations += 1
        if delay > 0 { try? await Task.sleep(nanoseconds: delay) }
        return operations
    }
}

/// Copies the current file and appends one marker line (the "seal").
struct AppendStage: Stage {
    static let kind: StageKind = "append"
    static let requires: Set<Fact> = [.approved]
    static let produces: Set<Fact> = [.signed]
    let token: FakeToken
    func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        var data = try Data(contentsOf: job.currentURL)
        let t0 = Date()
        _ = await token.sign()
        context.recordDuration("token.sign", seconds: Date().timeIntervalSince(t0))
        data.append(Data("\n%SEALED \(job.id)\n".utf8))
        let out = job.workDir.appendingPathComponent("sealed.pdf")
        try data.write(to: out)
        job.currentURL = out
        return job
    }
}

/// Checks there is exactly one marker.
struct CheckStage: Stage {
    static let kind: StageKind = "check"
    static let requires: Set<Fact> = [.signed]
    static let produces: Set<Fact> = [.verified]
    func process(_ job: Job, context: StageContext) async throws -> Job {
        let data = try Data(contentsOf: job.currentURL)
        let n = data.split(separator: UInt8(ascii: "\n")).filter { $0.starts(with: Array("%SEALED".utf8)) }.count
        if n != 1 { throw TestFailure(reasonCode: "verify-failed", clerkMessage: "Expected one seal, found \(n).") }
        return job
    }
}

/// Crashes the program (a Swift runtime trap, as a bug in a parser would) on documents named `poison…`.
struct CrashStage: Stage {
    static let kind: StageKind = "crash"
    static let requires: Set<Fact> = [.approved]
    static let produces: Set<Fact> = []
    func process(_ job: Job, context: StageContext) async throws -> Job {
        if job.sourceName.hasPrefix("poison") { fatalError("a document that crashes the program: \(job.sourceName)") }
        return job
    }
}

func registry() -> StageRegistry {
    var r = StageRegistry()
    r.register(StageDescriptor(ChecksumStage.self) { _, _, _ in ChecksumStage() })
    r.register(StageDescriptor(GateStage.self) { _, _, _ in GateStage() })
    r.register(StageDescriptor(AppendStage.self, serialized: true, settingsKeys: ["delay-ms"]) { s, path, env in
        var ms = 0
        if let v = s["delay-ms"] { ms = try v.decode(Int.self, path: path + ".delay-ms") }
        return AppendStage(token: env.shared.get("token") { FakeToken(delayMS: ms) })
    })
    r.register(StageDescriptor(CheckStage.self) { _, _, _ in CheckStage() })
    r.register(StageDescriptor(CrashStage.self) { _, _, _ in CrashStage() })
    return r
}

let args = CommandLine.arguments
guard args.count >= 2 else { FileHandle.standardError.write(Data("usage: pipeline-testbed PIPELINE [--once]\n".utf8)); exit(2) }
LoggingSystem.bootstrap { label in var h = StreamLogHandler.standardError(label: label); h.logLevel = .warning; return h }
do {
    let reg = registry()
    let config = try PipelineConfig.load(from: URL(fileURLWithPath: args[1]), registry: reg)
    let stages = try config.makeStages(registry: reg)
    let journal = try Journal(url: config.journal)
    let shutdown = ShutdownSignal()
    SignalHandling.install(shutdown)
    let engine = Engine(config: config, stages: stages, journal: journal, logger: Logger(label: "testbed"), shutdown: shutdown)
    let summary = try await engine.run(mode: args.contains("--once") ? .once : .watch)
    print(summary.table())
    exit(summary.exitCode)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(2)
}
