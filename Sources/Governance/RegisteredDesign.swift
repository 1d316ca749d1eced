import Foundation
import SealModel

/// How a registered seal looks: a typed design, checked when the seal is registered or rebound.
///
/// The registry stores the design's canonical JSON. A registry written before designs were typed may
/// hold text that is no design (`round`, `default`, a file name): such a seal is `unusable` — it keeps
/// its old text for `seal show`, and refuses to stamp until `seal rebind --design` gives it a design.
/// There is no default design to fall back on (fail closed).
public enum RegisteredDesign: Sendable, Equatable, Codable, CustomStringConvertible {
    /// A validated design.
    case design(SealDesign)
    /// Stored text that is not a valid design, and why.
    case unusable(stored: String, problem: String)

    /// Reads what the registry stores (canonical JSON, or an old free-text appearance).
    public init(stored: String) {
        let t = stored.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("{") else {
            self = .unusable(stored: stored, problem: "'\(stored)' is not a seal design (the seal was registered before designs were checked; no design names are known)")
            return
        }
        do { self = .design(try SealDesign.validated(json: Data(t.utf8))) }
        catch let e as SealDesignError { self = .unusable(stored: stored, problem: e.description) }
        catch { self = .unusable(stored: stored, problem: "\(error)") }
    }

    /// What the registry stores: the design's canonical JSON, or the unusable text unchanged.
    public func stored() throws -> String {
        switch self {
        case .design(let d): return try d.canonicalJSON()
        case .unusable(let s, _): return s
        }
    }

    /// The design, or a refusal saying why the seal cannot stamp and what to do.
    public func usable(seal id: String) throws -> SealDesign {
        switch self {
        case .design(let d): return d
        case .unusable(_, let problem):
            throw GovernanceError(.invalidInput, "seal \(id) has no usable design: \(problem); give it one with `sealbatch seal rebind \(id) --design FILE.json`")
        }
    }

    public var description: String {
        switch self {
        case .design(let d): return (try? d.canonicalJSON()) ?? "\(d)" // display only
        case .unusable(let s, let p): return "unusable (\(p)); stored: \(s)"
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init(stored: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(try stored())
    }
}
