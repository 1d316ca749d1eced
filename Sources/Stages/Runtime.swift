import Foundation
import Governance
import Logging
import Pipeline
import Render
import Signing
import Token

/// `"token": {…}` — which token signs, and where its PIN comes from.
public struct TokenSection: Sendable, Decodable, Equatable {
    /// Path of a token configuration file (`token.json`, as written by `sealbatch token init-dev`).
    public var config: String
    /// A PIN file readable only by its owner (mode 0600/0400). The command line's `--pin-fd` /
    /// `--pin-file` override it; without either, the PIN is asked on the terminal.
    public var pinFile: String?
    /// Benchmarks only: an extra delay per signature, to model a slow USB key.
    public var testDelayMS: Int?
    enum CodingKeys: String, CodingKey, CaseIterable { case config, pinFile = "pin-file", testDelayMS = "test-delay-ms" }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        config = try c.decode(String.self, forKey: .config)
        pinFile = try c.decodeIfPresent(String.self, forKey: .pinFile)
        testDelayMS = try c.decodeIfPresent(Int.self, forKey: .testDelayMS)
    }
    /// Creates a section.
    public init(config: String, pinFile: String? = nil, testDelayMS: Int? = nil) { self.config = config; self.pinFile = pinFile; self.testDelayMS = testDelayMS }
}

/// `"seal": {…}` — which registered seal is applied, by which user, with which design.
public struct SealSection: Sendable, Decodable {
    /// Seal id in the governance registry.
    public var id: String
    /// The official-seal user the pipeline stamps as.
    public var user: String
    /// Seal design (see docs/render.md); defaults to the registered seal's appearance.
    public var design: JSONValue?
    enum CodingKeys: String, CodingKey, CaseIterable { case id, user, design }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        user = try c.decode(String.self, forKey: .user)
        design = try c.decodeIfPresent(JSONValue.self, forKey: .design)
    }
    /// Creates a section.
    public init(id: String, user: String, design: JSONValue? = nil) { self.id = id; self.user = user; self.design = design }
}

/// `"governance": {"registry": "…"}` — the registry database (seals, users, approvals, audit log).
public struct GovernanceSection: Sendable, Decodable, Equatable {
    /// Path of the registry SQLite file.
    public var registry: String
    /// PEM file with the audit checkpoint key (default: `<registry>.audit-key.pem` when it exists).
    public var auditKey: String?
    /// Where audit checkpoints are also written (files, `syslog`; comma separated): see `AuditWitness`.
    public var auditWitness: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case registry, auditKey = "audit-key", auditWitness = "audit-witness" }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        registry = try c.decode(String.self, forKey: .registry)
        auditKey = try c.decodeIfPresent(String.self, forKey: .auditKey)
        auditWitness = try c.decodeIfPresent(String.self, forKey: .auditWitness)
        if let w = auditWitness {
            do { _ = try AuditWitness.parse(w) } catch let e as GovernanceError {
                throw PipelineError(.invalidValue, path: "governance.audit-witness", e.detail)
            }
        }
    }
    /// Creates a section.
    public init(registry: String, auditKey: String? = nil, auditWitness: String? = nil) {
        self.registry = registry; self.auditKey = auditKey; self.auditWitness = auditWitness
    }
}

/// Things the standard stages share in one run: the registry, the token, the seal. Opened lazily
/// on first use, once; created by `StandardStages` from the pipeline's top-level sections.
public final class StagesRuntime: @unchecked Sendable {
    /// The token section, if any.
    public let tokenSection: TokenSection?
    /// The seal section, if any.
    public let sealSection: SealSection?
    /// The governance section, if any.
    public let governanceSection: GovernanceSection?
    let baseDir: URL
    /// PIN source given on the command line (overrides `token.pin-file`).
    public var pinSourceOverride: PINSource?
    /// A decorator applied to the token key (benchmarks: a slowed token).
    public var keyDecorator: (@Sendable (any SignatureKey) -> any SignatureKey)?
    /// Logger.
    public var logger = Logger(label: "sealbatch.stages")

    private let lock = NSLock()
    private var bookValue: ApprovalBook?
    private var sealNameValue: String??
    private var registryValue: Registry?
    private var keyTask: Task<SerializedKey, Error>?

    init(sections: [String: JSONValue], baseDir: URL) throws {
        tokenSection = try sections["token"].map { try $0.decode(TokenSection.self, path: "token") }
        sealSection = try sections["seal"].map { try $0.decode(SealSection.self, path: "seal") }
        governanceSection = try sections["governance"].map { try $0.decode(GovernanceSection.self, path: "governance") }
        self.baseDir = baseDir
    }

    /// Creates a runtime directly (for `stamp` and tests).
    public init(token: TokenSection?, seal: SealSection?, governance: GovernanceSection?, baseDir: URL) {
        tokenSection = token; sealSection = seal; governanceSection = governance; self.baseDir = baseDir
    }

    func resolve(_ p: String) -> URL { p.hasPrefix("/") ? URL(fileURLWithPath: p) : baseDir.appendingPathComponent(p).standardizedFileURL }

    /// The folder of the pipeline's governance registry (nil without a `governance` section).
    public var registryFolder: URL? { governanceSection.map { resolve($0.registry).deletingLastPathComponent() } }

    /// The governance registry (opened once).
    public func registry() throws -> Registry {
        lock.lock(); defer { lock.unlock() }
        if let r = registryValue { return r }
        guard let g = governanceSection else {
            throw PipelineError(.missingKey, path: "governance", "this pipeline needs a 'governance' section naming the registry")
        }
        // commits are flushed by the engine's delivery barrier (durableFolders), not one by one
        let r = try GovernanceWorkspace.open(registryPath: resolve(g.registry).path, auditKeyPath: g.auditKey.map { resolve($0).path },
                                             flushEachCommit: false)
        if let w = g.auditWitness {
            do { r.audit.useWitness(try AuditWitness.parse(w, baseDir: baseDir)) } catch let e as GovernanceError {
                throw PipelineError(.invalidValue, path: "governance.audit-witness", e.detail)
            }
        }
        registryValue = r
        return r
    }

    /// One approval book for the run: its cache verifies and parses each approval manifest once for
    /// the whole batch (a book per document re-parsed a 300-document manifest 300 times).
    public func approvalBook() throws -> ApprovalBook {
        let r = try registry()
        lock.lock(); defer { lock.unlock() }
        if let b = bookValue, b.registry === r { return b }
        let b = ApprovalBook(registry: r)
        bookValue = b
        return b
    }

    /// The name written as the seal's /Name: the registered seal's name (e.g. "ACME 合同专用章"), read once
    /// per run; the seal id when there is no registry or no such seal.
    public func sealDisplayName() -> String? {
        if let known = lock.withLock({ sealNameValue }) { return known }
        guard let id = sealSection?.id else { return nil }
        let name = (try? registry().seal(id))?.name ?? id
        lock.withLock { sealNameValue = .some(name) }
        return name
    }

    /// The registry if it was opened in this run.
    public var registryIfOpen: Registry? { lock.withLock { registryValue } }

    /// Uses an already open registry (stamp, tests).
    public func use(registry: Registry) { lock.lock(); registryValue = registry; lock.unlock() }

    /// The seal section or a configuration error.
    public func seal() throws -> SealSection {
        guard let s = sealSection else { throw PipelineError(.missingKey, path: "seal", "this pipeline needs a 'seal' section (id, user)") }
        return s
    }

    /// The token as a serialized signature key (opened and logged in on first use, once).
    public func key() async throws -> SerializedKey {
        let task: Task<SerializedKey, Error> = lock.withLock {
            if let t = keyTask { return t }
            let t = Task { try await self.openKey() }
            keyTask = t
            return t
        }
        do { return try await task.value }
        catch {
            lock.withLock { keyTask = nil }
            throw error
        }
    }

    /// The key if the token was opened in this run (nil otherwise; never opens it).
    public func keyIfOpen() async throws -> SerializedKey? {
        guard let t = lock.withLock({ keyTask }) else { return nil }
        return try await t.value
    }

    /// Uses a given key (tests, stamp with an already open token).
    public func use(key: any SignatureKey) {
        lock.withLock { keyTask = Task { SerializedKey(key) } }
    }

    private func openKey() async throws -> SerializedKey {
        guard let t = tokenSection else { throw PipelineError(.missingKey, path: "token", "this pipeline needs a 'token' section") }
        let config = try TokenConfiguration.load(from: resolve(t.config))
        let source: PINSource = pinSourceOverride ?? t.pinFile.map { .file(resolve($0).path) } ?? .prompt
        let token = try await SealToken.open(config, pinProvider: SourcePINProvider(source), logger: logger)
        var key: any SignatureKey = try TokenKey(token: token)
        if let ms = t.testDelayMS, ms > 0 { key = SlowedKey(key, delayMS: ms) }
        if let d = keyDecorator { key = d(key) }
        return SerializedKey(key, token: token)
    }
}

extension NSLock {
    func withLock<T>(_ body: () throws -> T) rethrows -> T { lock(); defer { unlock() }; return try body() }
}
