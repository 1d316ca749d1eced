import Foundation
import Logging

/// Something a stage establishes about a document (`ingested`, `approved`, …). Stages declare which
/// facts they require and which they produce; the loader rejects orders that cannot work.
public struct Fact: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible, Comparable {
    /// The fact's name.
    public let name: String
    /// Creates a fact.
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }
    public var description: String { name }
    public static func < (a: Fact, b: Fact) -> Bool { a.name < b.name }

    /// Bytes hashed and sniffed.
    public static let ingested: Fact = "ingested"
    /// An approval admits the document.
    public static let approved: Fact = "approved"
    /// The seal appearance is drawn and placed.
    public static let rendered: Fact = "rendered"
    /// The document carries our signature.
    public static let signed: Fact = "signed"
    /// The document's signatures were verified.
    public static let verified: Fact = "verified"
    /// The document has an archive entry and receipt.
    public static let archived: Fact = "archived"
}

/// A stage kind as written in pipeline files (`"kind": "sign"`).
public struct StageKind: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The kind's name.
    public let name: String
    /// Creates a kind.
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }
    public var description: String { name }
}

/// A typed key into a job's fact bag; the engine never looks inside the values.
public struct FactKey<Value: Sendable>: Sendable {
    /// The key's name (unique per value type).
    public let name: String
    /// Creates a key.
    public init(_ name: String) { self.name = name }
}

/// An opaque, typed bag of facts stages hand to later stages.
public struct FactBag: Sendable {
    private var values: [String: any Sendable] = [:]
    /// An empty bag.
    public init() {}
    /// The value for a key, if a stage set it.
    public subscript<V: Sendable>(key: FactKey<V>) -> V? {
        get { values[key.name] as? V }
        set { values[key.name] = newValue }
    }
    /// Names of the keys present.
    public var keys: [String] { values.keys.sorted() }
}

/// One document travelling through the pipeline. The engine handles file locations and the journal;
/// stages fill the digest and facts.
public struct Job: Sendable, Identifiable {
    /// Journal id of the document (stable across restarts).
    public let id: String
    /// File name as dropped into the inbox.
    public let sourceName: String
    /// The claimed original inside the work area. Never modified.
    public let originalURL: URL
    /// This document's private scratch folder (`<work>/<id>/`).
    public let workDir: URL
    /// The dated archive folder reserved for this document (`<archive>/YYYY/MM/DD/<id>-<stem>/`).
    public let archiveDir: URL
    /// When the document was claimed (fixed across restarts).
    public let claimedAt: Date
    /// 1 on the first run, higher after a crash or retry.
    public let attempt: Int
    /// The artefact the next stage reads and the engine finally delivers to the outbox.
    public var currentURL: URL
    /// Name the delivered file gets in the outbox.
    public var outputName: String
    /// SHA-256 (hex) of the original, once a stage computed it.
    public var digest: String?
    /// Facts established so far.
    public var established: Set<Fact> = []
    /// Typed values stages pass on (approval, appearance, signature details…).
    public var facts = FactBag()
    /// Short key/value lines stages want in the summary and receipt (no document content, no secrets).
    public var notes: [String: String] = [:]

    /// Creates a job (the engine does this when it claims a file).
    public init(id: String, sourceName: String, originalURL: URL, workDir: URL, archiveDir: URL,
                claimedAt: Date, attempt: Int) {
        self.id = id; self.sourceName = sourceName; self.originalURL = originalURL; self.workDir = workDir
        self.archiveDir = archiveDir; self.claimedAt = claimedAt; self.attempt = attempt
        self.currentURL = originalURL; self.outputName = sourceName
    }
}

/// What a stage may use besides the job: logging, the journal's event log, folders.
public struct StageContext: Sendable {
    /// Pipeline name.
    public let pipeline: String
    /// Index of the stage in the pipeline.
    public let index: Int
    /// The stage's name (its kind unless renamed).
    public let stageName: String
    /// Logger with the pipeline's metadata.
    public let logger: Logger
    /// The pipeline's folders.
    public let folders: Folders
    let journal: Journal?
    let sink: EventSink?

    /// Creates a context (for tests and for `stamp`, which runs stages without the engine).
    public init(pipeline: String, index: Int, stageName: String, logger: Logger, folders: Folders, journal: Journal? = nil) {
        self.init(pipeline: pipeline, index: index, stageName: stageName, logger: logger, folders: folders, journal: journal, sink: nil)
    }

    init(pipeline: String, index: Int, stageName: String, logger: Logger, folders: Folders, journal: Journal?, sink: EventSink?) {
        self.pipeline = pipeline; self.index = index; self.stageName = stageName; self.logger = logger
        self.folders = folders; self.journal = journal; self.sink = sink
    }

    /// Records an event in the journal (e.g. `token` events such as a card removal). Never pass secrets.
    public func recordEvent(kind: String, detail: String, job: Job? = nil) {
        try? journal?.recordEvent(docID: job?.id, kind: kind, stage: stageName, detail: detail)
    }

    /// Records a named duration (e.g. `token.sign`): it appears in the summary table and as a metric.
    public func recordDuration(_ name: String, seconds: Double) {
        sink?.duration(name, seconds: seconds)
    }
}

/// One step of a pipeline. Every stage takes and returns the same `Job`, declares the facts it needs
/// and the facts it adds, and is small.
public protocol Stage: Sendable {
    /// The kind written in pipeline files.
    static var kind: StageKind { get }
    /// Facts that must be established by earlier stages.
    static var requires: Set<Fact> { get }
    /// Facts this stage establishes.
    static var produces: Set<Fact> { get }
    /// Processes one document. Throw a `StageFailure` to route it (quarantine by default).
    func process(_ job: Job, context: StageContext) async throws -> Job
    /// Told, for every stage of the pipeline, when a document ends in quarantine (with the facts it had
    /// gathered), to undo what would otherwise outlive it, such as a consumed approval use. Must not throw;
    /// the default does nothing.
    func quarantined(_ job: Job, code: String, context: StageContext)
    /// Told, for every stage, when a claimed document goes back to the inbox untouched because the batch
    /// stopped for a reason that is not the document's (a token fault, `.stopBatch`): undo what would
    /// otherwise outlive this claim, such as a consumed approval use. The job carries its id and digest,
    /// not the facts of the interrupted attempt. Must not throw; the default does nothing.
    func returned(_ job: Job, reason: String, context: StageContext)
    /// Told, for every stage, when a document is about to be delivered: its output and what the stages wrote
    /// for it are durable, the journal says `delivering`, and the output is not yet in the outbox. Record here
    /// what must exist exactly once for every delivered document and never without it (the `stamp` audit
    /// record): the engine flushes `durableFolders` after this and only then renames the output into the
    /// outbox. After a crash before that rename, recovery calls it again with `recovered: true` and a job
    /// that carries only its id, name, folders, digest and output (no facts): work from what the stage left
    /// in the job's work folder, and do not record a second time what the first call recorded. Throwing
    /// stops the delivery: the document is quarantined (`.stopBatch`: returned to the inbox); in recovery
    /// the entry is left for the next start. The default does nothing.
    func delivering(_ job: Job, recovered: Bool, context: StageContext) throws
    /// Called once when a run starts, concurrently with claiming and with the other stages: warm what
    /// the first document would otherwise wait for (the seal drawing, trust anchors, the registry).
    /// Must not fail a run or spend a token PIN try: whatever goes wrong here surfaces again, with its
    /// specific error, on the first document. The default does nothing.
    func prepare(context: StageContext) async
    /// Folders outside the pipeline's own where this stage records what it did for a document (the
    /// governance registry: approval uses, audit records). The delivery barrier flushes their file systems
    /// too, so a delivered document's records survive a power cut even on another disk. Default: none.
    var durableFolders: [URL] { get }
}

extension Stage {
    public func quarantined(_ job: Job, code: String, context: StageContext) {}
    public func returned(_ job: Job, reason: String, context: StageContext) {}
    public func prepare(context: StageContext) async {}
    public func delivering(_ job: Job, recovered: Bool, context: StageContext) throws {}
    public var durableFolders: [URL] { [] }
}

/// How the loader builds stages of one kind: its facts, defaults, and a factory decoding its settings.
public struct StageDescriptor: Sendable {
    /// The kind.
    public let kind: StageKind
    /// Facts needed.
    public let requires: Set<Fact>
    /// Facts produced.
    public let produces: Set<Fact>
    /// Default number of documents processed at once.
    public let defaultConcurrency: Int
    /// True for the stage that talks to the token: it is the pipeline's single serialization point, so
    /// the engine keeps its queue full and reports when it idles while work is ready.
    public let serialized: Bool
    /// Settings keys this kind accepts (besides the common ones); used to reject unknown keys.
    public let settingsKeys: Set<String>
    /// Builds a stage from its settings object (common keys removed). `path` is its JSON path.
    public let make: @Sendable (_ settings: [String: JSONValue], _ path: String, _ env: StageEnvironment) throws -> any Stage

    /// Creates a descriptor for stage type `S`.
    public init<S: Stage>(_ type: S.Type, defaultConcurrency: Int = 2, serialized: Bool = false,
                          settingsKeys: Set<String> = [],
                          make: @escaping @Sendable (_ settings: [String: JSONValue], _ path: String, _ env: StageEnvironment) throws -> S) {
        self.kind = S.kind; self.requires = S.requires; self.produces = S.produces
        self.defaultConcurrency = defaultConcurrency; self.serialized = serialized; self.settingsKeys = settingsKeys
        self.make = { try make($0, $1, $2) }
    }
}

/// What a stage factory can see: the config file's extra top-level sections and its folder.
public struct StageEnvironment: Sendable {
    /// Top-level sections the engine does not interpret (`token`, `seal`, `governance`, …).
    public let sections: [String: JSONValue]
    /// Folder of the pipeline file (relative paths resolve against it).
    public let baseDir: URL
    /// Pipeline folders.
    public let folders: Folders
    /// Shared objects created once per run (e.g. the token actor), keyed by name.
    public let shared: SharedObjects
    /// Creates an environment.
    public init(sections: [String: JSONValue], baseDir: URL, folders: Folders, shared: SharedObjects = SharedObjects()) {
        self.sections = sections; self.baseDir = baseDir; self.folders = folders; self.shared = shared
    }
    /// Resolves a path from the config against the pipeline file's folder.
    public func resolve(_ path: String) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : baseDir.appendingPathComponent(path).standardizedFileURL
    }
}

/// Objects shared by several stages of one run (e.g. one token actor), created lazily once.
public final class SharedObjects: @unchecked Sendable {
    private let lock = NSLock()
    private var objects: [String: any Sendable] = [:]
    /// Creates an empty store.
    public init() {}
    /// Returns the object stored under `key`, creating it with `make` the first time.
    public func get<T: Sendable>(_ key: String, make: () throws -> T) rethrows -> T {
        lock.lock(); defer { lock.unlock() }
        if let o = objects[key] as? T { return o }
        let o = try make(); objects[key] = o; return o
    }
}

/// The stage kinds a program knows, and the extra top-level config sections it accepts.
public struct StageRegistry: Sendable {
    /// Descriptors by kind.
    public private(set) var descriptors: [String: StageDescriptor] = [:]
    /// Top-level sections accepted besides the engine's own.
    public private(set) var sections: Set<String> = []
    /// Checks of those sections, run at load (errors carry the section's JSON path).
    public private(set) var sectionChecks: [String: @Sendable (JSONValue, String) throws -> Void] = [:]
    /// An empty registry.
    public init() {}
    /// Adds a stage kind.
    public mutating func register(_ d: StageDescriptor) { descriptors[d.kind.name] = d }
    /// Accepts an extra top-level config section, optionally checked at load.
    public mutating func acceptSection(_ name: String, check: (@Sendable (JSONValue, String) throws -> Void)? = nil) {
        sections.insert(name)
        if let check { sectionChecks[name] = check }
    }
}
