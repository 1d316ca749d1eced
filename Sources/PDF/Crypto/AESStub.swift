enum AES { static func cbcDecrypt(key: [UInt8], ivAndData: [UInt8]) -> [UInt8]? { nil } }
enum StandardSecurity {
    static func authenticateUserR6(password: [UInt8], u: [UInt8], ue: [UInt8], revision: Int) -> [UInt8]? { nil }
    static func authenticateUserLegacy(password: [UInt8], o: [UInt8], u: [UInt8], p: Int32, id: [UInt8], revision: Int, keyLength: Int, encryptMetadata: Bool) -> [UInt8]? { nil }
}
