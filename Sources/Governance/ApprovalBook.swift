import Foundation
import Signing

/// Permission to stamp one document once, returned by `ApprovalBook.admit`.
public struct ApprovalGrant: Sendable, Codable, Equatable {
    /// Approval manifest id.
    public var approval: String
    /// Seal.
    public var seal: String
    /// The seal's organisation.
    public var organisation: String
    /// SHA-256 (hex) of the admitted document.
    public var documentSHA256: String
    /// File name as listed in the manifest.
    public var listedName: String
    /// Requester.
    public var requester: String
    /// Approver.
    public var approver: String
    /// The stamping user.
    public var user: String
    /// The job that will consume it (idempotency key together with the document hash).
    public var job: String
    /// Expiry of the approval.
    public var validUntil: Date
    /// Uses left before this document is consumed.
    public var usesRemaining: Int
    /// True when this job already consumed the document (a retry after a crash): stamp again without
    /// consuming another use.
    public var alreadyConsumed: Bool
}

/// The approval manifests known to the registry, and the admission check for stamping.
///
/// Admission (`admit`) runs every check and returns a grant; `consume` then records the use atomically
/// and idempotently per (approval, document, job), so the pipeline's exactly-once retry never counts a
/// document twice. Every admission, refusal and consumption is audited.
public final class ApprovalBook: Sendable {
    /// The registry (users, seals, rights, audit).
    public let registry: Registry
    /// Allowed clock skew between the approver's clock and ours.
    public let clockSkew: TimeInterval

    /// Creates a book over a registry.
    public init(registry: Registry, clockSkew: TimeInterval = 300) { self.registry = registry; self.clockSkew = clockSkew }

    /// Verified signatures and parsed manifests, keyed by the SHA-256 of the exact bytes: a manifest
    /// listing many documents is verified and parsed once, not once per document. Only facts that
    /// cannot change for the same bytes are cached; rights, status, expiry and uses are checked every time.
    let cache = VerificationCache()
    /// Registered manifests by id, parsed and indexed once (see `signedEntry`).
    let manifests = ManifestCache()

    var store: any GovernanceStore { registry.store }

    // MARK: - Creating

    /// Creates, signs and registers an approval manifest. `actor` must be the approver (holding the
    /// approve right on the seal, not the requester), and `identity` the key registered for them.
    public func approve(documents: [ApprovalManifest.Document], seal sealID: String, purpose: String, requester: String,
                        validUntil: Date, uses: Int? = nil, identity: DetachedSignature.Identity, as actor: AuthenticatedUser,
                        at time: Date = Date()) throws -> SignedApprovalManifest {
        let (seal, m) = try prepareApproval(documents: documents, seal: sealID, purpose: purpose, requester: requester, validUntil: validUntil,
                                            uses: uses, signerSHA256: identity.certificate.sha256Fingerprint, as: actor, at: time)
        return try registerApproval(try SignedApprovalManifest.sign(m, with: identity), seal: seal, as: actor, at: time)
    }

    /// The same with the approver's key on their own token (or any `SignatureKey`): the manifest's detached
    /// CMS is made by the key (CAdES signed attributes over the manifest's SHA-256), its certificate must be
    /// the one registered for `actor`.
    public func approve(documents: [ApprovalManifest.Document], seal sealID: String, purpose: String, requester: String,
                        validUntil: Date, uses: Int? = nil, key: any SignatureKey, as actor: AuthenticatedUser,
                        at time: Date = Date()) async throws -> SignedApprovalManifest {
        guard let leaf = key.certificateChainDER.first else { throw GovernanceError(.invalidInput, "the signing key has no certificate") }
        let cert: DetachedSignature.Certificate
        do { cert = try DetachedSignature.Certificate(der: leaf) } catch { throw GovernanceError(.invalidInput, "the key's certificate cannot be read: \(error)") }
        let (seal, m) = try prepareApproval(documents: documents, seal: sealID, purpose: purpose, requester: requester, validUntil: validUntil,
                                            uses: uses, signerSHA256: cert.sha256Fingerprint, as: actor, at: time)
        let payload = m.encoded()
        let cms = try await CAdESBuilder.build(contentDigest: DetachedSignature.sha256(payload), key: key)
        return try registerApproval(SignedApprovalManifest(manifest: m, payload: payload, signature: cms.der), seal: seal, as: actor, at: time)
    }

    /// The checks before an approval is signed, and the manifest to sign.
    private func prepareApproval(documents: [ApprovalManifest.Document], seal sealID: String, purpose: String, requester: String,
                                 validUntil: Date, uses: Int?, signerSHA256: String, as actor: AuthenticatedUser,
                                 at time: Date) throws -> (Seal, ApprovalManifest) {
        guard let seal = try store.seal(sealID) else { throw GovernanceError(.notFound, "no seal '\(sealID)'") }
        try registry.authorise(.approve, ActionTarget(organisation: seal.organisation, seal: sealID, requester: requester), actor: actor, at: time)
        guard let req = try store.user(requester), req.status == .active else {
            throw GovernanceError(.notFound, "no active user '\(requester)' to approve a request for")
        }
        guard !documents.isEmpty else { throw GovernanceError(.invalidInput, "an approval lists at least one document") }
        guard validUntil > time else { throw GovernanceError(.invalidInput, "valid-until must be in the future") }
        if let uses, uses < 1 || uses > documents.count {
            throw GovernanceError(.invalidInput, "uses must be between 1 and the number of documents (\(documents.count))")
        }
        guard signerSHA256 == actor.user.certificateSHA256 else {
            try registry.refused(GovernanceAction.approve.rawValue,
                                 GovernanceError(.authenticationFailed, "the signing key is not the one registered for \(actor.id)"),
                                 actor: actor.id, organisation: seal.organisation, seal: sealID, at: time)
        }
        let m = ApprovalManifest(seal: sealID, purpose: purpose, requester: requester, approver: actor.id, issuedAt: time,
                                 validUntil: validUntil, uses: uses, documents: documents)
        return (seal, m)
    }

    /// Registers a signed approval (it must pass its own admission checks) with its audit record.
    private func registerApproval(_ signed: SignedApprovalManifest, seal: Seal, as actor: AuthenticatedUser, at time: Date) throws -> SignedApprovalManifest {
        let m = signed.manifest
        let entry = AuditEntry(actor: actor.id, action: GovernanceAction.approve.rawValue, organisation: seal.organisation,
                               seal: m.seal, documentsBefore: m.documents.map(\.sha256), approval: m.id,
                               detail: "approved \(m.documents.count) document(s) for \(m.requester): \(m.purpose); valid until \(iso(m.validUntil)); \(m.uses) use(s)")
        do { _ = try storeManifest(signed, at: time, recording: entry) } catch {
            if error.code == .storage { throw GovernanceError(.storage, "the approval was not registered: \(error.detail)") }
            throw GovernanceError(.invalidInput, "the new approval does not pass its own checks: \(error)")
        }
        return signed
    }

    // MARK: - Checking manifests

    /// Checks a manifest's signature and signer: it verifies over the exact bytes, was made by the
    /// registered certificate of the named approver (valid, chaining to the organisation's anchors if
    /// any), the approver holds the approve right on the seal, and is not the requester.
    public func verifyManifest(_ signed: SignedApprovalManifest, at time: Date = Date()) throws(ApprovalRefusal) {
        let m = signed.manifest
        guard let sig = signed.signature else {
            throw ApprovalRefusal(.unsigned, "approval \(m.id) is not signed", approval: m.id)
        }
        let verified: DetachedSignature.Verified
        let key = DetachedSignature.hex(DetachedSignature.sha256(signed.payload + sig))
        if let hit = cache.signature(key) {
            verified = hit
        } else {
            do { verified = try DetachedSignature.verify(sig, over: signed.payload) } catch {
                throw ApprovalRefusal(.signatureInvalid, "the signature of approval \(m.id) does not verify over its content: \(error.detail)", approval: m.id)
            }
            cache.store(signature: verified, key)
        }
        let approver: User?
        do { approver = try store.user(m.approver) } catch { throw ApprovalRefusal(.storage, "\(error)", approval: m.id) }
        guard let approver, let fp = approver.certificateSHA256, fp == verified.signer.sha256Fingerprint else {
            throw ApprovalRefusal(.signerNotApprover,
                "approval \(m.id) was signed by \(verified.signer.subject), which is not the registered certificate of approver \(m.approver)", approval: m.id)
        }
        guard verified.signer.notBefore.addingTimeInterval(-clockSkew) <= m.issuedAt, m.issuedAt <= verified.signer.notAfter else {
            throw ApprovalRefusal(.signerCertificateInvalid, "the approver's certificate was not valid when approval \(m.id) was issued", approval: m.id)
        }
        if let org = approver.organisation {
            // anchors that cannot be read refuse the approval: an empty list would switch the chain check off
            let anchors: [DetachedSignature.Certificate]
            do { anchors = try registry.trustAnchors(organisation: org) } catch {
                throw ApprovalRefusal(.storage, "approval \(m.id) cannot be checked: \((error as? GovernanceError)?.detail ?? "\(error)")", approval: m.id)
            }
            if !anchors.isEmpty {
                do { try DetachedSignature.verifyChain(leaf: verified.signer, intermediates: verified.certificates, anchors: anchors, at: max(m.issuedAt, verified.signer.notBefore)) }
                catch { throw ApprovalRefusal(.signerCertificateInvalid, "the approver's certificate is not trusted by \(org): \(error.detail)", approval: m.id) }
            }
        }
        if m.approver == m.requester {
            throw ApprovalRefusal(.selfApproval, "approval \(m.id) was approved by its own requester \(m.requester)", approval: m.id)
        }
        let rights: ActorRights
        do { rights = try registry.rights(of: m.approver) } catch { throw ApprovalRefusal(.storage, "\(error)", approval: m.id) }
        let seal: Seal?
        do { seal = try store.seal(m.seal) } catch { throw ApprovalRefusal(.storage, "\(error)", approval: m.id) }
        guard approver.status == .active, case .success = Policy.check(.approve, actor: rights,
                target: ActionTarget(organisation: seal?.organisation ?? approver.organisation, seal: m.seal, requester: m.requester)) else {
            throw ApprovalRefusal(.approverLacksRight, "approver \(m.approver) holds no approve right on seal \(m.seal)", approval: m.id)
        }
    }

    /// Verifies a manifest received from elsewhere (a hot folder, e-mail) and stores it (idempotent). A
    /// different manifest with the same id is refused. New registrations and refusals are audited
    /// (action `approval.register`).
    @discardableResult
    public func register(_ signed: SignedApprovalManifest, at time: Date = Date()) throws(ApprovalRefusal) -> ApprovalRecord {
        let m = signed.manifest
        do {
            return try storeManifest(signed, at: time, recording: registrationEntry(m))
        } catch {
            try auditRefusal(AuditEntry(actor: m.requester, action: "approval.register", organisation: organisationIfReadable(ofSeal: m.seal),
                                        seal: m.seal, approval: m.id, outcome: .refused, reason: error.code.rawValue, detail: error.detail),
                             error, at: time)
        }
    }

    /// Records that a manifest file could not even be read as an approval (`approval.register`, refused).
    /// Throws when the record cannot be written.
    public func recordUnreadable(_ name: String, _ refusal: ApprovalRefusal, actor: String, at time: Date = Date()) throws {
        try registry.audit.append(AuditEntry(actor: actor, action: "approval.register", approval: refusal.approval, outcome: .refused,
                                             reason: refusal.code.rawValue, detail: "\(name): \(refusal.detail)"), at: time)
    }

    func registrationEntry(_ m: ApprovalManifest) -> AuditEntry {
        AuditEntry(actor: m.approver, action: "approval.register", organisation: nil, seal: m.seal,
                   documentsBefore: m.documents.map(\.sha256), approval: m.id,
                   detail: "approval \(m.id) by \(m.approver) for \(m.requester) registered")
    }

    /// Writes a refusal's audit record and throws the refusal. The refusal stands whether or not the record
    /// could be written; when it could not, the refusal says so.
    func auditRefusal(_ entry: AuditEntry, _ refusal: ApprovalRefusal, at time: Date) throws(ApprovalRefusal) -> Never {
        do { try registry.audit.append(entry, at: time) } catch {
            throw ApprovalRefusal(refusal.code, "\(refusal.detail) (this refusal could not be written to the audit log: \(error))", approval: refusal.approval)
        }
        throw refusal
    }

    /// The seal's organisation for a refusal's audit record; nil when the seal is unknown or the registry
    /// cannot be read (the refusal stands either way; only the record's organisation column is then empty).
    func organisationIfReadable(ofSeal id: String) -> String? {
        do { return try store.seal(id)?.organisation } catch { return nil }
    }

    /// Verifies a manifest and stores it unless it is already registered with the same bytes. A new
    /// registration is written together with `entry`'s audit record (its organisation filled in from the
    /// seal) in one transaction: nothing is registered whose record could not be written.
    func storeManifest(_ signed: SignedApprovalManifest, at time: Date, recording entry: AuditEntry) throws(ApprovalRefusal) -> ApprovalRecord {
        try verifyManifest(signed, at: time)
        let m = signed.manifest
        do {
            if let existing = try store.approval(m.id) {
                guard existing.payload == signed.payload else {
                    throw ApprovalRefusal(.conflictingManifest, "another approval with id \(m.id) is already registered", approval: m.id)
                }
                return existing
            }
            let rec = ApprovalRecord(id: m.id, seal: m.seal, requester: m.requester, approver: m.approver, purpose: m.purpose,
                                     issuedAt: m.issuedAt, validUntil: m.validUntil, uses: m.uses, documents: m.documents,
                                     payload: signed.payload, signature: signed.signature ?? [], status: .active, revokedBy: nil,
                                     revokedAt: nil, registeredAt: time)
            var entry = entry
            if entry.organisation == nil { entry.organisation = try store.seal(m.seal)?.organisation }
            try registry.audit.requireCheckpointed()
            let audited = try store.insertApproval(rec, audit: registry.audit.maker(entry, at: time))
            registry.audit.appended(audited)
            return rec
        } catch let r as ApprovalRefusal { throw r } catch {
            throw ApprovalRefusal(.storage, "cannot register approval \(m.id) (nothing was registered): \(error)", approval: m.id)
        }
    }

    // MARK: - Admission

    /// Admits a document for stamping with `seal` by `user`, or throws the reason it may not be stamped.
    ///
    /// With `manifest`, that approval is checked (and registered if new); without, every registered
    /// approval listing the document's hash is tried, newest first. `job` identifies the stamping job: a
    /// document already consumed by the same job is admitted again (`alreadyConsumed`), by another job
    /// refused as a replay. Pass the pipeline journal's job id; without one, the admission is a one-off
    /// that can never count as a retry. The outcome is audited (action `approval.admit`).
    public func admit(documentSHA256: String, fileName: String? = nil, seal sealID: String, user: String,
                      manifest: SignedApprovalManifest? = nil, job: String? = nil, at time: Date = Date()) throws(ApprovalRefusal) -> ApprovalGrant {
        let sha = documentSHA256.lowercased()
        let job = job ?? "once-\(UUID().uuidString.lowercased())" // no job: a one-off that can never count as a retry
        let g: ApprovalGrant
        do {
            g = try admitUnaudited(sha: sha, fileName: fileName, sealID: sealID, user: user, manifest: manifest, job: job, at: time)
        } catch {
            try auditRefusal(AuditEntry(actor: user, action: "approval.admit", organisation: organisationIfReadable(ofSeal: sealID), seal: sealID,
                                        documentsBefore: [sha], approval: error.approval, outcome: .refused, reason: error.code.rawValue,
                                        detail: "\(fileName ?? sha): \(error.detail)"), error, at: time)
        }
        // An admission whose record cannot be written does not count: the document is refused.
        do {
            try registry.audit.append(AuditEntry(actor: user, action: "approval.admit", organisation: g.organisation, seal: sealID, documentsBefore: [sha],
                                                 approval: g.approval, detail: "admitted \(fileName ?? sha) under approval \(g.approval)\(g.alreadyConsumed ? " (retry of job \(job))" : "")"), at: time)
        } catch {
            throw ApprovalRefusal(.storage, "\(fileName ?? sha) was not admitted: the admission could not be written to the audit log (\(error))", approval: g.approval)
        }
        return g
    }

    func admitUnaudited(sha: String, fileName: String?, sealID: String, user: String, manifest: SignedApprovalManifest?,
                        job: String, at time: Date) throws(ApprovalRefusal) -> ApprovalGrant {
        if let manifest {
            if manifest.manifest.seal != sealID {
                throw ApprovalRefusal(.wrongSeal, "approval \(manifest.manifest.id) is for seal \(manifest.manifest.seal), not \(sealID)", approval: manifest.manifest.id)
            }
            let rec = try storeManifest(manifest, at: time, recording: registrationEntry(manifest.manifest)) // verifies the manifest
            return try check(manifests.entry(rec), state: ApprovalState(rec), sha: sha, fileName: fileName, sealID: sealID, user: user,
                             job: job, at: time, verified: true)
        }
        let candidates: [ApprovalState]
        do { candidates = try store.approvalStates(listing: sha).filter { $0.seal == sealID } } catch {
            throw ApprovalRefusal(.storage, "\(error)")
        }
        if candidates.isEmpty {
            let ofSeal: [ApprovalRecord]
            do { ofSeal = fileName == nil ? [] : try store.approvals(seal: sealID) } catch { throw ApprovalRefusal(.storage, "\(error)") }
            if let fileName, let altered = ofSeal.first(where: { $0.documents.contains { $0.name == fileName } }) {
                throw ApprovalRefusal(.documentAltered,
                    "\(fileName) is listed in approval \(altered.id) with different content: the document was altered after approval", approval: altered.id)
            }
            throw ApprovalRefusal(.notListed, "no approval for seal \(sealID) lists this document (sha256 \(sha.prefix(16))…)")
        }
        var first: ApprovalRefusal? = nil
        for state in candidates {
            do { return try check(try signedEntry(state), state: state, sha: sha, fileName: fileName, sealID: sealID, user: user, job: job, at: time) }
            catch { if first == nil { first = error } }
        }
        throw first!
    }

    /// The signed manifest of a registered approval: read and parsed once per book, then reused while
    /// the stored bytes keep their sizes. (The bytes checked are the ones held here; an edit of the
    /// registry file during a run changes nothing that was verified.)
    func signedEntry(_ state: ApprovalState) throws(ApprovalRefusal) -> ManifestEntry {
        if let e = manifests.entry(id: state.id), e.record.payload.count == state.payloadSize, e.record.signature.count == state.signatureSize {
            return e
        }
        let rec: ApprovalRecord?
        do { rec = try store.approval(state.id) } catch { throw ApprovalRefusal(.storage, "\(error)", approval: state.id) }
        guard let rec else { throw ApprovalRefusal(.notListed, "approval \(state.id) is not registered", approval: state.id) }
        return try manifests.entry(rec)
    }

    /// All checks of one registered approval against one document.
    func check(_ entry: ManifestEntry, state: ApprovalState, sha: String, fileName: String?, sealID: String, user: String, job: String,
               at time: Date, verified: Bool = false) throws(ApprovalRefusal) -> ApprovalGrant {
        let m = entry.manifest
        guard m.seal == sealID else {
            throw ApprovalRefusal(.wrongSeal, "approval \(m.id) is for seal \(m.seal), not \(sealID)", approval: m.id)
        }
        let context: StampContext
        do { context = try store.stampContext(seal: sealID, user: user) } catch { throw ApprovalRefusal(.storage, "\(error)", approval: m.id) }
        // The stored manifest is re-verified (unless `register` just did): the registry file may have been
        // tampered with. Once verified, reused while nothing it rests on changed (`generation`).
        if !verified, !entry.isVerified(generation: context.generation) {
            try verifyManifest(SignedApprovalManifest(manifest: m, payload: entry.record.payload,
                                                      signature: entry.record.signature.isEmpty ? nil : entry.record.signature), at: time)
        }
        entry.markVerified(generation: context.generation)
        guard let seal = context.seal else { throw ApprovalRefusal(.sealNotUsable, "seal \(sealID) is not registered", approval: m.id) }
        guard seal.status == .active else { throw ApprovalRefusal(.sealNotUsable, "seal \(sealID) is \(seal.status.rawValue)", approval: m.id) }
        guard time >= seal.validFrom && time <= seal.validUntil else {
            throw ApprovalRefusal(.sealNotUsable, "seal \(sealID) is outside its validity period (\(iso(seal.validFrom)) – \(iso(seal.validUntil)))", approval: m.id)
        }
        let rights = ActorRights(user: user, organisation: context.user?.organisation, roles: context.roles, sealRights: context.sealRights)
        let active = context.user?.status == .active
        switch Policy.check(.stamp, actor: rights, target: ActionTarget(organisation: seal.organisation, seal: sealID)) {
        case .success:
            guard active else { throw ApprovalRefusal(.userNotAllowed, "user \(user) is unknown or disabled", approval: m.id) }
        case .failure(let e) where e.code == .separationOfDuties:
            throw ApprovalRefusal(.separationOfDuties, e.detail, approval: m.id)
        case .failure(let e):
            throw ApprovalRefusal(.userNotAllowed, "\(e.detail) (missing: \(e.missingRight ?? "?"))", approval: m.id)
        }
        guard state.status == .active else {
            throw ApprovalRefusal(.revoked, "approval \(m.id) was revoked by \(state.revokedBy ?? "?") at \(state.revokedAt.map(iso) ?? "?")", approval: m.id)
        }
        guard time <= m.validUntil else {
            throw ApprovalRefusal(.expired, "approval \(m.id) expired at \(iso(m.validUntil))", approval: m.id)
        }
        guard time >= m.issuedAt.addingTimeInterval(-clockSkew) else {
            throw ApprovalRefusal(.expired, "approval \(m.id) is issued in the future (\(iso(m.issuedAt)))", approval: m.id)
        }
        guard let doc = entry.documentsBySHA[sha] else {
            if let fileName, entry.names.contains(fileName) {
                throw ApprovalRefusal(.documentAltered, "\(fileName) is listed in approval \(m.id) with different content: the document was altered after approval", approval: m.id)
            }
            throw ApprovalRefusal(.notListed, "approval \(m.id) does not list this document (sha256 \(sha.prefix(16))…)", approval: m.id)
        }
        let uses: UseState
        do { uses = try store.useState(approval: m.id, documentSHA256: sha) } catch { throw ApprovalRefusal(.storage, "\(error)", approval: m.id) }
        var already = false
        if let u = uses.use {
            guard u.job == job else {
                throw ApprovalRefusal(.replay, "\(doc.name) was already stamped under approval \(m.id) (job \(u.job) at \(iso(u.usedAt)))", approval: m.id)
            }
            already = true
        } else if uses.count >= m.uses {
            throw ApprovalRefusal(.usedUp, "approval \(m.id) allows \(m.uses) use(s), all consumed", approval: m.id)
        }
        return ApprovalGrant(approval: m.id, seal: sealID, organisation: seal.organisation, documentSHA256: sha, listedName: doc.name,
                             requester: m.requester, approver: m.approver, user: user, job: job, validUntil: m.validUntil,
                             usesRemaining: m.uses - uses.count, alreadyConsumed: already)
    }

    /// Records the use of a grant, atomically. Idempotent per (approval, document, job): consuming the
    /// same grant again changes nothing. Refuses when another job consumed the document or the uses ran
    /// out in the meantime. Audited (action `approval.consume`).
    public func consume(_ grant: ApprovalGrant, at time: Date = Date()) throws(ApprovalRefusal) {
        let outcome: UseRecording
        do {
            guard let state = try store.approvalState(grant.approval) else {
                throw ApprovalRefusal(.notListed, "approval \(grant.approval) is not registered", approval: grant.approval)
            }
            guard state.status == .active else {
                throw ApprovalRefusal(.revoked, "approval \(grant.approval) was revoked", approval: grant.approval)
            }
            // the limit comes from the signed bytes, not from a column someone could edit
            let limit = try signedEntry(state).manifest.uses
            // the use and its audit record are written in one transaction
            let audit = registry.audit
            try audit.requireCheckpointed()
            let recorded = try store.recordUse(ApprovalUse(approval: grant.approval, documentSHA256: grant.documentSHA256, job: grant.job,
                                                           user: grant.user, usedAt: time), limit: min(limit, state.uses)) { outcome in
                Self.consumeEntry(grant, outcome).map { audit.maker($0, at: time) }
            }
            outcome = recorded.0
            if let rec = recorded.1 { audit.appended(rec) }
        } catch let r as ApprovalRefusal { throw r } catch {
            throw ApprovalRefusal(.storage, "cannot record the use of approval \(grant.approval): \(error)", approval: grant.approval)
        }
        switch outcome {
        case .recorded, .alreadyRecorded: return // a retry by the same job changed nothing and is not audited again
        case .replay(let other):
            throw ApprovalRefusal(.replay, "the document was already stamped under approval \(grant.approval) by job \(other)", approval: grant.approval)
        case .usedUp(let n):
            throw ApprovalRefusal(.usedUp, "approval \(grant.approval) allows \(n) use(s), all consumed", approval: grant.approval)
        }
    }

    /// The audit entry of a consumption's outcome (nil for an idempotent retry).
    static func consumeEntry(_ grant: ApprovalGrant, _ outcome: UseRecording) -> AuditEntry? {
        func entry(_ detail: String, refused code: ApprovalRefusal.Code? = nil) -> AuditEntry {
            AuditEntry(actor: grant.user, action: "approval.consume", organisation: grant.organisation, seal: grant.seal,
                       documentsBefore: [grant.documentSHA256], approval: grant.approval, outcome: code == nil ? .ok : .refused,
                       reason: code?.rawValue, detail: detail)
        }
        switch outcome {
        case .recorded(let n): return entry("use \(n) of approval \(grant.approval) (job \(grant.job))")
        case .alreadyRecorded: return nil
        case .replay(let other): return entry("the document was already stamped under approval \(grant.approval) by job \(other)", refused: .replay)
        case .usedUp(let n): return entry("approval \(grant.approval) allows \(n) use(s), all consumed", refused: .usedUp)
        }
    }

    /// Gives a consumed use back when the job that consumed it did not produce a stamped document
    /// (quarantined after signing failed or verification refused the output). Only the job that
    /// consumed it can release it. Audited (action `approval.release`, in the same transaction).
    @discardableResult
    public func release(_ grant: ApprovalGrant, reason: String, at time: Date = Date()) throws -> Bool {
        try giveBack(approval: grant.approval, sha: grant.documentSHA256, job: grant.job, user: grant.user,
                     organisation: grant.organisation, seal: grant.seal, reason: reason, at: time)
    }

    /// Gives back every use of the document `documentSHA256` consumed by `job`, when the grant itself is
    /// no longer known (a pipeline restarted the document after a crash and then gave up on it). Only
    /// that job's uses are touched: a use by another job stays. Each use given back is audited
    /// (`approval.release`). Returns the approvals whose use was given back.
    @discardableResult
    public func releaseUses(job: String, documentSHA256: String, reason: String, at time: Date = Date()) throws -> [String] {
        let sha = documentSHA256.lowercased()
        var released: [String] = []
        for state in try store.approvalStates(listing: sha) {
            guard let use = try store.useState(approval: state.id, documentSHA256: sha).use, use.job == job else { continue }
            if try giveBack(approval: state.id, sha: sha, job: job, user: use.user, organisation: try store.seal(state.seal)?.organisation,
                            seal: state.seal, reason: reason, at: time) {
                released.append(state.id)
            }
        }
        return released
    }

    /// Deletes a job's use and appends its `approval.release` record, in one transaction.
    private func giveBack(approval: String, sha: String, job: String, user: String, organisation: String?, seal: String,
                          reason: String, at time: Date) throws -> Bool {
        let entry = AuditEntry(actor: user, action: "approval.release", organisation: organisation, seal: seal, documentsBefore: [sha],
                               approval: approval, detail: "use by job \(job) given back: \(reason)")
        try registry.audit.requireCheckpointed()
        guard let rec = try store.deleteUse(approval: approval, documentSHA256: sha, job: job, audit: registry.audit.maker(entry, at: time)) else {
            return false
        }
        registry.audit.appended(rec)
        return true
    }

    // MARK: - Managing

    /// Revokes an approval (its approver, or a seal administrator of the seal's organisation).
    public func revoke(_ id: String, reason: String = "", as actor: AuthenticatedUser, at time: Date = Date()) throws {
        guard let rec = try store.approval(id) else { throw GovernanceError(.notFound, "no approval '\(id)'") }
        let org = try store.seal(rec.seal)?.organisation
        try registry.authorise(.revokeApproval, ActionTarget(organisation: org, seal: rec.seal, approver: rec.approver), actor: actor, at: time)
        guard rec.status == .active else { throw GovernanceError(.invalidInput, "approval \(id) is already revoked") }
        try store.revokeApproval(id, by: actor.id, at: time)
        try registry.audit.append(AuditEntry(actor: actor.id, action: GovernanceAction.revokeApproval.rawValue, organisation: org, seal: rec.seal,
                                             approval: id, detail: "approval \(id) revoked\(reason.isEmpty ? "" : ": \(reason)")"), at: time)
    }

    /// Registered approvals, newest first.
    public func list(seal: String? = nil) throws -> [ApprovalRecord] { try store.approvals(seal: seal) }

    /// One approval with its uses.
    public func show(_ id: String) throws -> (ApprovalRecord, [ApprovalUse])? {
        guard let r = try store.approval(id) else { return nil }
        return (r, try store.uses(approval: id))
    }
}

func iso(_ d: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: d)
}

/// A small bounded cache of verified manifest signatures and parsed manifests (thread-safe).
final class VerificationCache: @unchecked Sendable {
    private let lock = NSLock()
    private var signatures: [String: DetachedSignature.Verified] = [:]
    private var manifests: [String: ApprovalManifest] = [:]
    private let limit = 256

    func signature(_ key: String) -> DetachedSignature.Verified? {
        lock.lock(); defer { lock.unlock() }
        return signatures[key]
    }

    func store(signature v: DetachedSignature.Verified, _ key: String) {
        lock.lock(); defer { lock.unlock() }
        if signatures.count >= limit { signatures.removeAll(keepingCapacity: true) }
        signatures[key] = v
    }

    /// The parsed manifest for these exact bytes.
    func manifest(_ payload: [UInt8]) throws(ApprovalRefusal) -> ApprovalManifest {
        let key = DetachedSignature.hex(DetachedSignature.sha256(payload))
        lock.lock()
        if let m = manifests[key] { lock.unlock(); return m }
        lock.unlock()
        let m = try ApprovalManifest.decode(payload)
        lock.lock(); defer { lock.unlock() }
        if manifests.count >= limit { manifests.removeAll(keepingCapacity: true) }
        manifests[key] = m
        return m
    }
}

/// A registered manifest, parsed and indexed by document hash, with the registry generation at which
/// its signature and signer were last verified.
final class ManifestEntry: @unchecked Sendable {
    let record: ApprovalRecord
    let manifest: ApprovalManifest
    let documentsBySHA: [String: ApprovalManifest.Document]
    let names: Set<String>
    private let lock = NSLock()
    private var verifiedGeneration: Int64?

    init(record: ApprovalRecord, manifest: ApprovalManifest) {
        self.record = record; self.manifest = manifest
        var bySHA: [String: ApprovalManifest.Document] = [:]
        for d in manifest.documents where bySHA[d.sha256] == nil { bySHA[d.sha256] = d }
        documentsBySHA = bySHA
        names = Set(manifest.documents.map(\.name))
    }

    /// True when verified at this generation (never when the store cannot tell generations apart).
    func isVerified(generation: Int64?) -> Bool {
        guard let generation else { return false }
        lock.lock(); defer { lock.unlock() }
        return verifiedGeneration == generation
    }

    func markVerified(generation: Int64?) {
        lock.lock(); defer { lock.unlock() }
        verifiedGeneration = generation
    }
}

/// Manifest entries by approval id (bounded; thread-safe).
final class ManifestCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: ManifestEntry] = [:]
    private let limit = 64

    func entry(id: String) -> ManifestEntry? {
        lock.lock(); defer { lock.unlock() }
        return entries[id]
    }

    /// The entry for this record: the cached one if it holds the same signed bytes, else a new one.
    func entry(_ rec: ApprovalRecord) throws(ApprovalRefusal) -> ManifestEntry {
        if let e = entry(id: rec.id), e.record.payload == rec.payload, e.record.signature == rec.signature { return e }
        let m: ApprovalManifest
        do { m = try ApprovalManifest.decode(rec.payload) } catch { throw error }
        let e = ManifestEntry(record: rec, manifest: m)
        lock.lock(); defer { lock.unlock() }
        if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
        entries[rec.id] = e
        return e
    }
}
