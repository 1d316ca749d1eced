import Foundation

/// An error from sealing or from reading a signature, with a stable code a pipeline can route on.
///
/// Descriptions are written for a clerk; they never contain a PIN or document content.
public struct SigningError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable error codes (their raw values appear in quarantine records and JSON).
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The document is certified with DocMDP P=1: no change, not even a signature, is allowed.
        case certifiedNoChanges = "certified-no-changes"
        /// Every configured time-stamp authority failed.
        case tsaUnavailable = "tsa-unavailable"
        /// A time-stamp response did not match the request (imprint or nonce) or was refused.
        case tsaBadResponse = "tsa-bad-response"
        /// The reserved /Contents hole is too small for the signature.
        case placeholderTooSmall = "placeholder-too-small"
        /// The key or certificate could not be loaded or does not fit together.
        case badKey = "bad-key"
        /// The token or software key failed to produce a signature.
        case signingFailed = "signing-failed"
        /// The input's bytes are not the ones expected (`SealOptions.expectedInputSHA256`): it changed after approval.
        case inputChanged = "input-changed"
        /// The input PDF cannot be read or updated.
        case unreadablePDF = "unreadable-pdf"
        /// The input is encrypted and cannot be sealed: a password is needed to open it, or its permissions forbid changes.
        case encrypted = "encrypted"
        /// A signature field with the requested name exists and is already signed.
        case fieldAlreadySigned = "field-already-signed"
        /// The placement names a signature field the document does not have.
        case fieldNotFound = "field-not-found"
        /// A visible seal was demanded but cannot be added without breaking the document's certification (or
        /// its encryption permissions), and there is no empty signature field to seal into.
        case visibleSealNotAllowed = "visible-seal-not-allowed"
        /// An earlier signature of the document is already broken (not intact, or changed beyond its DocMDP level).
        case earlierSignatureBroken = "earlier-signature-broken"
        /// Output would overwrite the input.
        case outputIsInput = "output-is-input"
        /// Revocation data could not be fetched for B-LT / B-LTA.
        case revocationUnavailable = "revocation-unavailable"
        /// A page index of an appearance widget does not exist.
        case badAppearance = "bad-appearance"
        /// CMS structure could not be built or parsed.
        case cms = "cms"
        /// Writing the output failed.
        case io = "io"
    }

    public let code: Code
    /// File the error is about, when known.
    public var file: String?
    /// Byte offset in the file, when known.
    public var offset: Int?
    /// What happened and what to do, for a person.
    public var message: String

    public init(_ code: Code, _ message: String, file: String? = nil, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.file = file
        self.offset = offset
    }

    /// Errors compare by code (what callers route on), not by wording.
    public static func == (a: SigningError, b: SigningError) -> Bool { a.code == b.code }

    public var description: String {
        var s = "[\(code.rawValue)] \(message)"
        if let file { s += " (file: \(file)" + (offset.map { ", offset \($0)" } ?? "") + ")" }
        return s
    }
}
