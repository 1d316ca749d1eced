import Foundation

/// Where seals go on a document: an explicit position, an anchor text, a cross-page seal (骑缝章),
/// or an anchor with an explicit fallback. JSON with kebab-case keys; unknown keys rejected.
///
/// ```json
/// {"anchor": {"text": "甲方（盖章）", "occurrence": -1, "position": "over", "fallback": "last-page", "pages": "last 3"},
///  "page": "last", "corner": "bottom-right", "x-mm": 50, "y-mm": 60,
///  "cross-page": {"pages": "all", "edge": "right", "y-mm": 148},
///  "signature-overlap": "move"}
/// ```
/// All distances are in millimetres on the page *as displayed* (its /Rotate applied), inside the
/// visible area (CropBox).
public struct PlacementSpec: Codable, Sendable, Equatable {
    /// Page of the explicit position (and of the anchor fallback): "first", "last" or a 1-based
    /// number; negative numbers count from the end (-1 = last).
    public var page: PageSelector?
    /// Corner that `x-mm` / `y-mm` are measured from.
    public var corner: Corner?
    /// Horizontal distance from `corner` to the seal centre, measured into the page.
    public var xMM: Double?
    /// Vertical distance from `corner` to the seal centre, measured into the page.
    public var yMM: Double?
    /// Anchor text to find with poppler.
    public var anchor: AnchorSpec?
    /// Cross-page seal (骑缝章) over the pages' outer edge.
    public var crossPage: CrossPageSpec?
    /// What to do when a seal would cover an existing signature field.
    public var signatureOverlap: OverlapPolicy = .move
    /// An existing empty signature field to seal into (its page, its rectangle): `{"field": "Signature2"}`.
    /// A missing or already signed field is an error (`field-not-found`).
    public var field: String?
    /// Seal into an empty signature field whose rectangle fits the seal, when the document has one, instead
    /// of the anchor or position (reported as a warning). Default true; `false` keeps the configured position.
    public var preferEmptyField: Bool = true

    public init(page: PageSelector? = nil, corner: Corner? = nil, xMM: Double? = nil, yMM: Double? = nil,
                anchor: AnchorSpec? = nil, crossPage: CrossPageSpec? = nil, signatureOverlap: OverlapPolicy = .move,
                field: String? = nil, preferEmptyField: Bool = true) {
        self.page = page; self.corner = corner; self.xMM = xMM; self.yMM = yMM
        self.anchor = anchor; self.crossPage = crossPage; self.signatureOverlap = signatureOverlap
        self.field = field; self.preferEmptyField = preferEmptyField
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case page, corner, xMM = "x-mm", yMM = "y-mm", anchor, crossPage = "cross-page", signatureOverlap = "signature-overlap"
        case field, preferEmptyField = "prefer-empty-field"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "a placement")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        page = try c.decodeIfPresent(PageSelector.self, forKey: .page)
        corner = try c.decodeIfPresent(Corner.self, forKey: .corner)
        xMM = try c.decodeIfPresent(Double.self, forKey: .xMM)
        yMM = try c.decodeIfPresent(Double.self, forKey: .yMM)
        anchor = try c.decodeIfPresent(AnchorSpec.self, forKey: .anchor)
        crossPage = try c.decodeIfPresent(CrossPageSpec.self, forKey: .crossPage)
        signatureOverlap = try c.decodeIfPresent(OverlapPolicy.self, forKey: .signatureOverlap) ?? .move
        field = try c.decodeIfPresent(String.self, forKey: .field)
        preferEmptyField = try c.decodeIfPresent(Bool.self, forKey: .preferEmptyField) ?? true
    }

    /// True when an explicit position is configured (page/corner/x-mm/y-mm).
    public var hasExplicitPosition: Bool { xMM != nil || yMM != nil || corner != nil || page != nil }

    /// Semantic checks: something must be placed, distances are sane.
    public func validate() throws {
        func bad(_ m: String) -> RenderError { RenderError(.invalidPlacement, m) }
        if anchor == nil && crossPage == nil && !hasExplicitPosition && field == nil {
            throw bad("nothing to place: give an explicit position (page, corner, x-mm, y-mm), an anchor, a field, or cross-page")
        }
        if let f = field {
            if f.trimmingCharacters(in: .whitespaces).isEmpty { throw bad("field must name a signature field") }
            if anchor != nil || hasExplicitPosition { throw bad("field places the seal in that signature field: do not also give an anchor or a position") }
        }
        if let x = xMM, x < 0 { throw bad("x-mm must not be negative") }
        if let y = yMM, y < 0 { throw bad("y-mm must not be negative") }
        if let a = anchor {
            if a.text.trimmingCharacters(in: .whitespaces).isEmpty { throw bad("anchor.text must not be empty") }
            if a.alternatives.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) { throw bad("anchor.alternatives must not hold empty texts") }
            if a.occurrence == 0 { throw bad("anchor.occurrence counts from 1 (or from -1 = last)") }
            switch a.pages {
            case .first(let n), .last(let n): if n < 1 { throw bad("anchor.pages needs at least 1 page (\"first N\" or \"last N\")") }
            case .all: break
            }
        }
        if let cp = crossPage {
            if case .list(let l) = cp.pages, l.count < 2 { throw bad("cross-page.pages needs at least 2 pages") }
            if let y = cp.yMM, y < 0 { throw bad("cross-page.y-mm must not be negative") }
        }
    }
}

/// A page chosen by number (1-based; negative from the end) or by name.
public enum PageSelector: Codable, Sendable, Equatable {
    case first, last
    case number(Int)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            guard n != 0 else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "pages are numbered from 1 (or -1 for the last)"))
            }
            self = .number(n)
            return
        }
        switch try c.decode(String.self) {
        case "first": self = .first
        case "last": self = .last
        case let s:
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "page '\(s)' is not \"first\", \"last\" or a number"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .first: try c.encode("first")
        case .last: try c.encode("last")
        case .number(let n): try c.encode(n)
        }
    }

    /// 0-based index in a document of `count` pages, or nil when out of range.
    public func index(pageCount count: Int) -> Int? {
        let i: Int
        switch self {
        case .first: i = 0
        case .last: i = count - 1
        case .number(let n): i = n > 0 ? n - 1 : count + n
        }
        return (0..<count).contains(i) ? i : nil
    }
}

/// A corner of the visible page as displayed.
public enum Corner: String, Codable, Sendable, CaseIterable {
    case topLeft = "top-left", topRight = "top-right", bottomLeft = "bottom-left", bottomRight = "bottom-right"
}

/// An anchor text and where the seal goes relative to it.
public struct AnchorSpec: Codable, Sendable, Equatable {
    /// Text to search for (exact, as poppler extracts it), e.g. "甲方（盖章）" or "Party A (Seal)".
    public var text: String
    /// Further texts tried in order when `text` is not in the document (bilingual templates:
    /// `"text": "甲方（盖章）", "alternatives": ["Party A (Seal)"]`).
    public var alternatives: [String] = []
    /// `text`, then the alternatives.
    public var texts: [String] { [text] + alternatives }
    /// Which match: 1 = first in the document, 2 = second …, -1 = last.
    public var occurrence: Int = 1
    /// Where the seal centre goes relative to the anchor's box.
    public var position: AnchorPosition = .over
    /// Extra shift to the right (negative: left), millimetres.
    public var dxMM: Double = 0
    /// Extra shift upwards (negative: down), millimetres.
    public var dyMM: Double = 0
    /// What to do when the text is not found.
    public var fallback: AnchorFallback = .error
    /// The pages searched for the text: `"all"` (default), `"first 2"`, `"last 3"`. Occurrences count inside
    /// this window; pages outside it are never read.
    public var pages: SearchWindow = .all

    public init(text: String, alternatives: [String] = [], occurrence: Int = 1, position: AnchorPosition = .over, dxMM: Double = 0, dyMM: Double = 0,
                fallback: AnchorFallback = .error, pages: SearchWindow = .all) {
        self.text = text; self.alternatives = alternatives; self.occurrence = occurrence; self.position = position
        self.dxMM = dxMM; self.dyMM = dyMM; self.fallback = fallback; self.pages = pages
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case text, alternatives, occurrence, position, dxMM = "dx-mm", dyMM = "dy-mm", fallback, pages
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "an anchor")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        text = try c.decode(String.self, forKey: .text)
        alternatives = try c.decodeIfPresent([String].self, forKey: .alternatives) ?? []
        occurrence = try c.decodeIfPresent(Int.self, forKey: .occurrence) ?? 1
        position = try c.decodeIfPresent(AnchorPosition.self, forKey: .position) ?? .over
        dxMM = try c.decodeIfPresent(Double.self, forKey: .dxMM) ?? 0
        dyMM = try c.decodeIfPresent(Double.self, forKey: .dyMM) ?? 0
        fallback = try c.decodeIfPresent(AnchorFallback.self, forKey: .fallback) ?? .error
        pages = try c.decodeIfPresent(SearchWindow.self, forKey: .pages) ?? .all
    }
}

/// The pages an anchor text is searched on: all of them, the first n or the last n. JSON: `"all"`,
/// `"first 2"`, `"last 3"` (n ≥ 1; a window larger than the document is the whole document).
public enum SearchWindow: Codable, Sendable, Equatable, CustomStringConvertible {
    case all
    case first(Int)
    case last(Int)

    /// Parses `"all"`, `"first N"` or `"last N"`; nil for anything else or N < 1.
    public init?(_ text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        if parts == ["all"] { self = .all; return }
        guard parts.count == 2, let n = Int(parts[1]), n >= 1 else { return nil }
        switch parts[0] {
        case "first": self = .first(n)
        case "last": self = .last(n)
        default: return nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let w = SearchWindow(s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "pages '\(s)' is not \"all\", \"first N\" or \"last N\" (N a whole number from 1)"))
        }
        self = w
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    public var description: String {
        switch self {
        case .all: return "all"
        case .first(let n): return "first \(n)"
        case .last(let n): return "last \(n)"
        }
    }

    /// The 0-based page indices inside the window, in document order.
    public func indices(pageCount count: Int) -> Range<Int> {
        switch self {
        case .all: return 0..<count
        case .first(let n): return 0..<min(n, count)
        case .last(let n): return max(0, count - n)..<count
        }
    }
}

/// Seal position relative to the anchor text's box.
public enum AnchorPosition: String, Codable, Sendable, CaseIterable {
    /// Seal centred on the text.
    case over
    /// Seal beside the text, on its right / left, vertically centred on it.
    case right, left
    /// Seal above / below the text, horizontally centred on it.
    case above, below
}

/// Behaviour when the anchor text is missing.
public enum AnchorFallback: String, Codable, Sendable {
    /// Fail the document with `anchor-not-found` (it goes to quarantine).
    case error
    /// Use the explicit position (`corner`, `x-mm`, `y-mm`; default bottom-right 50/60 mm) on `page`
    /// (default: the last page), and report a warning.
    case lastPage = "last-page"
}

/// Cross-page seal (骑缝章): the seal cut into as many vertical slices as pages, one slice on the
/// outer edge of each page, so the pages laid side by side (in page order for the right edge,
/// reverse order for the left edge) show the whole seal.
public struct CrossPageSpec: Codable, Sendable, Equatable {
    /// Pages that get a slice: "all" or a list of 1-based numbers (at least 2).
    public var pages: PageSet = .all
    /// Edge the slices sit on.
    public var edge: Edge = .right
    /// Distance from the top of the visible page to the seal centre; default the middle.
    public var yMM: Double?

    public init(pages: PageSet = .all, edge: Edge = .right, yMM: Double? = nil) { self.pages = pages; self.edge = edge; self.yMM = yMM }

    enum CodingKeys: String, CodingKey, CaseIterable { case pages, edge, yMM = "y-mm" }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "cross-page")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pages = try c.decodeIfPresent(PageSet.self, forKey: .pages) ?? .all
        edge = try c.decodeIfPresent(Edge.self, forKey: .edge) ?? .right
        yMM = try c.decodeIfPresent(Double.self, forKey: .yMM)
    }

    /// Page edge of a cross-page seal.
    public enum Edge: String, Codable, Sendable { case right, left }
}

/// A set of pages: all, or 1-based numbers (negative from the end).
public enum PageSet: Codable, Sendable, Equatable {
    case all
    case list([Int])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            guard s == "all" else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "pages must be \"all\" or a list of page numbers"))
            }
            self = .all
        } else {
            self = .list(try c.decode([Int].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .all: try c.encode("all")
        case .list(let l): try c.encode(l)
        }
    }

    /// 0-based indices in a document of `count` pages, in the given order; throws on a bad number.
    public func indices(pageCount count: Int) throws -> [Int] {
        switch self {
        case .all: return Array(0..<count)
        case .list(let l):
            return try l.map { n in
                guard let i = PageSelector.number(n).index(pageCount: count) else {
                    throw RenderError(.pageOutOfRange, "cross-page names page \(n) but the document has \(count) pages", page: n)
                }
                return i
            }
        }
    }
}

/// Policy when a seal would cover an existing signature field.
public enum OverlapPolicy: String, Codable, Sendable {
    /// Move the seal to the nearest free spot (reported as a warning); fail if there is none.
    case move
    /// Leave the seal where configured and report a warning.
    case report
    /// Fail with `overlaps-signature`.
    case error
}
