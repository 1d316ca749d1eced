import Foundation

/// The five folders of a pipeline.
public struct Folders: Sendable, Equatable {
    /// Where clerks drop documents (the hot folder).
    public var inbox: URL
    /// Claimed documents being processed, one sub-folder per document.
    public var work: URL
    /// Finished documents.
    public var outbox: URL
    /// Rejected originals with `<name>.reason.json`.
    public var quarantine: URL
    /// Dated tree of sealed documents, originals and receipts.
    public var archive: URL

    /// Creates a folder set.
    public init(inbox: URL, work: URL, outbox: URL, quarantine: URL, archive: URL) {
        self.inbox = inbox; self.work = work; self.outbox = outbox; self.quarantine = quarantine; self.archive = archive
    }
    /// All five folders under one root (`root/inbox`, `root/work`, …).
    public init(root: URL) {
        self.init(inbox: root.appendingPathComponent("inbox"), work: root.appendingPathComponent("work"),
                  outbox: root.appendingPathComponent("outbox"), quarantine: root.appendingPathComponent("quarantine"),
                  archive: root.appendingPathComponent("archive"))
    }
    /// Creates the folders if missing.
    public func create() throws {
        for u in [inbox, work, outbox, quarantine, archive] {
            do { try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true) }
            catch { throw PipelineError(.folder, path: u.path, "cannot create folder: \(error.localizedDescription)") }
        }
    }
}

/// Hot-folder settings (`"watch": {…}`).
public struct WatchSettings: Sendable, Equatable, Decodable {
    /// A file is taken only after it has been unchanged this long.
    public var settleSeconds: Double = 2
    /// A file still open for writing is taken anyway after this long without changes.
    public var settleMaxSeconds: Double = 60
    /// Shell pattern of files to take (`*.pdf`, case-insensitive).
    public var pattern: String = "*.pdf"
    /// Full rescans of the inbox, besides inotify (catches anything missed).
    public var rescanSeconds: Double = 30

    /// Defaults.
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable {
        case settleSeconds = "settle-seconds", settleMaxSeconds = "settle-max-seconds", pattern, rescanSeconds = "rescan-seconds"
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        settleSeconds = try c.decodeIfPresent(Double.self, forKey: .settleSeconds) ?? settleSeconds
        settleMaxSeconds = try c.decodeIfPresent(Double.self, forKey: .settleMaxSeconds) ?? settleMaxSeconds
        pattern = try c.decodeIfPresent(String.self, forKey: .pattern) ?? pattern
        rescanSeconds = try c.decodeIfPresent(Double.self, forKey: .rescanSeconds) ?? rescanSeconds
    }
}

/// Metrics settings (`"metrics": {"port": 9464}`); the endpoint listens on 127.0.0.1 only.
public struct MetricsSettings: Sendable, Equatable, Decodable {
    /// Loopback port for Prometheus text (`/metrics`); 0 picks a free port; nil disables.
    public var port: Int?
    /// Defaults (disabled).
    public init(port: Int? = nil) { self.port = port }
    enum CodingKeys: String, CodingKey, CaseIterable { case port }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        port = try c.decodeIfPresent(Int.self, forKey: .port)
    }
}

/// Engine tuning (`"engine": {…}`).
public struct EngineSettings: Sendable, Equatable, Decodable {
    /// Documents waiting between two stages (back-pressure bound).
    public var queueCapacity: Int = 4
    /// A document the program crashed on this many times goes to quarantine (`crash-loop`). Only crashes of
    /// the program itself count (a fault signal leaves a crash marker), and after the first one the documents
    /// then in flight are processed one at a time, so a crash is the document's alone. Interruptions from
    /// outside (kill -9, power cut) count only against `interruptionLimit`.
    public var maxAttempts: Int = 10
    /// Interruptions of any kind (also external kills) after which a document is quarantined `crash-loop`
    /// all the same: a backstop for a document that makes the kernel kill the program (out of memory),
    /// which leaves no crash marker. Ten times `max-attempts`.
    public var interruptionLimit: Int { maxAttempts * 10 }
    /// Defaults.
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable { case queueCapacity = "queue-capacity", maxAttempts = "max-attempts" }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        queueCapacity = try c.decodeIfPresent(Int.self, forKey: .queueCapacity) ?? queueCapacity
        maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? maxAttempts
    }
}

/// One entry of `"stages": [...]`.
public struct StageConfig: Sendable, Equatable {
    /// Stage kind (`ingest`, `approval`, `render`, `sign`, `verify`, `archive`, …).
    public var kind: String
    /// Display name (defaults to the kind).
    public var name: String
    /// Documents processed at once by this stage (nil: the kind's default).
    public var concurrency: Int?
    /// Capacity of the queue in front of this stage (nil: `engine.queue-capacity`).
    public var queue: Int?
    /// Kind-specific settings (the stage's JSON object minus the common keys).
    public var settings: [String: JSONValue]
    /// JSON path of the entry (`stages[3]`).
    public var path: String

    /// Keys every stage accepts.
    public static let commonKeys: Set<String> = ["kind", "name", "concurrency", "queue"]
}

/// A pipeline file, decoded and checked. See `docs/pipeline.md` for the format.
public struct PipelineConfig: Sendable {
    /// Pipeline name (journal, logs, metrics label).
    public var name: String
    /// Free text.
    public var description: String?
    /// Folders.
    public var folders: Folders
    /// SQLite journal path (default `<work>/journal.sqlite`).
    public var journal: URL
    /// Hot-folder settings.
    public var watch: WatchSettings
    /// Metrics endpoint.
    public var metrics: MetricsSettings
    /// Engine tuning.
    public var engine: EngineSettings
    /// Stages in order.
    public var stages: [StageConfig]
    /// Top-level sections owned by stage modules (`token`, `seal`, `governance`, …).
    public var sections: [String: JSONValue]
    /// Folder of the pipeline file; relative paths resolve against it.
    public var baseDir: URL

    static let engineKeys: Set<String> = ["name", "description", "folders", "journal", "watch", "metrics", "engine", "stages"]

    /// Reads, decodes and validates a pipeline file (JSON with `//` comments allowed).
    public static func load(from url: URL, registry: StageRegistry) throws -> PipelineConfig {
        let data: Data
        do { data = try Data(contentsOf: url) }
        catch { throw PipelineError(.io, path: url.path, "cannot read pipeline file: \(error.localizedDescription)") }
        return try decode(data, baseDir: url.deletingLastPathComponent(), registry: registry)
    }

    /// Decodes and validates pipeline JSON.
    public static func decode(_ data: Data, baseDir: URL, registry: StageRegistry) throws -> PipelineConfig {
        let root: JSONValue
        do { root = try JSONDecoder().decode(JSONValue.self, from: stripJSONComments(data)) }
        catch let DecodingError.dataCorrupted(ctx) {
            let detail = (ctx.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? ctx.debugDescription
            throw PipelineError(.syntax, path: "$", "not valid JSON: \(detail)")
        }
        guard let obj = root.objectValue else { throw PipelineError(.typeMismatch, path: "$", "a pipeline file must be a JSON object") }
        let allowed = engineKeys.union(registry.sections)
        for key in obj.keys.sorted() where !allowed.contains(key) {
            throw PipelineError(.unknownKey, path: key, "unknown key '\(key)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
        func string(_ key: String) throws -> String? {
            guard let v = obj[key] else { return nil }
            guard case .string(let s) = v else { throw PipelineError(.typeMismatch, path: key, "expected a string") }
            return s
        }
        func resolve(_ p: String) -> URL {
            p.hasPrefix("/") ? URL(fileURLWithPath: p) : baseDir.appendingPathComponent(p).standardizedFileURL
        }
        guard let name = try string("name") else { throw PipelineError(.missingKey, path: "name", "required key 'name' is missing") }
        guard let foldersValue = obj["folders"] else { throw PipelineError(.missingKey, path: "folders", "required key 'folders' is missing") }
        let raw = try foldersValue.decode(RawFolders.self, path: "folders")
        let folders = try raw.resolve(resolve)
        let journal = try string("journal").map(resolve) ?? folders.work.appendingPathComponent("journal.sqlite")
        let watch = try obj["watch"].map { try $0.decode(WatchSettings.self, path: "watch") } ?? WatchSettings()
        let metrics = try obj["metrics"].map { try $0.decode(MetricsSettings.self, path: "metrics") } ?? MetricsSettings()
        let engine = try obj["engine"].map { try $0.decode(EngineSettings.self, path: "engine") } ?? EngineSettings()
        guard let stagesValue = obj["stages"] else { throw PipelineError(.missingKey, path: "stages", "required key 'stages' is missing") }
        guard case .array(let entries) = stagesValue else { throw PipelineError(.typeMismatch, path: "stages", "expected a list of stages") }
        var stages: [StageConfig] = []
        for (i, entry) in entries.enumerated() {
            let path = "stages[\(i)]"
            guard var o = entry.objectValue else { throw PipelineError(.typeMismatch, path: path, "expected an object with a 'kind'") }
            guard case .string(let kind)? = o["kind"] else {
                throw PipelineError(o["kind"] == nil ? .missingKey : .typeMismatch, path: path + ".kind", "each stage needs a 'kind' string")
            }
            func int(_ k: String) throws -> Int? {
                guard let v = o[k] else { return nil }
                guard case .number(let n) = v, n == n.rounded() else { throw PipelineError(.typeMismatch, path: "\(path).\(k)", "expected a whole number") }
                return Int(n)
            }
            var stageName = kind
            if let v = o["name"] {
                guard case .string(let s) = v else { throw PipelineError(.typeMismatch, path: path + ".name", "expected a string") }
                stageName = s
            }
            let concurrency = try int("concurrency"), queue = try int("queue")
            for k in StageConfig.commonKeys { o[k] = nil }
            stages.append(StageConfig(kind: kind, name: stageName, concurrency: concurrency, queue: queue, settings: o, path: path))
        }
        var sections: [String: JSONValue] = [:]
        for key in registry.sections { if let v = obj[key] { sections[key] = v } }
        let config = PipelineConfig(name: name, description: try string("description"), folders: folders, journal: journal,
                                    watch: watch, metrics: metrics, engine: engine, stages: stages, sections: sections, baseDir: baseDir)
        try config.validate(registry: registry)
        return config
    }

    /// Semantic checks: folders distinct, known stage kinds and keys, sane numbers, and an order in
    /// which every stage's required facts are produced by an earlier stage.
    public func validate(registry: StageRegistry) throws {
        let named = [("inbox", folders.inbox), ("work", folders.work), ("outbox", folders.outbox),
                     ("quarantine", folders.quarantine), ("archive", folders.archive)]
        for i in named.indices { for j in named.indices where j > i && named[i].1.path == named[j].1.path {
            throw PipelineError(.invalidValue, path: "folders.\(named[j].0)", "must differ from folders.\(named[i].0) (both are \(named[i].1.path))")
        } }
        if watch.settleSeconds < 0 { throw PipelineError(.invalidValue, path: "watch.settle-seconds", "must be 0 or more") }
        if watch.settleMaxSeconds < watch.settleSeconds { throw PipelineError(.invalidValue, path: "watch.settle-max-seconds", "must be at least settle-seconds") }
        if watch.rescanSeconds <= 0 { throw PipelineError(.invalidValue, path: "watch.rescan-seconds", "must be more than 0") }
        if let p = metrics.port, !(0...65535).contains(p) { throw PipelineError(.invalidValue, path: "metrics.port", "must be 0…65535") }
        if !(1...10_000).contains(engine.queueCapacity) { throw PipelineError(.invalidValue, path: "engine.queue-capacity", "must be 1…10000") }
        if !(1...100).contains(engine.maxAttempts) { throw PipelineError(.invalidValue, path: "engine.max-attempts", "must be 1…100") }
        for (name, value) in sections.sorted(by: { $0.key < $1.key }) { try registry.sectionChecks[name]?(value, name) }
        if stages.isEmpty { throw PipelineError(.invalidValue, path: "stages", "a pipeline needs at least one stage") }
        var available: Set<Fact> = []
        var seen: [String: Int] = [:]
        for s in stages {
            guard let d = registry.descriptors[s.kind] else {
                throw PipelineError(.unknownStage, path: s.path + ".kind",
                                    "unknown stage kind '\(s.kind)' (known: \(registry.descriptors.keys.sorted().joined(separator: ", ")))")
            }
            if let prev = seen[s.kind] {
                throw PipelineError(.impossibleOrder, path: s.path + ".kind", "stage '\(s.kind)' appears twice (first at stages[\(prev)])")
            }
            seen[s.kind] = Int(s.path.dropFirst(7).dropLast()) ?? 0
            for key in s.settings.keys.sorted() where !d.settingsKeys.contains(key) {
                let allowed = StageConfig.commonKeys.union(d.settingsKeys).sorted().joined(separator: ", ")
                throw PipelineError(.unknownKey, path: "\(s.path).\(key)", "unknown key '\(key)' for a '\(s.kind)' stage (allowed: \(allowed))")
            }
            if let c = s.concurrency, !(1...64).contains(c) { throw PipelineError(.invalidValue, path: s.path + ".concurrency", "must be 1…64") }
            if let q = s.queue, !(1...10_000).contains(q) { throw PipelineError(.invalidValue, path: s.path + ".queue", "must be 1…10000") }
            let missing = d.requires.subtracting(available)
            if !missing.isEmpty {
                let producers = missing.sorted().map { f in
                    let who = registry.descriptors.values.filter { $0.produces.contains(f) }.map(\.kind.name).sorted()
                    return who.isEmpty ? "'\(f)'" : "'\(f)' (from a '\(who.joined(separator: "' or '"))' stage)"
                }
                throw PipelineError(.impossibleOrder, path: s.path + ".kind",
                                    "stage '\(s.kind)' needs \(producers.joined(separator: ", ")) which no earlier stage produces")
            }
            available.formUnion(d.produces)
        }
        // Decode every stage's settings now, so mistakes surface at load with their path.
        // Stage factories only parse settings; devices (the token) open on first use.
        _ = try makeStages(registry: registry)
    }

    /// Builds the stages (decoding each stage's settings; errors carry the stage's JSON path).
    public func makeStages(registry: StageRegistry, shared: SharedObjects = SharedObjects()) throws -> [BuiltStage] {
        let env = StageEnvironment(sections: sections, baseDir: baseDir, folders: folders, shared: shared)
        return try stages.enumerated().map { i, s in
            guard let d = registry.descriptors[s.kind] else { throw PipelineError(.unknownStage, path: s.path + ".kind", "unknown stage kind '\(s.kind)'") }
            let stage = try d.make(s.settings, s.path, env)
            return BuiltStage(index: i, name: s.name, kind: s.kind, stage: stage,
                              concurrency: s.concurrency ?? d.defaultConcurrency,
                              queueCapacity: s.queue ?? engine.queueCapacity, serialized: d.serialized)
        }
    }
}

/// A stage ready to run, with its scheduling parameters.
public struct BuiltStage: Sendable {
    /// Position in the pipeline.
    public let index: Int
    /// Display name.
    public let name: String
    /// Kind.
    public let kind: String
    /// The stage.
    public let stage: any Stage
    /// Documents processed at once.
    public let concurrency: Int
    /// Capacity of the queue in front of it.
    public let queueCapacity: Int
    /// The token stage.
    public let serialized: Bool
    /// Creates a built stage.
    public init(index: Int, name: String, kind: String, stage: any Stage, concurrency: Int, queueCapacity: Int, serialized: Bool) {
        self.index = index; self.name = name; self.kind = kind; self.stage = stage
        self.concurrency = concurrency; self.queueCapacity = queueCapacity; self.serialized = serialized
    }
}

struct RawFolders: Decodable {
    var root, inbox, work, outbox, quarantine, archive: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case root, inbox, work, outbox, quarantine, archive }
    init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        root = try c.decodeIfPresent(String.self, forKey: .root)
        inbox = try c.decodeIfPresent(String.self, forKey: .inbox)
        work = try c.decodeIfPresent(String.self, forKey: .work)
        outbox = try c.decodeIfPresent(String.self, forKey: .outbox)
        quarantine = try c.decodeIfPresent(String.self, forKey: .quarantine)
        archive = try c.decodeIfPresent(String.self, forKey: .archive)
    }
    func resolve(_ r: (String) -> URL) throws -> Folders {
        let base = root.map { Folders(root: r($0)) }
        func pick(_ v: String?, _ fallback: URL?, _ key: String) throws -> URL {
            if let v { return r(v) }
            if let fallback { return fallback }
            throw PipelineError(.missingKey, path: "folders.\(key)", "missing (give 'root' or each folder)")
        }
        return Folders(inbox: try pick(inbox, base?.inbox, "inbox"), work: try pick(work, base?.work, "work"),
                       outbox: try pick(outbox, base?.outbox, "outbox"), quarantine: try pick(quarantine, base?.quarantine, "quarantine"),
                       archive: try pick(archive, base?.archive, "archive"))
    }
}
