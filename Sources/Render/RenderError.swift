import Foundation

/// An error from seal drawing, page search or placement: a stable `Code`, the file and page where
/// known, and a description a clerk can act on. Never carries document content beyond the anchor
/// text the configuration itself supplied.
public struct RenderError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Stable error codes (part of the JSON error output; do not rename).
    public enum Code: String, Sendable, Codable {
        /// The seal design is not valid (bad colour, size out of range, wrong character count …).
        case invalidDesign = "invalid-design"
        /// No installed font with the requested family covers every character of the seal text.
        case fontNotFound = "font-not-found"
        /// The seal image (PNG) could not be read.
        case imageUnreadable = "image-unreadable"
        /// Cairo reported a drawing failure.
        case drawingFailed = "drawing-failed"
        /// poppler could not open the document.
        case documentUnreadable = "document-unreadable"
        /// A configured page does not exist in the document.
        case pageOutOfRange = "page-out-of-range"
        /// The anchor text was not found and no fallback is configured.
        case anchorNotFound = "anchor-not-found"
        /// The seal does not fit on the visible page area.
        case sealDoesNotFit = "seal-does-not-fit"
        /// The seal would cover an existing signature field and the policy forbids it.
        case overlapsSignature = "overlaps-signature"
        /// The placement names a signature field the document does not have (or that is signed, or invisible).
        case fieldNotFound = "field-not-found"
        /// The seal would go on a page without a /MediaBox: its size is only a guess (US Letter), so a visible seal is refused.
        case pageSizeUnknown = "page-size-unknown"
        /// The placement configuration is contradictory or incomplete.
        case invalidPlacement = "invalid-placement"
        /// The Cairo output could not be turned into a Form XObject.
        case formExtraction = "form-extraction"
        /// Writing a preview image failed.
        case outputFailed = "output-failed"
    }

    public let code: Code
    /// File concerned (a name or path; never content).
    public let file: String?
    /// 1-based page number concerned, if any.
    public let page: Int?
    /// What went wrong and what to do about it.
    public let detail: String

    public init(_ code: Code, _ detail: String, file: String? = nil, page: Int? = nil) {
        self.code = code
        self.detail = detail
        self.file = file
        self.page = page
    }

    public var description: String {
        var s = "render error [\(code.rawValue)]"
        if let file { s += " \(file)" }
        if let page { s += " page \(page)" }
        return s + ": " + detail
    }
}
