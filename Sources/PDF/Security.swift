import Foundation

/// What the encryption dictionary says (§7.6).
public struct EncryptionInfo: Sendable, Equatable, Codable {
    /// Security handler, e.g. "Standard" or "Adobe.PubSec".
    public var filter: String
    /// /V (algorithm) and /R (revision of the standard handler).
    public var version: Int
    public var revision: Int
    /// Key length in bits.
    public var keyLength: Int
    /// Cipher name: "RC4", "AES-128", "AES-256" or "unknown".
    public var cipher: String
    /// /P permission flags.
    public var permissions: Int32
    /// True when the file cannot be opened without a user password (or needs a certificate's private key).
    public var userPasswordRequired: Bool
}

/// The password a document that does not open with the empty user password is opened with: its user or
/// owner password, from a source like the PIN's (a descriptor or an owner-only file, never argv). Bound for
/// the work on one document with `PDFPassword.$current.withValue(…)`; `PDFDocument(url:)` and the renderer
/// read it there. Its bytes never appear in a description, error or log.
public struct PDFPassword: Sendable, CustomStringConvertible {
    /// The password as given (UTF-8 / PDFDocEncoding bytes; trailing CR/LF removed by the reader).
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { "PDF password (\(bytes.count) bytes, not shown)" }
    /// The password for documents opened in this task and its child tasks (nil: only the empty user password).
    @TaskLocal public static var current: PDFPassword?
}

/// How an encrypted document was opened.
public enum PDFOpenedWith: String, Sendable, Codable {
    case emptyUserPassword = "empty-user-password", userPassword = "user-password", ownerPassword = "owner-password"
}

/// Standard security handler (§7.6.4) with the empty user password or a given password: decides whether a
/// password is needed and decrypts strings and streams for reading.
final class SecurityHandler: @unchecked Sendable {
    let info: EncryptionInfo
    let encryptRef: ObjectRef?
    /// Which password opened the document.
    private(set) var openedWith: PDFOpenedWith = .emptyUserPassword
    private var key: [UInt8] = []
    private var stmAES = false, strAES = false, identityStm = false, identityStr = false
    let encryptMetadata: Bool

    init(dictionary d: PDFDictionary, fileID: [UInt8], encryptRef: ObjectRef?, password: PDFPassword? = nil) throws {
        self.encryptRef = encryptRef
        let filter = d.name("Filter")?.string ?? "Standard"
        let v = d.int("V") ?? 0
        let r = d.int("R") ?? 0
        var length = max(0, min(d.int("Length") ?? 40, 4096))
        encryptMetadata = d["EncryptMetadata"]?.boolValue ?? true
        var cipher = "RC4"
        if v >= 4 {
            // Crypt filters (§7.6.6).
            let cf = d["CF"]?.dictionaryValue
            func method(_ name: PDFName?) -> String? {
                guard let name else { return nil }
                if name == "Identity" { return "Identity" }
                return cf?[name]?.dictionaryValue?.name("CFM")?.string
            }
            let stm = method(d.name("StmF") ?? "Identity"), str = method(d.name("StrF") ?? "Identity")
            stmAES = stm == "AESV2" || stm == "AESV3"
            strAES = str == "AESV2" || str == "AESV3"
            identityStm = stm == "Identity"; identityStr = str == "Identity"
            if stm == "AESV3" || v == 5 { cipher = "AES-256"; length = 256 }
            else if stm == "AESV2" { cipher = "AES-128"; length = 128 }
            else if v == 4 { length = 128 }
        }
        if length < 40 { length *= 8 } // some writers give bytes
        let p = Int32(truncatingIfNeeded: d.int("P") ?? 0)
        guard filter == "Standard" else {
            info = EncryptionInfo(filter: filter, version: v, revision: r, keyLength: length, cipher: cipher, permissions: p, userPasswordRequired: true)
            throw PDFError(.encrypted(userPasswordRequired: true),
                "the file is encrypted for specific recipients (/\(filter) security handler): it can only be opened with a recipient's private key. Ask the sender for an unencrypted copy")
        }
        let o = d["O"]?.stringValue?.bytes ?? []
        let u = d["U"]?.stringValue?.bytes ?? []
        let ue = d["UE"]?.stringValue?.bytes ?? [], oe = d["OE"]?.stringValue?.bytes ?? []
        let encryptMetadata = d["EncryptMetadata"]?.boolValue ?? true
        func user(_ pw: [UInt8]) -> [UInt8]? {
            if r >= 5 { return StandardSecurity.authenticateUserR6(password: pw, u: u, ue: ue, revision: r) }
            if r >= 2 { return StandardSecurity.authenticateUserLegacy(password: pw, o: o, u: u, p: p, id: fileID, revision: r,
                                                                         keyLength: length / 8, encryptMetadata: encryptMetadata) }
            return nil
        }
        func owner(_ pw: [UInt8]) -> [UInt8]? {
            if r >= 5 { return StandardSecurity.authenticateOwnerR6(password: pw, o: o, oe: oe, u: u, revision: r) }
            if r >= 2, let upw = StandardSecurity.userPasswordFromOwner(password: pw, o: o, revision: r, keyLength: length / 8) { return user(upw) }
            return nil
        }
        let empty = user([])
        // The empty user password first (what every reader does); then the given password as user, then as owner password.
        var fileKey = empty
        if fileKey == nil, let pw = password?.bytes {
            if let k = user(pw) { fileKey = k; openedWith = .userPassword }
            else if let k = owner(pw) { fileKey = k; openedWith = .ownerPassword }
        }
        info = EncryptionInfo(filter: filter, version: v, revision: r, keyLength: length, cipher: cipher, permissions: p, userPasswordRequired: empty == nil)
        guard let k = fileKey else {
            if password != nil {
                throw PDFError(.encrypted(userPasswordRequired: true),
                    "the file is protected with a password needed to open it (\(cipher), revision \(r)), and the PDF password given does not open it. Check the password file, or ask the sender for an unprotected copy")
            }
            throw PDFError(.encrypted(userPasswordRequired: true),
                "the file is protected with a password needed to open it (\(cipher), revision \(r)). Give its password (pipeline \"pdf-password-file\", stamp --pdf-password-fd), or ask the sender for an unprotected copy")
        }
        key = k
        if v < 4 { stmAES = false; strAES = false }
    }

    private func objectKey(_ ref: ObjectRef, aes: Bool) -> [UInt8] {
        if info.revision >= 5 { return key }
        var k = key
        let n = UInt32(truncatingIfNeeded: ref.number), g = UInt32(truncatingIfNeeded: ref.generation)
        k += [UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(g & 0xFF), UInt8((g >> 8) & 0xFF)]
        if aes { k += [0x73, 0x41, 0x6C, 0x54] }
        let h = MD5.hash(k)
        return Array(h[0..<min(key.count + 5, 16)])
    }

    func decryptBytes(_ b: [UInt8], ref: ObjectRef, stream: Bool) -> [UInt8] {
        let aes = stream ? stmAES : strAES
        if stream ? identityStm : identityStr { return b }
        let k = objectKey(ref, aes: aes)
        if aes { return AES.cbcDecrypt(key: k, ivAndData: b) ?? [] }
        return RC4.apply(key: k, b)
    }

    func decrypt(_ o: PDFObject, ref: ObjectRef) -> PDFObject {
        switch o {
        case .string(let s): return .string(PDFString(bytes: decryptBytes(s.bytes, ref: ref, stream: false), isHex: s.isHex))
        case .array(let a): return .array(a.map { decrypt($0, ref: ref) })
        case .dictionary(let d): return .dictionary(decryptDict(d, ref: ref))
        case .stream(let s):
            var dict = decryptDict(s.dictionary, ref: ref)
            let t = dict.name("Type")
            if t == "XRef" { return .stream(s) }
            if t == "Metadata" && !encryptMetadata { return .stream(s) }
            var isIdentityCrypt = false
            if let f = dict["Filter"], (f.nameValue == "Crypt" || f.arrayValue?.first?.nameValue == "Crypt") { isIdentityCrypt = true }
            if isIdentityCrypt { return .stream(PDFStream(dictionary: dict, rawData: s.rawData)) }
            let data = decryptBytes(s.rawData, ref: ref, stream: true)
            dict["Length"] = .integer(data.count)
            return .stream(PDFStream(dictionary: dict, rawData: data))
        default: return o
        }
    }

    // MARK: - Writing (the mirror image of reading, for incremental updates)

    /// Encrypts a string's or stream's bytes for object `ref` with the document's own key and cipher
    /// (§7.6.3 algorithm 1; AES with a fresh random IV and PKCS#7 padding, §7.6.3.3).
    func encryptBytes(_ b: [UInt8], ref: ObjectRef, stream: Bool) -> [UInt8] {
        let aes = stream ? stmAES : strAES
        if stream ? identityStm : identityStr { return b }
        let k = objectKey(ref, aes: aes)
        if aes { return AES.cbcEncrypt(key: k, b) ?? b }
        return RC4.apply(key: k, b)
    }

    /// Encrypts every string and stream of an object written as `ref` (strings inside are plain text).
    /// Signature /Contents, cross-reference streams, and metadata with /EncryptMetadata false stay plain (§7.6.2).
    func encrypt(_ o: PDFObject, ref: ObjectRef) -> PDFObject {
        switch o {
        case .string(let s): return .string(PDFString(bytes: encryptBytes(s.bytes, ref: ref, stream: false), isHex: s.isHex))
        case .array(let a): return .array(a.map { encrypt($0, ref: ref) })
        case .dictionary(let d): return .dictionary(encryptDict(d, ref: ref))
        case .stream(let s):
            let t = s.dictionary.name("Type")
            if t == "XRef" { return .stream(s) }
            var dict = encryptDict(s.dictionary, ref: ref)
            if t == "Metadata" && !encryptMetadata { return .stream(PDFStream(dictionary: dict, rawData: s.rawData)) }
            if let f = dict["Filter"], (f.nameValue == "Crypt" || f.arrayValue?.first?.nameValue == "Crypt") {
                return .stream(PDFStream(dictionary: dict, rawData: s.rawData))
            }
            let data = encryptBytes(s.rawData, ref: ref, stream: true)
            dict["Length"] = .integer(data.count)
            return .stream(PDFStream(dictionary: dict, rawData: data))
        default: return o
        }
    }

    private func encryptDict(_ d: PDFDictionary, ref: ObjectRef) -> PDFDictionary {
        let isSig = d.name("Type") == "Sig" || d.name("Type") == "DocTimeStamp" || (d["ByteRange"] != nil && d["Contents"] != nil)
        var out = PDFDictionary()
        for (k, v) in d {
            if isSig && k == "Contents" { out[k] = v; continue }
            out[k] = encrypt(v, ref: ref)
        }
        return out
    }

    private func decryptDict(_ d: PDFDictionary, ref: ObjectRef) -> PDFDictionary {
        // Signature /Contents are not encrypted (§7.6.2); detect signature dictionaries.
        let isSig = d.name("Type") == "Sig" || d.name("Type") == "DocTimeStamp" || (d["ByteRange"] != nil && d["Contents"] != nil)
        var out = PDFDictionary()
        for (k, v) in d {
            if isSig && k == "Contents" { out[k] = v; continue }
            out[k] = decrypt(v, ref: ref)
        }
        return out
    }
}
