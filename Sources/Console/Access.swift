import Foundation
import Governance

/// The console's pages. Who may open each is decided by `Policy.check` (the same rules as the CLI).
public enum ConsolePage: String, CaseIterable, Sendable {
    /// Counts, latest uses, history (everyone, scoped by role).
    case dashboard
    /// Seal user: upload / pick a document, place the seal, request approval.
    case stamp
    /// Approver: requests waiting for a decision.
    case approvals
    /// Audit log with filters and export.
    case audit
    /// Seals of the organisation (seal administrator).
    case seals
    /// Users, roles, lock-outs (system and platform administrators).
    case users
    /// Organisations and trust anchors (platform administrator).
    case organisations
    /// Quarantined documents (seal and system administrators).
    case quarantine
    /// Verify any PDF (everyone).
    case verify

    /// URL path of the page.
    public var path: String { self == .dashboard ? "/" : "/\(rawValue)" }
}

/// Which pages a user may open, from `Policy.check` over their current rights.
public enum ConsoleAccess {
    /// The pages `rights` allows, in navigation order. `seals` are the seals of the user's organisation.
    public static func pages(rights: ActorRights, seals: [Seal]) -> [ConsolePage] {
        let org = rights.organisation
        func ok(_ a: GovernanceAction, _ t: ActionTarget) -> Bool {
            if case .success = Policy.check(a, actor: rights, target: t) { return true }
            return false
        }
        var out: [ConsolePage] = [.dashboard]
        if stampSeals(rights: rights, seals: seals).count > 0 { out.append(.stamp) }
        if approveSeals(rights: rights, seals: seals).count > 0 { out.append(.approvals) }
        let sealAdmin = ok(.manageSeal, ActionTarget(organisation: org))
        let userAdmin = ok(.manageUser, ActionTarget(organisation: org))
        let platform = ok(.createOrganisation, ActionTarget())
        if ok(.readAudit, ActionTarget(organisation: org)) || userAdmin || platform { out.append(.audit) }
        if sealAdmin { out.append(.seals) }
        if userAdmin { out.append(.users) }
        if platform { out.append(.organisations) }
        if sealAdmin || userAdmin { out.append(.quarantine) }
        out.append(.verify)
        return out
    }

    /// Seals the user may stamp with (`Policy.check(.stamp)`).
    public static func stampSeals(rights: ActorRights, seals: [Seal]) -> [Seal] {
        seals.filter {
            if case .success = Policy.check(.stamp, actor: rights, target: ActionTarget(organisation: $0.organisation, seal: $0.id)) { return true }
            return false
        }
    }

    /// Seals the user may approve uses of (`Policy.check(.approve)`, requester unknown).
    public static func approveSeals(rights: ActorRights, seals: [Seal]) -> [Seal] {
        seals.filter {
            if case .success = Policy.check(.approve, actor: rights, target: ActionTarget(organisation: $0.organisation, seal: $0.id)) { return true }
            return false
        }
    }

    /// Whether the user may act on `action` for `target` (server-side check for a POST).
    public static func allows(_ action: GovernanceAction, rights: ActorRights, target: ActionTarget) -> Bool {
        if case .success = Policy.check(action, actor: rights, target: target) { return true }
        return false
    }
}
