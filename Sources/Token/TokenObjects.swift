import CPKCS11
import Foundation

/// One object a token shows without a login (certificates, public keys, and private keys the token does
/// not mark private), with the RFC 7512 URI that names it.
public struct TokenObject: Sendable, Equatable {
    public let kind: PKCS11URI.ObjectType
    public let label: String?
    public let id: [UInt8]?
    /// Key algorithm for keys (`RSA`, `EC`), nil for other objects.
    public let keyType: String?
    /// The URI of this object.
    public let uri: PKCS11URI
    /// For the certificate of a key pair on the token (or a public key without a certificate): the URI
    /// of the private key with the same id and label, which is what a seal's `key` names (the key itself
    /// may be visible only after a login). Nil for CA certificates, which have no key on the token.
    public var privateKeyURI: PKCS11URI?
}

public extension PKCS11Module {
    /// The objects of the token in `slot` visible in a read-only public session (no PIN is asked).
    func publicObjects(slot: UInt) throws -> [TokenObject] {
        let token = try tokenInfo(slot)
        let session = try openSession(slot: slot, readWrite: false)
        defer { session.close() }
        var out: [TokenObject] = []
        for h in try session.findObjects([]) {
            let kind: PKCS11URI.ObjectType
            switch try session.ulongAttribute(h, UInt(CKA_CLASS)) {
            case UInt(CKO_CERTIFICATE)?: kind = .cert
            case UInt(CKO_PUBLIC_KEY)?: kind = .public
            case UInt(CKO_PRIVATE_KEY)?: kind = .private
            case UInt(CKO_SECRET_KEY)?: kind = .secretKey
            case UInt(CKO_DATA)?: kind = .data
            default: continue
            }
            let label = try session.attribute(h, UInt(CKA_LABEL)).map { String(decoding: $0, as: UTF8.self) }
            let id = try session.attribute(h, UInt(CKA_ID))
            var keyType: String? = nil
            if kind == .public || kind == .private {
                switch try session.ulongAttribute(h, UInt(CKA_KEY_TYPE)) {
                case UInt(CKK_RSA)?: keyType = "RSA"
                case UInt(CKK_EC)?: keyType = "EC"
                case let other?: keyType = "type \(other)"
                case nil: keyType = nil
                }
            }
            var uri = PKCS11URI()
            uri.token = token.label
            uri.object = label.flatMap { $0.isEmpty ? nil : $0 }
            uri.id = id.flatMap { $0.isEmpty ? nil : $0 }
            uri.type = kind
            out.append(TokenObject(kind: kind, label: label, id: id, keyType: keyType, uri: uri, privateKeyURI: nil))
        }
        // The shortest URI that still names one object: token + label + type, with the id only when
        // another object of the same type has the same label.
        for i in out.indices where out[i].uri.object != nil {
            let twins = out.filter { $0.kind == out[i].kind && $0.label == out[i].label }.count
            if twins == 1 { out[i] = TokenObject(kind: out[i].kind, label: out[i].label, id: out[i].id, keyType: out[i].keyType,
                                                  uri: { var u = out[i].uri; u.id = nil; return u }(), privateKeyURI: nil) }
        }
        let keyIDs = Set(out.filter { $0.kind == .public || $0.kind == .private }.compactMap(\.id))
        let certIDs = Set(out.filter { $0.kind == .cert }.compactMap(\.id))
        for i in out.indices {
            let o = out[i]
            guard let id = o.id, (o.kind == .cert && keyIDs.contains(id)) || (o.kind == .public && !certIDs.contains(id)) else { continue }
            var k = o.uri
            k.type = .private
            out[i].privateKeyURI = k
        }
        return out.sorted { ($0.label ?? "", $0.kind.rawValue) < ($1.label ?? "", $1.kind.rawValue) }
    }
}
