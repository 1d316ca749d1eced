import Foundation
import Governance
import Testing

/// Role × action, pure policy: every pair is either allowed or refused with a named missing right.
@Suite struct PolicyTests {
    enum Persona: String, CaseIterable {
        case platformAdmin, systemAdmin, sealAdmin, sealUser, approver, outsider, otherOrgSealAdmin
    }

    static func rights(_ p: Persona) -> ActorRights {
        let now = Date()
        func role(_ r: Role, _ org: String? = "acme") -> RoleGrant { RoleGrant(user: p.rawValue, role: r, organisation: org, grantedBy: "t", grantedAt: now) }
        func right(_ r: SealRight) -> SealGrant { SealGrant(seal: "S", user: p.rawValue, right: r, grantedBy: "t", grantedAt: now) }
        switch p {
        case .platformAdmin: return ActorRights(user: p.rawValue, organisation: nil, roles: [role(.platformAdmin, nil)], sealRights: [])
        case .systemAdmin: return ActorRights(user: p.rawValue, organisation: "acme", roles: [role(.systemAdmin)], sealRights: [])
        case .sealAdmin: return ActorRights(user: p.rawValue, organisation: "acme", roles: [role(.sealAdmin)], sealRights: [])
        case .sealUser: return ActorRights(user: p.rawValue, organisation: "acme", roles: [role(.sealUser)], sealRights: [right(.use)])
        case .approver: return ActorRights(user: p.rawValue, organisation: "acme", roles: [], sealRights: [right(.approve)])
        case .outsider: return ActorRights(user: p.rawValue, organisation: "acme", roles: [], sealRights: [])
        case .otherOrgSealAdmin: return ActorRights(user: p.rawValue, organisation: "other", roles: [role(.sealAdmin, "other")], sealRights: [])
        }
    }

    /// The action, its target, and who may do it.
    static let table: [(GovernanceAction, ActionTarget, Set<Persona>)] = [
        (.createOrganisation, ActionTarget(organisation: "new"), [.platformAdmin]),
        (.appointAdministrator, ActionTarget(organisation: "acme", role: .systemAdmin), [.platformAdmin]),
        (.createUser, ActionTarget(organisation: "acme"), [.platformAdmin, .systemAdmin]),
        (.manageUser, ActionTarget(organisation: "acme"), [.platformAdmin, .systemAdmin]),
        (.grantRole, ActionTarget(organisation: "acme", role: .sealUser), [.systemAdmin]),
        (.grantRole, ActionTarget(organisation: "acme", role: .sealAdmin), [.systemAdmin]),
        (.grantRole, ActionTarget(organisation: "acme", role: .systemAdmin), [.platformAdmin]),
        (.registerSeal, ActionTarget(organisation: "acme", seal: "S"), [.sealAdmin]),
        (.manageSeal, ActionTarget(organisation: "acme", seal: "S"), [.sealAdmin]),
        (.grantSealRight, ActionTarget(organisation: "acme", seal: "S"), [.sealAdmin]),
        (.approve, ActionTarget(organisation: "acme", seal: "S", requester: "sealUser"), [.approver]),
        (.revokeApproval, ActionTarget(organisation: "acme", seal: "S", approver: "approver"), [.approver, .sealAdmin]),
        (.stamp, ActionTarget(organisation: "acme", seal: "S"), [.sealUser]),
        (.readAudit, ActionTarget(organisation: "acme"), [.sealAdmin]),
    ]

    @Test(arguments: Persona.allCases)
    func everyRoleActionPairIsDecidedAsDesigned(persona: Persona) {
        for (action, target, allowed) in Self.table {
            let result = Policy.check(action, actor: Self.rights(persona), target: target)
            switch result {
            case .success:
                #expect(allowed.contains(persona), "\(persona) must not be allowed \(action.rawValue) \(target.role?.rawValue ?? "")")
            case .failure(let e):
                #expect(!allowed.contains(persona), "\(persona) must be allowed \(action.rawValue): \(e)")
                #expect(e.code == .notAuthorised || e.code == .separationOfDuties)
                #expect(e.missingRight?.isEmpty == false, "a refusal names the missing right")
            }
        }
    }

    @Test func tableCoversEveryAction() {
        #expect(Set(Self.table.map(\.0)) == Set(GovernanceAction.allCases))
    }

    @Test func refusalNamesTheMissingRight() {
        let r = Policy.check(.registerSeal, actor: Self.rights(.systemAdmin), target: ActionTarget(organisation: "acme", seal: "S"))
        guard case .failure(let e) = r else { Issue.record("system admin registered a seal"); return }
        #expect(e.missingRight == "seal-admin of acme")
        let s = Policy.check(.stamp, actor: Self.rights(.outsider), target: ActionTarget(organisation: "acme", seal: "S"))
        guard case .failure(let e2) = s else { Issue.record("outsider stamped"); return }
        #expect(e2.missingRight == "seal-user of acme")
    }

    @Test func nobodyApprovesTheirOwnRequest() {
        let r = Policy.check(.approve, actor: Self.rights(.approver), target: ActionTarget(organisation: "acme", seal: "S", requester: "approver"))
        guard case .failure(let e) = r else { Issue.record("self-approval allowed"); return }
        #expect(e.code == .separationOfDuties)
    }

    @Test func sealAdministratorsDoNotStampEvenWithAUseRight() {
        var a = Self.rights(.sealAdmin)
        a.roles.append(RoleGrant(user: a.user, role: .sealUser, organisation: "acme", grantedBy: "t"))
        a.sealRights.append(SealGrant(seal: "S", user: a.user, right: .use, grantedBy: "t"))
        guard case .failure(let e) = Policy.check(.stamp, actor: a, target: ActionTarget(organisation: "acme", seal: "S")) else {
            Issue.record("seal admin stamped"); return
        }
        #expect(e.code == .separationOfDuties)
    }

    @Test func systemAdministratorsDoNotTouchSealsEvenWithARight() {
        var a = Self.rights(.systemAdmin)
        a.sealRights = [SealGrant(seal: "S", user: a.user, right: .approve, grantedBy: "t"), SealGrant(seal: "S", user: a.user, right: .use, grantedBy: "t")]
        for action in [GovernanceAction.approve, .stamp, .registerSeal, .manageSeal, .grantSealRight] {
            if case .success = Policy.check(action, actor: a, target: ActionTarget(organisation: "acme", seal: "S", requester: "x")) {
                Issue.record("system admin allowed \(action.rawValue)")
            }
        }
    }

    @Test func dutyMergingRoleCombinationsAreRefused() {
        let g = { (r: Role, o: String?) in RoleGrant(user: "u", role: r, organisation: o, grantedBy: "t") }
        let cases: [(Role, String?, [RoleGrant], Bool)] = [
            (.sealUser, "acme", [g(.sealAdmin, "acme")], false),
            (.sealAdmin, "acme", [g(.sealUser, "acme")], false),
            (.sealAdmin, "acme", [g(.systemAdmin, "acme")], false),
            (.systemAdmin, "acme", [g(.sealUser, "acme")], false),
            (.sealUser, "acme", [g(.platformAdmin, nil)], false),
            (.platformAdmin, nil, [g(.sealAdmin, "acme")], false),
            (.systemAdmin, "acme", [g(.platformAdmin, nil)], true),
            (.sealUser, "acme", [], true),
            (.sealUser, "acme", [g(.sealUser, "acme")], true),
        ]
        for (role, org, existing, ok) in cases {
            let r = Policy.checkRoleCombination(adding: role, in: org, to: existing, holder: "u")
            if case .success = r { #expect(ok, "\(role) on top of \(existing.map(\.role)) must be refused") }
            else { #expect(!ok, "\(role) on top of \(existing.map(\.role)) must be allowed") }
        }
    }
}
