import Foundation

/// A JSON value kept as data, so stage settings can be decoded later by the module that owns them.
public enum JSONValue: Sendable, Equatable, Codable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The object's members, or nil.
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }

    /// Decodes `T` from this value; errors carry the JSON path below `path`.
    public func decode<T: Decodable>(_ type: T.Type, path: String) throws -> T {
        let data = try JSONEncoder().encode(self)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let e as PipelineError {
            throw PipelineError(e.code, path: JSONPath.join(path, e.path ?? ""), e.message)
        } catch let e as DecodingError {
            throw PipelineConfigDecoding.map(e, base: path)
        }
    }
}

/// JSON path formatting: `stages[2].seal`.
public enum JSONPath {
    /// Formats a coding path.
    public static func string(_ path: [CodingKey]) -> String {
        var s = ""
        for k in path {
            if let i = k.intValue, k.stringValue.hasPrefix("Index") || Int(k.stringValue) == i { s += "[\(i)]" }
            else { s += s.isEmpty ? k.stringValue : ".\(k.stringValue)" }
        }
        return s
    }
    /// Joins a base path and a relative path.
    public static func join(_ base: String, _ rel: String) -> String {
        if base.isEmpty { return rel }
        if rel.isEmpty { return base }
        return rel.hasPrefix("[") ? base + rel : base + "." + rel
    }
}

/// A coding key for any member name.
public struct AnyCodingKey: CodingKey, Hashable {
    public var stringValue: String
    public var intValue: Int?
    public init(stringValue: String) { self.stringValue = stringValue; self.intValue = nil }
    public init(intValue: Int) { self.stringValue = "Index \(intValue)"; self.intValue = intValue }
}

extension Decoder {
    /// A keyed container that first rejects members not listed in `K` (the JSON path names the member).
    public func strictContainer<K: CodingKey & CaseIterable>(keyedBy: K.Type) throws -> KeyedDecodingContainer<K> {
        let any = try container(keyedBy: AnyCodingKey.self)
        let known = Set(K.allCases.map(\.stringValue))
        for key in any.allKeys where !known.contains(key.stringValue) {
            let path = JSONPath.string(codingPath + [key])
            throw PipelineError(.unknownKey, path: path,
                                "unknown key '\(key.stringValue)' (allowed here: \(known.sorted().joined(separator: ", ")))")
        }
        return try container(keyedBy: K.self)
    }
}

enum PipelineConfigDecoding {
    static func map(_ e: DecodingError, base: String) -> PipelineError {
        switch e {
        case .keyNotFound(let key, let ctx):
            return PipelineError(.missingKey, path: JSONPath.join(base, JSONPath.string(ctx.codingPath + [key])),
                                 "required key '\(key.stringValue)' is missing")
        case .typeMismatch(let t, let ctx):
            return PipelineError(.typeMismatch, path: JSONPath.join(base, JSONPath.string(ctx.codingPath)),
                                 "expected \(describe(t))")
        case .valueNotFound(let t, let ctx):
            return PipelineError(.typeMismatch, path: JSONPath.join(base, JSONPath.string(ctx.codingPath)),
                                 "expected \(describe(t)), found null")
        case .dataCorrupted(let ctx):
            return PipelineError(.invalidValue, path: JSONPath.join(base, JSONPath.string(ctx.codingPath)),
                                 ctx.debugDescription)
        @unknown default:
            return PipelineError(.syntax, path: base, "\(e)")
        }
    }
    static func describe(_ t: Any.Type) -> String {
        switch t {
        case is String.Type: return "a string"
        case is Int.Type, is Double.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let n = "\(t)"
            if n.hasPrefix("Array") { return "a list" }
            if n.hasPrefix("Dictionary") { return "an object" }
            return "a \(n)"
        }
    }
}

/// Removes `//` and `/* */` comments outside strings, so pipeline files can carry explanations.
public func stripJSONComments(_ data: Data) -> Data {
    let b = [UInt8](data)
    var out = [UInt8](); out.reserveCapacity(b.count)
    var i = 0; var inString = false
    while i < b.count {
        let c = b[i]
        if inString {
            out.append(c)
            if c == UInt8(ascii: "\\"), i + 1 < b.count { out.append(b[i + 1]); i += 2; continue }
            if c == UInt8(ascii: "\"") { inString = false }
            i += 1; continue
        }
        if c == UInt8(ascii: "\"") { inString = true; out.append(c); i += 1; continue }
        if c == UInt8(ascii: "/"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "/") {
            while i < b.count, b[i] != 0x0A { i += 1 }
            continue
        }
        if c == UInt8(ascii: "/"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "*") {
            i += 2
            while i + 1 < b.count, !(b[i] == UInt8(ascii: "*") && b[i + 1] == UInt8(ascii: "/")) {
                out.append(b[i] == 0x0A ? 0x0A : 0x20); i += 1
            }
            i += 2; continue
        }
        out.append(c); i += 1
    }
    return Data(out)
}
