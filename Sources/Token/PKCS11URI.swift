import Foundation

/// A PKCS#11 URI (RFC 7512), e.g. `pkcs11:token=Seal;object=seal-key;type=private`.
///
/// Path attributes understood: `token`, `manufacturer`, `serial`, `model`, `object`, `type`, `id`,
/// `slot-id`, `slot-description`, `slot-manufacturer`, `library-manufacturer`, `library-description`.
/// Query attributes: `module-path` is kept; `pin-value` is rejected (a PIN never lives in configuration);
/// `pin-source` is kept for the caller to interpret. Unknown attributes with a vendor prefix (`x-`) are
/// ignored; other unknown path attributes are an error (RFC 7512 §2.3 lets consumers refuse them).
public struct PKCS11URI: Sendable, Hashable, CustomStringConvertible {
    /// Object class filter (`type=`).
    public enum ObjectType: String, Sendable, Hashable {
        case `private`, `public`, cert, secretKey = "secret-key", data
    }

    public var token: String?
    public var manufacturer: String?
    public var serial: String?
    public var model: String?
    public var object: String?
    public var type: ObjectType?
    /// CKA_ID bytes (`id=%01%02`).
    public var id: [UInt8]?
    public var slotID: UInt?
    public var slotDescription: String?
    public var slotManufacturer: String?
    public var libraryManufacturer: String?
    public var libraryDescription: String?
    /// `?module-path=`.
    public var modulePath: String?
    /// `?pin-source=` (a file or command reference; never the PIN).
    public var pinSource: String?

    public init() {}

    /// Parses a `pkcs11:` URI. Throws `.invalidURI` naming the offending attribute.
    public init(_ text: String) throws {
        guard text.lowercased().hasPrefix("pkcs11:") else {
            throw TokenError(.invalidURI, "a key URI must start with 'pkcs11:' (RFC 7512), got '\(text.prefix(40))'")
        }
        let rest = text.dropFirst("pkcs11:".count)
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts.first.map(String.init) ?? ""
        let query = parts.count > 1 ? String(parts[1]) : ""
        for attr in path.split(separator: ";") where !attr.isEmpty {
            let (k, v) = try Self.split(attr)
            switch k {
            case "token": token = try Self.decodeString(v, k)
            case "manufacturer": manufacturer = try Self.decodeString(v, k)
            case "serial": serial = try Self.decodeString(v, k)
            case "model": model = try Self.decodeString(v, k)
            case "object": object = try Self.decodeString(v, k)
            case "id": id = try Self.decode(v, k)
            case "slot-id":
                guard let n = UInt(try Self.decodeString(v, k)) else { throw TokenError(.invalidURI, "slot-id must be a decimal number in the key URI") }
                slotID = n
            case "slot-description": slotDescription = try Self.decodeString(v, k)
            case "slot-manufacturer": slotManufacturer = try Self.decodeString(v, k)
            case "library-manufacturer": libraryManufacturer = try Self.decodeString(v, k)
            case "library-description": libraryDescription = try Self.decodeString(v, k)
            case "library-version": break
            case "type":
                guard let t = ObjectType(rawValue: try Self.decodeString(v, k)) else {
                    throw TokenError(.invalidURI, "type= in the key URI must be private, public, cert, secret-key or data")
                }
                type = t
            default:
                if k.hasPrefix("x-") { continue }
                throw TokenError(.invalidURI, "the key URI has an attribute this program does not understand: '\(k)'")
            }
        }
        for attr in query.split(separator: "&") where !attr.isEmpty {
            let (k, v) = try Self.split(attr)
            switch k {
            case "pin-value":
                throw TokenError(.invalidURI, "the key URI contains pin-value: a PIN must never be written into configuration; use --pin-fd, --pin-file or the prompt")
            case "pin-source": pinSource = try Self.decodeString(v, k)
            case "module-path": modulePath = try Self.decodeString(v, k)
            default: continue
            }
        }
    }

    private static func split(_ attr: Substring) throws -> (String, Substring) {
        guard let eq = attr.firstIndex(of: "=") else {
            throw TokenError(.invalidURI, "the key URI attribute '\(attr.prefix(30))' has no '='")
        }
        return (String(attr[..<eq]).lowercased(), attr[attr.index(after: eq)...])
    }

    private static func decode(_ v: Substring, _ k: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var bytes = Array(v.utf8)[...]
        while let b = bytes.first {
            bytes = bytes.dropFirst()
            if b == UInt8(ascii: "%") {
                guard bytes.count >= 2, let hi = hex(bytes[bytes.startIndex]), let lo = hex(bytes[bytes.startIndex + 1]) else {
                    throw TokenError(.invalidURI, "bad percent-encoding in '\(k)' of the key URI")
                }
                out.append(hi << 4 | lo)
                bytes = bytes.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return out
    }

    private static func decodeString(_ v: Substring, _ k: String) throws -> String {
        let b = try decode(v, k)
        guard let s = String(validating: b, as: UTF8.self) else {
            throw TokenError(.invalidURI, "'\(k)' in the key URI is not valid UTF-8")
        }
        return s
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Percent-encodes a value (RFC 7512 pchar set).
    static func encode(_ bytes: [UInt8], all: Bool = false) -> String {
        var s = ""
        for b in bytes {
            let c = Character(Unicode.Scalar(b))
            if !all && b < 0x80 && (c.isLetter || c.isNumber || "-._~:[]@!$'()*+,=&".contains(c)) { s.append(c) }
            else { s += String(format: "%%%02X", b) }
        }
        return s
    }

    /// The canonical text form.
    public var description: String {
        var attrs: [String] = []
        if let token { attrs.append("token=" + Self.encode(Array(token.utf8))) }
        if let manufacturer { attrs.append("manufacturer=" + Self.encode(Array(manufacturer.utf8))) }
        if let serial { attrs.append("serial=" + Self.encode(Array(serial.utf8))) }
        if let model { attrs.append("model=" + Self.encode(Array(model.utf8))) }
        if let slotID { attrs.append("slot-id=\(slotID)") }
        if let object { attrs.append("object=" + Self.encode(Array(object.utf8))) }
        if let id { attrs.append("id=" + Self.encode(id, all: true)) }
        if let type { attrs.append("type=" + type.rawValue) }
        var s = "pkcs11:" + attrs.joined(separator: ";")
        var q: [String] = []
        if let modulePath { q.append("module-path=" + Self.encode(Array(modulePath.utf8))) }
        if let pinSource { q.append("pin-source=" + Self.encode(Array(pinSource.utf8))) }
        if !q.isEmpty { s += "?" + q.joined(separator: "&") }
        return s
    }

    /// Whether a token matches the token-level attributes of this URI.
    public func matches(token t: TokenInfo, slot: SlotInfo?) -> Bool {
        if let token, token != t.label { return false }
        if let manufacturer, manufacturer != t.manufacturer { return false }
        if let serial, serial != t.serial { return false }
        if let model, model != t.model { return false }
        if let slotID, slotID != t.slot { return false }
        if let slotDescription, slotDescription != slot?.description { return false }
        if let slotManufacturer, slotManufacturer != slot?.manufacturer { return false }
        return true
    }
}
