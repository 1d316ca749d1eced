#if canImport(Glibc)
import Glibc
#endif
import Foundation
import CSubprocess
import Logging
import Metrics

/// How `Engine.run` finds documents.
public enum RunMode: Sendable, Equatable {
    /// Drain the inbox (and anything an interrupted run left), then return.
    case once
    /// Watch the inbox until shutdown is requested.
    case watch
}

/// A flag set by SIGTERM/SIGINT (or a test) to stop taking new documents; documents in flight finish.
public final class ShutdownSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var _requested = false
    private var _reason: String?
    /// Creates an unset flag.
    public init() {}
    /// Asks the engine to stop taking new documents.
    public func request(_ reason: String = "shutdown requested") {
        lock.lock(); if !_requested { _requested = true; _reason = reason }; lock.unlock()
    }
    /// True once requested.
    public var isRequested: Bool { lock.lock(); defer { lock.unlock() }; return _requested }
    /// Why.
    public var reason: String? { lock.lock(); defer { lock.unlock() }; return _reason }
}

/// Receives progress updates (the CLI draws a progress bar or log lines).
public protocol ProgressObserver: Sendable {
    /// Total documents known so far (grows in watch mode).
    func expected(total: Int)
    /// A document finished (delivered or quarantined).
    func finished(name: String, delivered: Bool, code: String?)
}

/// The quarantine reason file written as `<name>.reason.json` beside the original.
public struct QuarantineReason: Codable, Sendable, Equatable {
    /// Stable reason code.
    public var code: String
    /// What went wrong, for a clerk.
    public var message: String
    /// Stage that rejected the document.
    public var stage: String
    /// When (ISO 8601, UTC).
    public var time: String
    /// What to do next.
    public var nextStep: String
    /// The file's name as dropped.
    public var document: String
    /// Journal id.
    public var documentID: String
    /// SHA-256 of the original, if known.
    public var sha256: String?
    /// Pipeline name.
    public var pipeline: String
    enum CodingKeys: String, CodingKey {
        case code, message, stage, time, nextStep = "next-step", document, documentID = "document-id", sha256, pipeline
    }
}

/// The document-agnostic engine: claims files from the inbox, runs the stages concurrently with bounded
/// queues between them, delivers to the outbox exactly once, quarantines failures, and journals every
/// transition so a crash at any instant can be resolved on the next start.
public final class Engine: Sendable {
    /// The pipeline.
    public let config: PipelineConfig
    let stages: [BuiltStage]
    /// The journal.
    public let journal: Journal
    let logger: Logger
    let metrics: PipelineMetrics
    let shutdown: ShutdownSignal
    let abort: ShutdownSignal
    /// Set when a stage asked to stop the batch (`.stopBatch`: a token fault, not the document's).
    let batchStop = ShutdownSignal()
    let progress: (any ProgressObserver)?
    let summary: SummaryBox
    let sink: EventSink
    private let barrierBox = BarrierBox()
    /// Flushes the stages' own folders (the registry) after the delivery hooks, before the rename.
    private let recordBarrierBox = BarrierBox()
    /// Documents resumed after a crash of the program itself, and which of them have finished.
    let isolation = IsolationBox()

    /// Creates an engine. `metricsFactory` defaults to the bootstrapped `MetricsSystem.factory`.
    public init(config: PipelineConfig, stages: [BuiltStage], journal: Journal, logger: Logger,
                shutdown: ShutdownSignal = ShutdownSignal(), progress: (any ProgressObserver)? = nil,
                metricsFactory: MetricsFactory? = nil) {
        self.config = config; self.stages = stages; self.journal = journal
        var l = logger; l[metadataKey: "pipeline"] = .string(config.name)
        self.logger = l
        self.metrics = PipelineMetrics(factory: metricsFactory ?? MetricsSystem.factory, pipeline: config.name)
        self.shutdown = shutdown; self.abort = ShutdownSignal(); self.progress = progress
        var s = RunSummary(pipeline: config.name)
        s.stages = stages.map { StageFigures(name: $0.name) }
        self.summary = SummaryBox(s)
        self.sink = EventSink(summary: summary, metrics: metrics)
    }

    // MARK: - run

    /// Runs the pipeline. In `.once` mode returns when the inbox is drained; in `.watch` mode when
    /// shutdown is requested and every claimed document has finished.
    public func run(mode: RunMode) async throws -> RunSummary {
        let started = Date()
        try config.folders.create()
        try journal.recordEvent(docID: nil, kind: "run-start", detail: mode == .once ? "once" : "watch")
        try checkClaimRename()
        logger.info("run started", metadata: ["mode": "\(mode)", "stages": "\(stages.map(\.name).joined(separator: ","))"])
        cleanStaleTemporaries()
        let resumed = try recover()
        summary.update { $0.resumed = resumed.count }
        // from now on a crash of the program itself (a fault signal) leaves a marker that the next start reads
        if sb_install_crash_marker(crashMarker.path) != 0 {
            throw PipelineError(.folder, path: crashMarker.path, "the work folder's path is too long for the crash marker")
        }

        let queues = (0...stages.count).map { i in
            BoundedQueue<Job>(capacity: i < stages.count ? stages[i].queueCapacity : config.engine.queueCapacity)
        }
        let pool = WorkerPool.shared
        await withTaskGroup(of: Void.self) { group in
            // Warm-up alongside the first claims: the first document would otherwise wait for each stage's
            // one-time work in turn (drawing the seal, reading trust anchors, opening the registry).
            for st in stages {
                group.addTask(executorPreference: pool) {
                    await st.stage.prepare(context: StageContext(pipeline: self.config.name, index: st.index, stageName: st.name,
                                                                 logger: self.logger, folders: self.config.folders, journal: self.journal, sink: self.sink))
                }
            }
            group.addTask(executorPreference: pool) { await self.source(mode: mode, resumed: resumed, into: queues[0]) }
            for st in stages {
                let input = queues[st.index], output = queues[st.index + 1]
                group.addTask {
                    await withTaskGroup(of: Void.self) { workers in
                        for _ in 0..<st.concurrency {
                            // The serialized stage (the token) stays on the cooperative pool, whose threads
                            // run at normal nice (the pool's at +5): from a task executor every call into the
                            // token actor became two enqueues (9 ms round trips under load for a 2.4 ms signature).
                            workers.addTask(executorPreference: st.serialized ? nil : pool, priority: st.serialized ? .high : nil) {
                                await self.worker(st, input: input, output: output)
                            }
                        }
                    }
                    await output.close()
                }
            }
            group.addTask {
                await withTaskGroup(of: Void.self) { workers in
                    for _ in 0..<4 { workers.addTask(executorPreference: pool) { await self.deliveryWorker(queues[self.stages.count]) } }
                }
            }
        }
        if let why = batchStop.reason { returnClaimedToInbox(reason: why) }
        let elapsed = Date().timeIntervalSince(started)
        summary.update { $0.seconds = elapsed }
        if let why = abort.reason { summary.update { $0.stoppedBecause = why } }
        let s = summary.value
        try? journal.recordEvent(docID: nil, kind: "run-end", detail: "delivered=\(s.delivered) quarantined=\(s.quarantinedTotal)", seconds: elapsed)
        logger.info("run finished", metadata: ["delivered": "\(s.delivered)", "quarantined": "\(s.quarantinedTotal)", "seconds": "\(String(format: "%.2f", elapsed))"])
        return s
    }

    private var stopping: Bool { shutdown.isRequested || abort.isRequested }

    private func source(mode: RunMode, resumed: [Job], into q: BoundedQueue<Job>) async {
        var total = resumed.count
        progress?.expected(total: total)
        // After a crash of the program itself, the documents then in flight are processed one at a time,
        // before anything else: if it crashes again, the crash is the one document's (`isolated` is journalled
        // first), and the others are not blamed for it.
        // the least suspect first: a document that crashed the program before waits behind the others
        let suspects = resumed.filter { isolation.isSuspect($0.id) }.sorted { isolation.crashes($0.id) < isolation.crashes($1.id) }
        for job in suspects {
            if abort.isRequested { summary.update { $0.leftForNextRun += 1 }; continue }
            do {
                try journal.transition(job.id, to: .claimed, detail: "processed alone after a crash of the program (attempt \(job.attempt))") { $0.isolated = true }
            } catch {
                abort.request("journal failure: \(error)")
                summary.update { $0.leftForNextRun += 1 }
                continue
            }
            logger.notice("processing alone after a crash", metadata: ["file": "\(job.sourceName)", "id": "\(job.id)"])
            await q.send(job)
            while !isolation.hasFinished(job.id) && !abort.isRequested { try? await Task.sleep(nanoseconds: 20_000_000) }
        }
        for job in resumed where !isolation.isSuspect(job.id) {
            if abort.isRequested { summary.update { $0.leftForNextRun += 1 }; continue }
            await q.send(job)
        }
        switch mode {
        case .once:
            let names = listInbox()
            total += names.count
            progress?.expected(total: total)
            let unclaimed = await claimConcurrently(names, settle: true, into: q)
            if unclaimed > 0 { total -= unclaimed; progress?.expected(total: total) }
        case .watch:
            let watcher: HotFolderWatcher
            do { watcher = try HotFolderWatcher(folder: config.folders.inbox, settings: config.watch, logger: logger) }
            catch { logger.error("cannot watch inbox", metadata: ["error": "\(error)"]); abort.request("cannot watch inbox: \(error)"); break }
            defer { watcher.stop() }
            while !stopping {
                let ready = watcher.takeReady()
                if !ready.isEmpty { total += ready.count; progress?.expected(total: total) }
                total -= await claimConcurrently(ready, settle: false, into: q)
                metrics.gauge("sealbatch_inbox_pending", value: Double(watcher.pendingCount))
                if ready.isEmpty { try? await Task.sleep(nanoseconds: 100_000_000) }
            }
        }
        await q.close()
    }

    /// Claims `names` with a few claimers at once (each claim waits on two journal commits and two folder
    /// fsyncs; one claimer at a time was the pipeline's bottleneck), sending each claimed job on. Roughly
    /// oldest first. Returns how many names were not claimed (gone, failed, or stopping).
    private func claimConcurrently(_ names: [String], settle: Bool, into q: BoundedQueue<Job>) async -> Int {
        let next = NextIndex()
        return await withTaskGroup(of: Int.self) { group in
            for _ in 0..<min(Self.claimers, max(1, names.count)) {
                group.addTask(executorPreference: WorkerPool.shared) {
                    var missed = 0
                    while let i = next.take(below: names.count) {
                        if self.stopping { missed += 1; continue }
                        if settle, !(await self.waitUntilSettled(names[i])) { missed += 1; continue }
                        if let job = self.claim(names[i]) { await q.send(job) } else { missed += 1 }
                    }
                    return missed
                }
            }
            return await group.reduce(0, +)
        }
    }

    static let claimers = 4

    /// A shared counter handing out indexes once each.
    final class NextIndex: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func take(below limit: Int) -> Int? {
            lock.lock(); defer { lock.unlock() }
            guard n < limit else { return nil }
            n += 1
            return n - 1
        }
    }

    /// Regular files in the inbox matching the pattern, oldest first.
    func listInbox() -> [String] {
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: config.folders.inbox.path) } catch {
            // an inbox that cannot be read is not an empty inbox: the run stops and says so (exit 1)
            logger.error("cannot read the inbox", metadata: ["folder": "\(config.folders.inbox.path)", "error": "\(error)"])
            abort.request("cannot read the inbox \(config.folders.inbox.path): \(error)")
            return []
        }
        return names.filter { !$0.hasPrefix(".") && FileOps.matches($0, pattern: config.watch.pattern) }
            .compactMap { n -> (String, Double)? in
                guard let info = FileOps.regularFileInfo(config.folders.inbox.appendingPathComponent(n)) else { return nil }
                return (n, info.mtime)
            }
            .sorted { $0.1 == $1.1 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map(\.0)
    }

    /// Waits until the file has not changed for `settle-seconds` and no process has it open for writing.
    /// False (the file stays in the inbox for the next run, with a warning) when a writer still holds it
    /// open after `settle-max-seconds`.
    private func waitUntilSettled(_ name: String) async -> Bool {
        let url = config.folders.inbox.appendingPathComponent(name)
        var openSince: Date?
        while !stopping, let info = FileOps.regularFileInfo(url) {
            let age = Date().timeIntervalSince1970 - info.mtime
            if age < config.watch.settleSeconds {
                try? await Task.sleep(nanoseconds: UInt64(max(0.05, config.watch.settleSeconds - age) * 1e9))
                continue
            }
            guard FileOps.hasOpenWriter(url) == true else { return true } // closed, or cannot tell: the settle time decides
            let since = openSince ?? Date()
            openSince = since
            if Date().timeIntervalSince(since) >= config.watch.settleMaxSeconds {
                summary.update { $0.warnings.append("\(name): still open for writing by another program after \(Int(config.watch.settleMaxSeconds)) s; left in the inbox for the next run") }
                logger.warning("left in the inbox: still open for writing", metadata: ["file": "\(name)"])
                return false
            }
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
        return true
    }

    // MARK: - claim

    static func newID() -> String {
        var g = SystemRandomNumberGenerator()
        return String(format: "%08x%08x", UInt32.random(in: .min ... .max, using: &g), UInt32.random(in: .min ... .max, using: &g))
    }

    func archiveDir(id: String, name: String, claimedAt: Date) -> URL {
        var cal = Calendar(identifier: .gregorian); cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day], from: claimedAt)
        let stem = (name as NSString).deletingPathExtension
        return config.folders.archive.appendingPathComponent(String(format: "%04d/%02d/%02d", c.year!, c.month!, c.day!))
            .appendingPathComponent("\(id)-\(stem)")
    }

    static func originalName(for name: String) -> String {
        let ext = (name as NSString).pathExtension
        return ext.isEmpty ? "original" : "original.\(ext)"
    }

    /// A claim is one rename(2) from the inbox into the work folder: atomic, so a file is in exactly one
    /// place at every instant. Across file systems (or mount points) rename fails with EXDEV and no file
    /// could ever be claimed — a run would find every claim `released` and a daemon would look healthy
    /// forever. This probe renames an empty file once at start and refuses the run (a configuration
    /// error) when it cannot.
    func checkClaimRename() throws {
        let name = ".sealbatch-rename-probe-\(getpid())-\(Self.newID())"
        let src = config.folders.inbox.appendingPathComponent(name), dst = config.folders.work.appendingPathComponent(name)
        let fd = open(src.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PipelineError(.folder, path: config.folders.inbox.path, "cannot create a file in the inbox (\(FileOps.errnoString())): the pipeline needs to move files out of it")
        }
        close(fd)
        if rename(src.path, dst.path) != 0 {
            let e = errno, text = FileOps.errnoString()
            unlink(src.path)
            if e == EXDEV {
                throw PipelineError(.folder, path: "folders", "the inbox (\(config.folders.inbox.path)) and the work folder (\(config.folders.work.path)) are on different file systems (or mount points): a document is claimed by one rename between them. Put both on the same file system, e.g. the work folder next to the inbox")
            }
            throw PipelineError(.folder, path: "folders", "cannot move a file from the inbox (\(config.folders.inbox.path)) into the work folder (\(config.folders.work.path)): \(text)")
        }
        unlink(dst.path)
    }

    /// Claims `name` from the inbox: journal `claiming`, rename into `<work>/<id>/`, fsync, journal `claimed`.
    func claim(_ name: String) -> Job? {
        let src = config.folders.inbox.appendingPathComponent(name)
        guard FileOps.regularFileInfo(src) != nil else { return nil }
        let id = Self.newID()
        let workDir = config.folders.work.appendingPathComponent(id)
        let original = workDir.appendingPathComponent(Self.originalName(for: name))
        let now = Date()
        let record = DocumentRecord(id: id, pipeline: config.name, name: name, sourcePath: src.path, workDir: workDir.path,
                                    state: .claiming, stage: nil, attempts: 1, digest: nil, currentPath: nil, outboxPath: nil,
                                    quarantinePath: nil, reasonCode: nil, reasonJSON: nil, claimedAt: now.timeIntervalSince1970,
                                    updatedAt: now.timeIntervalSince1970)
        do {
            try journal.insert(record)
            try FileManager.default.createDirectory(at: workDir, withIntermediateDirectories: true)
            if rename(src.path, original.path) != 0 {
                let e = errno, err = FileOps.errnoString()
                try? FileManager.default.removeItem(at: workDir)
                try journal.transition(id, to: .released, detail: "claim failed: \(err)")
                // a file taken away between listing and claim is nobody's problem; anything else is said
                if e != ENOENT {
                    logger.error("cannot claim", metadata: ["file": "\(name)", "error": "\(err)"])
                    summary.update { $0.warnings.append("\(name): cannot be moved out of the inbox (\(err)); left there") }
                }
                return nil
            }
            try FileOps.fsync(workDir)
            try FileOps.syncShared(config.folders.inbox)
            // not flushed on its own: recovery completes a `claiming` entry whose original is in the work folder
            try journal.transition(id, to: .claimed, durable: false)
        } catch {
            logger.error("claim failed", metadata: ["file": "\(name)", "error": "\(error)"])
            abort.request("journal or work folder failure: \(error)")
            return nil
        }
        metrics.count("sealbatch_documents_claimed_total")
        logger.debug("claimed", metadata: ["file": "\(name)", "id": "\(id)"])
        return Job(id: id, sourceName: name, originalURL: original, workDir: workDir,
                   archiveDir: archiveDir(id: id, name: name, claimedAt: now), claimedAt: now, attempt: 1)
    }

    // MARK: - stages

    private func worker(_ st: BuiltStage, input: BoundedQueue<Job>, output: BoundedQueue<Job>) async {
        let ctx = StageContext(pipeline: config.name, index: st.index, stageName: st.name, logger: logger,
                               folders: config.folders, journal: journal, sink: sink)
        let kind = type(of: st.stage)
        while let job = await input.receive() {
            metrics.gauge("sealbatch_queue_depth", [("stage", st.name)], value: Double(await input.count))
            if abort.isRequested { summary.update { $0.leftForNextRun += 1 }; continue }
            var tries = 0
            while true {
                tries += 1
                let t0 = DispatchTime.now().uptimeNanoseconds
                do {
                    var out = try await st.stage.process(job, context: ctx)
                    let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    out.established.formUnion(kind.produces)
                    try journal.stageDone(job.id, stage: st.name, seconds: secs, digest: job.digest == nil ? out.digest : nil)
                    record(stage: st.index, seconds: secs, passed: true)
                    if job.digest == nil, let d = out.digest, try journal.delivered(digest: d, excluding: job.id) != nil {
                        let f = EngineFailure(code: "duplicate", message: "A document with the same bytes (SHA-256 \(d.prefix(16))…) was already delivered.",
                                              nextStep: "Nothing to do if this copy was dropped by mistake; otherwise check the outbox and archive.")
                        quarantine(out, failure: f, stage: st.name)
                    } else {
                        await output.send(out)
                    }
                    break
                } catch let f as StageFailure {
                    let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    if case .retry(let maxAttempts, let delay) = f.routing, tries < maxAttempts, !abort.isRequested {
                        summary.update { $0.stages[st.index].retries += 1 }
                        logger.warning("retrying", metadata: ["file": "\(job.sourceName)", "stage": "\(st.name)", "code": "\(f.reasonCode)", "try": "\(tries)"])
                        try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
                        continue
                    }
                    if f.routing == .stopBatch {
                        stopBatch(f, stage: st.name, docID: job.id)
                        break
                    }
                    record(stage: st.index, seconds: secs, passed: false)
                    quarantine(job, failure: f, stage: st.name)
                    break
                } catch let e as PipelineError where e.code == .journal {
                    abort.request("journal failure: \(e)")
                    summary.update { $0.leftForNextRun += 1 }
                    break
                } catch {
                    let secs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                    record(stage: st.index, seconds: secs, passed: false)
                    let f = EngineFailure(code: "stage-error", message: "The \(st.name) stage failed: \(error)",
                                          nextStep: "Report this to the administrator with the document id.")
                    quarantine(job, failure: f, stage: st.name)
                    break
                }
            }
        }
    }

    /// Stops the batch for a failure that is not the document's (`.stopBatch`): no new documents, and at the
    /// end of the run every claimed, unfinished one goes back to the inbox.
    private func stopBatch(_ f: any StageFailure, stage: String, docID: String) {
        logger.critical("batch stopped", metadata: ["stage": "\(stage)", "code": "\(f.reasonCode)", "reason": "\(f.clerkMessage)"])
        try? journal.recordEvent(docID: docID, kind: "batch-stopped", stage: stage, detail: "\(f.reasonCode): \(f.clerkMessage)")
        batchStop.request("\(f.reasonCode): \(f.clerkMessage)")
        summary.update { if $0.stopCode == nil { $0.stopCode = f.reasonCode } }
        abort.request("\(f.reasonCode): \(f.clerkMessage)")
        summary.update { $0.leftForNextRun += 1 }
    }

    private func record(stage i: Int, seconds: Double, passed: Bool) {
        summary.update { s in
            if passed { s.stages[i].passed += 1 } else { s.stages[i].failed += 1 }
            s.stages[i].seconds += seconds
            s.stages[i].maxSeconds = max(s.stages[i].maxSeconds, seconds)
        }
        metrics.time("sealbatch_stage_seconds", [("stage", stages[i].name)], seconds: seconds)
        metrics.count("sealbatch_stage_documents_total", [("stage", stages[i].name), ("result", passed ? "passed" : "failed")])
    }

    // MARK: - delivery

    private func deliveryWorker(_ q: BoundedQueue<Job>) async {
        while let job = await q.receive() {
            if abort.isRequested { summary.update { $0.leftForNextRun += 1 }; continue }
            do {
                try deliver(job)
            } catch {
                logger.error("delivery failed", metadata: ["file": "\(job.sourceName)", "error": "\(error)"])
                abort.request("delivery failed: \(error)")
                summary.update { $0.leftForNextRun += 1 }
            }
        }
    }

    /// Delivers: flush what the stages wrote, journal `delivering` with the outbox name, let the stages record
    /// the delivery (`Stage.delivering`: the `stamp` audit record) and flush that, rename into the outbox,
    /// move the original into the archive folder, journal `done`, remove the work folder.
    func deliver(_ job: Job) throws {
        let current = job.currentURL
        // One barrier makes this document's output and archive entry durable (stages write them without
        // flushing), shared with every document delivering at the same moment.
        try barrierBox.get(config.folders, extra: stageFolders()).sync()
        let dst = FileOps.freeName(job.outputName, in: config.folders.outbox, tag: String(job.id.prefix(8)))
        Self.failpoint("before-delivering")
        try journal.transition(job.id, to: .delivering, detail: dst.lastPathComponent) { r in
            r.currentPath = current.path; r.outboxPath = dst.path
        }
        // The record of the delivery before the delivery: a record that cannot be written stops it.
        if let (stage, error) = runDeliveryHooks(job, recovered: false) {
            let f = (error as? any StageFailure) ?? EngineFailure(code: "delivery-record", message: "\(job.sourceName) was not delivered: the \(stage) stage could not record its delivery: \(error)",
                                                                    nextStep: "Report this to the administrator with the document id.")
            if f.routing == .stopBatch {
                // back to `processing`: the batch stop returns it to the inbox untouched like the other claimed documents
                try journal.transition(job.id, to: .processing, stage: stage, detail: "not delivered: \(f.reasonCode)") { r in
                    r.currentPath = nil; r.outboxPath = nil
                }
                stopBatch(f, stage: stage, docID: job.id)
            } else {
                quarantine(job, failure: f, stage: stage)
            }
            return
        }
        try syncStageRecords()
        Self.failpoint("delivery-recorded")
        if current.path == job.originalURL.path { try FileOps.copyAtomically(current, to: dst) }
        else { try FileOps.move(current, to: dst, syncSource: false) }
        try finishDelivery(id: job.id, name: job.sourceName, workDir: job.workDir, archiveDir: job.archiveDir, outbox: dst)
        // What a clerk should know about a delivered document (an invisible seal where a visible one was configured,
        // an author's field used, a broken earlier signature allowed): in the run's summary and the report.
        if let w = job.notes["warning"], !w.isEmpty {
            summary.update { $0.warnings.append("\(job.sourceName): \(w)") }
            try? journal.recordEvent(docID: job.id, kind: "warning", detail: "\(job.sourceName): \(w)") // the report's list; the receipt holds it durably
        }
    }

    /// `$SEALBATCH_FAILPOINT`, for crash tests only: the process kills itself (SIGKILL, as an external kill
    /// -9 would) the first time it reaches the named point (`before-delivering`: the stages are done and the
    /// journal does not know yet; `delivery-recorded`: the delivery records are flushed, the output is not in
    /// the outbox yet).
    static let failpointName = ProcessInfo.processInfo.environment["SEALBATCH_FAILPOINT"]
    static func failpoint(_ name: String) {
        if failpointName == name { kill(getpid(), SIGKILL) }
    }

    /// The stages' own folders that exist (the registry's): flushed with every delivery.
    private func stageFolders() -> [URL] {
        stages.flatMap { $0.stage.durableFolders }.filter { FileOps.exists($0) }
    }

    /// Makes what the delivery hooks wrote durable before the output becomes visible in the outbox.
    private func syncStageRecords() throws {
        let folders = stageFolders()
        guard !folders.isEmpty else { return }
        try recordBarrierBox.get(folders: folders).sync()
    }

    /// Calls every stage's `delivering` hook in order; the first failure (stage name and error), or nil.
    private func runDeliveryHooks(_ job: Job, recovered: Bool) -> (String, Error)? {
        for st in stages {
            let ctx = StageContext(pipeline: config.name, index: st.index, stageName: st.name, logger: logger,
                                   folders: config.folders, journal: journal, sink: sink)
            do { try st.stage.delivering(job, recovered: recovered, context: ctx) } catch { return (st.name, error) }
        }
        return nil
    }

    private func finishDelivery(id: String, name: String, workDir: URL, archiveDir: URL, outbox: URL) throws {
        let original = workDir.appendingPathComponent(Self.originalName(for: name))
        let archived = archiveDir.appendingPathComponent(Self.originalName(for: name))
        // the archive stage copies the original into the archive (made durable with its receipt)
        if FileOps.exists(original), !FileOps.exists(archived) {
            try FileOps.move(original, to: archived, syncSource: false)
        }
        // not flushed on its own: recovery finishes a `delivering` entry from the outbox or the archive
        try journal.transition(id, to: .done, detail: outbox.lastPathComponent, durable: false)
        try? FileManager.default.removeItem(at: workDir)
        summary.update { $0.delivered += 1 }
        isolation.finished(id)
        metrics.count("sealbatch_documents_total", [("outcome", "delivered")])
        progress?.finished(name: name, delivered: true, code: nil)
        logger.info("delivered", metadata: ["file": "\(name)", "id": "\(id)", "outbox": "\(outbox.lastPathComponent)"])
    }

    // MARK: - quarantine

    /// Quarantines a document: journal `quarantining` with the reason, write `<name>.reason.json`,
    /// move the untouched original next to it, journal `quarantined`, remove the work folder.
    func quarantine(_ job: Job, failure f: any StageFailure, stage: String) {
        let dst = FileOps.freeName(job.sourceName, in: config.folders.quarantine, tag: String(job.id.prefix(8)))
        let reason = QuarantineReason(code: f.reasonCode, message: f.clerkMessage, stage: stage,
                                      time: ISO8601DateFormatter().string(from: Date()), nextStep: f.nextStep,
                                      document: job.sourceName, documentID: job.id, sha256: job.digest, pipeline: config.name)
        do {
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let json = String(decoding: try enc.encode(reason), as: UTF8.self)
            try journal.transition(job.id, to: .quarantining, stage: stage, detail: f.reasonCode) { r in
                r.reasonCode = f.reasonCode; r.reasonJSON = json; r.quarantinePath = dst.path
                if r.digest == nil { r.digest = job.digest }
            }
            for st in stages.reversed() {
                st.stage.quarantined(job, code: f.reasonCode, context: StageContext(pipeline: config.name, index: st.index, stageName: st.name, logger: logger,
                                                                                   folders: config.folders, journal: journal, sink: sink))
            }
            try finishQuarantine(id: job.id, name: job.sourceName, workDir: job.workDir, destination: dst, reasonJSON: json, code: f.reasonCode)
        } catch {
            logger.error("quarantine failed", metadata: ["file": "\(job.sourceName)", "error": "\(error)"])
            abort.request("quarantine failed: \(error)")
        }
    }

    private func finishQuarantine(id: String, name: String, workDir: URL, destination dst: URL, reasonJSON: String, code: String) throws {
        try FileOps.writeAtomically(Data(reasonJSON.utf8), to: dst.deletingLastPathComponent().appendingPathComponent(dst.lastPathComponent + ".reason.json"))
        let original = workDir.appendingPathComponent(Self.originalName(for: name))
        if FileOps.exists(original) { try FileOps.move(original, to: dst) }
        try journal.transition(id, to: .quarantined, detail: code)
        try? FileManager.default.removeItem(at: workDir)
        summary.update { $0.quarantined[code, default: 0] += 1 }
        isolation.finished(id)
        metrics.count("sealbatch_documents_total", [("outcome", "quarantined"), ("reason", code)])
        progress?.finished(name: name, delivered: false, code: code)
        logger.warning("quarantined", metadata: ["file": "\(name)", "id": "\(id)", "code": "\(code)"])
    }

    // MARK: - batch stop

    /// After a batch stop (`.stopBatch`: the token refused, is locked, absent or unusable — nothing wrong
    /// with the documents): every document claimed and not finished goes back to the inbox untouched, the
    /// stages undo what they recorded for it (`Stage.returned`: an approval use), and its journal entry
    /// is `released`. The next run claims them anew, with no attempt counted against them. A document
    /// already `delivering` or `quarantining` is left to recovery. Moving the original first and journalling
    /// after means a crash in between leaves a `claimed` entry whose original is gone from the work
    /// folder: recovery releases it, and the inbox copy is claimed again.
    func returnClaimedToInbox(reason: String) {
        let records: [DocumentRecord]
        do { records = try journal.unfinished() } catch {
            logger.error("cannot read the journal to return claimed documents", metadata: ["error": "\(error)"])
            return
        }
        var returned = 0
        for r in records where r.state == .claimed || r.state == .processing || r.state == .claiming {
            let workDir = URL(fileURLWithPath: r.workDir)
            let original = workDir.appendingPathComponent(Self.originalName(for: r.name))
            guard FileOps.exists(original) else { continue } // not claimed yet (still in the inbox) or gone: recovery's business
            let claimedAt = Date(timeIntervalSince1970: r.claimedAt)
            var job = Job(id: r.id, sourceName: r.name, originalURL: original, workDir: workDir,
                          archiveDir: archiveDir(id: r.id, name: r.name, claimedAt: claimedAt), claimedAt: claimedAt, attempt: r.attempts)
            // the digest lets stages find what this job recorded (an approval use); the original is untouched
            job.digest = r.digest ?? (try? SHA256Stream.hexDigest(ofFile: original))
            for st in stages.reversed() {
                st.stage.returned(job, reason: reason, context: StageContext(pipeline: config.name, index: st.index, stageName: st.name, logger: logger,
                                                                             folders: config.folders, journal: journal, sink: sink))
            }
            let dst = FileOps.freeName(r.name, in: config.folders.inbox, tag: String(r.id.prefix(8)))
            do {
                try FileOps.move(original, to: dst)
                try journal.transition(r.id, to: .released, detail: "returned to the inbox as \(dst.lastPathComponent): \(reason)")
            } catch {
                logger.error("cannot return a claimed document to the inbox", metadata: ["file": "\(r.name)", "id": "\(r.id)", "error": "\(error)"])
                continue
            }
            try? FileManager.default.removeItem(at: workDir) // only partial artefacts of this job are left in it
            returned += 1
            logger.notice("returned to the inbox", metadata: ["file": "\(r.name)", "id": "\(r.id)", "as": "\(dst.lastPathComponent)"])
        }
        let left = (try? journal.unfinished().count) ?? 0
        summary.update { $0.returnedToInbox += returned; $0.leftForNextRun = left }
    }

    // MARK: - recovery

    /// Resolves every unfinished journal entry. Returns the documents whose stages must run again.
    func recover() throws -> [Job] {
        var again: [Job] = []
        // Did the previous run crash by itself (a fault signal wrote the marker), or was it stopped from
        // outside (kill -9, power cut: no marker)? Only the first counts against the documents in flight:
        // the one processed alone (`isolated`) if there was one, else all of them. The marker goes first: a
        // crash before the journal records the blame counts one crash less, never one more.
        let crash = try consumeCrashMarker()
        let records = try journal.unfinished()
        let alone = crash == nil ? nil : records.first(where: { $0.isolated && ($0.state == .claimed || $0.state == .processing) })?.id
        if let crash {
            logger.warning("the previous run crashed", metadata: ["marker": "\(crash)", "blamed": "\(alone ?? "every document in flight")"])
            try journal.recordEvent(docID: alone, kind: "crash", detail: "the previous run crashed (\(crash)); blamed: \(alone ?? "every document in flight")")
        }
        for r in records {
            let workDir = URL(fileURLWithPath: r.workDir)
            let original = workDir.appendingPathComponent(Self.originalName(for: r.name))
            let claimedAt = Date(timeIntervalSince1970: r.claimedAt)
            let archive = archiveDir(id: r.id, name: r.name, claimedAt: claimedAt)
            func restart() throws {
                let crashes = r.crashes + (crash != nil && (alone == nil || alone == r.id) ? 1 : 0)
                if crashes >= config.engine.maxAttempts || r.attempts >= config.engine.interruptionLimit {
                    var job = Job(id: r.id, sourceName: r.name, originalURL: original, workDir: workDir, archiveDir: archive, claimedAt: claimedAt, attempt: r.attempts)
                    // the digest lets stages find what earlier attempts left behind (an approval use); it
                    // may not have been journalled before the crash, and the original is untouched
                    job.digest = r.digest ?? (try? SHA256Stream.hexDigest(ofFile: original))
                    let message = crashes >= config.engine.maxAttempts
                        ? "The program crashed \(crashes) times while processing this document (the last times with no other document in progress)."
                        : "Processing this document was interrupted \(r.attempts) times (the program was stopped while working on it)."
                    quarantine(job, failure: EngineFailure(code: "crash-loop", message: message,
                        nextStep: "Report it to the administrator with the document id; it may trigger a fault."), stage: r.stage ?? "engine")
                    return
                }
                // Discard partial artefacts; the original is the only thing kept.
                if let items = try? FileManager.default.contentsOfDirectory(atPath: workDir.path) {
                    for i in items where i != original.lastPathComponent { try? FileManager.default.removeItem(at: workDir.appendingPathComponent(i)) }
                }
                let why = crashes > r.crashes ? "after a crash of the program (\(crashes) so far)" : "after interruption"
                try journal.transition(r.id, to: .claimed, detail: "resumed \(why) (attempt \(r.attempts + 1))") {
                    $0.attempts += 1; $0.stage = nil; $0.crashes = crashes; $0.isolated = false
                }
                // a document in flight at a crash is processed alone until it gets through once
                if crashes > 0 { isolation.suspect(r.id, crashes: crashes) }
                again.append(Job(id: r.id, sourceName: r.name, originalURL: original, workDir: workDir, archiveDir: archive,
                                 claimedAt: claimedAt, attempt: r.attempts + 1))
            }
            switch r.state {
            case .claiming:
                if FileOps.exists(original) {
                    try FileOps.fsync(workDir)
                    try journal.transition(r.id, to: .claimed, detail: "claim completed during recovery")
                    try restart()
                } else {
                    try? FileManager.default.removeItem(at: workDir)
                    try journal.transition(r.id, to: .released, detail: FileOps.exists(URL(fileURLWithPath: r.sourcePath)) ? "claim never happened" : "file vanished before claim")
                }
            case .claimed, .processing:
                if FileOps.exists(original) { try restart() }
                else {
                    summary.update { $0.warnings.append("\(r.name) (\(r.id)): original missing from the work folder during recovery") }
                    try journal.transition(r.id, to: .released, detail: "original missing during recovery")
                }
            case .delivering:
                let out = r.outboxPath.map { URL(fileURLWithPath: $0) }
                let cur = r.currentPath.map { URL(fileURLWithPath: $0) }
                if let out, FileOps.exists(out) {
                    // the output reaches the outbox only after its delivery records were flushed
                    try finishDelivery(id: r.id, name: r.name, workDir: workDir, archiveDir: archive, outbox: out)
                } else if let out, let cur, FileOps.exists(cur) {
                    // interrupted before the rename: the stages record the delivery unless they already did
                    var job = Job(id: r.id, sourceName: r.name, originalURL: original, workDir: workDir, archiveDir: archive, claimedAt: claimedAt, attempt: r.attempts)
                    job.currentURL = cur
                    job.outputName = out.lastPathComponent
                    job.digest = r.digest
                    if let (stage, error) = runDeliveryHooks(job, recovered: true) {
                        throw PipelineError(.interrupted, path: r.id, "\(r.name) (\(r.id)) was being delivered but the \(stage) stage cannot record its delivery: \(error); it is left for the next start")
                    }
                    try syncStageRecords()
                    if cur.path == original.path { try FileOps.copyAtomically(cur, to: out) } else { try FileOps.move(cur, to: out) }
                    try finishDelivery(id: r.id, name: r.name, workDir: workDir, archiveDir: archive, outbox: out)
                } else if let cur, cur.path != original.path {
                    // The staged output was durable before `delivering` was journalled (the delivery
                    // barrier), and it leaves the work folder only by the rename into the outbox: it was
                    // delivered, and whoever watches the outbox has taken it. Sealing again would deliver twice.
                    try finishDelivery(id: r.id, name: r.name, workDir: workDir, archiveDir: archive, outbox: out ?? cur)
                } else if FileOps.exists(original) {
                    try restart()
                } else if FileOps.exists(archive.appendingPathComponent(Self.originalName(for: r.name))) {
                    // delivered, and the output already taken from the outbox: only `done` was lost
                    try journal.transition(r.id, to: .done, detail: "delivered (output already taken from the outbox)")
                    try? FileManager.default.removeItem(at: workDir)
                } else {
                    summary.update { $0.warnings.append("\(r.name) (\(r.id)): neither output nor original found during recovery") }
                    try journal.transition(r.id, to: .released, detail: "nothing to recover")
                }
            case .quarantining:
                let dst = URL(fileURLWithPath: r.quarantinePath ?? config.folders.quarantine.appendingPathComponent(r.name).path)
                try finishQuarantine(id: r.id, name: r.name, workDir: workDir, destination: dst, reasonJSON: r.reasonJSON ?? "{}", code: r.reasonCode ?? "unknown")
            case .done, .quarantined, .released:
                break
            }
        }
        // Work folders of finished documents (a crash between `done` and the removal).
        if let items = try? FileManager.default.contentsOfDirectory(atPath: config.folders.work.path) {
            for i in items where i.count == 16 && i.allSatisfy(\.isHexDigit) {
                if let r = try journal.document(i), r.state.isFinal {
                    try? FileManager.default.removeItem(at: config.folders.work.appendingPathComponent(i))
                }
            }
        }
        if !again.isEmpty { logger.notice("resuming interrupted documents", metadata: ["count": "\(again.count)"]) }
        return again
    }

    /// Where a crash of the program itself leaves its marker (`sb_install_crash_marker`).
    var crashMarker: URL { config.folders.work.appendingPathComponent(".sealbatch-crashed") }

    /// Reads and removes the crash marker: its text ("signal N") if the previous run crashed by itself. A
    /// marker that cannot be removed would blame the same crash again at every start: the run is refused.
    func consumeCrashMarker() throws -> String? {
        guard let data = FileManager.default.contents(atPath: crashMarker.path) else { return nil }
        if unlink(crashMarker.path) != 0 && errno != ENOENT {
            throw PipelineError(.folder, path: crashMarker.path, "cannot remove the crash marker of the previous run: \(FileOps.errnoString())")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "a fault signal" : text
    }

    /// Removes `.X.partial-PID` files our atomic writes left in the outbox, quarantine and archive roots.
    private func cleanStaleTemporaries() {
        for dir in [config.folders.outbox, config.folders.quarantine] {
            guard let items = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { continue }
            for i in items where i.hasPrefix(".") && i.contains(".partial-") {
                try? FileManager.default.removeItem(at: dir.appendingPathComponent(i))
            }
        }
    }
}

/// The engine's durability barrier, opened on first use (the folders exist by then).
final class BarrierBox: @unchecked Sendable {
    private let lock = NSLock()
    private var barrier: DurabilityBarrier?
    /// The barrier over the pipeline's work, outbox and archive folders and `extra` (the stages' own
    /// folders; one that does not exist yet holds nothing to flush and is left out).
    func get(_ folders: Folders, extra: @autoclosure () -> [URL]) throws -> DurabilityBarrier {
        try get(folders: [folders.work, folders.outbox, folders.archive] + extra().filter { FileOps.exists($0) })
    }
    /// The barrier over `folders` (evaluated once, on first use; a stage's folder that does not exist yet
    /// holds nothing to flush and is left out by the caller).
    func get(folders: @autoclosure () -> [URL]) throws -> DurabilityBarrier {
        try lock.withLock {
            if let barrier { return barrier }
            let b = try DurabilityBarrier(folders: folders())
            barrier = b
            return b
        }
    }
}

/// Which resumed documents are processed alone (they were in flight at a crash of the program), and which
/// documents finished in this run (the source waits for each suspect before sending the next).
final class IsolationBox: @unchecked Sendable {
    private let lock = NSLock()
    private var suspects: [String: Int] = [:]
    private var done: Set<String> = []
    func suspect(_ id: String, crashes: Int) { lock.withLock { suspects[id] = crashes } }
    func isSuspect(_ id: String) -> Bool { lock.withLock { suspects[id] != nil } }
    func crashes(_ id: String) -> Int { lock.withLock { suspects[id] ?? 0 } }
    func finished(_ id: String) { lock.withLock { if suspects[id] != nil { _ = done.insert(id) } } }
    func hasFinished(_ id: String) -> Bool { lock.withLock { done.contains(id) } }
}
