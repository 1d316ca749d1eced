import Foundation
import Pipeline

/// A stage's reason to reject a document: a stable reason code (used in `<name>.reason.json`), a
/// clerk-readable message and the next step. Never carries a PIN or document content.
public struct StageRejection: StageFailure, CustomStringConvertible, Equatable {
    /// Stable reason codes written to quarantine reason files.
    public enum Code: String, Sendable, CaseIterable {
        case notAPDF = "not-a-pdf", truncated, damaged, encrypted, encryptedPasswordRequired = "encrypted-password-required"
        case certifiedNoChanges = "certified-no-changes", unsupported, tooLarge = "too-large", unreadable
        case notApproved = "not-approved", documentAltered = "document-altered", approvalExpired = "approval-expired"
        case approvalRevoked = "approval-revoked", approvalUsedUp = "approval-used-up", replay, notAllowed = "not-allowed"
        case sealNotUsable = "seal-not-usable", approvalInvalid = "approval-invalid", approvalStorage = "approval-storage"
        case placement, render, signing, tsaUnavailable = "tsa-unavailable", tokenLocked = "token-locked"
        case pinIncorrect = "pin-incorrect", tokenError = "token-error", verifyFailed = "verify-failed", archive
        case sealKeyMismatch = "seal-key-mismatch", auditUnavailable = "audit-unavailable"
        case earlierSignatureBroken = "earlier-signature-broken", visibleSealNotAllowed = "visible-seal-not-allowed"
    }
    /// The code.
    public let code: Code
    /// The message.
    public let message: String
    /// What to do next.
    public let hint: String
    /// Routing.
    public let route: ErrorRouting

    /// Creates a rejection.
    public init(_ code: Code, _ message: String, next: String? = nil, routing: ErrorRouting = .quarantine) {
        self.code = code; self.message = message; self.route = routing
        self.hint = next ?? Self.defaultNext(code)
    }

    public var reasonCode: String { code.rawValue }
    public var clerkMessage: String { message }
    public var nextStep: String { hint }
    public var routing: ErrorRouting { route }
    public var description: String { "\(code.rawValue): \(message)" }

    static func defaultNext(_ c: Code) -> String {
        switch c {
        case .notAPDF, .truncated, .damaged, .unreadable:
            return "Ask the sender for an intact PDF (export it again), then drop it into the inbox."
        case .encrypted, .encryptedPasswordRequired:
            return "Ask the sender for an unencrypted copy (remove the password), then drop it into the inbox."
        case .earlierSignatureBroken:
            return "An earlier signature of this PDF no longer holds (it was changed after signing). Ask the sender for the intact signed copy; only an administrator may allow sealing over a broken signature."
        case .visibleSealNotAllowed:
            return "The author certified this PDF: a new visible seal would break the certification and it has no empty signature field. Ask the author for a copy with an empty signature field, or allow an invisible seal."
        case .certifiedNoChanges:
            return "The author certified this PDF to forbid any change, so it cannot be sealed. Ask the author for an uncertified copy."
        case .unsupported, .tooLarge:
            return "Send the document to the administrator; it needs manual handling."
        case .notApproved:
            return "Ask the approver to list this exact file in an approval manifest, then copy the original back into the inbox."
        case .documentAltered:
            return "The file changed after it was approved. Get the approved version, or a new approval for this version."
        case .approvalExpired, .approvalRevoked, .approvalUsedUp, .approvalInvalid:
            return "Ask the approver for a new approval for this document, then copy the original back into the inbox."
        case .replay:
            return "This document was already sealed under its approval; look in the outbox and the archive."
        case .notAllowed, .sealNotUsable:
            return "Ask the official-seal administrator to check the seal and the stamping user's rights."
        case .approvalStorage, .auditUnavailable:
            return "The registry or its audit log cannot be written or read (read-only, disk full, checkpoint key or witness unusable); nothing was sealed or delivered and the documents are back in the inbox. Run `sealbatch check PIPELINE`, fix what it names, then run again."
        case .archive:
            return "Report this to the administrator; then copy the original back into the inbox."
        case .placement:
            return "The seal position could not be found on this document; adjust the pipeline's placement or the document."
        case .render:
            return "Report this to the administrator (seal design or fonts)."
        case .signing, .tokenError:
            return "Report this to the administrator with the document id; then copy the original back into the inbox."
        case .tsaUnavailable:
            return "The time-stamp service did not answer; copy the original back into the inbox later."
        case .tokenLocked, .pinIncorrect:
            return "The seal token refused the PIN. Do not retry: ask the token custodian to check the PIN and the token."
        case .verifyFailed:
            return "The seal did not verify; report this to the administrator with the document id."
        case .sealKeyMismatch:
            return "The token does not hold the registered seal key; nothing was sealed. Connect the seal's own token, or ask the official-seal administrator to check the seal's registration."
        }
    }
}
