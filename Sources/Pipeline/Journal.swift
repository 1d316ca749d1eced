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
public struct DocumentRecord: Sendable, Codable, FetchableRecord, PersistableRecord, Equatable {
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

    enum CodingKeys: String, CodingKey {
        case id, pipeline, name, sourcePath = "source_path", workDir = "work_dir", state, stage, attempts, digest
        case currentPath = "current_path", outboxPath = "outbox_path", quarantinePath = "quarantine_path"
        case reasonCode = "reason_code", reasonJSON = "reason_json", claimedAt = "claimed_at", updatedAt = "updated_at"
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
    /// transaction (each in its own savepoint, so one writer's error does not undo the others). A durable
    /// write returns only once the transaction holding it is flushed (`synchronous = FULL`); a batch of only
    /// non-durable writes (stage progress, events) commits with `synchronous = NORMAL`.
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
                if !durable { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
                defer { if !durable { try? db.execute(sql: "PRAGMA synchronous = FULL") } }
                try db.inTransaction {
                    for item in batch {
                        do { try db.inSavepoint { try item.work(db); return .commit } } catch { item.error = error }
                    }
                    return .commit
                }
            }
        }
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
        return m
    }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PipelineError { throw e }
        catch { throw PipelineError(.journal, path: url.path, "journal write failed: \(error)") }
    }

    /// Inserts a new document in state `claiming`.
    public func insert(_ record: DocumentRecord) throws {
        try wrap { try commits.submit { db in
            try record.insert(db)
            try Self.event(db, doc: record.id, kind: record.state.rawValue, stage: nil, detail: record.name, seconds: nil)
        } }
    }

    /// Changes a document's row and records the transition as an event, in one transaction.
    public func transition(_ id: String, to state: DocumentState, stage: String? = nil, detail: String? = nil,
                           seconds: Double? = nil, update: @Sendable (inout DocumentRecord) -> Void = { _ in }) throws {
        try wrap { try commits.submit { db in
            guard var r = try DocumentRecord.fetchOne(db, key: id) else {
                throw PipelineError(.journal, path: id, "document \(id) is not in the journal")
            }
            r.state = state
            if let stage { r.stage = stage }
            r.updatedAt = Date().timeIntervalSince1970
            update(&r)
            try r.update(db)
            try Self.event(db, doc: id, kind: state.rawValue, stage: stage, detail: detail, seconds: seconds)
        } }
    }

    /// Records a stage completion (state `processing`) with its duration. Not flushed on its own: recovery
    /// never relies on stage progress (an interrupted document restarts its stages), and it rides in the
    /// next group commit; alone, it commits with `synchronous = NORMAL`.
    public func stageDone(_ id: String, stage: String, seconds: Double, digest: String?) throws {
        try wrap { try commits.submit(durable: false) { db in
            try db.cachedStatement(sql: "UPDATE documents SET state = 'processing', stage = ?, digest = COALESCE(?, digest), updated_at = ? WHERE id = ?")
                .execute(arguments: [stage, digest, Date().timeIntervalSince1970, id])
            try Self.event(db, doc: id, kind: "stage", stage: stage, detail: nil, seconds: seconds)
        } }
    }

    /// Records an event not tied to a state change (token events, run start/stop).
    public func recordEvent(docID: String?, kind: String, stage: String? = nil, detail: String? = nil, seconds: Double? = nil) throws {
        try wrap { try commits.submit(durable: false) { db in try Self.event(db, doc: docID, kind: kind, stage: stage, detail: detail, seconds: seconds) } }
    }

    private static func event(_ db: Database, doc: String?, kind: String, stage: String?, detail: String?, seconds: Double?) throws {
        try db.cachedStatement(sql: "INSERT INTO events (time, doc_id, kind, stage, detail, seconds) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: [Date().timeIntervalSince1970, doc, kind, stage, detail, seconds])
    }

    /// The document with this id.
    public func document(_ id: String) throws -> DocumentRecord? {
        try wrap { try db.read { try DocumentRecord.fetchOne($0, key: id) } }
    }

    /// Documents not in a final state (to resolve after a crash).
    public func unfinished() throws -> [DocumentRecord] {
        try wrap { try db.read { try DocumentRecord.fetchAll(try $0.cachedStatement(sql: "SELECT * FROM documents WHERE state NOT IN ('done','quarantined','released') ORDER BY claimed_at")) } }
    }

    /// Documents changed since a time.
    public func documents(since: Date) throws -> [DocumentRecord] {
        try wrap { try db.read { try DocumentRecord.fetchAll(try $0.cachedStatement(sql: "SELECT * FROM documents WHERE updated_at >= ? ORDER BY claimed_at"), arguments: [since.timeIntervalSince1970]) } }
    }

    /// All documents.
    public func allDocuments() throws -> [DocumentRecord] {
        try wrap { try db.read { try DocumentRecord.fetchAll(try $0.cachedStatement(sql: "SELECT * FROM documents ORDER BY claimed_at")) } }
    }

    /// Events since a time, optionally of one kind.
    public func events(since: Date, kind: String? = nil) throws -> [JournalEvent] {
        try wrap { try db.read { db in
            if let kind {
                return try JournalEvent.fetchAll(try db.cachedStatement(sql: "SELECT * FROM events WHERE time >= ? AND kind = ? ORDER BY seq"), arguments: [since.timeIntervalSince1970, kind])
            }
            return try JournalEvent.fetchAll(try db.cachedStatement(sql: "SELECT * FROM events WHERE time >= ? ORDER BY seq"), arguments: [since.timeIntervalSince1970])
        } }
    }

    /// Events of one document.
    public func events(of docID: String) throws -> [JournalEvent] {
        try wrap { try db.read { try JournalEvent.fetchAll(try $0.cachedStatement(sql: "SELECT * FROM events WHERE doc_id = ? ORDER BY seq"), arguments: [docID]) } }
    }

    /// A delivered document with the same digest, if any (duplicate detection).
    public func delivered(digest: String, excluding id: String) throws -> DocumentRecord? {
        try wrap { try db.read { try DocumentRecord.fetchOne(try $0.cachedStatement(sql: "SELECT * FROM documents WHERE digest = ? AND id != ? AND state IN ('delivering','done') LIMIT 1"), arguments: [digest, id]) } }
    }
}

/// Leader/follower group commit. A writer queues its work; if no commit is running it becomes the
/// leader and commits everything queued so far in one go, else it waits for the leader. Blocking: meant
/// for the pipeline's worker threads (`WorkerPool`), where waiting on a condition is fine.
final class GroupCommit: @unchecked Sendable {
    final class Item {
        let work: (Database) throws -> Void
        /// Needs an fsync before its writer returns. A batch of only non-durable items is committed with
        /// `synchronous = NORMAL` (no flush; the next durable commit carries it to disk).
        let durable: Bool
        var error: Error?
        var done = false
        init(_ work: @escaping (Database) throws -> Void, durable: Bool) { self.work = work; self.durable = durable }
    }
    private let condition = NSCondition()
    private var pending: [Item] = []
    private var leading = false
    private let commit: ([Item]) throws -> Void

    init(_ commit: @escaping ([Item]) throws -> Void) { self.commit = commit }

    /// Runs `work` in a group commit and returns once that commit is done (flushed when `durable`).
    /// `work` does not escape: the call waits for the commit that ran it.
    func submit(durable: Bool = true, _ work: (Database) throws -> Void) throws {
        try withoutActuallyEscaping(work) { try submitWaiting($0, durable: durable) }
    }

    private func submitWaiting(_ work: @escaping (Database) throws -> Void, durable: Bool) throws {
        let item = Item(work, durable: durable)
        condition.lock()
        pending.append(item)
        while !item.done {
            if leading { condition.wait(); continue }
            leading = true
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            condition.unlock()
            do { try commit(batch) } catch { for i in batch where i.error == nil { i.error = error } }
            condition.lock()
            for i in batch { i.done = true }
            leading = false
            condition.broadcast()
        }
        condition.unlock()
        if let e = item.error { throw e }
    }
}
