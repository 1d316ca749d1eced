import Foundation

/// A refused or failed governance operation. Never carries a password or key material.
public struct GovernanceError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable reason codes.
    public enum Code: String, Sendable, Codable {
        /// Credentials did not prove the claimed identity (wrong password, key not the registered one).
        case authenticationFailed = "authentication-failed"
        /// The acting user lacks a right; `missingRight` names it.
        case notAuthorised = "not-authorised"
        /// The action would break separation of duties (e.g. a seal administrator stamping).
        case separationOfDuties = "separation-of-duties"
        /// A role or right would combine duties that must stay apart.
        case conflictingRoles = "conflicting-roles"
        /// The named organisation / user / seal / approval does not exist.
        case notFound = "not-found"
        /// The identifier is already taken.
        case alreadyExists = "already-exists"
        /// An argument is invalid (empty id, bad date range, unreadable certificate…).
        case invalidInput = "invalid-input"
        /// `org init` on a registry that already has users.
        case registryNotEmpty = "registry-not-empty"
        /// The registry database failed (locked, unreadable, wrong schema).
        case storage
    }
    /// The reason.
    public let code: Code
    /// What happened, for a clerk.
    public let detail: String
    /// For `notAuthorised` / `separationOfDuties`: the right that is missing (`seal-admin of acme`).
    public let missingRight: String?

    /// Creates an error.
    public init(_ code: Code, _ detail: String, missingRight: String? = nil) {
        self.code = code; self.detail = detail; self.missingRight = missingRight
    }

    /// Text for the CLI.
    public var description: String {
        if let missingRight { return "\(code.rawValue): \(detail) (missing right: \(missingRight))" }
        return "\(code.rawValue): \(detail)"
    }
}
