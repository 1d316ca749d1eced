import Foundation
import Governance
import Pipeline
import Signing

/// Typed keys of the facts the standard stages pass along a job.
public enum StageFacts {
    /// What ingest learnt about the file.
    public static let sniff = FactKey<SniffResult>("ingest.sniff")
    /// The approval that admits the document.
    public static let grant = FactKey<ApprovalGrant>("approval.grant")
    /// The visible appearance (nil for an invisible seal).
    public static let appearance = FactKey<AppearanceBox>("render.appearance")
    /// What sealing produced.
    public static let seal = FactKey<SealRecord>("sign.result")
    /// What a clerk should know about how the document was sealed (earlier signatures found broken, the seal
    /// put into an existing field or made invisible); written into the receipt.
    public static let warnings = FactKey<[String]>("warnings")
    /// The verification report of the output.
    public static let verification = FactKey<VerifySummary>("verify.report")
    /// SHA-256 of the delivered artefact, once known.
    public static let outputDigest = FactKey<String>("output.sha256")
    /// The original's SHA-256 state as ingest hashed it (continued by the sign stage instead of a second read).
    public static let inputHash = FactKey<SHA256Prefix>("ingest.sha256-state")
    /// The claimed original as ingest found it before hashing (the archive stage sees from it that nobody wrote
    /// to the file since, without reading it again).
    public static let inputIdentity = FactKey<FileIdentity>("ingest.identity")
    /// What the verify stage read in the sealed output: its size and SHA-256, and that its first bytes are
    /// exactly the approved original (the archive stage copies both from it without reading them again).
    public static let verifiedOutput = FactKey<VerifiedOutput>("verify.output")
}

/// The sealed output as the verify stage read it, byte for byte.
public struct VerifiedOutput: Sendable, Equatable {
    /// The file read (the job's current file).
    public var path: String
    /// Its size and SHA-256 (hex).
    public var size: Int
    public var sha256: String
    /// Its first `originalLength` bytes have the approved original's SHA-256.
    public var originalLength: Int
}

/// What ingest found: page count, PDF version, existing signatures.
public struct SniffResult: Sendable, Codable, Equatable {
    /// Pages.
    public var pages: Int
    /// Header version.
    public var version: String
    /// Existing signature fields that carry a signature.
    public var existingSignatures: Int
    /// Earlier signatures found broken at ingest (not intact, or changed beyond what they allow), sealed over
    /// only because the pipeline allows it (`allow-broken-signatures`); the verify stage does not hold them
    /// to "still intact", and the receipt names them.
    public var brokenSignatures: [String]? = nil
    /// Size in bytes.
    public var size: Int
}

/// A seal appearance (Sendable box around Signing's type).
public struct AppearanceBox: Sendable {
    /// The appearance, nil for an invisible seal.
    public var appearance: SealAppearance?
    /// Pages and rectangles, for the receipt.
    public var placements: [String]
}

/// What the sign stage did, for the receipt.
public struct SealRecord: Sendable, Codable, Equatable {
    /// Seal id (registry).
    public var sealID: String
    /// The sealer's result.
    public var result: SealResult
    /// SHA-256 fingerprint of the signer certificate.
    public var certificateSHA256: String
    /// Token serial.
    public var tokenSerial: String?
}

/// What the verify stage concluded.
public struct VerifySummary: Sendable, Codable, Equatable {
    /// True when every check passed.
    public var passed: Bool
    /// Checks made, each "ok: …" or "FAILED: …".
    public var checks: [String]
    /// Signatures in the document.
    public var signatures: Int
    /// The verifier's report (ETSI indications per signature).
    public var report: FileReport?

    public init(passed: Bool, checks: [String], signatures: Int, report: FileReport?) {
        self.passed = passed; self.checks = checks; self.signatures = signatures; self.report = report
    }

    enum CodingKeys: String, CodingKey { case passed, checks, signatures, report }

    // The report inside is written as `sealbatch verify --format json` writes it: kebab-case keys, like every
    // other key of the receipt.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(passed, forKey: .passed); try c.encode(checks, forKey: .checks); try c.encode(signatures, forKey: .signatures)
        if let report {
            try c.encode(try JSONDecoder().decode(JSONValue.self, from: VerificationReport.kebabJSON(report)), forKey: .report)
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        passed = try c.decode(Bool.self, forKey: .passed); checks = try c.decode([String].self, forKey: .checks)
        signatures = try c.decode(Int.self, forKey: .signatures)
        if let v = try c.decodeIfPresent(JSONValue.self, forKey: .report) {
            let e = JSONEncoder(); e.outputFormatting = [.withoutEscapingSlashes]
            report = try VerificationReport.fileReport(kebabJSON: e.encode(v))
        } else { report = nil }
    }
}
