import Foundation
@testable import Pipeline
import TestSupport
import Testing

/// The pieces this session added under the engine: child processes with deadlines, the journal's
/// group commit, and the worker pool.
@Suite struct ConcurrencyPrimitivesTests {
    @Test func subprocessDeadlineKillsAHungChildAndWhatItStarted() throws {
        let start = Date()
        let r = try Subprocess.run("/bin/sh", ["-c", "sleep 30 & sleep 30"], timeout: 1)
        #expect(r.timedOut)
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func subprocessReturnsWhenADaemonItStartedKeepsThePipesOpen() throws {
        let start = Date()
        // The grandchild inherits stdout and outlives the child: the Foundation Process hang in CI.
        let r = try Subprocess.run("/bin/sh", ["-c", "sleep 20 & echo $!"], timeout: 60)
        #expect(!r.timedOut)
        #expect(r.status == 0)
        let out = String(decoding: r.stdout, as: UTF8.self)
        let grandchild = try #require(Int32(out.trimmingCharacters(in: .newlines)), "the child prints the pid of the sleep it started: \(out)")
        #expect(Date().timeIntervalSince(start) < 10)
        // End the grandchild we started, by its pid.
        #expect(kill(grandchild, SIGKILL) == 0)
    }

    @Test func subprocessFeedsStdinAndReportsSignals() throws {
        let big = [UInt8](repeating: 0x61, count: 1 << 20) // larger than a pipe buffer both ways
        let r = try Subprocess.run("/bin/cat", [], input: big, timeout: 60)
        #expect(r.status == 0 && r.stdout == big)
        let killed = try Subprocess.run("/bin/sh", ["-c", "kill -9 $$"], timeout: 60)
        #expect(killed.status == 128 + 9)
        let failed = try Subprocess.run("/bin/sh", ["-c", "echo oops >&2; exit 3"], timeout: 60)
        #expect(failed.status == 3 && String(decoding: failed.stderr, as: UTF8.self) == "oops\n")
        #expect(throws: Subprocess.Failure.self) { try Subprocess.run("/nonexistent/tool", [], timeout: 5) }
    }

    @Test func journalGroupCommitKeepsEveryConcurrentWriteAndIsolatesFailures() throws {
        let dir = try TestSupport.tempDir("group-commit")
        let journal = try Journal(url: dir.appendingPathComponent("journal.sqlite"))
        let writers = 16, perWriter = 40
        let failures = ErrorCount()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            for i in 0..<perWriter {
                let id = "doc-\(w)-\(i)"
                let now = Date().timeIntervalSince1970
                let rec = DocumentRecord(id: id, pipeline: "p", name: "\(id).pdf", sourcePath: "/in/\(id).pdf", workDir: "/work/\(id)",
                                         state: .claiming, stage: nil, attempts: 1, digest: nil, currentPath: nil, outboxPath: nil,
                                         quarantinePath: nil, reasonCode: nil, reasonJSON: nil, claimedAt: now, updatedAt: now)
                do {
                    try journal.insert(rec)
                    try journal.transition(id, to: .claimed)
                    try journal.stageDone(id, stage: "s", seconds: 0.001, digest: "d\(w)-\(i)")
                    try journal.transition(id, to: .done)
                    // A failing writer in the same batches must not undo the others.
                    try journal.transition("missing-\(w)-\(i)", to: .done)
                } catch {
                    failures.add()
                }
            }
        }
        #expect(failures.value == writers * perWriter) // exactly the writes to missing documents failed
        let docs = try journal.allDocuments()
        #expect(docs.count == writers * perWriter)
        #expect(docs.allSatisfy { $0.state == .done && $0.stage == "s" && $0.digest != nil })
        let events = try journal.events(since: Date(timeIntervalSince1970: 0))
        #expect(events.count == writers * perWriter * 4)
        // Reopened from disk: everything is there.
        let again = try Journal(url: dir.appendingPathComponent("journal.sqlite"))
        #expect(try again.allDocuments().count == writers * perWriter)
    }

    @Test func deferredStageProgressIsCommittedByTheTimerOrBeforeTheNextTransition() throws {
        let dir = try TestSupport.tempDir("group-commit")
        let url = dir.appendingPathComponent("journal.sqlite")
        let journal = try Journal(url: url)
        let now = Date().timeIntervalSince1970
        for id in ["a", "b"] {
            try journal.insert(DocumentRecord(id: id, pipeline: "p", name: "\(id).pdf", sourcePath: "/in/\(id).pdf", workDir: "/work/\(id)",
                                              state: .claiming, stage: nil, attempts: 1, digest: nil, currentPath: nil, outboxPath: nil,
                                              quarantinePath: nil, reasonCode: nil, reasonJSON: nil, claimedAt: now, updatedAt: now))
        }
        // returns at once; nothing committed yet, so another connection does not see it
        try journal.stageDone("a", stage: "ingest", seconds: 0.01, digest: "d-a")
        #expect(try Journal(url: url, readOnly: true).events(of: "a").map(\.kind) == ["claiming"])
        // a later transition of another document carries it, in order
        try journal.stageDone("b", stage: "ingest", seconds: 0.01, digest: "d-b")
        try journal.transition("b", to: .delivering)
        let reader = try Journal(url: url, readOnly: true)
        #expect(try reader.events(of: "b").map(\.kind) == ["claiming", "stage", "delivering"])
        #expect(try reader.document("a")?.digest == "d-a")
        // alone, the timer commits it within its delay
        try journal.stageDone("a", stage: "render", seconds: 0.01, digest: nil)
        let deadline = Date().addingTimeInterval(5)
        while try reader.document("a")?.stage != "render", Date() < deadline { usleep(20_000) }
        #expect(try reader.document("a")?.stage == "render")
        #expect(try reader.events(of: "a").map(\.kind) == ["claiming", "stage", "stage"])
    }

    @Test func coalescedFlushCoversEveryCallerWithAFlushBegunAfterItArrived() throws {
        let started = ErrorCount(), completed = ErrorCount(), late = ErrorCount(), calls = 8 * 40
        let flush = CoalescedFlush {
            started.add()
            usleep(2_000)
            completed.add()
        }
        // eight real threads (concurrentPerform would use one per core: on 2 cores, at most one caller
        // waits at a time and there is nothing to share)
        let done = DispatchGroup()
        for _ in 0..<8 {
            done.enter()
            Thread {
                for _ in 0..<40 {
                    let before = started.value // flushes begun before this caller arrived
                    try? flush.run()
                    // a flush numbered above `before` began after arrival and has completed
                    if completed.value <= before { late.add() }
                }
                done.leave()
            }.start()
        }
        done.wait()
        #expect(late.value == 0)
        #expect(started.value < calls, "every caller ran its own flush: nothing was shared")
        #expect(started.value == completed.value)
        // a failing flush is reported to the callers it covered, and the next one runs again
        let failing = CoalescedFlush { throw PipelineError(.io, path: "/x", "disk gone") }
        #expect(throws: PipelineError.self) { try failing.run() }
        #expect(throws: PipelineError.self) { try failing.run() }
        // the barrier opens each file system once and syncs; a missing folder is a clear error
        let dir = try TestSupport.tempDir("barrier")
        let a = dir.appendingPathComponent("a"), b = dir.appendingPathComponent("b")
        try FileManager.default.createDirectory(at: a, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: b, withIntermediateDirectories: true)
        let one = try DurabilityBarrier(folders: [a, b])
        try one.sync()
        #expect(one.fileSystems == 1)
        #expect(throws: PipelineError.self) { try DurabilityBarrier(folders: [dir.appendingPathComponent("missing")]) }
        // the engine's barrier also flushes the file systems of the stages' own folders (the registry),
        // when they exist: here a tmpfs beside the pipeline's disk
        let shm = URL(fileURLWithPath: "/dev/shm/sealbatch-barrier-\(getpid())")
        try FileManager.default.createDirectory(at: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: shm) }
        var sa = stat(), sb = stat()
        #expect(stat(shm.path, &sa) == 0 && stat(dir.path, &sb) == 0 && sa.st_dev != sb.st_dev, "/dev/shm is another file system")
        let folders = Folders(root: dir.appendingPathComponent("pipeline"))
        try folders.create()
        let engineBarrier = try BarrierBox().get(folders, extra: [shm, dir.appendingPathComponent("not-yet")])
        try engineBarrier.sync()
        #expect(engineBarrier.fileSystems == 2)
    }

    @Test func workerPoolRunsBlockingTasksSideBySideAtLowerPriority() async {
        let pool = WorkerPool(threads: 4)
        // Four tasks that each block their thread for 300 ms run side by side, not one after another:
        // every one starts before any one ends (a check of overlap, not of timing, so a loaded machine
        // cannot fail it).
        let runs = await withTaskGroup(of: (start: Date, end: Date, nice: Int32).self) { g -> [(start: Date, end: Date, nice: Int32)] in
            for _ in 0..<4 {
                g.addTask(executorPreference: pool) {
                    let start = Date()
                    usleep(300_000)
                    errno = 0
                    let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
                    return (start, Date(), nice)
                }
            }
            var out: [(start: Date, end: Date, nice: Int32)] = []
            for await r in g { out.append(r) }
            return out
        }
        #expect(runs.count == 4)
        #expect(runs.map(\.start).max()! < runs.map(\.end).min()!, "the four blocking tasks overlapped")
        #expect(runs.map(\.nice) == [Int32](repeating: WorkerPool.niceness, count: 4))
    }
}

final class ErrorCount: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
