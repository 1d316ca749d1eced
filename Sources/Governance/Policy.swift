import Foundation

/// Everything the registry authorises. Raw values are the audit log's `action` names.
public enum GovernanceAction: String, Codable, Sendable, CaseIterable {
    /// Create an organisation.
    case createOrganisation = "org.create"
    /// Appoint a system administrator of an organisation (or another platform administrator).
    case appointAdministrator = "role.appoint"
    /// Create a user in an organisation.
    case createUser = "user.create"
    /// Disable / enable a user, change their certificate or password.
    case manageUser = "user.manage"
    /// Grant or withdraw the seal-admin or seal-user role in an organisation.
    case grantRole = "role.grant"
    /// Register a seal (certificate, token key, appearance).
    case registerSeal = "seal.register"
    /// Suspend, reactivate or revoke a seal, or rebind its token key / appearance.
    case manageSeal = "seal.manage"
    /// Grant or withdraw per-seal approve / use rights.
    case grantSealRight = "seal.grant"
    /// Approve a request to use a seal (sign an approval manifest).
    case approve = "approval.create"
    /// Revoke an approval manifest.
    case revokeApproval = "approval.revoke"
    /// Stamp a document with a seal under an approval.
    case stamp = "stamp"
    /// Read the whole audit log of an organisation.
    case readAudit = "audit.read"
}

/// What the policy knows about the acting user.
public struct ActorRights: Sendable {
    /// User id.
    public var user: String
    /// The user's organisation.
    public var organisation: String?
    /// Roles held.
    public var roles: [RoleGrant]
    /// Per-seal rights held.
    public var sealRights: [SealGrant]

    /// Creates an actor description.
    public init(user: String, organisation: String?, roles: [RoleGrant], sealRights: [SealGrant]) {
        self.user = user; self.organisation = organisation; self.roles = roles; self.sealRights = sealRights
    }

    /// Whether the user holds `role` (in `organisation`, or platform-wide for platform admins).
    public func has(_ role: Role, in organisation: String?) -> Bool {
        roles.contains { $0.role == role && (role == .platformAdmin || $0.organisation == organisation) }
    }

    /// Whether the user holds `right` on `seal`.
    public func has(_ right: SealRight, on seal: String) -> Bool {
        sealRights.contains { $0.seal == seal && $0.right == right }
    }
}

/// The target of an action, as far as the policy needs it.
public struct ActionTarget: Sendable {
    /// Organisation concerned.
    public var organisation: String?
    /// Seal concerned.
    public var seal: String?
    /// For `appointAdministrator` / `grantRole`: the role being granted.
    public var role: Role?
    /// For `revokeApproval`: the approval's approver.
    public var approver: String?
    /// For `approve`: the requester of the approval.
    public var requester: String?

    /// Creates a target.
    public init(organisation: String? = nil, seal: String? = nil, role: Role? = nil, approver: String? = nil,
                requester: String? = nil) {
        self.organisation = organisation; self.seal = seal; self.role = role; self.approver = approver
        self.requester = requester
    }
}

/// The role × action rules of DESIGN.md, as a pure function (tested exhaustively on its own).
public enum Policy {
    /// Allows or refuses `action` on `target` for `actor`. A refusal names the missing right.
    public static func check(_ action: GovernanceAction, actor a: ActorRights, target t: ActionTarget)
        -> Result<Void, GovernanceError> {
        let org = t.organisation
        func need(_ role: Role, _ what: String) -> Result<Void, GovernanceError> {
            if a.has(role, in: org) { return .success(()) }
            let right = role == .platformAdmin ? role.rawValue : "\(role.rawValue) of \(org ?? "?")"
            return .failure(GovernanceError(.notAuthorised, "\(a.user) may not \(what)", missingRight: right))
        }
        func sod(_ what: String, _ why: String) -> Result<Void, GovernanceError> {
            .failure(GovernanceError(.separationOfDuties, "\(a.user) may not \(what): \(why)", missingRight: "separation of duties"))
        }
        switch action {
        case .createOrganisation:
            return need(.platformAdmin, "create organisations")
        case .appointAdministrator:
            return need(.platformAdmin, "appoint \(t.role?.rawValue ?? "administrator")s")
        case .createUser, .manageUser:
            if a.has(.platformAdmin, in: nil) { return .success(()) }
            return need(.systemAdmin, action == .createUser ? "create users in \(org ?? "?")" : "manage users of \(org ?? "?")")
        case .grantRole:
            if t.role == .systemAdmin || t.role == .platformAdmin {
                return need(.platformAdmin, "appoint \(t.role!.rawValue)s")
            }
            return need(.systemAdmin, "grant roles in \(org ?? "?")")
        case .registerSeal:
            return need(.sealAdmin, "register seals of \(org ?? "?")")
        case .manageSeal:
            return need(.sealAdmin, "manage seals of \(org ?? "?")")
        case .grantSealRight:
            return need(.sealAdmin, "grant rights on seals of \(org ?? "?")")
        case .readAudit:
            return need(.sealAdmin, "read the audit log of \(org ?? "?")")
        case .approve:
            let seal = t.seal ?? "?"
            if a.has(.platformAdmin, in: nil) || a.has(.systemAdmin, in: org) {
                return sod("approve use of seal \(seal)", "administrators of the platform or system do not touch seals")
            }
            if let r = t.requester, r == a.user {
                return sod("approve use of seal \(seal)", "nobody approves a request they made")
            }
            if a.has(.approve, on: seal) { return .success(()) }
            return .failure(GovernanceError(.notAuthorised, "\(a.user) may not approve use of seal \(seal)",
                                            missingRight: "approve right on seal \(seal)"))
        case .revokeApproval:
            if let ap = t.approver, ap == a.user { return .success(()) }
            return need(.sealAdmin, "revoke approvals for seals of \(org ?? "?")")
        case .stamp:
            let seal = t.seal ?? "?"
            if a.has(.sealAdmin, in: org) {
                return sod("stamp with seal \(seal)", "seal administrators do not stamp")
            }
            if a.has(.platformAdmin, in: nil) || a.has(.systemAdmin, in: org) {
                return sod("stamp with seal \(seal)", "administrators of the platform or system do not touch seals")
            }
            if !a.has(.sealUser, in: org) {
                return .failure(GovernanceError(.notAuthorised, "\(a.user) may not stamp with seal \(seal)",
                                                missingRight: "seal-user of \(org ?? "?")"))
            }
            if !a.has(.use, on: seal) {
                return .failure(GovernanceError(.notAuthorised, "\(a.user) may not stamp with seal \(seal)",
                                                missingRight: "use right on seal \(seal)"))
            }
            return .success(())
        }
    }

    /// Refuses role combinations that would merge duties: platform or system administrators holding a
    /// seal role, or a seal administrator who is also a seal user. `existing` are the holder's roles.
    public static func checkRoleCombination(adding role: Role, in organisation: String?, to existing: [RoleGrant],
                                            holder: String) -> Result<Void, GovernanceError> {
        let adminRoles: Set<Role> = [.platformAdmin, .systemAdmin]
        let sealRoles: Set<Role> = [.sealAdmin, .sealUser]
        for g in existing {
            let conflict: Bool
            if adminRoles.contains(role) && sealRoles.contains(g.role) { conflict = true }
            else if sealRoles.contains(role) && adminRoles.contains(g.role) { conflict = true }
            else if sealRoles.contains(role) && sealRoles.contains(g.role) && g.role != role && g.organisation == organisation { conflict = true }
            else { conflict = false }
            if conflict {
                return .failure(GovernanceError(.conflictingRoles,
                    "\(holder) holds \(g.role.rawValue)\(g.organisation.map { " of \($0)" } ?? ""), which cannot be combined with \(role.rawValue)",
                    missingRight: "separation of duties"))
            }
        }
        return .success(())
    }

    /// Refuses per-seal rights that would merge duties: `use` only for seal users who are not seal
    /// administrators; `approve` never for platform or system administrators.
    public static func checkSealRight(_ right: SealRight, seal: String, organisation: String, holder: String,
                                      holderRoles: [RoleGrant]) -> Result<Void, GovernanceError> {
        let has = { (r: Role) in holderRoles.contains { $0.role == r && (r == .platformAdmin || $0.organisation == organisation) } }
        if has(.platformAdmin) || has(.systemAdmin) {
            return .failure(GovernanceError(.conflictingRoles,
                "\(holder) is an administrator of the platform or system and cannot hold \(right.rawValue) right on seal \(seal)",
                missingRight: "separation of duties"))
        }
        if right == .use {
            if has(.sealAdmin) {
                return .failure(GovernanceError(.conflictingRoles,
                    "\(holder) is a seal administrator and cannot hold use right on seal \(seal)", missingRight: "separation of duties"))
            }
            if !has(.sealUser) {
                return .failure(GovernanceError(.invalidInput,
                    "\(holder) must first be granted seal-user of \(organisation) before a use right on seal \(seal)",
                    missingRight: "seal-user of \(organisation)"))
            }
        }
        return .success(())
    }
}
