import Foundation
@testable import Pipeline
import TestSupport
import Testing

@Suite struct PrimitivesTests {
    @Test func sha256MatchesKnownVectors() throws {
        var a = SHA256Stream(); a.update(Array("abc".utf8))
        #expect(a.finalize().map { String(format: "%02x", $0) }.joined() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var b = SHA256Stream()
        for _ in 0..<1000 { b.update([UInt8](repeating: 0x61, count: 1000)) }
        #expect(b.finalize().map { String(format: "%02x", $0) }.joined() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let dir = try TestSupport.tempDir()
        let f = dir.appendingPathComponent("x")
        try Data((0..<200_000).map { UInt8($0 % 251) }).write(to: f)
        let r = try TestSupport.run("sha256sum", [f.path])
        #expect(try SHA256Stream.hexDigest(ofFile: f) == String(r.out.prefix(64)))
    }

    @Test func boundedQueueSuspendsSenderWhenFull() async {
        let q = BoundedQueue<Int>(capacity: 3)
        let sent = Counter()
        let producer = Task { for i in 0..<10 { await q.send(i); sent.add() } ; await q.close() }
        try? await Task.sleep(nanoseconds: 100_000_000)
        #expect(sent.value == 3)
        #expect(await q.count == 3)
        var got: [Int] = []
        while let x = await q.receive() { got.append(x) }
        await producer.value
        #expect(got == Array(0..<10))
    }

    @Test func atomicWriteLeavesNoPartialFile() throws {
        let dir = try TestSupport.tempDir()
        let f = dir.appendingPathComponent("a.json")
        try FileOps.writeAtomically(Data("one".utf8), to: f)
        try FileOps.writeAtomically(Data("two".utf8), to: f)
        #expect(try String(contentsOf: f, encoding: .utf8) == "two")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["a.json"])
    }

    @Test func hashingCopyHoldsExactlyTheHashedBytesAndRefusesOthers() throws {
        let dir = try TestSupport.tempDir("fileops")
        let src = dir.appendingPathComponent("in.pdf"), dst = dir.appendingPathComponent("archive/original.pdf")
        let bytes = Data((0..<700_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }) // several read chunks
        try bytes.write(to: src)
        let digest = try SHA256Stream.hexDigest(ofFile: src)
        #expect(try FileOps.copyHashing(src, to: dst, expected: digest) == digest)
        #expect(try Data(contentsOf: dst) == bytes)
        #expect(!FileOps.sameFile(src, dst), "a copy, not a link a writer could still change")
        try Data("changed".utf8).write(to: src)
        let other = dir.appendingPathComponent("archive/other.pdf")
        let e = #expect(throws: PipelineError.self) { try FileOps.copyHashing(src, to: other, expected: digest) }
        #expect(e?.code == .contentChanged)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dst.deletingLastPathComponent().path) == ["original.pdf"], "no copy, no partial file")
    }

    @Test func openWritersAreSeen() throws {
        let dir = try TestSupport.tempDir("lease")
        let f = dir.appendingPathComponent("a.pdf")
        try Data("%PDF-1.7\n".utf8).write(to: f)
        #expect(FileOps.hasOpenWriter(f) == false)
        let reader = try FileHandle(forReadingFrom: f)
        #expect(FileOps.hasOpenWriter(f) == false, "readers do not count")
        let writer = try FileHandle(forWritingTo: f)
        #expect(FileOps.hasOpenWriter(f) == true)
        try writer.close()
        try reader.close()
        #expect(FileOps.hasOpenWriter(f) == false)
        // another process holding it open for appending
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "exec 3>>\"$0\"; exec sleep 5", f.path]
        try p.run()
        // SIGKILL: the test runner may pass SIGTERM on as ignored
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL); p.waitUntilExit() } }
        let deadline = Date().addingTimeInterval(5)
        while FileOps.hasOpenWriter(f) != true, Date() < deadline { usleep(20_000) }
        #expect(FileOps.hasOpenWriter(f) == true)
        kill(p.processIdentifier, SIGKILL); p.waitUntilExit()
        #expect(FileOps.hasOpenWriter(f) == false)
    }

    @Test func freeNameAvoidsCollisions() throws {
        let dir = try TestSupport.tempDir()
        #expect(FileOps.freeName("a.pdf", in: dir, tag: "t").lastPathComponent == "a.pdf")
        try Data().write(to: dir.appendingPathComponent("a.pdf"))
        #expect(FileOps.freeName("a.pdf", in: dir, tag: "t").lastPathComponent == "a.t.pdf")
        try Data().write(to: dir.appendingPathComponent("a.t.pdf"))
        #expect(FileOps.freeName("a.pdf", in: dir, tag: "t").lastPathComponent == "a.t-2.pdf")
    }

    @Test func patternMatchIsCaseInsensitive() {
        #expect(FileOps.matches("A.PDF", pattern: "*.pdf"))
        #expect(!FileOps.matches("a.docx", pattern: "*.pdf"))
    }

    @Test func prometheusTextHasCountersAndHistograms() {
        let reg = PrometheusRegistry()
        let m = PipelineMetrics(factory: reg, pipeline: "p")
        m.count("sealbatch_documents_total", [("outcome", "delivered")], by: 3)
        m.time("sealbatch_stage_seconds", [("stage", "sign")], seconds: 0.02)
        let text = reg.render()
        #expect(text.contains(#"sealbatch_documents_total{pipeline="p",outcome="delivered"} 3"#))
        #expect(text.contains("# TYPE sealbatch_stage_seconds histogram"))
        #expect(text.contains(#"sealbatch_stage_seconds_bucket{pipeline="p",stage="sign",le="0.025"} 1"#))
        #expect(text.contains(#"sealbatch_stage_seconds_count{pipeline="p",stage="sign"} 1"#))
    }

    @Test func metricsServerAnswersOnLoopback() throws {
        let reg = PrometheusRegistry()
        PipelineMetrics(factory: reg, pipeline: "p").count("sealbatch_up")
        let server = try MetricsServer(port: 0, registry: reg)
        defer { server.stop() }
        #expect(server.port > 0)
        let r = try TestSupport.run("curl", ["-s", "http://127.0.0.1:\(server.port)/metrics"])
        #expect(r.out.contains(#"sealbatch_up{pipeline="p"} 1"#))
    }

    @Test func summaryExitCodes() {
        var s = RunSummary(pipeline: "p")
        s.delivered = 3
        #expect(s.exitCode == 0)
        s.warnings = ["w"]
        #expect(s.exitCode == 3)
        s.quarantined["damaged"] = 1
        #expect(s.exitCode == 1)
        #expect(s.table().contains("damaged: 1"))
    }
}

final class Counter: @unchecked Sendable {
    let lock = NSLock(); var v = 0
    func add() { lock.lock(); v += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return v }
}
