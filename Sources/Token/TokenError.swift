import CPKCS11

/// The PIN state a token reports in its `CK_TOKEN_INFO.flags` (PKCS#11 v2.40 §5.6, table 11).
public struct PINFlags: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt
    public init(rawValue: UInt) { self.rawValue = rawValue }
    /// CKF_USER_PIN_COUNT_LOW: at least one wrong PIN since the last successful login.
    public static let countLow = PINFlags(rawValue: 1 << 0)
    /// CKF_USER_PIN_FINAL_TRY: one more wrong PIN locks the token.
    public static let finalTry = PINFlags(rawValue: 1 << 1)
    /// CKF_USER_PIN_LOCKED: the user PIN is blocked.
    public static let locked = PINFlags(rawValue: 1 << 2)
    /// CKF_USER_PIN_TO_BE_CHANGED: the PIN is the factory default or expired.
    public static let toBeChanged = PINFlags(rawValue: 1 << 3)
    /// CKF_USER_PIN_INITIALIZED is clear: no user PIN is set.
    public static let notInitialized = PINFlags(rawValue: 1 << 4)

    /// Reads the user-PIN flags out of a token's flags word.
    public init(tokenFlags f: UInt) {
        var r: PINFlags = []
        if f & UInt(CKF_USER_PIN_COUNT_LOW) != 0 { r.insert(.countLow) }
        if f & UInt(CKF_USER_PIN_FINAL_TRY) != 0 { r.insert(.finalTry) }
        if f & UInt(CKF_USER_PIN_LOCKED) != 0 { r.insert(.locked) }
        if f & UInt(CKF_USER_PIN_TO_BE_CHANGED) != 0 { r.insert(.toBeChanged) }
        if f & UInt(CKF_USER_PIN_INITIALIZED) == 0 { r.insert(.notInitialized) }
        self = r
    }

    /// Plain words for a clerk: what the token says about the remaining tries.
    public var description: String {
        if contains(.locked) { return "PIN locked (no tries left)" }
        if contains(.finalTry) { return "one try left before the PIN locks" }
        if contains(.countLow) { return "fewer tries left (an earlier PIN was wrong)" }
        if contains(.notInitialized) { return "no user PIN set" }
        if contains(.toBeChanged) { return "PIN must be changed" }
        return "PIN tries not reduced"
    }
}

/// An error from the token layer: a stable `Code`, context, and a description a clerk can act on.
/// Never contains a PIN.
public struct TokenError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Stable error codes; callers route on these, never on text.
    public enum Code: String, Sendable, Hashable {
        case moduleLoadFailed
        case moduleInitFailed
        case invalidConfiguration
        case invalidURI
        case tokenNotFound
        case keyNotFound
        case certificateNotFound
        case pinIncorrect
        case pinLocked
        case pinRequired
        case pinSourceUnsafe
        case pinSourceFailed
        case finalTryRefused
        case tokenRemoved
        case mechanismUnsupported
        case keyUnsupported
        case pkcs11Failed
        case pcscFailed
        case devTokenFailed
        case closed
    }

    public let code: Code
    /// What happened, in words (no secrets).
    public let message: String
    /// The PKCS#11 return value, when one caused this.
    public let ckr: UInt?
    /// The PIN state the token reported, when relevant.
    public let pinFlags: PINFlags?
    /// The PKCS#11 function or file involved.
    public let context: String?

    public init(_ code: Code, _ message: String, ckr: UInt? = nil, pinFlags: PINFlags? = nil, context: String? = nil) {
        self.code = code
        self.message = message
        self.ckr = ckr
        self.pinFlags = pinFlags
        self.context = context
    }

    /// Whether the error means the token went away (the caller should wait, not fail).
    public var isRemoval: Bool { code == .tokenRemoved }

    public var description: String {
        var s = "token: \(message)"
        if let pinFlags { s += " [token reports: \(pinFlags)]" }
        if let ckr { s += " (\(PKCS11.name(ofReturnValue: ckr))" + (context.map { " from \($0)" } ?? "") + ")" }
        else if let context { s += " (\(context))" }
        return s
    }
}
