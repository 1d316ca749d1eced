import Foundation

/// A coding key for any string, used to find keys a config type does not know.
public struct AnyKey: CodingKey {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue; self.intValue = nil }
    public init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

extension Decoder {
    /// Rejects keys outside `allowed` with a decoding error naming the JSON path of the stray key.
    public func rejectUnknownKeys(allowed: Set<String>, in what: String) throws {
        let c = try container(keyedBy: AnyKey.self)
        for key in c.allKeys where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(
                codingPath: codingPath + [key],
                debugDescription: "unknown key '\(key.stringValue)' in \(what); allowed: \(allowed.sorted().joined(separator: ", "))"))
        }
    }
}

/// Renders a coding path the way configuration errors name it: `stages[2].design.color`.
public func jsonPath(_ path: [any CodingKey]) -> String {
    var s = ""
    for k in path {
        if let i = k.intValue { s += "[\(i)]" } else { s += s.isEmpty ? k.stringValue : "." + k.stringValue }
    }
    return s.isEmpty ? "(root)" : s
}

/// Turns a `DecodingError` into a one-line message naming the JSON path.
public func describeDecodingError(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    switch e {
    case .dataCorrupted(let c): return "\(jsonPath(c.codingPath)): \(c.debugDescription)"
    case .keyNotFound(let k, let c): return "\(jsonPath(c.codingPath + [k])): required key is missing"
    case .typeMismatch(let t, let c): return "\(jsonPath(c.codingPath)): expected \(t) (\(c.debugDescription))"
    case .valueNotFound(let t, let c): return "\(jsonPath(c.codingPath)): expected \(t), found null"
    @unknown default: return "\(e)"
    }
}
