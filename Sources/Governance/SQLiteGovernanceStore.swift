import Foundation
import GRDB
import Signing

/// The embedded `GovernanceStore`: one SQLite file (WAL mode) through GRDB. Several processes may
/// share the file (the CLI, the pipeline, `audit tail --follow`); writes take an IMMEDIATE lock.
public final class SQLiteGovernanceStore: GovernanceStore {
    /// The database file.
    public let path: String
    let pool: DatabasePool

    /// Opens (and creates or migrates) the registry at `path`.
    ///
    /// `flushEachCommit` (the default) makes every commit durable on its own (`synchronous = FULL`): a
    /// command that returns has its approval use or audit record on disk. The pipeline passes false
    /// (`synchronous = NORMAL`, WAL): its delivery barrier flushes the registry's file system before a
    /// document is delivered, for all the documents delivering together.
    public init(path: String, flushEachCommit: Bool = true) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(15)
        config.foreignKeysEnabled = true
        // reader connections re-read pages after every write (an audit append per step): map instead of pread
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA mmap_size = 268435456") }
        do {
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            pool = try DatabasePool(path: path, configuration: config)
            try Self.migrator.migrate(pool)
            // the pool's single writer connection keeps this for its lifetime (GRDB sets NORMAL)
            if flushEachCommit { try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") } }
        } catch {
            throw GovernanceError(.storage, "cannot open the registry at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE organisation (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL);
            CREATE TABLE org_anchor (organisation TEXT NOT NULL REFERENCES organisation(id), der BLOB NOT NULL,
                PRIMARY KEY (organisation, der));
            CREATE TABLE user (id TEXT PRIMARY KEY, organisation TEXT REFERENCES organisation(id), name TEXT NOT NULL,
                certificate BLOB, certificate_sha256 TEXT, password_hash TEXT, status TEXT NOT NULL, created_at INTEGER NOT NULL);
            CREATE INDEX user_cert ON user(certificate_sha256);
            CREATE TABLE role_grant (user TEXT NOT NULL REFERENCES user(id), role TEXT NOT NULL, organisation TEXT NOT NULL DEFAULT '',
                granted_by TEXT NOT NULL, granted_at INTEGER NOT NULL, PRIMARY KEY (user, role, organisation));
            CREATE TABLE seal (id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL,
                organisation TEXT NOT NULL REFERENCES organisation(id), certificate BLOB NOT NULL, token_uri TEXT NOT NULL,
                appearance TEXT NOT NULL, status TEXT NOT NULL, valid_from INTEGER NOT NULL, valid_until INTEGER NOT NULL,
                created_by TEXT NOT NULL, created_at INTEGER NOT NULL);
            CREATE TABLE seal_grant (seal TEXT NOT NULL REFERENCES seal(id), user TEXT NOT NULL REFERENCES user(id),
                "right" TEXT NOT NULL, granted_by TEXT NOT NULL, granted_at INTEGER NOT NULL, PRIMARY KEY (seal, user, "right"));
            CREATE TABLE approval (id TEXT PRIMARY KEY, seal TEXT NOT NULL, requester TEXT NOT NULL, approver TEXT NOT NULL,
                purpose TEXT NOT NULL, issued_at INTEGER NOT NULL, valid_until INTEGER NOT NULL, uses INTEGER NOT NULL,
                documents TEXT NOT NULL, payload BLOB NOT NULL, signature BLOB NOT NULL, status TEXT NOT NULL,
                revoked_by TEXT, revoked_at INTEGER, registered_at INTEGER NOT NULL);
            CREATE TABLE approval_document (approval TEXT NOT NULL REFERENCES approval(id), sha256 TEXT NOT NULL,
                PRIMARY KEY (approval, sha256));
            CREATE INDEX approval_document_sha ON approval_document(sha256);
            CREATE TABLE approval_use (approval TEXT NOT NULL REFERENCES approval(id), sha256 TEXT NOT NULL, job TEXT NOT NULL,
                user TEXT NOT NULL, used_at INTEGER NOT NULL, PRIMARY KEY (approval, sha256));
            CREATE TABLE audit (seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
                organisation TEXT, seal TEXT, documents_before TEXT NOT NULL, documents_after TEXT NOT NULL, approval TEXT,
                token_serial TEXT, outcome TEXT NOT NULL, reason TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL,
                hash TEXT NOT NULL);
            CREATE INDEX audit_time ON audit(time);
            CREATE INDEX audit_seal ON audit(seal);
            CREATE INDEX audit_actor ON audit(actor);
            CREATE TABLE audit_checkpoint (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, record_hash TEXT NOT NULL,
                time INTEGER NOT NULL, signer BLOB NOT NULL, signature BLOB NOT NULL);
            """)
        }
        // A counter every change to the facts an approval's verification rests on (organisations, anchors,
        // users, roles, seals, seal rights) bumps, by trigger, whoever writes: admission reuses a manifest's
        // verification while it is unchanged instead of redoing it for every document of a batch.
        m.registerMigration("v2-generation") { db in
            try db.execute(sql: """
            INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
            CREATE TRIGGER generation_organisation_insert AFTER INSERT ON organisation BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_organisation_update AFTER UPDATE ON organisation BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_organisation_delete AFTER DELETE ON organisation BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_org_anchor_insert AFTER INSERT ON org_anchor BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_org_anchor_update AFTER UPDATE ON org_anchor BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_org_anchor_delete AFTER DELETE ON org_anchor BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_user_insert AFTER INSERT ON user BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_user_update AFTER UPDATE ON user BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_user_delete AFTER DELETE ON user BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_role_grant_insert AFTER INSERT ON role_grant BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_role_grant_update AFTER UPDATE ON role_grant BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_role_grant_delete AFTER DELETE ON role_grant BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_seal_insert AFTER INSERT ON seal BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_seal_update AFTER UPDATE ON seal BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_seal_delete AFTER DELETE ON seal BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_seal_grant_insert AFTER INSERT ON seal_grant BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_seal_grant_update AFTER UPDATE ON seal_grant BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            CREATE TRIGGER generation_seal_grant_delete AFTER DELETE ON seal_grant BEGIN UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'; END;
            """)
        }
        // The seal's CA certificates (PEM, intermediates then root), checked at registration against the
        // organisation's trust anchors; the sign stage puts them into the CMS when the token holds only the seal's.
        m.registerMigration("v3-seal-chain") { db in
            try db.execute(sql: "ALTER TABLE seal ADD COLUMN chain_pem TEXT NOT NULL DEFAULT ''")
        }
        // The console's dashboard asks for one action (`stamp`) over a time window, for an organisation or a
        // user: without this, 100 000 records of other actions are read to find them (bench/console.sh).
        m.registerMigration("v4-audit-action-time") { db in
            try db.execute(sql: "CREATE INDEX audit_action_time ON audit(action, time)")
        }
        return m
    }

    // MARK: - helpers

    static func ms(_ d: Date) -> Int64 { Int64((d.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ ms: Int64) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }

    /// The writer's `PRAGMA synchronous` (2 = FULL, 1 = NORMAL).
    public func synchronousMode() throws -> Int {
        try pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.read(body) } catch let e as GovernanceError { throw e } catch {
            throw GovernanceError(.storage, "registry read failed: \(error)")
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        } catch let e as GovernanceError { throw e } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT {
            throw GovernanceError(.alreadyExists, "already registered (\(e.message ?? "constraint"))")
        } catch {
            throw GovernanceError(.storage, "registry write failed: \(error)")
        }
    }

    // MARK: - meta

    public func meta(_ key: String) throws -> String? {
        try read { try String.fetchOne(try $0.cachedStatement(sql: "SELECT value FROM meta WHERE key = ?"), arguments: [key]) }
    }

    public func setMeta(_ key: String, _ value: String?) throws {
        try write { db in
            if let value {
                try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                               arguments: [key, value])
            } else {
                try db.cachedStatement(sql: "DELETE FROM meta WHERE key = ?").execute(arguments: [key])
            }
        }
    }

    // MARK: - organisations

    public func insertOrganisation(_ o: Organisation) throws {
        try write { db in
            try db.execute(sql: "INSERT INTO organisation(id, name, created_at) VALUES (?, ?, ?)",
                           arguments: [o.id, o.name, Self.ms(o.createdAt)])
        }
    }

    static func org(_ r: Row) -> Organisation {
        Organisation(id: r["id"], name: r["name"], createdAt: date(r["created_at"]))
    }

    public func organisation(_ id: String) throws -> Organisation? {
        try read { try Row.fetchOne(try $0.cachedStatement(sql: "SELECT * FROM organisation WHERE id = ?"), arguments: [id]).map(Self.org) }
    }

    public func organisations() throws -> [Organisation] {
        try read { try Row.fetchAll(try $0.cachedStatement(sql: "SELECT * FROM organisation ORDER BY id")).map(Self.org) }
    }

    public func anchors(organisation: String) throws -> [[UInt8]] {
        try read { try Data.fetchAll(try $0.cachedStatement(sql: "SELECT der FROM org_anchor WHERE organisation = ?"), arguments: [organisation]).map { Array($0) } }
    }

    public func addAnchor(organisation: String, certificateDER: [UInt8]) throws {
        try write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO org_anchor(organisation, der) VALUES (?, ?)",
                           arguments: [organisation, Data(certificateDER)])
        }
    }

    public func removeAnchor(organisation: String, certificateDER: [UInt8]) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM org_anchor WHERE organisation = ? AND der = ?", arguments: [organisation, Data(certificateDER)])
            return db.changesCount > 0
        }
    }

    // MARK: - users

    static func userArgs(_ u: User) -> StatementArguments {
        [u.id, u.organisation, u.name, u.certificateDER.map { Data($0) }, u.certificateSHA256, u.passwordHash,
         u.status.rawValue, ms(u.createdAt)]
    }

    static func user(_ r: Row) -> User {
        let cert: Data? = r["certificate"]
        return User(id: r["id"], organisation: r["organisation"], name: r["name"], certificateDER: cert.map { Array($0) },
                    certificateSHA256: r["certificate_sha256"], passwordHash: r["password_hash"],
                    status: UserStatus(rawValue: r["status"]) ?? .disabled, createdAt: date(r["created_at"]))
    }

    static let insertUserSQL = """
        INSERT INTO user(id, organisation, name, certificate, certificate_sha256, password_hash, status, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    public func insertUser(_ u: User) throws {
        try write { db in try db.execute(sql: Self.insertUserSQL, arguments: Self.userArgs(u)) }
    }

    public func bootstrap(_ u: User, grant: RoleGrant) throws {
        try write { db in
            let n = try Int.fetchOne(try db.cachedStatement(sql: "SELECT count(*) FROM user")) ?? 0
            guard n == 0 else {
                throw GovernanceError(.registryNotEmpty, "the registry already has \(n) user(s); the first platform administrator can only be created in an empty registry")
            }
            try db.execute(sql: Self.insertUserSQL, arguments: Self.userArgs(u))
            try Self.insertRole(db, grant)
        }
    }

    public func updateUser(_ u: User) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE user SET organisation = ?, name = ?, certificate = ?, certificate_sha256 = ?, password_hash = ?, status = ?
                WHERE id = ?
                """, arguments: [u.organisation, u.name, u.certificateDER.map { Data($0) }, u.certificateSHA256,
                                 u.passwordHash, u.status.rawValue, u.id])
        }
    }

    public func user(_ id: String) throws -> User? { try read { try Self.user($0, id: id) } }

    static func user(_ db: Database, id: String) throws -> User? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM user WHERE id = ?"), arguments: [id]).map(Self.user)
    }

    public func users(organisation: String?) throws -> [User] {
        try read { db in
            if let organisation {
                return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM user WHERE organisation = ? ORDER BY id"), arguments: [organisation]).map(Self.user)
            }
            return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM user ORDER BY id")).map(Self.user)
        }
    }

    // MARK: - roles

    static func insertRole(_ db: Database, _ g: RoleGrant) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO role_grant(user, role, organisation, granted_by, granted_at) VALUES (?, ?, ?, ?, ?)",
                       arguments: [g.user, g.role.rawValue, g.organisation ?? "", g.grantedBy, ms(g.grantedAt)])
    }

    static func role(_ r: Row) -> RoleGrant? {
        guard let role = Role(rawValue: r["role"]) else { return nil }
        let org: String = r["organisation"]
        return RoleGrant(user: r["user"], role: role, organisation: org.isEmpty ? nil : org,
                         grantedBy: r["granted_by"], grantedAt: date(r["granted_at"]))
    }

    public func insertRoleGrant(_ g: RoleGrant) throws { try write { try Self.insertRole($0, g) } }

    public func deleteRoleGrant(user: String, role: Role, organisation: String?) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM role_grant WHERE user = ? AND role = ? AND organisation = ?",
                           arguments: [user, role.rawValue, organisation ?? ""])
            return db.changesCount > 0
        }
    }

    public func roleGrants(user: String) throws -> [RoleGrant] { try read { try Self.roleGrants($0, user: user) } }

    static func roleGrants(_ db: Database, user: String) throws -> [RoleGrant] {
        try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM role_grant WHERE user = ? ORDER BY role, organisation"), arguments: [user]).compactMap(Self.role)
    }

    public func roleGrants(organisation: String?) throws -> [RoleGrant] {
        try read { db in
            if let organisation {
                return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM role_grant WHERE organisation = ? ORDER BY user, role"), arguments: [organisation]).compactMap(Self.role)
            }
            return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM role_grant ORDER BY user, role")).compactMap(Self.role)
        }
    }

    // MARK: - seals

    static func seal(_ r: Row) throws -> Seal {
        let cert: Data = r["certificate"]
        let chainPEM: String = r["chain_pem"]
        var chain: [[UInt8]] = []
        if !chainPEM.isEmpty {
            do { chain = try DetachedSignature.certificates(pemOrDER: Array(chainPEM.utf8)).map(\.der) } catch {
                throw GovernanceError(.storage, "the registered chain of seal \(r["id"] as String) cannot be read: \(error)")
            }
        }
        return try Seal(id: r["id"], name: r["name"], kind: SealKind(rawValue: r["kind"]) ?? .official, organisation: r["organisation"],
                    certificateDER: Array(cert), tokenURI: r["token_uri"], design: RegisteredDesign(stored: r["appearance"]),
                    status: SealStatus(rawValue: r["status"]) ?? .revoked, validFrom: date(r["valid_from"]),
                    validUntil: date(r["valid_until"]), createdBy: r["created_by"], createdAt: date(r["created_at"]), chainDER: chain)
    }

    static func pem(_ chain: [[UInt8]]) throws -> String {
        try chain.map { try DetachedSignature.Certificate(der: $0).pem }.joined()
    }

    public func insertSeal(_ s: Seal) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO seal(id, name, kind, organisation, certificate, token_uri, appearance, status, valid_from, valid_until,
                                 created_by, created_at, chain_pem) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [s.id, s.name, s.kind.rawValue, s.organisation, Data(s.certificateDER), s.tokenURI, try s.design.stored(),
                                 s.status.rawValue, Self.ms(s.validFrom), Self.ms(s.validUntil), s.createdBy, Self.ms(s.createdAt), try Self.pem(s.chainDER)])
        }
    }

    public func updateSeal(_ s: Seal) throws {
        try write { db in
            try db.execute(sql: """
                UPDATE seal SET name = ?, kind = ?, certificate = ?, token_uri = ?, appearance = ?, status = ?, valid_from = ?,
                                valid_until = ?, chain_pem = ? WHERE id = ?
                """, arguments: [s.name, s.kind.rawValue, Data(s.certificateDER), s.tokenURI, try s.design.stored(), s.status.rawValue,
                                 Self.ms(s.validFrom), Self.ms(s.validUntil), try Self.pem(s.chainDER), s.id])
        }
    }

    public func seal(_ id: String) throws -> Seal? { try read { try Self.seal($0, id: id) } }

    static func seal(_ db: Database, id: String) throws -> Seal? {
        try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM seal WHERE id = ?"), arguments: [id]).map(Self.seal)
    }

    public func seals(organisation: String?) throws -> [Seal] {
        try read { db in
            if let organisation {
                return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM seal WHERE organisation = ? ORDER BY id"), arguments: [organisation]).map(Self.seal)
            }
            return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM seal ORDER BY id")).map(Self.seal)
        }
    }

    static func sealGrant(_ r: Row) -> SealGrant? {
        guard let right = SealRight(rawValue: r["right"]) else { return nil }
        return SealGrant(seal: r["seal"], user: r["user"], right: right, grantedBy: r["granted_by"], grantedAt: date(r["granted_at"]))
    }

    public func insertSealGrant(_ g: SealGrant) throws {
        try write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO seal_grant(seal, user, \"right\", granted_by, granted_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [g.seal, g.user, g.right.rawValue, g.grantedBy, Self.ms(g.grantedAt)])
        }
    }

    public func deleteSealGrant(seal: String, user: String, right: SealRight) throws -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM seal_grant WHERE seal = ? AND user = ? AND \"right\" = ?", arguments: [seal, user, right.rawValue])
            return db.changesCount > 0
        }
    }

    public func stampContext(seal: String, user: String) throws -> StampContext {
        try read { db in
            StampContext(seal: try Self.seal(db, id: seal), user: try Self.user(db, id: user),
                         roles: try Self.roleGrants(db, user: user), sealRights: try Self.sealGrants(db, user: user),
                         generation: try Int64.fetchOne(try db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'")))
        }
    }

    public func sealGrants(user: String) throws -> [SealGrant] { try read { try Self.sealGrants($0, user: user) } }

    static func sealGrants(_ db: Database, user: String) throws -> [SealGrant] {
        try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM seal_grant WHERE user = ? ORDER BY seal, \"right\""), arguments: [user]).compactMap(Self.sealGrant)
    }

    public func sealGrants(seal: String) throws -> [SealGrant] {
        try read { try Row.fetchAll(try $0.cachedStatement(sql: "SELECT * FROM seal_grant WHERE seal = ? ORDER BY user, \"right\""), arguments: [seal]).compactMap(Self.sealGrant) }
    }

    // MARK: - approvals

    /// Decoded `documents` columns by approval id. The column is written once (`insertApproval`) and a
    /// batch of N documents reads its approval N times: decoding it each time made admission O(N²).
    /// Keyed by id and the column text itself, so an edited row is decoded afresh.
    private static let documentsCache = DocumentsCache()

    final class DocumentsCache: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [String: (json: String, docs: [ApprovalManifest.Document])] = [:]
        func documents(id: String, json: String) throws -> [ApprovalManifest.Document] {
            lock.lock()
            if let e = entries[id], e.json == json { lock.unlock(); return e.docs }
            lock.unlock()
            let docs: [ApprovalManifest.Document]
            do { docs = try JSONDecoder().decode([ApprovalManifest.Document].self, from: Data(json.utf8)) } catch {
                // an unreadable copy of the signed list is damage, not "lists nothing"
                throw GovernanceError(.storage, "the stored document list of approval \(id) is unreadable: \(error)")
            }
            lock.lock(); defer { lock.unlock() }
            if entries.count >= 64 { entries.removeAll(keepingCapacity: true) }
            entries[id] = (json, docs)
            return docs
        }
    }

    static func approval(_ r: Row) throws -> ApprovalRecord {
        let docsJSON: String = r["documents"]
        let docs = try documentsCache.documents(id: r["id"], json: docsJSON)
        let payload: Data = r["payload"], sig: Data = r["signature"]
        let revokedAt: Int64? = r["revoked_at"]
        return ApprovalRecord(id: r["id"], seal: r["seal"], requester: r["requester"], approver: r["approver"], purpose: r["purpose"],
                              issuedAt: date(r["issued_at"]), validUntil: date(r["valid_until"]), uses: r["uses"], documents: docs,
                              payload: Array(payload), signature: Array(sig), status: ApprovalStatus(rawValue: r["status"]) ?? .revoked,
                              revokedBy: r["revoked_by"], revokedAt: revokedAt.map(date), registeredAt: date(r["registered_at"]))
    }

    public func insertApproval(_ a: ApprovalRecord) throws {
        try write { db in try Self.insertApproval(db, a) }
    }

    public func insertApproval(_ a: ApprovalRecord, audit: AuditRecordMaker) throws -> AuditRecord {
        try write { db in
            try Self.insertApproval(db, a)
            return try Self.insertAudit(db, audit)
        }
    }

    static func insertApproval(_ db: Database, _ a: ApprovalRecord) throws {
        let docs: String
        do { docs = String(decoding: try JSONEncoder().encode(a.documents), as: UTF8.self) } catch {
            throw GovernanceError(.storage, "the document list of approval \(a.id) cannot be encoded: \(error)")
        }
        try db.execute(sql: """
            INSERT INTO approval(id, seal, requester, approver, purpose, issued_at, valid_until, uses, documents, payload, signature,
                                 status, revoked_by, revoked_at, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [a.id, a.seal, a.requester, a.approver, a.purpose, Self.ms(a.issuedAt), Self.ms(a.validUntil), a.uses,
                             docs, Data(a.payload), Data(a.signature), a.status.rawValue, a.revokedBy, a.revokedAt.map(Self.ms),
                             Self.ms(a.registeredAt)])
        for d in Set(a.documents.map(\.sha256)) {
            try db.cachedStatement(sql: "INSERT INTO approval_document(approval, sha256) VALUES (?, ?)").execute(arguments: [a.id, d])
        }
    }

    public func approval(_ id: String) throws -> ApprovalRecord? {
        try read { try Row.fetchOne(try $0.cachedStatement(sql: "SELECT * FROM approval WHERE id = ?"), arguments: [id]).map { try Self.approval($0) } }
    }

    public func approvals(seal: String?) throws -> [ApprovalRecord] {
        try read { db in
            if let seal {
                return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM approval WHERE seal = ? ORDER BY registered_at DESC, id"), arguments: [seal]).map { try Self.approval($0) }
            }
            return try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM approval ORDER BY registered_at DESC, id")).map { try Self.approval($0) }
        }
    }

    public func approvals(listing sha256: String) throws -> [ApprovalRecord] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: """
                SELECT a.* FROM approval a JOIN approval_document d ON d.approval = a.id WHERE d.sha256 = ?
                ORDER BY a.registered_at DESC, a.id
                """), arguments: [sha256.lowercased()]).map { try Self.approval($0) }
        }
    }

    public func revokeApproval(_ id: String, by: String, at: Date) throws {
        try write { db in
            try db.execute(sql: "UPDATE approval SET status = 'revoked', revoked_by = ?, revoked_at = ? WHERE id = ? AND status = 'active'",
                           arguments: [by, Self.ms(at), id])
        }
    }

    public func recordUse(_ use: ApprovalUse, limit: Int, audit: (UseRecording) -> AuditRecordMaker?) throws -> (UseRecording, AuditRecord?) {
        try write { db in
            let outcome: UseRecording
            let count = try Int.fetchOne(try db.cachedStatement(sql: "SELECT count(*) FROM approval_use WHERE approval = ?"), arguments: [use.approval]) ?? 0
            if let job = try String.fetchOne(try db.cachedStatement(sql: "SELECT job FROM approval_use WHERE approval = ? AND sha256 = ?"),
                                             arguments: [use.approval, use.documentSHA256]) {
                outcome = job == use.job ? .alreadyRecorded(count: count) : .replay(job: job)
            } else if count >= limit {
                outcome = .usedUp(count: count)
            } else {
                try db.execute(sql: "INSERT INTO approval_use(approval, sha256, job, user, used_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [use.approval, use.documentSHA256, use.job, use.user, Self.ms(use.usedAt)])
                outcome = .recorded(count: count + 1)
            }
            return (outcome, try audit(outcome).map { try Self.insertAudit(db, $0) })
        }
    }

    public func uses(approval: String) throws -> [ApprovalUse] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM approval_use WHERE approval = ? ORDER BY used_at"), arguments: [approval]).map { r in
                ApprovalUse(approval: r["approval"], documentSHA256: r["sha256"], job: r["job"], user: r["user"], usedAt: Self.date(r["used_at"]))
            }
        }
    }

    static func approvalState(_ r: Row) -> ApprovalState {
        let revokedAt: Int64? = r[5]
        return ApprovalState(id: r[0], seal: r[1], uses: r[2], status: ApprovalStatus(rawValue: r[3]) ?? .revoked, revokedBy: r[4],
                             revokedAt: revokedAt.map(date), payloadSize: r[6], signatureSize: r[7])
    }
    static let stateColumns = "a.id, a.seal, a.uses, a.status, a.revoked_by, a.revoked_at, length(a.payload), length(a.signature)"

    public func approvalStates(listing sha256: String) throws -> [ApprovalState] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: """
                SELECT \(Self.stateColumns) FROM approval a JOIN approval_document d ON d.approval = a.id WHERE d.sha256 = ?
                ORDER BY a.registered_at DESC, a.id
                """), arguments: [sha256.lowercased()]).map(Self.approvalState)
        }
    }

    public func approvalState(_ id: String) throws -> ApprovalState? {
        try read { try Row.fetchOne(try $0.cachedStatement(sql: "SELECT \(Self.stateColumns) FROM approval a WHERE a.id = ?"), arguments: [id]).map(Self.approvalState) }
    }

    public func useState(approval: String, documentSHA256: String) throws -> UseState {
        try read { db in
            let count = try Int.fetchOne(try db.cachedStatement(sql: "SELECT count(*) FROM approval_use WHERE approval = ?"), arguments: [approval]) ?? 0
            let use = try Row.fetchOne(try db.cachedStatement(sql: "SELECT approval, sha256, job, user, used_at FROM approval_use WHERE approval = ? AND sha256 = ?"),
                                       arguments: [approval, documentSHA256]).map { r in
                ApprovalUse(approval: r[0], documentSHA256: r[1], job: r[2], user: r[3], usedAt: Self.date(r[4]))
            }
            return UseState(count: count, use: use)
        }
    }

    public func deleteUse(approval: String, documentSHA256: String, job: String, audit: AuditRecordMaker) throws -> AuditRecord? {
        try write { db in
            try db.execute(sql: "DELETE FROM approval_use WHERE approval = ? AND sha256 = ? AND job = ?",
                           arguments: [approval, documentSHA256, job])
            return db.changesCount > 0 ? try Self.insertAudit(db, audit) : nil
        }
    }

    // MARK: - audit

    static func audit(_ r: Row) -> AuditRecord {
        func list(_ s: String) -> [String] { s.isEmpty ? [] : s.split(separator: ",").map(String.init) }
        let entry = AuditEntry(actor: r["actor"], action: r["action"], organisation: r["organisation"], seal: r["seal"],
                               documentsBefore: list(r["documents_before"]), documentsAfter: list(r["documents_after"]),
                               approval: r["approval"], tokenSerial: r["token_serial"],
                               outcome: AuditOutcome(rawValue: r["outcome"]) ?? .failed, reason: r["reason"], detail: r["detail"])
        return AuditRecord(seq: r["seq"], time: date(r["time"]), entry: entry, prevHash: r["prev_hash"], hash: r["hash"])
    }

    public func appendAudit(_ make: (Int64, String?) throws -> AuditRecord) throws -> AuditRecord {
        try write { try Self.insertAudit($0, make) }
    }

    /// Appends the record `make` returns after the last one, inside the caller's write transaction.
    static func insertAudit(_ db: Database, _ make: AuditRecordMaker) throws -> AuditRecord {
        let last = try Row.fetchOne(try db.cachedStatement(sql: "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"))
        let rec = try make(last?["seq"] ?? 0, last?["hash"])
        let e = rec.entry
        try db.cachedStatement(sql: """
            INSERT INTO audit(seq, time, actor, action, organisation, seal, documents_before, documents_after, approval, token_serial,
                              outcome, reason, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [rec.seq, Self.ms(rec.time), e.actor, e.action, e.organisation, e.seal,
                             e.documentsBefore.joined(separator: ","), e.documentsAfter.joined(separator: ","), e.approval,
                             e.tokenSerial, e.outcome.rawValue, e.reason, e.detail, rec.prevHash, rec.hash])
        return rec
    }

    /// The WHERE clause and arguments of a query (its order and limit apart).
    static func auditWhere(_ q: AuditQuery) -> (String, [(any DatabaseValueConvertible)?]) {
        var sql = "WHERE 1"
        var args: [(any DatabaseValueConvertible)?] = []
        if let s = q.seal { sql += " AND seal = ?"; args.append(s) }
        if let u = q.user { sql += " AND actor = ?"; args.append(u) }
        if let o = q.organisation { sql += " AND organisation = ?"; args.append(o) }
        if let a = q.action {
            if a.hasSuffix(".") { sql += " AND substr(action, 1, ?) = ?"; args.append(a.count); args.append(a) }
            else { sql += " AND action = ?"; args.append(a) }
        }
        if let s = q.since { sql += " AND time >= ?"; args.append(Self.ms(s)) }
        if let u = q.until { sql += " AND time < ?"; args.append(Self.ms(u)) }
        if let a = q.afterSeq { sql += " AND seq > ?"; args.append(a) }
        if let o = q.outcome { sql += " AND outcome = ?"; args.append(o.rawValue) }
        if let d = q.document {
            // documents_before/after hold comma-separated hashes: a hash starting with `d` follows a comma
            let escaped = d.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
            sql += " AND (',' || documents_before || ',' || documents_after) LIKE ? ESCAPE '\\'"
            args.append("%," + escaped + "%")
        }
        return (sql, args)
    }

    public func auditRecords(_ q: AuditQuery) throws -> [AuditRecord] {
        let (where_, args) = Self.auditWhere(q)
        var sql = "SELECT * FROM audit " + where_ + (q.newestFirst ? " ORDER BY seq DESC" : " ORDER BY seq")
        if let l = q.limit { sql += " LIMIT \(max(0, l))" }
        let arguments = StatementArguments(args)
        return try read { try Row.fetchAll($0, sql: sql, arguments: arguments).map(Self.audit) }
    }

    public func auditCount(_ q: AuditQuery) throws -> Int {
        let (where_, args) = Self.auditWhere(q)
        let arguments = StatementArguments(args)
        return try read { try Int.fetchOne($0, sql: "SELECT count(*) FROM audit " + where_, arguments: arguments) ?? 0 }
    }

    public func lastAuditRecord() throws -> AuditRecord? {
        try read { try Row.fetchOne(try $0.cachedStatement(sql: "SELECT * FROM audit ORDER BY seq DESC LIMIT 1")).map(Self.audit) }
    }

    public func insertCheckpoint(_ c: AuditCheckpoint) throws -> AuditCheckpoint {
        try write { db in
            try db.execute(sql: "INSERT INTO audit_checkpoint(seq, record_hash, time, signer, signature) VALUES (?, ?, ?, ?, ?)",
                           arguments: [c.seq, c.recordHash, Self.ms(c.time), Data(c.signerCertificateDER), Data(c.signature)])
            var out = c
            out.id = db.lastInsertedRowID
            return out
        }
    }

    public func checkpoints() throws -> [AuditCheckpoint] {
        try read { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM audit_checkpoint ORDER BY id")).map { r in
                let signer: Data = r["signer"], sig: Data = r["signature"]
                return AuditCheckpoint(id: r["id"], seq: r["seq"], recordHash: r["record_hash"], time: Self.date(r["time"]),
                                       signerCertificateDER: Array(signer), signature: Array(sig))
            }
        }
    }
}
