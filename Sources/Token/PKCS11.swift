import CPKCS11
import Foundation

/// PKCS#11 constants and names used across the module.
public enum PKCS11 {
    /// Symbolic name of a CK_RV (for error text), e.g. `CKR_PIN_INCORRECT`.
    public static func name(ofReturnValue rv: UInt) -> String {
        let names: [UInt: String] = [
            0x0: "CKR_OK", 0x1: "CKR_CANCEL", 0x2: "CKR_HOST_MEMORY", 0x3: "CKR_SLOT_ID_INVALID",
            0x5: "CKR_GENERAL_ERROR", 0x6: "CKR_FUNCTION_FAILED", 0x7: "CKR_ARGUMENTS_BAD",
            0x8: "CKR_NO_EVENT", 0x12: "CKR_ATTRIBUTE_TYPE_INVALID", 0x13: "CKR_ATTRIBUTE_VALUE_INVALID",
            0x30: "CKR_DEVICE_ERROR", 0x31: "CKR_DEVICE_MEMORY", 0x32: "CKR_DEVICE_REMOVED",
            0x54: "CKR_FUNCTION_NOT_SUPPORTED", 0x60: "CKR_KEY_HANDLE_INVALID", 0x63: "CKR_KEY_TYPE_INCONSISTENT",
            0x68: "CKR_KEY_FUNCTION_NOT_PERMITTED", 0x70: "CKR_MECHANISM_INVALID", 0x71: "CKR_MECHANISM_PARAM_INVALID",
            0x82: "CKR_OBJECT_HANDLE_INVALID", 0x90: "CKR_OPERATION_ACTIVE", 0x91: "CKR_OPERATION_NOT_INITIALIZED",
            0xA0: "CKR_PIN_INCORRECT", 0xA1: "CKR_PIN_INVALID", 0xA2: "CKR_PIN_LEN_RANGE", 0xA3: "CKR_PIN_EXPIRED",
            0xA4: "CKR_PIN_LOCKED", 0xB0: "CKR_SESSION_CLOSED", 0xB1: "CKR_SESSION_COUNT",
            0xB3: "CKR_SESSION_HANDLE_INVALID", 0xB5: "CKR_SESSION_READ_ONLY", 0xB6: "CKR_SESSION_EXISTS",
            0xC0: "CKR_SIGNATURE_INVALID", 0xC1: "CKR_SIGNATURE_LEN_RANGE", 0xD0: "CKR_TEMPLATE_INCOMPLETE",
            0xD1: "CKR_TEMPLATE_INCONSISTENT", 0xE0: "CKR_TOKEN_NOT_PRESENT", 0xE1: "CKR_TOKEN_NOT_RECOGNIZED",
            0xE2: "CKR_TOKEN_WRITE_PROTECTED", 0x100: "CKR_USER_ALREADY_LOGGED_IN", 0x101: "CKR_USER_NOT_LOGGED_IN",
            0x102: "CKR_USER_PIN_NOT_INITIALIZED", 0x103: "CKR_USER_TYPE_INVALID",
            0x104: "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", 0x150: "CKR_BUFFER_TOO_SMALL",
            0x190: "CKR_CRYPTOKI_NOT_INITIALIZED", 0x191: "CKR_CRYPTOKI_ALREADY_INITIALIZED",
        ]
        return names[rv] ?? String(format: "CKR_0x%lX", rv)
    }

    /// Return values that mean the token (or our session on it) is gone.
    public static func isRemoval(_ rv: UInt) -> Bool {
        [UInt(CKR_DEVICE_REMOVED), UInt(CKR_TOKEN_NOT_PRESENT), UInt(CKR_SESSION_HANDLE_INVALID),
         UInt(CKR_SESSION_CLOSED), UInt(CKR_TOKEN_NOT_RECOGNIZED), UInt(CKR_SLOT_ID_INVALID)].contains(rv)
    }

    /// Symbolic name of a mechanism (for listings), e.g. `CKM_SHA256_RSA_PKCS`.
    public static func name(ofMechanism m: UInt) -> String {
        let names: [UInt: String] = [
            0x0: "CKM_RSA_PKCS_KEY_PAIR_GEN", 0x1: "CKM_RSA_PKCS", 0x3: "CKM_RSA_X_509", 0x6: "CKM_SHA1_RSA_PKCS",
            0xD: "CKM_RSA_PKCS_PSS", 0xE: "CKM_SHA1_RSA_PKCS_PSS", 0x40: "CKM_SHA256_RSA_PKCS",
            0x41: "CKM_SHA384_RSA_PKCS", 0x42: "CKM_SHA512_RSA_PKCS", 0x43: "CKM_SHA256_RSA_PKCS_PSS",
            0x44: "CKM_SHA384_RSA_PKCS_PSS", 0x45: "CKM_SHA512_RSA_PKCS_PSS", 0x46: "CKM_SHA224_RSA_PKCS",
            0x47: "CKM_SHA224_RSA_PKCS_PSS", 0x220: "CKM_SHA_1", 0x250: "CKM_SHA256", 0x255: "CKM_SHA224",
            0x260: "CKM_SHA384", 0x270: "CKM_SHA512", 0x1040: "CKM_EC_KEY_PAIR_GEN", 0x1041: "CKM_ECDSA",
            0x1042: "CKM_ECDSA_SHA1", 0x1043: "CKM_ECDSA_SHA224", 0x1044: "CKM_ECDSA_SHA256",
            0x1045: "CKM_ECDSA_SHA384", 0x1046: "CKM_ECDSA_SHA512", 0x1050: "CKM_ECDH1_DERIVE",
            0x1080: "CKM_AES_KEY_GEN", 0x1081: "CKM_AES_ECB", 0x1082: "CKM_AES_CBC", 0x1085: "CKM_AES_CBC_PAD",
            0x1087: "CKM_AES_GCM", 0x108A: "CKM_AES_CMAC", 0x138: "CKM_DES3_CMAC", 0x4: "CKM_MD2_RSA_PKCS",
            0x5: "CKM_MD5_RSA_PKCS", 0x10: "CKM_DSA_KEY_PAIR_GEN", 0x11: "CKM_DSA", 0x12: "CKM_DSA_SHA1", 0x13: "CKM_DSA_SHA224",
            0x14: "CKM_DSA_SHA256", 0x15: "CKM_DSA_SHA384", 0x16: "CKM_DSA_SHA512", 0x211: "CKM_MD5_HMAC", 0x221: "CKM_SHA_1_HMAC",
            0x251: "CKM_SHA256_HMAC", 0x256: "CKM_SHA224_HMAC", 0x261: "CKM_SHA384_HMAC", 0x271: "CKM_SHA512_HMAC", 0x1055: "CKM_EC_EDWARDS_KEY_PAIR_GEN", 0x1057: "CKM_EDDSA",
        ]
        return names[m] ?? String(format: "CKM_0x%lX", m)
    }

    /// Turns a fixed-width, blank-padded PKCS#11 text field into a trimmed string.
    static func text<T>(_ tuple: T) -> String {
        withUnsafeBytes(of: tuple) { raw in
            String(decoding: raw, as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        }
    }
}

/// One attribute of a PKCS#11 template (type + encoded value).
public struct P11Attribute: Sendable {
    public let type: UInt
    public let value: [UInt8]
    public init(_ type: UInt, bytes: [UInt8]) { self.type = type; self.value = bytes }
    public static func bool(_ t: UInt, _ v: Bool) -> P11Attribute { .init(t, bytes: [v ? 1 : 0]) }
    public static func ulong(_ t: UInt, _ v: UInt) -> P11Attribute { .init(t, bytes: withUnsafeBytes(of: v) { Array($0) }) }
    public static func string(_ t: UInt, _ v: String) -> P11Attribute { .init(t, bytes: Array(v.utf8)) }
    public static func bytes(_ t: UInt, _ v: [UInt8]) -> P11Attribute { .init(t, bytes: v) }
}

/// Runs `body` with a C template built from `attrs` (pointers valid only inside `body`).
func withTemplate<R>(_ attrs: [P11Attribute], _ body: (UnsafeMutablePointer<CK_ATTRIBUTE>?, UInt) throws -> R) rethrows -> R {
    if attrs.isEmpty { return try body(nil, 0) }
    let tmpl = UnsafeMutablePointer<CK_ATTRIBUTE>.allocate(capacity: attrs.count)
    var buffers: [UnsafeMutableRawPointer] = []
    defer {
        for b in buffers { b.deallocate() }
        tmpl.deallocate()
    }
    for (i, a) in attrs.enumerated() {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(a.value.count, 1), alignment: 8)
        a.value.withUnsafeBytes { if let base = $0.baseAddress { p.copyMemory(from: base, byteCount: $0.count) } }
        buffers.append(p)
        tmpl[i] = CK_ATTRIBUTE(type: a.type, pValue: p, ulValueLen: UInt(a.value.count))
    }
    return try body(tmpl, UInt(attrs.count))
}

/// What `C_GetInfo` says about a module.
public struct ModuleInfo: Sendable {
    public let manufacturer: String
    public let description: String
    public let libraryVersion: String
    public let cryptokiVersion: String
}

/// What `C_GetSlotInfo` says about a slot.
public struct SlotInfo: Sendable {
    public let id: UInt
    public let description: String
    public let manufacturer: String
    public let tokenPresent: Bool
    public let removable: Bool
    public let hardware: Bool
}

/// What `C_GetTokenInfo` says about a token.
public struct TokenInfo: Sendable {
    public let slot: UInt
    public let label: String
    public let manufacturer: String
    public let model: String
    public let serial: String
    public let flags: UInt
    public var pinFlags: PINFlags { PINFlags(tokenFlags: flags) }
    public var loginRequired: Bool { flags & UInt(CKF_LOGIN_REQUIRED) != 0 }
    public var protectedAuthenticationPath: Bool { flags & UInt(CKF_PROTECTED_AUTHENTICATION_PATH) != 0 }
    public var initialized: Bool { flags & UInt(CKF_TOKEN_INITIALIZED) != 0 }
}

/// What `C_GetMechanismInfo` says about one mechanism.
public struct MechanismInfo: Sendable {
    public let type: UInt
    public let minKeySize: UInt
    public let maxKeySize: UInt
    public let flags: UInt
    public var name: String { PKCS11.name(ofMechanism: type) }
    public var canSign: Bool { flags & UInt(CKF_SIGN) != 0 }
}

/// A PKCS#11 module (vendor library) loaded at run time with `dlopen` and initialised once.
///
/// Modules stay loaded for the life of the process (some vendor modules crash on `dlclose`).
/// `environment` holds variables the module reads during `C_Initialize` (SoftHSM2 reads
/// `SOFTHSM2_CONF` there): they are set only while `C_Initialize` runs, under a process-wide lock.
/// Loading the same library with a different environment loads a private copy of the library file,
/// so several SoftHSM configurations can live in one process, each with its own module instance.
public final class PKCS11Module: @unchecked Sendable {
    /// Path the caller asked for.
    public let path: String
    /// Environment applied during `C_Initialize`.
    public let environment: [String: String]
    let fl: CK_FUNCTION_LIST_PTR
    private let handle: UnsafeMutableRawPointer

    private init(path: String, environment: [String: String], fl: CK_FUNCTION_LIST_PTR, handle: UnsafeMutableRawPointer) {
        self.path = path; self.environment = environment; self.fl = fl; self.handle = handle
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: PKCS11Module] = [:]
    nonisolated(unsafe) private static var pathsInUse: Set<String> = []

    /// Loads (or returns the already loaded) module at `path`, initialised with `environment`.
    public static func load(path: String, environment: [String: String] = [:]) throws -> PKCS11Module {
        lock.lock(); defer { lock.unlock() }
        let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map {
            $0.hasPrefix("/") ? $0 : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent($0).standardized.path
        } ?? path
        let key = real + "\u{0}" + environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }.joined(separator: "\u{0}")
        if let m = loaded[key] { return m }
        guard FileManager.default.fileExists(atPath: real) else {
            throw TokenError(.moduleLoadFailed, "the PKCS#11 module \(path) does not exist; check `module` in the token configuration", context: path)
        }
        var loadPath = real
        if pathsInUse.contains(real) {
            // A second configuration of the same library: load a private copy so its globals are separate.
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sealbatch-p11-\(getpid())")
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let copy = dir.appendingPathComponent("\(loaded.count)-" + URL(fileURLWithPath: real).lastPathComponent)
            try? FileManager.default.removeItem(at: copy)
            do { try FileManager.default.copyItem(atPath: real, toPath: copy.path) } catch {
                throw TokenError(.moduleLoadFailed, "could not make a private copy of \(path) for a second configuration: \(error)", context: path)
            }
            loadPath = copy.path
        }
        var fl: CK_FUNCTION_LIST_PTR? = nil
        var err: UnsafePointer<CChar>? = nil
        let handle = sb_p11_load(loadPath, &fl, &err)
        if loadPath != real {
            // The mapping outlives the file: remove the private copy at once so nothing is left behind.
            try? FileManager.default.removeItem(atPath: loadPath)
            try? FileManager.default.removeItem(at: URL(fileURLWithPath: loadPath).deletingLastPathComponent())
        }
        guard let h = handle, let fl else {
            let why = err.map { String(cString: $0) } ?? "unknown error"
            throw TokenError(.moduleLoadFailed, "could not load the PKCS#11 module \(path): \(why)", context: path)
        }
        // Apply the module's environment only while it initialises.
        var saved: [String: String?] = [:]
        for (k, v) in environment {
            saved[k] = getenv(k).map { String(cString: $0) }
            setenv(k, v, 1)
        }
        let rv = sb_p11_initialize(fl)
        for (k, old) in saved {
            if let old { setenv(k, old, 1) } else { unsetenv(k) }
        }
        if rv != UInt(CKR_OK) && rv != UInt(CKR_CRYPTOKI_ALREADY_INITIALIZED) {
            throw TokenError(.moduleInitFailed, "the PKCS#11 module \(path) failed to initialise (check its configuration file)", ckr: rv, context: "C_Initialize")
        }
        let m = PKCS11Module(path: path, environment: environment, fl: fl, handle: h)
        loaded[key] = m
        pathsInUse.insert(real)
        return m
    }

    @inline(__always)
    func check(_ rv: CK_RV, _ fn: String, code: TokenError.Code = .pkcs11Failed) throws {
        guard rv != UInt(CKR_OK) else { return }
        if PKCS11.isRemoval(rv) { throw TokenError(.tokenRemoved, "the token was removed or its session was lost", ckr: rv, context: fn) }
        throw TokenError(code, "\(fn) failed", ckr: rv, context: fn)
    }

    /// `C_GetInfo`.
    public func info() throws -> ModuleInfo {
        var i = CK_INFO()
        try check(fl.pointee.C_GetInfo(&i), "C_GetInfo")
        return ModuleInfo(manufacturer: PKCS11.text(i.manufacturerID), description: PKCS11.text(i.libraryDescription),
                          libraryVersion: "\(i.libraryVersion.major).\(i.libraryVersion.minor)",
                          cryptokiVersion: "\(i.cryptokiVersion.major).\(i.cryptokiVersion.minor)")
    }

    /// `C_GetSlotList`: slot IDs, optionally only those with a token present.
    public func slots(tokenPresent: Bool = true) throws -> [UInt] {
        var n: UInt = 0
        try check(fl.pointee.C_GetSlotList(tokenPresent ? 1 : 0, nil, &n), "C_GetSlotList")
        var ids = [UInt](repeating: 0, count: Int(n) + 1)
        try check(fl.pointee.C_GetSlotList(tokenPresent ? 1 : 0, &ids, &n), "C_GetSlotList")
        return Array(ids.prefix(Int(n)))
    }

    /// `C_GetSlotInfo`.
    public func slotInfo(_ slot: UInt) throws -> SlotInfo {
        var i = CK_SLOT_INFO()
        try check(fl.pointee.C_GetSlotInfo(slot, &i), "C_GetSlotInfo")
        return SlotInfo(id: slot, description: PKCS11.text(i.slotDescription), manufacturer: PKCS11.text(i.manufacturerID),
                        tokenPresent: i.flags & UInt(CKF_TOKEN_PRESENT) != 0, removable: i.flags & UInt(CKF_REMOVABLE_DEVICE) != 0,
                        hardware: i.flags & UInt(CKF_HW_SLOT) != 0)
    }

    /// `C_GetTokenInfo`.
    public func tokenInfo(_ slot: UInt) throws -> TokenInfo {
        var i = CK_TOKEN_INFO()
        try check(fl.pointee.C_GetTokenInfo(slot, &i), "C_GetTokenInfo")
        return TokenInfo(slot: slot, label: PKCS11.text(i.label), manufacturer: PKCS11.text(i.manufacturerID),
                         model: PKCS11.text(i.model), serial: PKCS11.text(i.serialNumber), flags: i.flags)
    }

    /// `C_GetMechanismList` + `C_GetMechanismInfo`.
    public func mechanisms(_ slot: UInt) throws -> [MechanismInfo] {
        var n: UInt = 0
        try check(fl.pointee.C_GetMechanismList(slot, nil, &n), "C_GetMechanismList")
        var list = [UInt](repeating: 0, count: Int(n) + 1)
        try check(fl.pointee.C_GetMechanismList(slot, &list, &n), "C_GetMechanismList")
        return list.prefix(Int(n)).map { m in
            var i = CK_MECHANISM_INFO()
            _ = fl.pointee.C_GetMechanismInfo(slot, m, &i)
            return MechanismInfo(type: m, minKeySize: i.ulMinKeySize, maxKeySize: i.ulMaxKeySize, flags: i.flags)
        }
    }

    /// `C_WaitForSlotEvent` without blocking: the slot that changed, nil when nothing happened,
    /// or throws `.pkcs11Failed` with CKR_FUNCTION_NOT_SUPPORTED when the module has no slot events.
    public func pollSlotEvent() throws -> UInt? {
        var slot: UInt = 0
        let rv = fl.pointee.C_WaitForSlotEvent(UInt(CKF_DONT_BLOCK), &slot, nil)
        if rv == UInt(CKR_NO_EVENT) { return nil }
        if rv != UInt(CKR_OK) { throw TokenError(.pkcs11Failed, "C_WaitForSlotEvent failed", ckr: rv, context: "C_WaitForSlotEvent") }
        return slot
    }

    /// `C_InitToken`: (re)initialises the token in `slot` with an SO PIN and a label. Destroys its objects.
    public func initToken(slot: UInt, soPIN: borrowing PIN, label: String) throws {
        var lab = [UInt8](repeating: 0x20, count: 32)
        for (i, b) in label.utf8.prefix(32).enumerated() { lab[i] = b }
        let rv: CK_RV = soPIN.withBytes { p in
            fl.pointee.C_InitToken(slot, UnsafeMutablePointer(mutating: p.bindMemory(to: UInt8.self).baseAddress), UInt(p.count), &lab)
        }
        try check(rv, "C_InitToken")
    }

    /// `C_OpenSession` (serial; read-write when asked).
    public func openSession(slot: UInt, readWrite: Bool = false) throws -> PKCS11Session {
        var h: CK_SESSION_HANDLE = 0
        var flags = UInt(CKF_SERIAL_SESSION)
        if readWrite { flags |= UInt(CKF_RW_SESSION) }
        try check(fl.pointee.C_OpenSession(slot, flags, nil, nil, &h), "C_OpenSession")
        return PKCS11Session(module: self, slot: slot, handle: h)
    }

    /// `C_CloseAllSessions` for a slot (logs every session out).
    public func closeAllSessions(slot: UInt) {
        _ = fl.pointee.C_CloseAllSessions(slot)
    }
}

/// PKCS#11 user types for `login`.
public enum P11UserType: UInt, Sendable {
    case securityOfficer = 0
    case user = 1
    case contextSpecific = 2
}

/// A signing mechanism with its parameter.
public struct P11Mechanism: Sendable, Hashable {
    public let type: UInt
    /// RSA-PSS parameters (hash mechanism, MGF, salt length), when the mechanism needs them.
    public let pss: PSSParams?
    public struct PSSParams: Sendable, Hashable {
        public let hashMechanism: UInt
        public let mgf: UInt
        public let saltLength: UInt
    }
    public init(_ type: UInt, pss: PSSParams? = nil) { self.type = type; self.pss = pss }
    public var name: String { PKCS11.name(ofMechanism: type) }
}

/// One session on a token. Not thread-safe: callers serialise (the `SealToken` actor does).
public final class PKCS11Session: @unchecked Sendable {
    public let module: PKCS11Module
    public let slot: UInt
    public private(set) var handle: CK_SESSION_HANDLE
    private var fl: CK_FUNCTION_LIST_PTR { module.fl }

    init(module: PKCS11Module, slot: UInt, handle: CK_SESSION_HANDLE) {
        self.module = module; self.slot = slot; self.handle = handle
    }

    /// `C_CloseSession` (idempotent).
    public func close() {
        if handle != 0 { _ = fl.pointee.C_CloseSession(handle); handle = 0 }
    }

    /// `C_Login`. Maps CKR_PIN_INCORRECT / CKR_PIN_LOCKED to their codes. Exactly one attempt.
    public func login(_ user: P11UserType, pin: borrowing PIN) throws {
        let rv: CK_RV = pin.withBytes { p in
            fl.pointee.C_Login(handle, user.rawValue, UnsafeMutablePointer(mutating: p.bindMemory(to: UInt8.self).baseAddress), UInt(p.count))
        }
        switch rv {
        case UInt(CKR_OK): return
        case UInt(CKR_USER_ALREADY_LOGGED_IN) where user != .contextSpecific: return
        case UInt(CKR_PIN_INCORRECT), UInt(CKR_PIN_INVALID), UInt(CKR_PIN_LEN_RANGE):
            let flags = (try? module.tokenInfo(slot))?.pinFlags
            throw TokenError(.pinIncorrect, "the PIN was wrong; it was tried once and will not be retried automatically", ckr: rv, pinFlags: flags, context: "C_Login")
        case UInt(CKR_PIN_LOCKED):
            throw TokenError(.pinLocked, "the token's user PIN is locked; unblock it with the security officer PIN (e.g. `pkcs11-tool --unlock-pin`) or the vendor tool", ckr: rv, pinFlags: .locked, context: "C_Login")
        default:
            try module.check(rv, "C_Login")
        }
    }

    /// `C_Logout` (errors ignored).
    public func logout() { _ = fl.pointee.C_Logout(handle) }

    /// `C_InitPIN` (needs an SO login on a read-write session).
    public func initPIN(_ pin: borrowing PIN) throws {
        let rv: CK_RV = pin.withBytes { p in
            fl.pointee.C_InitPIN(handle, UnsafeMutablePointer(mutating: p.bindMemory(to: UInt8.self).baseAddress), UInt(p.count))
        }
        try module.check(rv, "C_InitPIN")
    }

    /// `C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal`.
    public func findObjects(_ template: [P11Attribute]) throws -> [CK_OBJECT_HANDLE] {
        try withTemplate(template) { t, n in
            try module.check(fl.pointee.C_FindObjectsInit(handle, t, n), "C_FindObjectsInit")
            defer { _ = fl.pointee.C_FindObjectsFinal(handle) }
            var out: [CK_OBJECT_HANDLE] = []
            var buf = [CK_OBJECT_HANDLE](repeating: 0, count: 64)
            while true {
                var got: UInt = 0
                try module.check(fl.pointee.C_FindObjects(handle, &buf, 64, &got), "C_FindObjects")
                if got == 0 { break }
                out.append(contentsOf: buf.prefix(Int(got)))
            }
            return out
        }
    }

    /// `C_GetAttributeValue` for one attribute; nil when absent or sensitive.
    public func attribute(_ object: CK_OBJECT_HANDLE, _ type: UInt) throws -> [UInt8]? {
        var a = CK_ATTRIBUTE(type: type, pValue: nil, ulValueLen: 0)
        let rv = fl.pointee.C_GetAttributeValue(handle, object, &a, 1)
        if rv == UInt(CKR_ATTRIBUTE_TYPE_INVALID) || rv == UInt(CKR_ATTRIBUTE_SENSITIVE) { return nil }
        try module.check(rv, "C_GetAttributeValue")
        if a.ulValueLen == UInt.max { return nil }
        var out = [UInt8](repeating: 0, count: Int(a.ulValueLen))
        let rv2 = out.withUnsafeMutableBytes { b -> CK_RV in
            a.pValue = b.baseAddress
            return fl.pointee.C_GetAttributeValue(handle, object, &a, 1)
        }
        try module.check(rv2, "C_GetAttributeValue")
        return Array(out.prefix(Int(a.ulValueLen)))
    }

    /// A CK_ULONG attribute.
    public func ulongAttribute(_ object: CK_OBJECT_HANDLE, _ type: UInt) throws -> UInt? {
        guard let b = try attribute(object, type), b.count == MemoryLayout<UInt>.size else { return nil }
        return b.withUnsafeBytes { $0.loadUnaligned(as: UInt.self) }
    }

    /// A CK_BBOOL attribute.
    public func boolAttribute(_ object: CK_OBJECT_HANDLE, _ type: UInt) throws -> Bool? {
        guard let b = try attribute(object, type), let f = b.first else { return nil }
        return f != 0
    }

    /// `C_SignInit` + `C_Sign` in one call.
    public func sign(mechanism: P11Mechanism, key: CK_OBJECT_HANDLE, data: [UInt8]) throws -> [UInt8] {
        try signInit(mechanism: mechanism, key: key)
        return try signFinal(data)
    }

    /// `C_SignInit`.
    public func signInit(mechanism: P11Mechanism, key: CK_OBJECT_HANDLE) throws {
        var params = CK_RSA_PKCS_PSS_PARAMS()
        var mech = CK_MECHANISM(mechanism: mechanism.type, pParameter: nil, ulParameterLen: 0)
        let rv: CK_RV
        if let pss = mechanism.pss {
            params.hashAlg = pss.hashMechanism; params.mgf = pss.mgf; params.sLen = pss.saltLength
            rv = withUnsafeMutablePointer(to: &params) { pp in
                mech.pParameter = UnsafeMutableRawPointer(pp)
                mech.ulParameterLen = UInt(MemoryLayout<CK_RSA_PKCS_PSS_PARAMS>.size)
                return fl.pointee.C_SignInit(handle, &mech, key)
            }
        } else {
            rv = fl.pointee.C_SignInit(handle, &mech, key)
        }
        if rv == UInt(CKR_MECHANISM_INVALID) || rv == UInt(CKR_MECHANISM_PARAM_INVALID) || rv == UInt(CKR_KEY_TYPE_INCONSISTENT) {
            throw TokenError(.mechanismUnsupported, "the token refused \(mechanism.name) for this key", ckr: rv, context: "C_SignInit")
        }
        try module.check(rv, "C_SignInit")
    }

    /// `C_Sign` after `signInit` (and a context-specific login when the key needs one).
    public func signFinal(_ data: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 1024)
        var n: UInt = 1024
        var d = data
        var rv = fl.pointee.C_Sign(handle, &d, UInt(d.count), &out, &n)
        if rv == UInt(CKR_BUFFER_TOO_SMALL) {
            out = [UInt8](repeating: 0, count: Int(n))
            rv = fl.pointee.C_Sign(handle, &d, UInt(d.count), &out, &n)
        }
        try module.check(rv, "C_Sign")
        return Array(out.prefix(Int(n)))
    }

    /// `C_GenerateKeyPair`: returns (public, private) handles.
    public func generateKeyPair(mechanism: UInt, publicTemplate: [P11Attribute], privateTemplate: [P11Attribute]) throws -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
        var mech = CK_MECHANISM(mechanism: mechanism, pParameter: nil, ulParameterLen: 0)
        var pub: CK_OBJECT_HANDLE = 0, priv: CK_OBJECT_HANDLE = 0
        try withTemplate(publicTemplate) { pt, pn in
            try withTemplate(privateTemplate) { qt, qn in
                try module.check(fl.pointee.C_GenerateKeyPair(handle, &mech, pt, pn, qt, qn, &pub, &priv), "C_GenerateKeyPair")
            }
        }
        return (pub, priv)
    }

    /// `C_CreateObject`.
    @discardableResult
    public func createObject(_ template: [P11Attribute]) throws -> CK_OBJECT_HANDLE {
        var h: CK_OBJECT_HANDLE = 0
        try withTemplate(template) { t, n in
            try module.check(fl.pointee.C_CreateObject(handle, t, n, &h), "C_CreateObject")
        }
        return h
    }
}
