import Foundation

/// Outcome of an audited action.
public enum AuditOutcome: String, Codable, Sendable, CaseIterable {
    /// Done.
    case ok
    /// Refused by policy or an approval check (`reason` holds the code).
    case refused
    /// Attempted but failed (I/O, token, verification).
    case failed
}

/// What a caller asks the audit log to record.
public struct AuditEntry: Sendable, Equatable {
    /// Acting user (or `system` / a pipeline name).
    public var actor: String
    /// Action name (`GovernanceAction` raw values, `stamp`, `pipeline.verify`…).
    public var action: String
    /// Organisation concerned.
    public var organisation: String?
    /// Seal concerned.
    public var seal: String?
    /// SHA-256 (hex) of documents before the action.
    public var documentsBefore: [String]
    /// SHA-256 (hex) of documents after the action (e.g. the stamped PDFs).
    public var documentsAfter: [String]
    /// Approval id.
    public var approval: String?
    /// Serial number of the token (or certificate) that signed.
    public var tokenSerial: String?
    /// Outcome.
    public var outcome: AuditOutcome
    /// Reason code for refusals and failures.
    public var reason: String?
    /// Free text (never a PIN or document content).
    public var detail: String

    /// Creates an entry.
    public init(actor: String, action: String, organisation: String? = nil, seal: String? = nil,
                documentsBefore: [String] = [], documentsAfter: [String] = [], approval: String? = nil,
                tokenSerial: String? = nil, outcome: AuditOutcome = .ok, reason: String? = nil, detail: String = "") {
        self.actor = actor; self.action = action; self.organisation = organisation; self.seal = seal
        self.documentsBefore = documentsBefore; self.documentsAfter = documentsAfter; self.approval = approval
        self.tokenSerial = tokenSerial; self.outcome = outcome; self.reason = reason; self.detail = detail
    }
}

/// A stored audit record: an entry with its position, time and hash chain link.
public struct AuditRecord: Sendable, Equatable, Codable {
    /// Position, 1-based, contiguous.
    public var seq: Int64
    /// When (millisecond precision).
    public var time: Date
    /// The recorded entry.
    public var entry: AuditEntry
    /// Hash (hex) of the previous record, 64 zeros for the first.
    public var prevHash: String
    /// SHA-256 (hex) over `prevHash` and this record's canonical encoding.
    public var hash: String

    enum CodingKeys: String, CodingKey {
        case seq, time, actor, action, organisation, seal, approval, outcome, reason, detail, hash
        case documentsBefore = "documents-before", documentsAfter = "documents-after"
        case tokenSerial = "token-serial", prevHash = "prev-hash"
    }

    /// Creates a record.
    public init(seq: Int64, time: Date, entry: AuditEntry, prevHash: String, hash: String) {
        self.seq = seq; self.time = time; self.entry = entry; self.prevHash = prevHash; self.hash = hash
    }

    /// Decodes the flat JSON form.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(Int64.self, forKey: .seq)
        time = try c.decode(Date.self, forKey: .time)
        entry = AuditEntry(actor: try c.decode(String.self, forKey: .actor), action: try c.decode(String.self, forKey: .action),
                           organisation: try c.decodeIfPresent(String.self, forKey: .organisation),
                           seal: try c.decodeIfPresent(String.self, forKey: .seal),
                           documentsBefore: try c.decode([String].self, forKey: .documentsBefore),
                           documentsAfter: try c.decode([String].self, forKey: .documentsAfter),
                           approval: try c.decodeIfPresent(String.self, forKey: .approval),
                           tokenSerial: try c.decodeIfPresent(String.self, forKey: .tokenSerial),
                           outcome: try c.decode(AuditOutcome.self, forKey: .outcome),
                           reason: try c.decodeIfPresent(String.self, forKey: .reason),
                           detail: try c.decode(String.self, forKey: .detail))
        prevHash = try c.decode(String.self, forKey: .prevHash)
        hash = try c.decode(String.self, forKey: .hash)
    }

    /// Encodes as flat JSON (kebab-case keys).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(seq, forKey: .seq); try c.encode(time, forKey: .time)
        try c.encode(entry.actor, forKey: .actor); try c.encode(entry.action, forKey: .action)
        try c.encode(entry.organisation, forKey: .organisation); try c.encode(entry.seal, forKey: .seal)
        try c.encode(entry.documentsBefore, forKey: .documentsBefore); try c.encode(entry.documentsAfter, forKey: .documentsAfter)
        try c.encode(entry.approval, forKey: .approval); try c.encode(entry.tokenSerial, forKey: .tokenSerial)
        try c.encode(entry.outcome, forKey: .outcome); try c.encode(entry.reason, forKey: .reason)
        try c.encode(entry.detail, forKey: .detail); try c.encode(prevHash, forKey: .prevHash); try c.encode(hash, forKey: .hash)
    }
}

/// A signed statement "the log's record `seq` has hash `hash`".
public struct AuditCheckpoint: Sendable, Equatable {
    /// Checkpoint number, 1-based.
    public var id: Int64
    /// Last record covered.
    public var seq: Int64
    /// That record's hash.
    public var recordHash: String
    /// When it was made.
    public var time: Date
    /// DER certificate of the signer.
    public var signerCertificateDER: [UInt8]
    /// Detached CMS over `statement`.
    public var signature: [UInt8]

    /// Creates a checkpoint value.
    public init(id: Int64, seq: Int64, recordHash: String, time: Date, signerCertificateDER: [UInt8], signature: [UInt8]) {
        self.id = id; self.seq = seq; self.recordHash = recordHash; self.time = time
        self.signerCertificateDER = signerCertificateDER; self.signature = signature
    }

    /// The signed bytes.
    public var statement: [UInt8] { Self.statement(seq: seq, recordHash: recordHash, time: time) }

    /// The signed bytes for given values.
    public static func statement(seq: Int64, recordHash: String, time: Date) -> [UInt8] {
        Array("sealbatch-audit-checkpoint/1\nseq=\(seq)\nhash=\(recordHash)\ntime=\(Int64((time.timeIntervalSince1970 * 1000).rounded()))\n".utf8)
    }
}

/// Filter for audit queries.
public struct AuditQuery: Sendable, Equatable {
    /// Only this seal.
    public var seal: String?
    /// Only this actor.
    public var user: String?
    /// Only this organisation.
    public var organisation: String?
    /// Only this action (exact) or prefix ending in `.` (e.g. `seal.`).
    public var action: String?
    /// Inclusive lower bound.
    public var since: Date?
    /// Exclusive upper bound.
    public var until: Date?
    /// Only records after this sequence number.
    public var afterSeq: Int64?
    /// At most this many (oldest first, or newest first with `newestFirst`).
    public var limit: Int?
    /// Only this outcome.
    public var outcome: AuditOutcome?
    /// Only records naming a document (before or after) whose SHA-256 (lowercase hex) starts with this.
    public var document: String?
    /// Newest first (with `limit`: the latest `limit` records).
    public var newestFirst = false

    /// Creates a query.
    public init(seal: String? = nil, user: String? = nil, organisation: String? = nil, action: String? = nil,
                since: Date? = nil, until: Date? = nil, afterSeq: Int64? = nil, limit: Int? = nil,
                outcome: AuditOutcome? = nil, document: String? = nil, newestFirst: Bool = false) {
        self.seal = seal; self.user = user; self.organisation = organisation; self.action = action
        self.since = since; self.until = until; self.afterSeq = afterSeq; self.limit = limit
        self.outcome = outcome; self.document = document; self.newestFirst = newestFirst
    }
}

/// Makes the audit record to append from the log's last (seq, hash) (`AuditLog.maker`).
public typealias AuditRecordMaker = (_ lastSeq: Int64, _ lastHash: String?) throws -> AuditRecord

/// Result of recording an approval use.
public enum UseRecording: Sendable, Equatable {
    /// A new use was recorded; `count` uses now exist.
    case recorded(count: Int)
    /// The same (approval, document, job) was already recorded: nothing changed.
    case alreadyRecorded(count: Int)
    /// The document was already consumed by another job.
    case replay(job: String)
    /// No uses left.
    case usedUp(count: Int)
}

/// Storage of the registry, approvals and audit log. `SQLiteGovernanceStore` (GRDB) is the embedded
/// default; another back end (PostgreSQL) implements the same protocol. Every method is atomic.
public protocol GovernanceStore: Sendable {
    // Meta
    /// A stored setting.
    func meta(_ key: String) throws -> String?
    /// Stores a setting.
    func setMeta(_ key: String, _ value: String?) throws

    // Organisations
    /// Inserts; `alreadyExists` if taken.
    func insertOrganisation(_ o: Organisation) throws
    /// Looks one up.
    func organisation(_ id: String) throws -> Organisation?
    /// All organisations.
    func organisations() throws -> [Organisation]
    /// Trust anchors (DER) for users' certificates of an organisation.
    func anchors(organisation: String) throws -> [[UInt8]]
    /// Adds a trust anchor.
    func addAnchor(organisation: String, certificateDER: [UInt8]) throws
    /// Removes a trust anchor; false when the organisation had no such anchor.
    func removeAnchor(organisation: String, certificateDER: [UInt8]) throws -> Bool

    // Users
    /// Inserts; `alreadyExists` if taken.
    func insertUser(_ u: User) throws
    /// Creates the first user with `platformAdmin` only if no user exists (atomic); `registryNotEmpty` otherwise.
    func bootstrap(_ u: User, grant: RoleGrant) throws
    /// Replaces a user's row.
    func updateUser(_ u: User) throws
    /// Looks one up.
    func user(_ id: String) throws -> User?
    /// Users, optionally of one organisation.
    func users(organisation: String?) throws -> [User]

    // Roles
    /// Inserts (no-op if held).
    func insertRoleGrant(_ g: RoleGrant) throws
    /// Deletes; returns whether it existed.
    func deleteRoleGrant(user: String, role: Role, organisation: String?) throws -> Bool
    /// Roles of a user.
    func roleGrants(user: String) throws -> [RoleGrant]
    /// All role grants, optionally of one organisation.
    func roleGrants(organisation: String?) throws -> [RoleGrant]

    // Seals
    /// Inserts; `alreadyExists` if taken.
    func insertSeal(_ s: Seal) throws
    /// Replaces a seal's row.
    func updateSeal(_ s: Seal) throws
    /// Looks one up.
    func seal(_ id: String) throws -> Seal?
    /// Seals, optionally of one organisation.
    func seals(organisation: String?) throws -> [Seal]
    /// Inserts (no-op if held).
    func insertSealGrant(_ g: SealGrant) throws
    /// Deletes; returns whether it existed.
    func deleteSealGrant(seal: String, user: String, right: SealRight) throws -> Bool
    /// Per-seal rights of a user.
    func sealGrants(user: String) throws -> [SealGrant]
    /// Per-seal rights on a seal.
    func sealGrants(seal: String) throws -> [SealGrant]

    // Approvals
    /// Inserts; `alreadyExists` if the id is taken.
    func insertApproval(_ a: ApprovalRecord) throws
    /// Inserts and appends the audit record `audit` makes, in one transaction: a registration is never
    /// without its record, and a record that cannot be written leaves nothing registered.
    func insertApproval(_ a: ApprovalRecord, audit: AuditRecordMaker) throws -> AuditRecord
    /// Looks one up.
    func approval(_ id: String) throws -> ApprovalRecord?
    /// Approvals, newest first, optionally of one seal.
    func approvals(seal: String?) throws -> [ApprovalRecord]
    /// Approvals listing a document hash.
    func approvals(listing sha256: String) throws -> [ApprovalRecord]
    /// Marks revoked.
    func revokeApproval(_ id: String, by: String, at: Date) throws
    /// Atomically records a use unless the document was consumed by another job or uses are exhausted,
    /// together with the audit record `audit` makes for the outcome (nil: none), in the same transaction:
    /// a use is never without its record, whatever stops the process.
    func recordUse(_ use: ApprovalUse, limit: Int, audit: (UseRecording) -> AuditRecordMaker?) throws -> (UseRecording, AuditRecord?)
    /// Uses of an approval.
    func uses(approval: String) throws -> [ApprovalUse]
    /// The changing columns of the approvals listing a document hash (admission reads these per document;
    /// the signed manifest itself is read once per run).
    func approvalStates(listing sha256: String) throws -> [ApprovalState]
    /// The changing columns of one approval.
    func approvalState(_ id: String) throws -> ApprovalState?
    /// How many uses an approval has, and this document's use if it has one.
    func useState(approval: String, documentSHA256: String) throws -> UseState
    /// Deletes the use of (approval, document) if it was recorded by `job`, and then appends `audit`'s record
    /// in the same transaction; returns the record (nil: there was no such use, nothing changed).
    func deleteUse(approval: String, documentSHA256: String, job: String, audit: AuditRecordMaker) throws -> AuditRecord?

    /// The seal, the user and the user's grants, read together (one read transaction where the store
    /// can: admitting a document asks for all four, once per document of a batch).
    func stampContext(seal: String, user: String) throws -> StampContext

    // Audit
    /// Atomically appends: reads the last record's (seq, hash) and stores what `make` returns.
    func appendAudit(_ make: (_ lastSeq: Int64, _ lastHash: String?) throws -> AuditRecord) throws -> AuditRecord
    /// Records matching a query, oldest first (newest first with `newestFirst`).
    func auditRecords(_ q: AuditQuery) throws -> [AuditRecord]
    /// How many records match a query (its `limit` ignored).
    func auditCount(_ q: AuditQuery) throws -> Int
    /// The last record, if any.
    func lastAuditRecord() throws -> AuditRecord?
    /// Stores a checkpoint (its id is assigned).
    func insertCheckpoint(_ c: AuditCheckpoint) throws -> AuditCheckpoint
    /// All checkpoints, oldest first.
    func checkpoints() throws -> [AuditCheckpoint]
}

/// What admitting one document needs from the store.
public struct StampContext: Sendable {
    public var seal: Seal?
    public var user: User?
    public var roles: [RoleGrant]
    public var sealRights: [SealGrant]
    /// Changes whenever an organisation, anchor, user, role, seal or seal right changes (nil: the store
    /// cannot tell, and nothing derived from those may be reused).
    public var generation: Int64?
    public init(seal: Seal?, user: User?, roles: [RoleGrant], sealRights: [SealGrant], generation: Int64? = nil) {
        self.seal = seal; self.user = user; self.roles = roles; self.sealRights = sealRights; self.generation = generation
    }
}

/// The columns of an approval that change after registration, and the sizes of its signed bytes.
public struct ApprovalState: Sendable, Equatable {
    public var id: String
    public var seal: String
    public var uses: Int
    public var status: ApprovalStatus
    public var revokedBy: String?
    public var revokedAt: Date?
    public var payloadSize: Int
    public var signatureSize: Int
    public init(id: String, seal: String, uses: Int, status: ApprovalStatus, revokedBy: String?, revokedAt: Date?, payloadSize: Int, signatureSize: Int) {
        self.id = id; self.seal = seal; self.uses = uses; self.status = status; self.revokedBy = revokedBy; self.revokedAt = revokedAt
        self.payloadSize = payloadSize; self.signatureSize = signatureSize
    }
    public init(_ r: ApprovalRecord) {
        self.init(id: r.id, seal: r.seal, uses: r.uses, status: r.status, revokedBy: r.revokedBy, revokedAt: r.revokedAt,
                  payloadSize: r.payload.count, signatureSize: r.signature.count)
    }
}

/// An approval's use count and one document's use.
public struct UseState: Sendable, Equatable {
    public var count: Int
    public var use: ApprovalUse?
    public init(count: Int, use: ApprovalUse?) { self.count = count; self.use = use }
}

extension GovernanceStore {
    /// Four separate reads; stores that can should read them in one transaction.
    public func stampContext(seal: String, user: String) throws -> StampContext {
        StampContext(seal: try self.seal(seal), user: try self.user(user), roles: try roleGrants(user: user), sealRights: try sealGrants(user: user))
    }
    /// From the full records; stores that can should read only the changing columns.
    public func approvalStates(listing sha256: String) throws -> [ApprovalState] { try approvals(listing: sha256).map(ApprovalState.init) }
    /// From the full record.
    public func approvalState(_ id: String) throws -> ApprovalState? { try approval(id).map(ApprovalState.init) }
    /// From all uses; stores that can should count and look up the one use.
    public func useState(approval: String, documentSHA256: String) throws -> UseState {
        let all = try uses(approval: approval)
        return UseState(count: all.count, use: all.first { $0.documentSHA256 == documentSHA256 })
    }
}
