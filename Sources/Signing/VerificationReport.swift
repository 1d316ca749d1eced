import Foundation

/// ETSI EN 319 102-1 §5.1.3 main indication.
public enum Indication: String, Codable, Sendable {
    case totalPassed = "TOTAL-PASSED"
    case totalFailed = "TOTAL-FAILED"
    case indeterminate = "INDETERMINATE"
}

/// ETSI EN 319 102-1 Table 5/6 sub-indications used by this verifier.
public enum SubIndication: String, Codable, Sendable {
    // TOTAL-FAILED
    case formatFailure = "FORMAT_FAILURE"
    case hashFailure = "HASH_FAILURE"
    case sigCryptoFailure = "SIG_CRYPTO_FAILURE"
    case revoked = "REVOKED"
    case expired = "EXPIRED"
    case notYetValid = "NOT_YET_VALID"
    // INDETERMINATE
    case sigConstraintsFailure = "SIG_CONSTRAINTS_FAILURE"
    case chainConstraintsFailure = "CHAIN_CONSTRAINTS_FAILURE"
    case certificateChainGeneralFailure = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    case noSigningCertificateFound = "NO_SIGNING_CERTIFICATE_FOUND"
    case noCertificateChainFound = "NO_CERTIFICATE_CHAIN_FOUND"
    case revokedNoPOE = "REVOKED_NO_POE"
    case outOfBoundsNoPOE = "OUT_OF_BOUNDS_NO_POE"
    case tryLater = "TRY_LATER"
    case timestampOrderFailure = "TIMESTAMP_ORDER_FAILURE"
    case signedDataNotFound = "SIGNED_DATA_NOT_FOUND"
}

/// What changed in the file after a signature, from least to most (ISO 32000-2 §12.8.2.2 DocMDP classes).
public enum ModificationLevel: String, Codable, Sendable, Comparable, CaseIterable {
    /// The signature covers the whole file.
    case none
    /// Later signatures, document time-stamps and DSS (validation data) only.
    case signaturesAndDSS = "signatures-and-dss"
    /// Filling in form fields (plus the above).
    case formFilling = "form-filling"
    /// Adding, changing or deleting annotations (plus the above).
    case annotations
    /// Anything else (page content, page tree, deleted objects...): never allowed after a signature.
    case other
    var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// PAdES baseline level (ETSI EN 319 142-1 §6).
public enum PAdESLevel: String, Codable, Sendable, Comparable, CaseIterable {
    case bB = "B-B", bT = "B-T", bLT = "B-LT", bLTA = "B-LTA"
    var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// One certificate in a report.
public struct CertificateReport: Codable, Sendable, Equatable {
    public var subject: String
    public var issuer: String
    public var commonName: String?
    public var organization: String?
    public var serialNumber: String
    public var notBefore: Date
    public var notAfter: Date
    public var keyUsage: [String]
    public var extendedKeyUsage: [String]
    /// good / revoked / unknown / not-checked / trust-anchor
    public var revocation: String
    public var revocationSource: String?
    public var revocationTime: Date?
}

/// A pass/fail check with a reason.
public struct Check: Codable, Sendable, Equatable {
    public var ok: Bool
    public var detail: String
    public init(_ ok: Bool, _ detail: String) { self.ok = ok; self.detail = detail }
}

/// The signature time-stamp or document time-stamp evidence.
public struct TimeStampReport: Codable, Sendable, Equatable {
    public var time: Date
    /// The token's signature verifies and it time-stamps the right bytes.
    public var intact: Bool
    /// The TSA certificate chains to a trust anchor.
    public var trusted: Bool
    public var authority: String?
    public var detail: String
}

/// Byte-range coverage of one signature.
public struct CoverageReport: Codable, Sendable, Equatable {
    public var byteRange: [Int]
    /// Bytes covered by the signature (both ranges).
    public var coveredBytes: Int
    /// File size when verified.
    public var fileSize: Int
    /// 1-based revision number this signature closes, when it ends exactly at a revision end.
    public var revision: Int?
    public var coversWholeFile: Bool
}

/// The verdict on one signature or document time-stamp.
public struct SignatureReport: Codable, Sendable, Equatable {
    /// Fully qualified field name.
    public var field: String
    /// "signature", "certification" or "document-timestamp".
    public var kind: String
    public var indication: Indication
    public var subIndication: SubIndication?
    /// Plain-language summary of the verdict.
    public var summary: String
    public var signer: CertificateReport?
    /// /Name of the signature dictionary (the seal name).
    public var name: String?
    public var reason: String?
    public var location: String?
    public var contactInfo: String?
    /// /M, as claimed by the signer.
    public var claimedSigningTime: Date?
    /// Time asserted by the signature time-stamp (or the document time-stamp itself).
    public var timestamp: TimeStampReport?
    public var subFilter: String?
    public var digestAlgorithm: String?
    public var signatureAlgorithm: String?
    /// Highest PAdES baseline level this signature reaches in this file.
    public var padesLevel: PAdESLevel?
    public var coverage: CoverageReport?
    /// Digest of the covered bytes equals the signed message-digest.
    public var integrity: Check
    /// The signature value verifies with the signer's public key.
    public var cryptographic: Check
    /// The path to a trust anchor: validity periods, key usage.
    public var certificatePath: Check
    public var chain: [CertificateReport]
    /// good / revoked / unknown / not-checked, for the signer's certificate and its CAs.
    public var revocation: Check
    /// Changes after this signature.
    public var modifications: ModificationReport
    /// DocMDP permission (1–3) when this is a certification signature.
    public var docMDP: Int?
    /// Extra findings (warnings that do not change the indication).
    public var notes: [String]
    /// What the signature's own revision put on the pages (seal widget, cross-page slices); nil for document
    /// time-stamps and signatures that do not end at a revision.
    public var appearance: AppearanceReport? = nil
}

/// The seal as written in the signature's own revision (all of it is covered by the signature).
public struct AppearanceReport: Codable, Sendable, Equatable {
    /// A /Stamp annotation created in the signature's revision (a cross-page seal slice, 骑缝章).
    public struct Slice: Codable, Sendable, Equatable {
        /// 1-based page number.
        public var page: Int
        /// /NM of the annotation (sealbatch writes `sealbatch-slice-<field>-<i>`).
        public var name: String?
    }
    /// At least one widget of the field has a non-empty rectangle.
    public var visible: Bool
    /// 1-based pages of the signature field's widgets.
    public var widgetPages: [Int]
    /// Stamp annotations created in the same revision, in page order.
    public var slices: [Slice]
    /// Pages of the slices.
    public var slicePages: [Int] { slices.map(\.page) }
}

/// Changes after a signature, classified.
public struct ModificationReport: Codable, Sendable, Equatable {
    public var level: ModificationLevel
    public var allowed: Bool
    /// The most permissive level the document's DocMDP (or the default for approval signatures) accepts.
    public var permitted: ModificationLevel
    public var details: [String]
}

/// The verdict on one file.
public struct FileReport: Codable, Sendable, Equatable {
    public var path: String
    public var sha256: String?
    public var size: Int?
    public var title: String?
    public var pages: Int?
    public var revisions: Int?
    /// Set when the file could not be read as a PDF at all.
    public var error: String?
    public var signatures: [SignatureReport]
    /// True when every signature has TOTAL-PASSED (and there is at least one, and no error).
    public var passed: Bool
    /// True when something was appended after the newest signature or time-stamp (allowed or not); nil
    /// when the file has no readable signature.
    public var changedAfterLastSignature: Bool? = nil
    /// Time spent verifying this file, in seconds.
    public var seconds: Double? = nil
    /// SHA-256 of the file's first bytes, when asked for (`Verifier.Options.prefixLength`).
    public var prefix: PrefixDigest? = nil
}

/// SHA-256 of the first `length` bytes of a file.
public struct PrefixDigest: Codable, Sendable, Equatable {
    public var length: Int
    public var sha256: String
    public init(length: Int, sha256: String) { self.length = length; self.sha256 = sha256 }
}

/// The whole `sealbatch verify` result. JSON schema: docs/signing.md, `schema` = "sealbatch.verify/2"
/// (/2: the keys of /1 in kebab-case).
public struct VerificationReport: Codable, Sendable, Equatable {
    public static let schemaID = "sealbatch.verify/2"
    public var schema: String = VerificationReport.schemaID
    public var validationTime: Date
    /// Level the caller required (a signature below it fails), if any.
    public var requiredLevel: PAdESLevel?
    public var files: [FileReport]
    public var passed: Bool { !files.isEmpty && files.allSatisfy(\.passed) }
    /// Every file passed and none was changed after its newest signature (exit code 0; passed with
    /// allowed later changes is exit code 3).
    public var untouched: Bool { passed && files.allSatisfy { $0.changedAfterLastSignature == false } }

    public init(validationTime: Date, requiredLevel: PAdESLevel?, files: [FileReport]) {
        self.validationTime = validationTime
        self.requiredLevel = requiredLevel
        self.files = files
    }
}
