import Foundation

/// The four roles of the seal-management practice (DESIGN.md "The four roles").
public enum Role: String, Codable, Sendable, CaseIterable, Comparable {
    /// Creates organisations, appoints system administrators; never touches seals.
    case platformAdmin = "platform-admin"
    /// Manages users and role grants of one organisation; never touches seals.
    case systemAdmin = "system-admin"
    /// Registers / suspends / revokes seals, grants approvers and users per seal, reads the audit log; never stamps.
    case sealAdmin = "seal-admin"
    /// Stamps under an approval with a per-seal use grant; sees its own records.
    case sealUser = "seal-user"

    /// Order for stable listings.
    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// An organisation (legal person) owning seals and users.
public struct Organisation: Codable, Sendable, Equatable {
    /// Short identifier (`acme`).
    public var id: String
    /// Full name (`ACME Trading Co., Ltd.`).
    public var name: String
    /// Creation time.
    public var createdAt: Date
    /// Creates an organisation value.
    public init(id: String, name: String, createdAt: Date = Date()) {
        self.id = id; self.name = name; self.createdAt = createdAt
    }
}

/// Whether a user account may act.
public enum UserStatus: String, Codable, Sendable {
    /// May authenticate and act.
    case active
    /// Refused at authentication.
    case disabled
}

/// A registered person. Authenticates with the key of `certificateDER` or with a local password.
public struct User: Codable, Sendable, Equatable {
    /// Login name (`alice`).
    public var id: String
    /// Organisation, nil for platform administrators outside any organisation.
    public var organisation: String?
    /// Display name.
    public var name: String
    /// DER X.509 certificate of the user's signing key (PKCS#12 file or token), if any.
    public var certificateDER: [UInt8]?
    /// SHA-256 fingerprint (hex) of `certificateDER`, for lookup.
    public var certificateSHA256: String?
    /// scrypt hash of a local-account password (`DetachedSignature.PasswordHash` encoding), if any.
    public var passwordHash: String?
    /// Whether the account may act.
    public var status: UserStatus
    /// Creation time.
    public var createdAt: Date

    /// Creates a user value.
    public init(id: String, organisation: String?, name: String, certificateDER: [UInt8]? = nil,
                certificateSHA256: String? = nil, passwordHash: String? = nil, status: UserStatus = .active,
                createdAt: Date = Date()) {
        self.id = id; self.organisation = organisation; self.name = name
        self.certificateDER = certificateDER; self.certificateSHA256 = certificateSHA256
        self.passwordHash = passwordHash; self.status = status; self.createdAt = createdAt
    }
}

/// A role held by a user in an organisation (platform administrators: organisation nil).
public struct RoleGrant: Codable, Sendable, Equatable, Hashable {
    /// Holder.
    public var user: String
    /// Role.
    public var role: Role
    /// Scope; nil only for `platformAdmin`.
    public var organisation: String?
    /// Who granted it.
    public var grantedBy: String
    /// When.
    public var grantedAt: Date
    /// Creates a grant value.
    public init(user: String, role: Role, organisation: String?, grantedBy: String, grantedAt: Date = Date()) {
        self.user = user; self.role = role; self.organisation = organisation
        self.grantedBy = grantedBy; self.grantedAt = grantedAt
    }
}

/// The kinds of seal a Chinese organisation typically holds.
public enum SealKind: String, Codable, Sendable, CaseIterable {
    /// 公章 — the official seal.
    case official
    /// 合同专用章 — contract seal.
    case contract
    /// 财务专用章 — finance seal.
    case finance
    /// 发票专用章 — invoice seal.
    case invoice
    /// 法定代表人名章 — legal representative's seal.
    case legalRepresentative = "legal-representative"
}

/// Lifecycle state of a seal.
public enum SealStatus: String, Codable, Sendable, CaseIterable {
    /// May be used.
    case active
    /// Temporarily unusable; may be reactivated.
    case suspended
    /// Permanently unusable.
    case revoked
}

/// A registered electronic seal: which certificate and token key it signs with, and how it looks.
public struct Seal: Codable, Sendable, Equatable {
    /// Identifier (`acme-contract`).
    public var id: String
    /// Name as engraved (`ACME 合同专用章`).
    public var name: String
    /// Kind.
    public var kind: SealKind
    /// Owning organisation.
    public var organisation: String
    /// DER certificate of the seal's key.
    public var certificateDER: [UInt8]
    /// RFC 7512 PKCS#11 URI of the key on its token.
    public var tokenURI: String
    /// The seal's design (typed, checked at registration); `unusable` for an old registry's free text.
    public var design: RegisteredDesign
    /// The seal certificate's CA certificates (DER, intermediates then root), checked at registration to chain
    /// it to one of the organisation's trust anchors; empty: the token (or the pipeline's `chain`) supplies them.
    public var chainDER: [[UInt8]]
    /// Lifecycle state.
    public var status: SealStatus
    /// Start of validity.
    public var validFrom: Date
    /// End of validity.
    public var validUntil: Date
    /// Who registered it.
    public var createdBy: String
    /// When.
    public var createdAt: Date

    /// Creates a seal value.
    public init(id: String, name: String, kind: SealKind, organisation: String, certificateDER: [UInt8],
                tokenURI: String, design: RegisteredDesign, status: SealStatus = .active, validFrom: Date,
                validUntil: Date, createdBy: String, createdAt: Date = Date(), chainDER: [[UInt8]] = []) {
        self.id = id; self.name = name; self.kind = kind; self.organisation = organisation
        self.certificateDER = certificateDER; self.tokenURI = tokenURI; self.design = design; self.chainDER = chainDER
        self.status = status; self.validFrom = validFrom; self.validUntil = validUntil
        self.createdBy = createdBy; self.createdAt = createdAt
    }
}

/// A per-seal right.
public enum SealRight: String, Codable, Sendable, CaseIterable {
    /// May approve requests to use the seal (the competent leader).
    case approve
    /// May stamp documents with the seal under an approval.
    case use
}

/// A per-seal right held by a user.
public struct SealGrant: Codable, Sendable, Equatable, Hashable {
    /// Seal.
    public var seal: String
    /// Holder.
    public var user: String
    /// Right.
    public var right: SealRight
    /// Who granted it.
    public var grantedBy: String
    /// When.
    public var grantedAt: Date
    /// Creates a seal grant value.
    public init(seal: String, user: String, right: SealRight, grantedBy: String, grantedAt: Date = Date()) {
        self.seal = seal; self.user = user; self.right = right; self.grantedBy = grantedBy; self.grantedAt = grantedAt
    }
}

/// State of a registered approval manifest.
public enum ApprovalStatus: String, Codable, Sendable {
    /// Usable until expiry or until used up.
    case active
    /// Revoked by its approver or a seal administrator.
    case revoked
}

/// A signed approval manifest as kept in the registry.
public struct ApprovalRecord: Codable, Sendable, Equatable {
    /// Manifest id.
    public var id: String
    /// Seal.
    public var seal: String
    /// Requester (the user who asked for the seal).
    public var requester: String
    /// Approver (the signer).
    public var approver: String
    /// Purpose.
    public var purpose: String
    /// Issue time.
    public var issuedAt: Date
    /// Expiry.
    public var validUntil: Date
    /// Number of documents that may be stamped under it.
    public var uses: Int
    /// Listed documents.
    public var documents: [ApprovalManifest.Document]
    /// The exact signed manifest bytes.
    public var payload: [UInt8]
    /// The detached CMS signature over `payload`.
    public var signature: [UInt8]
    /// State.
    public var status: ApprovalStatus
    /// Who revoked it, and when.
    public var revokedBy: String?
    /// When it was revoked.
    public var revokedAt: Date?
    /// When the registry first saw it.
    public var registeredAt: Date
}

/// One consumption of an approval: a document stamped under it.
public struct ApprovalUse: Codable, Sendable, Equatable {
    /// Approval id.
    public var approval: String
    /// SHA-256 (hex) of the document as approved.
    public var documentSHA256: String
    /// The job (pipeline journal id or stamp run) that consumed it; a retry with the same job is idempotent.
    public var job: String
    /// Who stamped.
    public var user: String
    /// When.
    public var usedAt: Date
    /// Creates a use value.
    public init(approval: String, documentSHA256: String, job: String, user: String, usedAt: Date) {
        self.approval = approval; self.documentSHA256 = documentSHA256; self.job = job; self.user = user; self.usedAt = usedAt
    }
}
