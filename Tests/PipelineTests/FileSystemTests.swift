import Foundation
@testable import Pipeline
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A claim is one rename from the inbox into the work folder: the two must share a file system.
@Suite(.serialized) struct FileSystemTests {
    /// Mounts a tmpfs on `dir` (root only). Nil when this machine cannot (not root, no mount).
    static func mountTmpfs(_ dir: URL) throws -> Bool {
        guard getuid() == 0, try TestSupport.haveTool("mount") else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("the tmpfs test needs root and mount(8) in CI") }
            return false
        }
        let r = try TestSupport.run("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", dir.path])
        if r.status != 0 {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("mount -t tmpfs failed: \(r.err)") }
            return false
        }
        return true
    }

    @Test func anInboxOnAnotherFileSystemThanTheWorkFolderRefusesTheRunAtStart() async throws {
        let dir = try TestSupport.tempDir("xdev")
        let inbox = dir.appendingPathComponent("inbox")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        guard try Self.mountTmpfs(inbox) else { return }
        defer { _ = try? TestSupport.run("umount", [inbox.path]) }
        var sa = stat(), sb = stat()
        #expect(stat(inbox.path, &sa) == 0 && stat(dir.path, &sb) == 0 && sa.st_dev != sb.st_dev, "the inbox is not on its own file system")
        for i in 0..<3 { try Data("document \(i)\n".utf8).write(to: inbox.appendingPathComponent("doc\(i).pdf")) }
        let cfg = dir.appendingPathComponent("pipeline.json")
        try Data(Bench.pipelineJSON().utf8).write(to: cfg)
        let config = try PipelineConfig.load(from: cfg, registry: Bench.registry())
        let engine = Engine(config: config, stages: try config.makeStages(registry: Bench.registry()), journal: try Journal(url: config.journal),
                            logger: quietLogger, metricsFactory: PrometheusRegistry())
        // refused at start with a clear configuration error, before anything is claimed
        do {
            _ = try await engine.run(mode: .once)
            Issue.record("the run started although the inbox and work folder are on different file systems")
        } catch let e as PipelineError {
            #expect(e.code == .folder)
            #expect(e.message.contains("different file systems"), "\(e)")
            #expect(e.message.contains(inbox.path))
        }
        #expect(Bench.files(inbox) == ["doc0.pdf", "doc1.pdf", "doc2.pdf"])
        #expect((try FileManager.default.contentsOfDirectory(atPath: inbox.path)).allSatisfy { !$0.contains("rename-probe") })
        #expect(try Journal(url: config.journal).allDocuments().isEmpty)
        // the command line says so and exits 2 (a pipeline with only the ingest stage needs no token)
        let bin = TestSupport.sealbatchBinary
        if FileManager.default.isExecutableFile(atPath: bin.path) {
            let cli = dir.appendingPathComponent("cli.json")
            try Data(#"{"name": "xdev", "folders": {"root": "."}, "watch": {"settle-seconds": 0}, "stages": [{"kind": "ingest"}]}"#.utf8).write(to: cli)
            let r = try TestSupport.run(bin.path, ["run", cli.path, "--once", "--no-progress"], timeout: 60)
            #expect(r.status == 2, "\(r.err)")
            #expect(r.err.contains("different file systems"), "\(r.err)")
            #expect(Bench.files(inbox) == ["doc0.pdf", "doc1.pdf", "doc2.pdf"])
        }
    }

    @Test func inboxAndWorkOnOneFileSystemPass() async throws {
        let (_, config) = try Bench.setUp(files: 2)
        let engine = Engine(config: config, stages: try config.makeStages(registry: Bench.registry()), journal: try Journal(url: config.journal),
                            logger: quietLogger, metricsFactory: PrometheusRegistry())
        let s = try await engine.run(mode: .once)
        #expect(s.delivered == 2)
        #expect(s.warnings.isEmpty)
    }
}
