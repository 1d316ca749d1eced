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

/// `"seal": {…}` — which registered seal is applied, and by which user. The design is the registered
/// seal's (`sealbatch seal register/rebind --design`): a pipeline that still carries `seal.design` is
/// refused when it is read, so preview, stamp and run cannot disagree about how the seal looks.
public struct SealSection: Sendable, Decodable {
    /// Seal id in the governance registry.
    public var id: String
    /// The official-seal user the pipeline stamps as.
    public var user: String
    enum CodingKeys: String, CodingKey, CaseIterable { case id, user, design }
    public init(from decoder: Decoder) throws {
        let c = try decoder.strictContainer(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        user = try c.decode(String.self, forKey: .user)
        if c.contains(.design) { throw PipelineError(.invalidValue, path: "design", SealSection.designMoved(id)) }
    }
    /// Creates a section.
    public init(id: String, user: String) { self.id = id; self.user = user }

    /// The refusal of a design in a pipeline: where the design lives now and how to move it.
    public static func designMoved(_ id: String) -> String {
        "a pipeline no longer defines the seal's design: the registered seal's design is used; move it into the registry " +
        "(`sealbatch seal rebind \(id) --design FILE.json`) and remove this key"
    }
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
    private var openedToken: SealToken?
    private var bindingFailureValue: StageRejection?
    private var recordedQuarantines: [String] = []

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
    /// per run; the seal id when the pipeline has no registry. A registry that cannot be read, or that does
    /// not know the seal, is an error (never a silently different name).
    public func sealDisplayName() throws -> String? {
        if let known = lock.withLock({ sealNameValue }) { return known }
        guard let id = sealSection?.id else { return nil }
        let name = try registeredSeal()?.name ?? id
        lock.withLock { sealNameValue = .some(name) }
        return name
    }

    /// Whether the pipeline names a registry (the seal is then the registered one, and its key is checked).
    var hasRegistry: Bool { governanceSection != nil || registryIfOpen != nil }

    /// The registered seal's design, the one `stamp`, `preview` and `run` all draw. Fail closed: no
    /// registry, an unknown seal or an unusable design (an old registry's free text) is a refusal,
    /// never a default design.
    public func registeredDesign() throws -> SealDesign {
        guard let id = sealSection?.id else {
            throw PipelineError(.missingKey, path: "seal", "the render stage draws the registered seal: name it with \"seal\": {\"id\": …, \"user\": …}")
        }
        guard hasRegistry else {
            throw PipelineError(.missingKey, path: "governance", "the render stage draws the registered seal's design: this pipeline needs a 'governance' section naming the registry")
        }
        guard let seal = try registeredSeal() else { throw StageRejection(.sealNotUsable, "seal \(id) is not registered", routing: .stopBatch) }
        do { return try seal.design.usable(seal: id) } catch let e as GovernanceError {
            throw StageRejection(.sealNotUsable, e.detail, routing: .stopBatch)
        }
    }

    /// The registered seal's CA certificates (empty without a registry or when none are registered).
    public func registeredChainDER() throws -> [[UInt8]] { try registeredSeal()?.chainDER ?? [] }

    /// The registered seal named by the `seal` section (nil without a registry: nothing to bind to).
    public func registeredSeal() throws -> Seal? {
        guard let id = sealSection?.id, hasRegistry else { return nil }
        let seal: Seal?
        do { seal = try registry().seal(id) } catch let e as PipelineError { throw e } catch {
            throw StageRejection(.sealNotUsable, "the registry cannot be read, so seal \(id) cannot be checked: \(error)", routing: .stopBatch)
        }
        guard let seal else {
            throw StageRejection(.sealNotUsable, "seal \(id) is not registered: register it (`sealbatch seal register`) or fix seal.id", routing: .stopBatch)
        }
        return seal
    }

    /// Why the token may not seal in this run (the key-binding check refused it), once known. Sticky for
    /// the run: no second token login, no second audit record.
    public var bindingFailure: StageRejection? { lock.withLock { bindingFailureValue } }

    /// Opens the token without logging in and checks that its certificate for the key is the registered
    /// seal's (no PIN is asked). Called before a run starts: a mismatch refuses the run (audited
    /// `seal.key-mismatch`). A token that cannot be opened now is not an error here: the sign stage meets
    /// the same problem on its first document and handles it as a token fault.
    public func checkSealCertificate() async throws {
        if let f = bindingFailure { throw f }
        guard let id = sealSection?.id, hasRegistry, tokenSection != nil else { return }
        // an unregistered seal is refused per document by the approval stage, with its own reason
        guard let seal = try registry().seal(id) else { return }
        let token: SealToken
        do { token = try await openToken() } catch {
            logger.warning("the seal token could not be opened before the run; the sign stage will try again", metadata: ["error": "\(error)"])
            return
        }
        do { try SealKeyBinding.checkCertificate(token, seal: seal) } catch {
            throw refuseBinding(error, seal: seal)
        }
    }

    /// Records a binding refusal (audit `seal.key-mismatch`) and returns the rejection that stops the run.
    func refuseBinding(_ m: SealKeyBinding.Mismatch, seal: Seal) -> StageRejection {
        if let f = bindingFailure { return f }
        var message = m.description
        do {
            try registry().recordKeyMismatch(seal: seal, actor: sealSection?.user ?? "pipeline", registeredSHA256: m.registeredSHA256,
                                              tokenSHA256: m.tokenSHA256, detail: m.keyDiffers ? "the key does not match the registered certificate"
                                                                                               : "the token's certificate is not the registered one; token \(m.token)")
        } catch {
            message += " (this refusal could not be written to the audit log: \(error))"
        }
        logger.critical("seal key mismatch: the run does not seal", metadata: ["seal": "\(seal.id)", "registered": "\(m.registeredSHA256)", "token": "\(m.tokenSHA256)"])
        let r = StageRejection(.sealKeyMismatch, message, routing: .stopBatch)
        lock.withLock { if bindingFailureValue == nil { bindingFailureValue = r } }
        return bindingFailure ?? r
    }

    /// Writes the audit record of a document's quarantine (action `pipeline.quarantine`, refused, with the
    /// reason code): every refusal of a document leaves a record, also those no governance check made (an
    /// engine duplicate, a damaged file, a failed verification). Every stage is told of a quarantine; the
    /// record is written once. A record that cannot be written is logged and journalled (the document
    /// stays quarantined: a refusal is never undone for want of its record).
    public func recordQuarantine(_ job: Job, code: String, context: StageContext) {
        guard hasRegistry else { return }
        let key = "\(job.id)/\(job.attempt)/\(code)"
        let first: Bool = lock.withLock {
            if recordedQuarantines.contains(key) { return false }
            recordedQuarantines.append(key)
            // the stages of one quarantine are told one after another: a short memory is enough
            if recordedQuarantines.count > 256 { recordedQuarantines.removeFirst(recordedQuarantines.count - 256) }
            return true
        }
        guard first else { return }
        let grant = job.facts[StageFacts.grant]
        do {
            let registry = try registry()
            let seal = try sealSection.flatMap { try registry.seal($0.id) }
            try registry.audit.append(AuditEntry(actor: grant?.user ?? sealSection?.user ?? "pipeline:\(context.pipeline)", action: "pipeline.quarantine",
                                                 organisation: seal?.organisation ?? grant?.organisation, seal: sealSection?.id ?? grant?.seal,
                                                 documentsBefore: job.digest.map { [$0] } ?? [], approval: grant?.approval, outcome: .refused,
                                                 reason: code, detail: "\(job.sourceName) (job \(job.id)) quarantined by \(context.pipeline): \(code)"))
        } catch {
            context.logger.error("the quarantine could not be written to the audit log", metadata: ["file": "\(job.sourceName)", "code": "\(code)", "error": "\(error)"])
            context.recordEvent(kind: "audit-failed", detail: "pipeline.quarantine of \(job.sourceName) (\(code)): \(error)", job: job)
        }
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
        if let f = bindingFailure { throw f }
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

    /// Uses a given key (tests, stamp with an already open token). With a registry, its certificate must
    /// be the registered seal's, as for a token (checked on first use; a mismatch is refused and audited).
    public func use(key: any SignatureKey) {
        lock.withLock {
            keyTask = Task {
                if let seal = try self.registeredSeal() {
                    let registered = SealKeyBinding.fingerprint(seal.certificateDER)
                    let offered = SealKeyBinding.fingerprint(key.certificateChainDER.first ?? [])
                    if registered != offered {
                        throw self.refuseBinding(SealKeyBinding.Mismatch(seal: seal.id, registeredSHA256: registered, tokenSHA256: offered,
                                                                         token: "(key given by the caller)", keyDiffers: false), seal: seal)
                    }
                }
                return SerializedKey(key)
            }
        }
    }

    /// Opens the run's token without logging in (no PIN is asked): module loaded, token found, its
    /// certificate read. For `sealbatch check` and the checks at the start of a run.
    public func tokenWithoutLogin() async throws -> SealToken { try await openToken() }

    /// The run's token actor, opened once (not logged in: the first signature asks the PIN provider).
    private func openToken() async throws -> SealToken {
        if let t = lock.withLock({ openedToken }) { return t }
        guard let t = tokenSection else { throw PipelineError(.missingKey, path: "token", "this pipeline needs a 'token' section") }
        let config = try TokenConfiguration.load(from: resolve(t.config))
        let source: PINSource = pinSourceOverride ?? t.pinFile.map { .file(resolve($0).path) } ?? .prompt
        let token = try await SealToken.open(config, pinProvider: SourcePINProvider(source), logger: logger)
        return lock.withLock {
            if let t = openedToken { return t }
            openedToken = token
            return token
        }
    }

    private func openKey() async throws -> SerializedKey {
        guard let t = tokenSection else { throw PipelineError(.missingKey, path: "token", "this pipeline needs a 'token' section") }
        let token = try await openToken()
        // Before the first signature: the token must hold the registered seal's key (certificate and key).
        if let seal = try registeredSeal() {
            do { try await SealKeyBinding.check(token, seal: seal) } catch let m as SealKeyBinding.Mismatch {
                throw refuseBinding(m, seal: seal)
            }
        }
        var key: any SignatureKey = try TokenKey(token: token)
        if let ms = t.testDelayMS, ms > 0 { key = SlowedKey(key, delayMS: ms) }
        if let d = keyDecorator { key = d(key) }
        return SerializedKey(key, token: token)
    }
}

extension NSLock {
    func withLock<T>(_ body: () throws -> T) rethrows -> T { lock(); defer { unlock() }; return try body() }
}
