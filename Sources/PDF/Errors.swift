import Foundation

/// Why a PDF cannot be read or sealed. Stable `code`, the file and byte offset where known, and a
/// description a clerk can act on. Never carries document content or secrets.
public struct PDFError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable error kinds. Switch on these; the wording of `description` may change.
    public enum Code: Sendable, Equatable, Hashable {
        /// The file does not start with a `%PDF-` header (within the first 1024 bytes).
        case notAPDF
        /// The file is cut off: its end (trailer, cross-reference data) is missing.
        case truncated
        /// Structural damage that repair could not get past.
        case damaged
        /// The file is encrypted. `userPasswordRequired` is true when it cannot even be opened without one
        /// (or uses a certificate-based handler); false when it opens with the empty password but still cannot be sealed.
        case encrypted(userPasswordRequired: Bool)
        /// Certified with DocMDP P=1: the author allowed no changes, so no seal may be added.
        case certifiedNoChanges
        /// A feature this implementation does not handle (named in the description).
        case unsupported
        /// The file could not be opened or read (permissions, I/O).
        case io
        /// A signature placeholder is too small for the CMS blob, or the update is misused.
        case invalidArgument

        /// Short stable identifier, e.g. for JSON and quarantine reasons.
        public var identifier: String {
            switch self {
            case .notAPDF: return "not-a-pdf"
            case .truncated: return "truncated"
            case .damaged: return "damaged"
            case .encrypted(let u): return u ? "encrypted-password-required" : "encrypted"
            case .certifiedNoChanges: return "certified-no-changes"
            case .unsupported: return "unsupported"
            case .io: return "io"
            case .invalidArgument: return "invalid-argument"
            }
        }
    }

    public var code: Code
    /// File name (last path component) when known.
    public var file: String?
    /// Byte offset in the file where the problem was found, when known.
    public var offset: Int?
    /// What went wrong and what to do, in plain words.
    public var message: String

    public init(_ code: Code, _ message: String, file: String? = nil, offset: Int? = nil) {
        self.code = code; self.message = message; self.file = file; self.offset = offset
    }

    public var description: String {
        var s = ""
        if let file { s += "\(file): " }
        s += message
        if let offset { s += " (at byte \(offset))" }
        return s
    }
}

/// A problem that was repaired or tolerated while reading. Never silent: `inspect` prints these.
public struct PDFWarning: Sendable, Equatable, CustomStringConvertible {
    /// Stable warning kinds.
    public enum Kind: String, Sendable, Codable {
        case junkBeforeHeader = "junk-before-header"
        case startxrefRepaired = "startxref-repaired"
        case xrefRepaired = "xref-repaired"
        case xrefEntryMalformed = "xref-entry-malformed"
        case objectOffsetRepaired = "object-offset-repaired"
        case trailerRepaired = "trailer-repaired"
        case prevLoop = "prev-loop"
        case trailingGarbage = "trailing-garbage"
        case streamLengthRepaired = "stream-length-repaired"
        case missingMediaBox = "missing-mediabox"
        case pageTree = "page-tree"
        case objectNumberOutOfRange = "object-number-out-of-range"
        case linearizationStale = "linearization-stale"
        case syntax = "syntax"
        case objectMissing = "object-missing"
    }
    public var kind: Kind
    /// Byte offset (from the start of the file) where the problem is.
    public var offset: Int?
    public var message: String
    /// True when the warning means the cross-reference data had to be reconstructed or corrected.
    public var isRepair: Bool {
        switch kind {
        case .missingMediaBox, .linearizationStale, .syntax, .pageTree: return false
        default: return true
        }
    }
    public init(_ kind: Kind, _ message: String, offset: Int? = nil) { self.kind = kind; self.message = message; self.offset = offset }
    public var description: String { offset.map { "\(message) (at byte \($0))" } ?? message }
}
