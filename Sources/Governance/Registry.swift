import Foundation
import SealModel
import Logging
import Signing

/// How a user proves who they are.
public enum Credential: Sendable {
    /// A local account password (checked against its scrypt hash). The bytes are not retained.
    case password(user: String, password: [UInt8])
    /// A detached CMS signature over a challenge from `Registry.challenge(for:)`, made with the user's
    /// key (PKCS#12 file or their own token).
    case signedChallenge(user: String, challenge: [UInt8], signature: [UInt8])
    /// The user's key in memory (PKCS#12): the registry signs a fresh challenge with it and checks it.
    case identity(user: String, DetachedSignature.Identity)
    /// A bare signature (RSA PKCS#1 v1.5 / PSS or DER ECDSA, SHA-256) over a challenge, as the user's own
    /// PKCS#11 token returns it (`SealToken.sign(challenge)`); checked with the registered certificate.
    case tokenSignedChallenge(user: String, challenge: [UInt8], signature: [UInt8])

    /// The claimed user.
    public var user: String {
        switch self {
        case .password(let u, _), .signedChallenge(let u, _, _), .identity(let u, _), .tokenSignedChallenge(let u, _, _): return u
        }
    }
}

/// A user whose credentials were checked. Only `Registry.authenticate` makes one.
public struct AuthenticatedUser: Sendable, Equatable {
    /// The user.
    public let user: User
    /// `password` or `signature`.
    public let method: String
    /// Id shortcut.
    public var id: String { user.id }
    init(user: User, method: String) { self.user = user; self.method = method }
}

/// The governance registry: organisations, users, roles, seals and per-seal rights, with every change
/// authenticated, authorised by `Policy`, and audited (refusals too).
public final class Registry: Sendable {
    /// Storage.
    public let store: any GovernanceStore
    /// Audit log (same store).
    public let audit: AuditLog
    let logger: Logger

    /// Creates a registry over a store; `auditSigner` signs audit checkpoints.
    public init(store: any GovernanceStore, auditSigner: (any AuditCheckpointSigner)? = nil, checkpointInterval: Int = 100,
                auditHeadFile: URL? = nil, logger: Logger = Logger(label: "sealbatch.governance")) {
        self.store = store
        var head = auditHeadFile
        if head == nil, let sqlite = store as? SQLiteGovernanceStore { head = URL(fileURLWithPath: sqlite.path + ".audit-head.json") }
        self.audit = AuditLog(store: store, signer: auditSigner, checkpointInterval: checkpointInterval, headFile: head)
        self.logger = logger
    }

    /// Opens the SQLite registry at `path`. Without `auditSigner`, the workspace audit key
    /// (`$SEALBATCH_AUDIT_KEY` or `<path>.audit-key.pem`) is used when present.
    public convenience init(path: String, auditSigner: (any AuditCheckpointSigner)? = nil) throws {
        var signer = auditSigner
        if signer == nil {
            let keyPath = GovernanceWorkspace.defaultAuditKeyPath(registryPath: path)
            if FileManager.default.fileExists(atPath: keyPath) { signer = try GovernanceWorkspace.auditSigner(pemFile: keyPath) }
        }
        self.init(store: try SQLiteGovernanceStore(path: path), auditSigner: signer)
    }

    // MARK: - Bootstrap and authentication

    /// Creates the first platform administrator. Only in an empty registry (`registryNotEmpty` otherwise).
    @discardableResult
    public func bootstrap(userID: String, name: String, certificateDER: [UInt8]? = nil, password: [UInt8]? = nil,
                          at time: Date = Date()) throws -> User {
        try Self.validateID(userID, "user id")
        guard certificateDER != nil || password != nil else {
            throw GovernanceError(.invalidInput, "the first platform administrator needs a certificate or a password")
        }
        let u = try makeUser(id: userID, organisation: nil, name: name, certificateDER: certificateDER, password: password, at: time)
        try store.bootstrap(u, grant: RoleGrant(user: userID, role: .platformAdmin, organisation: nil, grantedBy: "bootstrap", grantedAt: time))
        try audit.append(AuditEntry(actor: userID, action: "org.init", detail: "first platform administrator \(userID) created"), at: time)
        return u
    }

    /// A fresh challenge for signature authentication of `user`.
    public func challenge(for user: String, at time: Date = Date()) -> [UInt8] {
        let nonce = DetachedSignature.hex(DetachedSignature.randomBytes(16))
        return Array("sealbatch-auth/1\nuser=\(user)\ntime=\(Int64(time.timeIntervalSince1970))\nnonce=\(nonce)\n".utf8)
    }

    /// Checks credentials. A failure is audited (action `auth`) and throws `authenticationFailed`.
    public func authenticate(_ credential: Credential, at time: Date = Date()) throws -> AuthenticatedUser {
        let claimed = credential.user
        func refuse(_ why: String) throws -> Never {
            try auditRefusal(AuditEntry(actor: claimed, action: "auth", outcome: .refused, reason: GovernanceError.Code.authenticationFailed.rawValue,
                                        detail: why), GovernanceError(.authenticationFailed, "cannot authenticate \(claimed): \(why)"), at: time)
        }
        guard let user = try store.user(claimed) else { try refuse("no such user") }
        guard user.status == .active else { try refuse("the account is disabled") }
        switch credential {
        case .password(_, let pw):
            guard let h = user.passwordHash else { try refuse("the account has no local password; use its key") }
            guard DetachedSignature.PasswordHash.verify(pw, encoded: h) else { try refuse("wrong password") }
            return AuthenticatedUser(user: user, method: "password")
        case .identity(_, let identity):
            let ch = challenge(for: claimed, at: time)
            let sig: [UInt8]
            do { sig = try identity.sign(ch) } catch { try refuse("the key cannot sign: \(error)") }
            return try checkSignature(user: user, challenge: ch, signature: sig, at: time, refuse: refuse)
        case .signedChallenge(_, let ch, let sig):
            return try checkSignature(user: user, challenge: ch, signature: sig, at: time, refuse: refuse)
        case .tokenSignedChallenge(_, let ch, let sig):
            try checkChallenge(ch, user: user, at: time, refuse: refuse)
            guard let der = user.certificateDER else { try refuse("the account has no registered certificate; use its password") }
            let cert: DetachedSignature.Certificate
            do { cert = try DetachedSignature.Certificate(der: der) } catch { try refuse("the registered certificate is not readable: \(error)") }
            guard DetachedSignature.verifyRaw(sig, over: ch, certificate: cert) else { try refuse("the token's signature does not verify with the registered certificate") }
            guard cert.isValid(at: time) || cert.isValid(at: time.addingTimeInterval(300)) else { try refuse("the user's certificate is outside its validity period") }
            try checkAnchors(user: user, leaf: cert, intermediates: [], at: time, refuse: refuse)
            return AuthenticatedUser(user: user, method: "token")
        }
    }

    private func checkChallenge(_ ch: [UInt8], user: User, at time: Date, refuse: (String) throws -> Never) throws {
        let lines = String(decoding: ch, as: UTF8.self).split(separator: "\n")
        guard lines.first == "sealbatch-auth/1", lines.contains(Substring("user=\(user.id)")),
              let tLine = lines.first(where: { $0.hasPrefix("time=") }), let t = Int64(tLine.dropFirst(5)),
              abs(Double(t) - time.timeIntervalSince1970) <= 300 else {
            try refuse("the challenge is not for this user or is older than 5 minutes")
        }
    }

    private func checkAnchors(user: User, leaf: DetachedSignature.Certificate, intermediates: [DetachedSignature.Certificate],
                              at time: Date, refuse: (String) throws -> Never) throws {
        guard let org = user.organisation else { return }
        let anchors: [DetachedSignature.Certificate]
        do { anchors = try trustAnchors(organisation: org) } catch { try refuse("\(error)") }
        guard !anchors.isEmpty else { return }
        do { try DetachedSignature.verifyChain(leaf: leaf, intermediates: intermediates, anchors: anchors, at: max(time, leaf.notBefore)) }
        catch { try refuse("the user's certificate is not trusted by \(org): \(error)") }
    }

    private func checkSignature(user: User, challenge ch: [UInt8], signature: [UInt8], at time: Date,
                                refuse: (String) throws -> Never) throws -> AuthenticatedUser {
        guard let fp = user.certificateSHA256 else { try refuse("the account has no registered certificate; use its password") }
        try checkChallenge(ch, user: user, at: time, refuse: refuse)
        let verified: DetachedSignature.Verified
        do { verified = try DetachedSignature.verify(signature, over: ch) } catch { try refuse("the signature does not verify: \(error)") }
        guard verified.signer.sha256Fingerprint == fp else { try refuse("the key is not the one registered for this user") }
        guard verified.signer.isValid(at: time) || verified.signer.isValid(at: time.addingTimeInterval(300)) else { try refuse("the user's certificate is outside its validity period") }
        try checkAnchors(user: user, leaf: verified.signer, intermediates: verified.certificates, at: time, refuse: refuse)
        return AuthenticatedUser(user: user, method: "signature")
    }

    // MARK: - Authorisation

    /// What the policy knows about a user.
    public func rights(of user: String) throws -> ActorRights {
        let u = try store.user(user)
        return ActorRights(user: user, organisation: u?.organisation, roles: try store.roleGrants(user: user),
                           sealRights: try store.sealGrants(user: user))
    }

    /// Checks `action` for `actor`; a refusal is audited and thrown.
    public func authorise(_ action: GovernanceAction, _ target: ActionTarget, actor: AuthenticatedUser, at time: Date = Date()) throws {
        let r = try rights(of: actor.id)
        if case .failure(let e) = Policy.check(action, actor: r, target: target) {
            try refused(action.rawValue, e, actor: actor.id, organisation: target.organisation, seal: target.seal, at: time)
        }
    }

    /// Audits a refusal and throws it.
    func refused(_ action: String, _ e: GovernanceError, actor: String, organisation: String? = nil, seal: String? = nil,
                 at time: Date) throws -> Never {
        logger.info("refused", metadata: ["action": "\(action)", "actor": "\(actor)", "reason": "\(e.code.rawValue)"])
        try auditRefusal(AuditEntry(actor: actor, action: action, organisation: organisation, seal: seal, outcome: .refused,
                                    reason: e.code.rawValue, detail: e.missingRight.map { "\(e.detail); missing: \($0)" } ?? e.detail), e, at: time)
    }

    /// Writes a refusal's audit record and throws the refusal. The refusal stands whether or not the record
    /// could be written; when it could not, the error says so (never a silent refusal).
    func auditRefusal(_ entry: AuditEntry, _ e: GovernanceError, at time: Date) throws -> Never {
        do { try audit.append(entry, at: time) } catch {
            logger.error("a refusal could not be audited", metadata: ["action": "\(entry.action)", "error": "\(error)"])
            throw GovernanceError(e.code, "\(e.detail) (this refusal could not be written to the audit log: \(error))", missingRight: e.missingRight)
        }
        throw e
    }

    /// The organisation's trust anchors for user (approver) certificates. Empty: none registered. An
    /// anchor that cannot be read is an error, never skipped: a list shortened by damage would quietly
    /// weaken (or, when it becomes empty, switch off) the chain check.
    public func trustAnchors(organisation: String) throws -> [DetachedSignature.Certificate] {
        let ders: [[UInt8]]
        do { ders = try store.anchors(organisation: organisation) } catch {
            throw GovernanceError(.storage, "the trust anchors of \(organisation) cannot be read: \(error)")
        }
        return try ders.enumerated().map { i, der in
            do { return try DetachedSignature.Certificate(der: der) } catch {
                throw GovernanceError(.storage, "trust anchor \(i + 1) of \(organisation) is not a readable certificate (\(error)); "
                                      + "re-register the organisation's anchors (`sealbatch org anchor`)")
            }
        }
    }

    /// Records that a token offered for seal `seal` does not hold the registered seal key (action
    /// `seal.key-mismatch`, refused). Throws when the record cannot be written.
    public func recordKeyMismatch(seal: Seal, actor: String, registeredSHA256: String, tokenSHA256: String?, detail: String,
                                  at time: Date = Date()) throws {
        try audit.append(AuditEntry(actor: actor, action: "seal.key-mismatch", organisation: seal.organisation, seal: seal.id,
                                    outcome: .refused, reason: "seal-key-mismatch",
                                    detail: "registered certificate sha256 \(registeredSHA256), token \(tokenSHA256.map { "certificate sha256 \($0)" } ?? "certificate unknown"): \(detail)"),
                         at: time)
    }

    /// Checks that a seal's token URI names one key (RFC 7512 `object=` or `id=` in the path): a URI that
    /// names only a token would sign with whatever key the token offers.
    static func validateTokenURI(_ uri: String) throws {
        guard uri.lowercased().hasPrefix("pkcs11:") else { throw GovernanceError(.invalidInput, "the token URI must be an RFC 7512 pkcs11: URI") }
        let path = uri.dropFirst("pkcs11:".count).split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let names = path.split(separator: ";").map { $0.split(separator: "=", maxSplits: 1).first.map { $0.lowercased() } ?? "" }
        guard names.contains("object") || names.contains("id") else {
            throw GovernanceError(.invalidInput, "the token URI \(uri) names no key: add object=<key label> or id=<key id> (e.g. pkcs11:token=Seal;object=seal;type=private)")
        }
    }

    func done(_ action: GovernanceAction, actor: AuthenticatedUser, organisation: String? = nil, seal: String? = nil,
              detail: String, at time: Date) throws {
        try audit.append(AuditEntry(actor: actor.id, action: action.rawValue, organisation: organisation, seal: seal, detail: detail), at: time)
    }

    static func validateID(_ id: String, _ what: String) throws {
        let ok = !id.isEmpty && id.count <= 64 && id.unicodeScalars.allSatisfy {
            CharacterSet.alphanumerics.contains($0) || "-_.@".unicodeScalars.contains($0)
        }
        guard ok else { throw GovernanceError(.invalidInput, "\(what) '\(id)' must be 1–64 letters, digits, '-', '_', '.' or '@'") }
    }

    func makeUser(id: String, organisation: String?, name: String, certificateDER: [UInt8]?, password: [UInt8]?, at time: Date) throws -> User {
        var fp: String? = nil
        if let der = certificateDER {
            do { fp = try DetachedSignature.Certificate(der: der).sha256Fingerprint }
            catch { throw GovernanceError(.invalidInput, "the certificate for \(id) is not readable: \(error)") }
        }
        var hash: String? = nil
        if let password {
            guard password.count >= 8 else { throw GovernanceError(.invalidInput, "a local password needs at least 8 characters") }
            hash = try DetachedSignature.PasswordHash.hash(password)
        }
        return User(id: id, organisation: organisation, name: name.isEmpty ? id : name, certificateDER: certificateDER,
                    certificateSHA256: fp, passwordHash: hash, status: .active, createdAt: time)
    }

    // MARK: - Organisations

    /// Creates an organisation (platform administrators).
    @discardableResult
    public func createOrganisation(id: String, name: String, as actor: AuthenticatedUser, at time: Date = Date()) throws -> Organisation {
        try authorise(.createOrganisation, ActionTarget(organisation: id), actor: actor, at: time)
        try Self.validateID(id, "organisation id")
        let o = Organisation(id: id, name: name.isEmpty ? id : name, createdAt: time)
        try store.insertOrganisation(o)
        try done(.createOrganisation, actor: actor, organisation: id, detail: "organisation \(id) (\(o.name)) created", at: time)
        return o
    }

    /// Adds a trust anchor for the organisation's user certificates (system administrators).
    public func addTrustAnchor(organisation: String, certificateDER: [UInt8], as actor: AuthenticatedUser, at time: Date = Date()) throws {
        try authorise(.manageUser, ActionTarget(organisation: organisation), actor: actor, at: time)
        guard try store.organisation(organisation) != nil else { throw GovernanceError(.notFound, "no organisation '\(organisation)'") }
        let c: DetachedSignature.Certificate
        do { c = try DetachedSignature.Certificate(der: certificateDER) } catch { throw GovernanceError(.invalidInput, "unreadable anchor certificate: \(error)") }
        let existing = try trustAnchors(organisation: organisation)
        if !existing.contains(where: { $0.der == certificateDER }) {
            try refuseLockOut(organisation: organisation, anchors: existing + [c], change: "adding \(c.subject)", actor: actor, at: time)
        }
        try store.addAnchor(organisation: organisation, certificateDER: certificateDER)
        try done(.manageUser, actor: actor, organisation: organisation, detail: "trust anchor \(c.subject) added", at: time)
    }

    /// Removes a trust anchor of the organisation (system administrators). Removing the last one switches the
    /// chain check of the organisation's user certificates off, which the audit record says.
    public func removeTrustAnchor(organisation: String, certificateDER: [UInt8], as actor: AuthenticatedUser, at time: Date = Date()) throws {
        try authorise(.manageUser, ActionTarget(organisation: organisation), actor: actor, at: time)
        guard try store.organisation(organisation) != nil else { throw GovernanceError(.notFound, "no organisation '\(organisation)'") }
        let existing = try trustAnchors(organisation: organisation)
        guard let c = existing.first(where: { $0.der == certificateDER }) else {
            throw GovernanceError(.notFound, "\(organisation) has no such trust anchor (the certificate given is not one of its anchors)")
        }
        let remaining = existing.filter { $0.der != certificateDER }
        try refuseLockOut(organisation: organisation, anchors: remaining, change: "removing \(c.subject)", actor: actor, at: time)
        guard try store.removeAnchor(organisation: organisation, certificateDER: certificateDER) else {
            throw GovernanceError(.storage, "the trust anchor \(c.subject) of \(organisation) could not be removed")
        }
        try done(.manageUser, actor: actor, organisation: organisation,
                 detail: "trust anchor \(c.subject) removed" + (remaining.isEmpty ? "; no anchors left, user certificates of \(organisation) are no longer chain-checked" : ""),
                 at: time)
    }

    /// Refuses (audited) an anchor set under which the acting administrator's own certificate would no longer
    /// be trusted: they could not log in with their key any more to undo it. An empty set checks no chain.
    private func refuseLockOut(organisation: String, anchors: [DetachedSignature.Certificate], change: String,
                               actor: AuthenticatedUser, at time: Date) throws {
        guard actor.user.organisation == organisation, let der = actor.user.certificateDER, !anchors.isEmpty else { return }
        let leaf: DetachedSignature.Certificate
        do { leaf = try DetachedSignature.Certificate(der: der) } catch {
            throw GovernanceError(.storage, "the certificate registered for \(actor.id) cannot be read: \(error)")
        }
        do { try DetachedSignature.verifyChain(leaf: leaf, intermediates: [], anchors: anchors, at: max(time, leaf.notBefore)) } catch {
            try auditRefusal(AuditEntry(actor: actor.id, action: GovernanceAction.manageUser.rawValue, organisation: organisation, outcome: .refused,
                                        reason: GovernanceError.Code.invalidInput.rawValue, detail: "\(change) would lock \(actor.id) out"),
                             GovernanceError(.invalidInput, "\(change) would lock you (\(actor.id)) out: your certificate \(leaf.subject) would not chain to "
                                             + "\(organisation)'s trust anchors, so you could not log in with your key to undo it. Add the CA that "
                                             + "issued your certificate first (or its issuing CA as an anchor itself)."), at: time)
        }
    }

    // MARK: - Users and roles

    /// Creates a user (system administrators of the organisation; platform administrators).
    @discardableResult
    public func createUser(id: String, name: String, organisation: String?, certificateDER: [UInt8]? = nil, password: [UInt8]? = nil,
                           as actor: AuthenticatedUser, at time: Date = Date()) throws -> User {
        try authorise(.createUser, ActionTarget(organisation: organisation), actor: actor, at: time)
        try Self.validateID(id, "user id")
        if let organisation, try store.organisation(organisation) == nil {
            throw GovernanceError(.notFound, "no organisation '\(organisation)'")
        }
        guard certificateDER != nil || password != nil else {
            throw GovernanceError(.invalidInput, "user \(id) needs a certificate (key login) or a local password")
        }
        let u = try makeUser(id: id, organisation: organisation, name: name, certificateDER: certificateDER, password: password, at: time)
        try store.insertUser(u)
        try done(.createUser, actor: actor, organisation: organisation,
                 detail: "user \(id) created\(u.certificateSHA256.map { " with certificate sha256 \($0)" } ?? "")", at: time)
        return u
    }

    /// Enables or disables a user.
    public func setUserStatus(_ id: String, _ status: UserStatus, as actor: AuthenticatedUser, at time: Date = Date()) throws {
        guard var u = try store.user(id) else { throw GovernanceError(.notFound, "no user '\(id)'") }
        try authorise(.manageUser, ActionTarget(organisation: u.organisation), actor: actor, at: time)
        u.status = status
        try store.updateUser(u)
        try done(.manageUser, actor: actor, organisation: u.organisation, detail: "user \(id) \(status.rawValue)", at: time)
    }

    /// Replaces a user's certificate and/or password.
    public func setUserCredentials(_ id: String, certificateDER: [UInt8]?, password: [UInt8]?, as actor: AuthenticatedUser,
                                   at time: Date = Date()) throws {
        guard var u = try store.user(id) else { throw GovernanceError(.notFound, "no user '\(id)'") }
        if actor.id != id { try authorise(.manageUser, ActionTarget(organisation: u.organisation), actor: actor, at: time) }
        let fresh = try makeUser(id: id, organisation: u.organisation, name: u.name, certificateDER: certificateDER, password: password, at: time)
        if certificateDER != nil { u.certificateDER = fresh.certificateDER; u.certificateSHA256 = fresh.certificateSHA256 }
        if password != nil { u.passwordHash = fresh.passwordHash }
        try store.updateUser(u)
        try done(.manageUser, actor: actor, organisation: u.organisation,
                 detail: "credentials of \(id) changed (\([certificateDER != nil ? "certificate" : nil, password != nil ? "password" : nil].compactMap { $0 }.joined(separator: ", ")))", at: time)
    }

    /// Grants a role. System administrators grant seal-admin / seal-user in their organisation; platform
    /// administrators appoint system (and platform) administrators. Duty-merging combinations are refused.
    public func grantRole(_ role: Role, to userID: String, in organisation: String?, as actor: AuthenticatedUser, at time: Date = Date()) throws {
        let org = role == .platformAdmin ? nil : organisation
        let action: GovernanceAction = (role == .systemAdmin || role == .platformAdmin) ? .appointAdministrator : .grantRole
        try authorise(action, ActionTarget(organisation: org, role: role), actor: actor, at: time)
        guard let u = try store.user(userID) else { throw GovernanceError(.notFound, "no user '\(userID)'") }
        if role != .platformAdmin {
            guard let org else { throw GovernanceError(.invalidInput, "\(role.rawValue) needs an organisation") }
            guard try store.organisation(org) != nil else { throw GovernanceError(.notFound, "no organisation '\(org)'") }
            guard u.organisation == org else {
                try refused(action.rawValue, GovernanceError(.invalidInput, "\(userID) belongs to \(u.organisation ?? "no organisation"), not \(org)"),
                            actor: actor.id, organisation: org, at: time)
            }
        }
        if case .failure(let e) = Policy.checkRoleCombination(adding: role, in: org, to: try store.roleGrants(user: userID), holder: userID) {
            try refused(action.rawValue, e, actor: actor.id, organisation: org, at: time)
        }
        try store.insertRoleGrant(RoleGrant(user: userID, role: role, organisation: org, grantedBy: actor.id, grantedAt: time))
        try done(action, actor: actor, organisation: org, detail: "\(role.rawValue) granted to \(userID)", at: time)
    }

    /// Withdraws a role (same authority as granting it).
    public func revokeRole(_ role: Role, from userID: String, in organisation: String?, as actor: AuthenticatedUser, at time: Date = Date()) throws {
        let org = role == .platformAdmin ? nil : organisation
        let action: GovernanceAction = (role == .systemAdmin || role == .platformAdmin) ? .appointAdministrator : .grantRole
        try authorise(action, ActionTarget(organisation: org, role: role), actor: actor, at: time)
        guard try store.deleteRoleGrant(user: userID, role: role, organisation: org) else {
            throw GovernanceError(.notFound, "\(userID) does not hold \(role.rawValue)\(org.map { " of \($0)" } ?? "")")
        }
        try done(action, actor: actor, organisation: org, detail: "\(role.rawValue) withdrawn from \(userID)", at: time)
    }

    // MARK: - Seals

    /// Registers a seal (seal administrators of its organisation).
    @discardableResult
    public func registerSeal(id: String, name: String, kind: SealKind, organisation: String, certificateDER: [UInt8], tokenURI: String,
                             design: SealDesign, chainDER: [[UInt8]] = [], validFrom: Date? = nil, validUntil: Date? = nil, as actor: AuthenticatedUser,
                             at time: Date = Date()) throws -> Seal {
        try authorise(.registerSeal, ActionTarget(organisation: organisation, seal: id), actor: actor, at: time)
        try Self.validateID(id, "seal id")
        guard try store.organisation(organisation) != nil else { throw GovernanceError(.notFound, "no organisation '\(organisation)'") }
        let cert: DetachedSignature.Certificate
        do { cert = try DetachedSignature.Certificate(der: certificateDER) } catch { throw GovernanceError(.invalidInput, "the seal certificate is not readable: \(error)") }
        try Self.validateTokenURI(tokenURI)
        let from = validFrom ?? cert.notBefore, until = validUntil ?? cert.notAfter
        guard from < until else { throw GovernanceError(.invalidInput, "the seal's validity period is empty") }
        try Self.checkDesign(design)
        if !chainDER.isEmpty { try checkChain(seal: cert, chainDER: chainDER, organisation: organisation, at: time) }
        let s = Seal(id: id, name: name, kind: kind, organisation: organisation, certificateDER: certificateDER, tokenURI: tokenURI,
                     design: .design(design), status: .active, validFrom: from, validUntil: until, createdBy: actor.id, createdAt: time, chainDER: chainDER)
        try store.insertSeal(s)
        try done(.registerSeal, actor: actor, organisation: organisation, seal: id,
                 detail: "seal \(id) (\(kind.rawValue), \(name)) registered; certificate serial \(cert.serialHex), token \(tokenURI)"
                 + (chainDER.isEmpty ? "" : ", chain of \(chainDER.count) CA certificate(s)"), at: time)
        return s
    }

    /// Suspends, reactivates or revokes a seal. A revoked seal stays revoked.
    public func setSealStatus(_ id: String, _ status: SealStatus, as actor: AuthenticatedUser, at time: Date = Date()) throws {
        guard var s = try store.seal(id) else { throw GovernanceError(.notFound, "no seal '\(id)'") }
        try authorise(.manageSeal, ActionTarget(organisation: s.organisation, seal: id), actor: actor, at: time)
        if s.status == .revoked && status != .revoked {
            throw GovernanceError(.invalidInput, "seal \(id) is revoked and cannot be \(status == .active ? "reactivated" : "suspended")")
        }
        s.status = status
        try store.updateSeal(s)
        try done(.manageSeal, actor: actor, organisation: s.organisation, seal: id, detail: "seal \(id) \(status.rawValue)", at: time)
    }

    /// The registered chain must take the seal certificate to one of the organisation's trust anchors (every
    /// certificate valid now). Refused naming the certificate whose issuer is missing, or OpenSSL's reason.
    func checkChain(seal leaf: DetachedSignature.Certificate, chainDER: [[UInt8]], organisation: String, at time: Date) throws {
        var chain: [DetachedSignature.Certificate] = []
        for (i, der) in chainDER.enumerated() {
            do { chain.append(try DetachedSignature.Certificate(der: der)) } catch {
                throw GovernanceError(.invalidInput, "chain certificate \(i + 1) is not readable: \(error)")
            }
        }
        if let c = chain.first(where: { $0.der == leaf.der }) {
            throw GovernanceError(.invalidInput, "the chain holds the seal certificate itself (\(c.subject)); give only its CA certificates")
        }
        let anchors = try trustAnchors(organisation: organisation)
        guard !anchors.isEmpty else {
            throw GovernanceError(.invalidInput, "organisation \(organisation) has no trust anchors to check the seal's chain against: "
                                  + "a system administrator adds its root CA first (`sealbatch org anchor \(organisation) --cert ROOT.crt`)")
        }
        // walk issuer by issuer so the refusal names the certificate whose issuer is missing
        var current = leaf, seen = 0
        while !anchors.contains(where: { $0.subject == current.issuer }) {
            guard let next = chain.first(where: { $0.subject == current.issuer && $0.der != current.der }), seen < chain.count else {
                throw GovernanceError(.invalidInput, "the issuer of \(current.subject) (\(current.issuer)) is neither in the chain nor a trust anchor of "
                                      + "\(organisation): add it to the chain file, or have a system administrator add the root (`sealbatch org anchor`)")
            }
            current = next; seen += 1
        }
        do { try DetachedSignature.verifyChain(leaf: leaf, intermediates: chain, anchors: anchors, at: time) } catch {
            throw GovernanceError(.invalidInput, "the seal's chain is refused: \(error)")
        }
    }

    /// A design is checked where the registry takes it (the caller's decoding already named JSON paths).
    static func checkDesign(_ design: SealDesign) throws {
        do { try design.validate(at: "design") } catch let e as SealDesignError {
            throw GovernanceError(.invalidInput, "the seal design is refused: \(e.description)")
        }
    }

    /// Rebinds a seal to another token key / certificate / design.
    public func rebindSeal(_ id: String, certificateDER: [UInt8]? = nil, tokenURI: String? = nil, design: SealDesign? = nil, chainDER: [[UInt8]]? = nil,
                           as actor: AuthenticatedUser, at time: Date = Date()) throws {
        guard var s = try store.seal(id) else { throw GovernanceError(.notFound, "no seal '\(id)'") }
        try authorise(.manageSeal, ActionTarget(organisation: s.organisation, seal: id), actor: actor, at: time)
        if let certificateDER {
            do { _ = try DetachedSignature.Certificate(der: certificateDER) } catch { throw GovernanceError(.invalidInput, "the seal certificate is not readable: \(error)") }
            s.certificateDER = certificateDER
        }
        if let tokenURI { try Self.validateTokenURI(tokenURI); s.tokenURI = tokenURI }
        if let design { try Self.checkDesign(design); s.design = .design(design) }
        if let chainDER { s.chainDER = chainDER }
        if chainDER != nil || (certificateDER != nil && !s.chainDER.isEmpty), !s.chainDER.isEmpty {
            let leaf: DetachedSignature.Certificate
            do { leaf = try DetachedSignature.Certificate(der: s.certificateDER) } catch { throw GovernanceError(.invalidInput, "the seal certificate is not readable: \(error)") }
            try checkChain(seal: leaf, chainDER: s.chainDER, organisation: s.organisation, at: time)
        }
        try store.updateSeal(s)
        try done(.manageSeal, actor: actor, organisation: s.organisation, seal: id, detail: "seal \(id) rebound" + [certificateDER.map { _ in "certificate" }, tokenURI.map { "token \($0)" }, design.map { _ in "design" },
                                                  chainDER.map { "chain of \($0.count) certificate(s)" }].compactMap { $0 }.joined(separator: ", ").prefixed(": "), at: time)
    }

    /// Grants a per-seal right (seal administrators of the seal's organisation).
    public func grantSealRight(_ right: SealRight, on sealID: String, to userID: String, as actor: AuthenticatedUser, at time: Date = Date()) throws {
        guard let s = try store.seal(sealID) else { throw GovernanceError(.notFound, "no seal '\(sealID)'") }
        try authorise(.grantSealRight, ActionTarget(organisation: s.organisation, seal: sealID), actor: actor, at: time)
        guard let u = try store.user(userID) else { throw GovernanceError(.notFound, "no user '\(userID)'") }
        guard u.organisation == s.organisation else {
            try refused(GovernanceAction.grantSealRight.rawValue, GovernanceError(.invalidInput, "\(userID) does not belong to \(s.organisation)"),
                        actor: actor.id, organisation: s.organisation, seal: sealID, at: time)
        }
        if case .failure(let e) = Policy.checkSealRight(right, seal: sealID, organisation: s.organisation, holder: userID,
                                                        holderRoles: try store.roleGrants(user: userID)) {
            try refused(GovernanceAction.grantSealRight.rawValue, e, actor: actor.id, organisation: s.organisation, seal: sealID, at: time)
        }
        try store.insertSealGrant(SealGrant(seal: sealID, user: userID, right: right, grantedBy: actor.id, grantedAt: time))
        try done(.grantSealRight, actor: actor, organisation: s.organisation, seal: sealID, detail: "\(right.rawValue) right on \(sealID) granted to \(userID)", at: time)
    }

    /// Withdraws a per-seal right.
    public func revokeSealRight(_ right: SealRight, on sealID: String, from userID: String, as actor: AuthenticatedUser, at time: Date = Date()) throws {
        guard let s = try store.seal(sealID) else { throw GovernanceError(.notFound, "no seal '\(sealID)'") }
        try authorise(.grantSealRight, ActionTarget(organisation: s.organisation, seal: sealID), actor: actor, at: time)
        guard try store.deleteSealGrant(seal: sealID, user: userID, right: right) else {
            throw GovernanceError(.notFound, "\(userID) holds no \(right.rawValue) right on \(sealID)")
        }
        try done(.grantSealRight, actor: actor, organisation: s.organisation, seal: sealID, detail: "\(right.rawValue) right on \(sealID) withdrawn from \(userID)", at: time)
    }

    // MARK: - Reading

    /// A seal.
    public func seal(_ id: String) throws -> Seal? { try store.seal(id) }
    /// A user.
    public func user(_ id: String) throws -> User? { try store.user(id) }
    /// Seals.
    public func seals(organisation: String? = nil) throws -> [Seal] { try store.seals(organisation: organisation) }
    /// Users.
    public func users(organisation: String? = nil) throws -> [User] { try store.users(organisation: organisation) }
    /// Organisations.
    public func organisations() throws -> [Organisation] { try store.organisations() }

    /// Audit records visible to `actor`: seal administrators see their organisation's records, everyone
    /// else only their own.
    public func auditRecords(_ q: AuditQuery, as actor: AuthenticatedUser) throws -> [AuditRecord] {
        try audit.query(scopedAuditQuery(q, as: actor))
    }

    /// How many audit records visible to `actor` match (the same scope as `auditRecords(_:as:)`).
    public func auditCount(_ q: AuditQuery, as actor: AuthenticatedUser) throws -> Int {
        try audit.count(scopedAuditQuery(q, as: actor))
    }

    /// `q` narrowed to what `actor` may read (refused, and audited, when it names another user's records).
    func scopedAuditQuery(_ q: AuditQuery, as actor: AuthenticatedUser) throws -> AuditQuery {
        var q = q
        let r = try rights(of: actor.id)
        let adminOrgs = r.roles.filter { $0.role == .sealAdmin }.compactMap(\.organisation)
        if !adminOrgs.isEmpty && (q.organisation == nil || adminOrgs.contains(q.organisation!)) {
            q.organisation = q.organisation ?? adminOrgs[0]
            return q
        }
        if let u = q.user, u != actor.id {
            try refused(GovernanceAction.readAudit.rawValue,
                        GovernanceError(.notAuthorised, "\(actor.id) may only read their own audit records", missingRight: "seal-admin of \(actor.user.organisation ?? "?")"),
                        actor: actor.id, organisation: actor.user.organisation, at: Date())
        }
        q.user = actor.id
        return q
    }
}

extension String {
    /// `prefix + self`, or empty when self is empty.
    fileprivate func prefixed(_ prefix: String) -> String { isEmpty ? "" : prefix + self }
}
