import Foundation
import GRDB

/// A document's state in the journal. Transitions (→ means "then"):
/// `claiming → claimed → processing… → delivering → done`, or `… → quarantining → quarantined`.
/// `released` means a claim never happened (the file stayed in the inbox).
public enum DocumentState: String, Sendable, Codable, CaseIterable {
    case claiming, claimed, processing, delivering, done, quarantining, quarantined, released
    /// True when nothing more will happen to the document.
    public var isFinal: Bool { self == .done || self == .quarantined || self == .released }
}

/// One row of the journal's `documents` table.
public struct DocumentRecord: Sendable, Codable, FetchableRecord, Equatable {
    public static let databaseTableName = "documents"
    /// Document id.
    public var id: String
    /// Pipeline name.
    public var pipeline: String
    /// Name in the inbox.
    public var name: String
    /// Where the file was found.
    public var sourcePath: String
    /// `<work>/<id>`.
    public var workDir: String
    /// Current state.
    public var state: DocumentState
    /// Last stage that completed (or failed, for quarantine).
    public var stage: String?
    /// Runs started for this document (1 + restarts).
    public var attempts: Int
    /// SHA-256 of the original, once known.
    public var digest: String?
    /// The staged output while delivering.
    public var currentPath: String?
    /// Final place in the outbox.
    public var outboxPath: String?
    /// Final place in quarantine.
    public var quarantinePath: String?
    /// Quarantine reason code.
    public var reasonCode: String?
    /// Quarantine reason document (JSON).
    public var reasonJSON: String?
    /// Claim time (seconds since 1970).
    public var claimedAt: Double
    /// Last change (seconds since 1970).
    public var updatedAt: Double
    /// Crashes of the program itself (not external kills or power cuts: those leave no crash marker) while
    /// this document was being processed — all documents in flight at the first crash, then only the
    /// document processed alone (`isolated`). `engine.max-attempts` of them quarantine it (`crash-loop`).
    public var crashes: Int = 0
    /// Set (durably) while the document is processed alone after a crash: if the program crashes now, the
    /// crash is this document's.
    public var isolated: Bool = false

    enum CodingKeys: String, CodingKey {
        case id, pipeline, name, sourcePath = "source_path", workDir = "work_dir", state, stage, attempts, digest
        case currentPath = "current_path", outboxPath = "outbox_path", quarantinePath = "quarantine_path"
        case reasonCode = "reason_code", reasonJSON = "reason_json", claimedAt = "claimed_at", updatedAt = "updated_at"
        case crashes, isolated
    }
}

extension DocumentRecord {
    /// The column list every query selects, in the order `init(row:)` reads them.
    static let columns = "id, pipeline, name, source_path, work_dir, state, stage, attempts, digest, current_path, outbox_path, quarantine_path, reason_code, reason_json, claimed_at, updated_at, crashes, isolated"

    /// Reads a row selected with `columns` (by position: no name lookups on the hot path).
    public init(row: Row) throws {
        guard let state = DocumentState(rawValue: row[5]) else {
            throw PipelineError(.journal, path: row[0], "unknown document state '\(row[5] as String)' in the journal")
        }
        self.init(id: row[0], pipeline: row[1], name: row[2], sourcePath: row[3], workDir: row[4], state: state, stage: row[6],
                  attempts: row[7], digest: row[8], currentPath: row[9], outboxPath: row[10], quarantinePath: row[11],
                  reasonCode: row[12], reasonJSON: row[13], claimedAt: row[14], updatedAt: row[15])
        crashes = row[16]
        isolated = row[17]
    }

    private var arguments: StatementArguments {
        [id, pipeline, name, sourcePath, workDir, state.rawValue, stage, attempts, digest, currentPath, outboxPath,
         quarantinePath, reasonCode, reasonJSON, claimedAt, updatedAt, crashes, isolated]
    }

    static func fetch(_ db: Database, id: String) throws -> DocumentRecord? {
        try fetchOne(try db.cachedStatement(sql: "SELECT \(columns) FROM documents WHERE id = ?"), arguments: [id])
    }

    static func insert(_ db: Database, _ r: DocumentRecord) throws {
        try db.cachedStatement(sql: "INSERT INTO documents (\(columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: r.arguments)
    }

    static func update(_ db: Database, _ r: DocumentRecord) throws {
        try db.cachedStatement(sql: """
            UPDATE documents SET id = ?, pipeline = ?, name = ?, source_path = ?, work_dir = ?, state = ?, stage = ?, attempts = ?,
              digest = ?, current_path = ?, outbox_path = ?, quarantine_path = ?, reason_code = ?, reason_json = ?, claimed_at = ?,
              updated_at = ?, crashes = ?, isolated = ? WHERE id = ?
            """).execute(arguments: r.arguments + [r.id])
    }
}

/// One row of the journal's `events` table: every transition, stage timing and token event.
public struct JournalEvent: Sendable, Codable, FetchableRecord, Equatable {
    /// Sequence number.
    public var seq: Int64
    /// Seconds since 1970.
    public var time: Double
    /// Document, if the event concerns one.
    public var docID: String?
    /// `claimed`, `stage`, `delivering`, `done`, `quarantined`, `token`, `run-start`, …
    public var kind: String
    /// Stage name, when relevant.
    public var stage: String?
    /// Free text (never secrets or document content).
    public var detail: String?
    /// Duration, for stage events.
    public var seconds: Double?
    enum CodingKeys: String, CodingKey { case seq, time, docID = "doc_id", kind, stage, detail, seconds }
}

/// The SQLite journal (GRDB, WAL, synchronous=FULL): the source of truth for exactly-once delivery.
public final class Journal: Sendable {
    let db: DatabaseQueue
    /// Group commit: writers that arrive while a commit is in flight are committed together in the next
    /// transaction. A durable write returns only once the transaction holding it is flushed
    /// (`synchronous = FULL`); a batch of only non-durable writes commits with `synchronous = NORMAL`
    /// (in the WAL, so it survives the process being killed, but not a power cut until the next flush).
    /// Stage progress is deferred: it rides in the next commit (or a timer's, within `deferLimit`).
    private let commits: GroupCommit
    /// The journal file.
    public let url: URL

    /// Opens (creating if needed) the journal at `url`.
    public init(url: URL, readOnly: Bool = false) throws {
        self.url = url
        var config = Configuration()
        config.readonly = readOnly
        config.busyMode = .timeout(10)
        config.label = "sealbatch.journal"
        if !readOnly {
            config.prepareDatabase { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
        }
        do {
            if !readOnly { try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true) }
            db = try DatabaseQueue(path: url.path, configuration: config)
            if !readOnly { try Self.migrator.migrate(db) }
        } catch {
            throw PipelineError(.journal, path: url.path, "cannot open journal: \(error)")
        }
        commits = GroupCommit { [db] batch in
            let durable = batch.contains { $0.durable }
            try db.writeWithoutTransaction { db in
                if !durable { try db.cachedStatement(sql: "PRAGMA synchronous = NORMAL").execute() }
                defer { if !durable { try? db.cachedStatement(sql: "PRAGMA synchronous = FULL").execute() } }
                // Optimistic: the whole batch in one transaction without savepoints (an item fails only on a
                // programming error or a broken disk). If one fails, the batch is redone with a savepoint per
                // item, so one writer's error does not undo the others.
                var failed = false
                do {
                    try db.inTransaction {
                        for item in batch { try item.run(db) }
                        return .commit
                    }
                } catch {
                    failed = true
                }
                guard failed else { return }
                try db.inTransaction {
                    for item in batch {
                        do { try db.inSavepoint { try item.run(db); return .commit } } catch { item.error = error }
                    }
                    return .commit
                }
            }
        }
        commits.deferredFailure = { [url] error in
            FileHandle.standardError.write(Data("sealbatch: journal \(url.path): deferred stage progress not recorded: \(error)\n".utf8))
        }
    }

    deinit { commits.flush() }

    /// Commits deferred stage progress now (at the end of a run; also done by a timer and by every commit).
    public func flush() {
        commits.flush()
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE documents (
                  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, name TEXT NOT NULL, source_path TEXT NOT NULL,
                  work_dir TEXT NOT NULL, state TEXT NOT NULL, stage TEXT, attempts INTEGER NOT NULL DEFAULT 1,
                  digest TEXT, current_path TEXT, outbox_path TEXT, quarantine_path TEXT, reason_code TEXT,
                  reason_json TEXT, claimed_at REAL NOT NULL, updated_at REAL NOT NULL);
                CREATE INDEX documents_state ON documents(state);
                CREATE INDEX documents_digest ON documents(digest);
                CREATE TABLE events (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, doc_id TEXT, kind TEXT NOT NULL,
                  stage TEXT, detail TEXT, seconds REAL);
                CREATE INDEX events_time ON events(time);
                """)
        }
        // crash attribution: crashes of the program itself, and the document processed alone after one
        m.registerMigration("v2-crashes") { db in
            try db.execute(sql: """
                ALTER TABLE documents ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE documents ADD COLUMN isolated INTEGER NOT NULL DEFAULT 0;
                """)
        }
        return m
    }

    /// Reads outside a transaction on the journal's queue. Not `DatabaseQueue.read`: it toggles `PRAGMA
    /// query_only`, which expires every prepared statement of the connection, so each document's
    /// duplicate check made the next journal writes compile their statements again.
    private func read<T>(_ body: (Database) throws -> T) throws -> T {
        try db.inDatabase(body)
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PipelineError { throw e }
        catch { throw PipelineError(.journal, path: url.path, "journal write failed: \(error)") }
    }

    /// Inserts a new document in state `claiming`.
    public func insert(_ record: DocumentRecord) throws {
        try wrap { try commits.submit { db in
            try DocumentRecord.insert(db, record)
            try Self.event(db, doc: record.id, kind: record.state.rawValue, stage: nil, detail: record.name, seconds: nil)
        } }
    }

    /// Changes a document's row and records the transition as an event, in one transaction. `durable:
    /// false` is for transitions recovery can redo from the files alone (`claimed`: the original is in the
    /// work folder; `done`: the output is in the outbox and the original in the archive).
    public func transition(_ id: String, to state: DocumentState, stage: String? = nil, detail: String? = nil,
                           seconds: Double? = nil, durable: Bool = true, update: @Sendable (inout DocumentRecord) -> Void = { _ in }) throws {
        try wrap { try commits.submit(durable: durable) { db in
            guard var r = try DocumentRecord.fetch(db, id: id) else {
                throw PipelineError(.journal, path: id, "document \(id) is not in the journal")
            }
            r.state = state
            if let stage { r.stage = stage }
            r.updatedAt = Date().timeIntervalSince1970
            update(&r)
            try DocumentRecord.update(db, r)
            try Self.event(db, doc: id, kind: state.rawValue, stage: stage, detail: detail, seconds: seconds)
        } }
    }

    /// Records a stage completion (state `processing`) with its duration. Deferred: it returns at once
    /// and rides in the next commit. Recovery never relies on stage progress (an interrupted document
    /// restarts its stages), and a later transition of the same document commits after it.
    public func stageDone(_ id: String, stage: String, seconds: Double, digest: String?) throws {
        let now = Date().timeIntervalSince1970
        commits.enqueue { db in
            try db.cachedStatement(sql: "UPDATE documents SET state = 'processing', stage = ?, digest = COALESCE(?, digest), updated_at = ? WHERE id = ?")
                .execute(arguments: [stage, digest, now, id])
            try Self.event(db, doc: id, kind: "stage", stage: stage, detail: nil, seconds: seconds, time: now)
        }
    }

    /// Records an event not tied to a state change (token events, run start/stop).
    public func recordEvent(docID: String?, kind: String, stage: String? = nil, detail: String? = nil, seconds: Double? = nil) throws {
        try wrap { try commits.submit(durable: false) { db in try Self.event(db, doc: docID, kind: kind, stage: stage, detail: detail, seconds: seconds) } }
    }

    private static func event(_ db: Database, doc: String?, kind: String, stage: String?, detail: String?, seconds: Double?,
                              time: Double = Date().timeIntervalSince1970) throws {
        try db.cachedStatement(sql: "INSERT INTO events (time, doc_id, kind, stage, detail, seconds) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [time, doc, kind, stage, detail, seconds])
    }

    /// The document with this id.
    public func document(_ id: String) throws -> DocumentRecord? {
        try wrap { try read { try DocumentRecord.fetch($0, id: id) } }
    }

    /// Documents not in a final state (to resolve after a crash).
    public func unfinished() throws -> [DocumentRecord] {
        try wrap { try read { try DocumentRecord.fetchAll(try $0.cachedStatement(sql: "SELECT \(DocumentRecord.columns) FROM documents WHERE state NOT IN ('done','quarantined','released') ORDER BY claimed_at")) } }
    }

    /// Documents changed since a time.
    public func documents(since: Date) throws -> [DocumentRecord] {
        try wrap { try read { try DocumentRecord.fetchAll(try $0.cachedStatement(sql: "SELECT \(DocumentRecord.columns) FROM documents WHERE updated_at >= ? ORDER BY claimed_at"), arguments: [since.timeIntervalSince1970]) } }
    }

    /// All documents.
    public func allDocuments() throws -> [DocumentRecord] {
        try wrap { try read { try DocumentRecord.fetchAll(try $0.cachedStatement(sql: "SELECT \(DocumentRecord.columns) FROM documents ORDER BY claimed_at")) } }
    }

    /// Events since a time, optionally of one kind.
    public func events(since: Date, kind: String? = nil) throws -> [JournalEvent] {
        try wrap { try read { db in
            if let kind {
                return try JournalEvent.fetchAll(try db.cachedStatement(sql: "SELECT * FROM events WHERE time >= ? AND kind = ? ORDER BY seq"), arguments: [since.timeIntervalSince1970, kind])
            }
            return try JournalEvent.fetchAll(try db.cachedStatement(sql: "SELECT * FROM events WHERE time >= ? ORDER BY seq"), arguments: [since.timeIntervalSince1970])
        } }
    }

    /// Events of one document.
    public func events(of docID: String) throws -> [JournalEvent] {
        try wrap { try read { try JournalEvent.fetchAll(try $0.cachedStatement(sql: "SELECT * FROM events WHERE doc_id = ? ORDER BY seq"), arguments: [docID]) } }
    }

    /// A delivered document with the same digest, if any (duplicate detection).
    public func delivered(digest: String, excluding id: String) throws -> DocumentRecord? {
        try wrap { try read { try DocumentRecord.fetchOne(try $0.cachedStatement(sql: "SELECT \(DocumentRecord.columns) FROM documents WHERE digest = ? AND id != ? AND state IN ('delivering','done') LIMIT 1"), arguments: [digest, id]) } }
    }
}

/// Leader/follower group commit. A writer queues its work; if no commit is running it becomes the
/// leader and commits everything queued so far in one go, else it waits for the leader. Blocking: meant
/// for the pipeline's worker threads (`WorkerPool`), where waiting on a condition is fine.
///
/// Deferred work (`enqueue`) does not wait: it joins the next commit, whoever leads it. A timer commits
/// it after `deferDelay` if no writer comes, and `deferLimit` queued items make the enqueuer lead.
final class GroupCommit: @unchecked Sendable {
    final class Item {
        /// Dropped once committed: a waiting writer's closure must not outlive its call.
        private(set) var work: ((Database) throws -> Void)?
        /// Needs an fsync before its writer returns. A batch of only non-durable items is committed with
        /// `synchronous = NORMAL` (no flush; the next durable commit carries it to disk).
        let durable: Bool
        /// Nobody waits for it (`enqueue`); an error is only logged.
        let deferred: Bool
        var error: Error?
        var done = false
        init(_ work: @escaping (Database) throws -> Void, durable: Bool, deferred: Bool = false) {
            self.work = work; self.durable = durable; self.deferred = deferred
        }
        func run(_ db: Database) throws { try work?(db) }
        func finish() { work = nil; done = true }
    }
    private let condition = NSCondition()
    private var pending: [Item] = []
    private var leading = false
    private var timerArmed = false
    private let commit: ([Item]) throws -> Void
    let deferDelay: Double
    let deferLimit: Int
    /// Called (outside the lock) with the error of a deferred item.
    var deferredFailure: @Sendable (Error) -> Void = { _ in }

    init(deferDelay: Double = 0.25, deferLimit: Int = 64, _ commit: @escaping ([Item]) throws -> Void) {
        self.commit = commit; self.deferDelay = deferDelay; self.deferLimit = deferLimit
    }

    /// Runs `work` in a group commit and returns once that commit is done (flushed when `durable`).
    /// `work` does not escape: the call waits for the commit that ran it.
    func submit(durable: Bool = true, _ work: (Database) throws -> Void) throws {
        try withoutActuallyEscaping(work) { try submitWaiting($0, durable: durable) }
    }

    /// Queues `work` for the next commit and returns at once.
    func enqueue(_ work: @escaping (Database) throws -> Void) {
        condition.lock()
        pending.append(Item(work, durable: false, deferred: true))
        let lead = !leading && pending.count >= deferLimit
        let arm = !lead && !timerArmed
        if arm { timerArmed = true }
        condition.unlock()
        if lead { flush() }
        if arm {
            DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + deferDelay) { [weak self] in
                guard let self else { return }
                self.condition.lock(); self.timerArmed = false; self.condition.unlock()
                self.flush()
            }
        }
    }

    /// Commits whatever is queued, waiting for a running commit first.
    func flush() {
        condition.lock()
        while true {
            while leading { condition.wait() }
            if pending.isEmpty { condition.unlock(); return }
            lead() // unlocks
            condition.lock()
        }
    }

    private func submitWaiting(_ work: @escaping (Database) throws -> Void, durable: Bool) throws {
        let item = Item(work, durable: durable)
        condition.lock()
        pending.append(item)
        while !item.done {
            if leading { condition.wait(); continue }
            lead()
            condition.lock()
        }
        condition.unlock()
        if let e = item.error { throw e }
    }

    /// Commits the queue as one batch. Called with the lock held; returns with it released.
    private func lead() {
        leading = true
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        condition.unlock()
        do { try commit(batch) } catch { for i in batch where i.error == nil { i.error = error } }
        condition.lock()
        for i in batch { i.finish() }
        leading = false
        condition.broadcast()
        condition.unlock()
        for i in batch where i.deferred { if let e = i.error { deferredFailure(e) } }
    }
}
