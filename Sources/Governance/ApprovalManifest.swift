import Foundation
import Signing

/// An approval to use a seal on listed documents (format `sealbatch-approval/1`).
///
/// On disk an approval is an envelope (`sealbatch-approval-envelope/1`):
/// `{"format": …, "manifest": base64(manifest JSON bytes), "signature": base64(DER CMS SignedData)}`.
/// The signature is a detached CMS SignedData (RFC 5652, SHA-256) by the approver's key over the exact
/// manifest bytes; it carries the approver's certificate (and chain).
public struct ApprovalManifest: Codable, Sendable, Equatable {
    /// A listed document.
    public struct Document: Codable, Sendable, Equatable, Hashable {
        /// SHA-256 of the document's exact bytes, lower-case hex.
        public var sha256: String
        /// File name as submitted (informational; admission matches by hash).
        public var name: String
        /// Page count, if known.
        public var pages: Int?
        /// Creates a document entry.
        public init(sha256: String, name: String, pages: Int?) {
            self.sha256 = sha256.lowercased(); self.name = name; self.pages = pages
        }
    }

    /// The format tag.
    public static let format = "sealbatch-approval/1"

    /// `sealbatch-approval/1`.
    public var format: String
    /// Unique id (UUID).
    public var id: String
    /// Seal id.
    public var seal: String
    /// Why the seal is used.
    public var purpose: String
    /// Who asked for the seal.
    public var requester: String
    /// Who approves (must be the signer).
    public var approver: String
    /// When it was issued.
    public var issuedAt: Date
    /// Last moment it admits documents.
    public var validUntil: Date
    /// How many listed documents may be stamped under it (each at most once).
    public var uses: Int
    /// The documents.
    public var documents: [Document]

    enum CodingKeys: String, CodingKey {
        case format, id, seal, purpose, requester, approver, documents, uses
        case issuedAt = "issued-at", validUntil = "valid-until"
    }

    /// Creates a manifest; `uses` defaults to the number of documents.
    public init(id: String = UUID().uuidString.lowercased(), seal: String, purpose: String, requester: String,
                approver: String, issuedAt: Date = Date(), validUntil: Date, uses: Int? = nil, documents: [Document]) {
        self.format = Self.format; self.id = id; self.seal = seal; self.purpose = purpose
        self.requester = requester; self.approver = approver
        self.issuedAt = Date(timeIntervalSince1970: issuedAt.timeIntervalSince1970.rounded(.down))
        self.validUntil = Date(timeIntervalSince1970: validUntil.timeIntervalSince1970.rounded(.down))
        self.uses = uses ?? documents.count; self.documents = documents
    }

    /// Canonical JSON bytes (sorted keys, ISO 8601 UTC times) — what the approver signs.
    public func encoded() -> [UInt8] {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        enc.dateEncodingStrategy = .iso8601
        return Array((try? enc.encode(self)) ?? Data()) // cannot fail: strings, integers and whole-second dates only (an empty payload would not verify anyway)
    }

    /// Parses manifest bytes.
    public static func decode(_ bytes: [UInt8]) throws(ApprovalRefusal) -> ApprovalManifest {
        let dec = JSONDecoder()
        dec.dateDecodingStrategy = .iso8601
        let m: ApprovalManifest
        do { m = try dec.decode(ApprovalManifest.self, from: Data(bytes)) } catch {
            throw ApprovalRefusal(.malformedManifest, "the approval manifest is not valid JSON of format \(format): \(error)")
        }
        guard m.format == format else {
            throw ApprovalRefusal(.malformedManifest, "unknown manifest format '\(m.format)' (expected \(format))", approval: m.id)
        }
        guard !m.documents.isEmpty, m.uses >= 1,
              m.documents.allSatisfy({ $0.sha256.count == 64 && $0.sha256.allSatisfy(\.isHexDigit) }) else {
            throw ApprovalRefusal(.malformedManifest, "the manifest lists no documents, a bad SHA-256 or a use count below 1", approval: m.id)
        }
        return m
    }
}

/// An approval manifest with its exact bytes and (if signed) the approver's detached signature.
public struct SignedApprovalManifest: Sendable, Equatable {
    /// The envelope format tag.
    public static let envelopeFormat = "sealbatch-approval-envelope/1"
    /// The parsed manifest.
    public let manifest: ApprovalManifest
    /// The exact bytes that were signed.
    public let payload: [UInt8]
    /// DER CMS SignedData over `payload`, nil for an unsigned manifest.
    public let signature: [UInt8]?

    /// Wraps already-signed parts.
    public init(manifest: ApprovalManifest, payload: [UInt8], signature: [UInt8]?) {
        self.manifest = manifest; self.payload = payload; self.signature = signature
    }

    /// Signs `manifest` with the approver's identity.
    public static func sign(_ manifest: ApprovalManifest, with identity: DetachedSignature.Identity) throws -> SignedApprovalManifest {
        let payload = manifest.encoded()
        return SignedApprovalManifest(manifest: manifest, payload: payload, signature: try identity.sign(payload))
    }

    /// Wraps a manifest without a signature (rejected at admission with `.unsigned`).
    public static func unsigned(_ manifest: ApprovalManifest) -> SignedApprovalManifest {
        SignedApprovalManifest(manifest: manifest, payload: manifest.encoded(), signature: nil)
    }

    struct Envelope: Codable {
        var format: String
        var manifest: String
        var signature: String?
    }

    /// The envelope file's bytes.
    public func fileBytes() -> [UInt8] {
        let env = Envelope(format: Self.envelopeFormat, manifest: Data(payload).base64EncodedString(),
                           signature: signature.map { Data($0).base64EncodedString() })
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array((try? enc.encode(env)) ?? Data()) + [0x0a] // cannot fail: three strings
    }

    /// Parses an envelope file. A bare manifest JSON (no envelope) parses as unsigned.
    public static func parse(_ fileBytes: [UInt8]) throws(ApprovalRefusal) -> SignedApprovalManifest {
        // format sniffing only: what is not an envelope is read as a bare manifest below, and refused as unsigned
        if let env = try? JSONDecoder().decode(Envelope.self, from: Data(fileBytes)), env.format == envelopeFormat {
            guard let payload = Data(base64Encoded: env.manifest) else {
                throw ApprovalRefusal(.malformedManifest, "the envelope's manifest is not base64")
            }
            let m = try ApprovalManifest.decode(Array(payload))
            var sig: [UInt8]? = nil
            if let s = env.signature, !s.isEmpty {
                guard let d = Data(base64Encoded: s) else {
                    throw ApprovalRefusal(.signatureInvalid, "the envelope's signature is not base64", approval: m.id)
                }
                sig = Array(d)
            }
            return SignedApprovalManifest(manifest: m, payload: Array(payload), signature: sig)
        }
        let m = try ApprovalManifest.decode(fileBytes)
        return SignedApprovalManifest(manifest: m, payload: fileBytes, signature: nil)
    }
}

/// Why a document was not admitted for stamping. Every reason has its own stable code.
public struct ApprovalRefusal: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable reason codes (used in quarantine reports and the audit log).
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The manifest file cannot be read as an approval manifest.
        case malformedManifest = "malformed-manifest"
        /// No approval manifest lists the document's exact bytes.
        case notListed = "document-not-listed"
        /// A listed document of the same name has different bytes: altered after approval.
        case documentAltered = "document-altered"
        /// The manifest carries no signature.
        case unsigned = "manifest-unsigned"
        /// The signature does not verify over the manifest bytes (forged or altered manifest).
        case signatureInvalid = "signature-invalid"
        /// The signer's certificate is not the registered certificate of the named approver.
        case signerNotApprover = "signer-not-approver"
        /// The approver's certificate is expired or does not chain to the organisation's anchors.
        case signerCertificateInvalid = "signer-certificate-invalid"
        /// The approver is unknown, disabled, or holds no approve right on the seal.
        case approverLacksRight = "approver-lacks-right"
        /// The approver is the requester.
        case selfApproval = "self-approval"
        /// The manifest is for a different seal.
        case wrongSeal = "wrong-seal"
        /// The seal is unknown, suspended, revoked or outside its validity period.
        case sealNotUsable = "seal-not-usable"
        /// The manifest's valid-until has passed (or it is not yet issued).
        case expired = "approval-expired"
        /// The approval was revoked.
        case revoked = "approval-revoked"
        /// All uses are consumed.
        case usedUp = "approval-used-up"
        /// This document was already stamped under this approval (replay).
        case replay = "document-already-stamped"
        /// The stamping user lacks the seal-user role or the use right on the seal.
        case userNotAllowed = "user-not-allowed"
        /// The stamping user is an administrator (separation of duties).
        case separationOfDuties = "separation-of-duties"
        /// Another manifest with the same id but different content is registered.
        case conflictingManifest = "conflicting-manifest"
        /// The registry failed.
        case storage
    }
    /// The reason.
    public let code: Code
    /// Plain description for the clerk.
    public let detail: String
    /// The approval id concerned, if known.
    public let approval: String?

    /// Creates a refusal.
    public init(_ code: Code, _ detail: String, approval: String? = nil) {
        self.code = code; self.detail = detail; self.approval = approval
    }
    /// Text for the CLI and quarantine reports.
    public var description: String { "\(code.rawValue): \(detail)" }
}
