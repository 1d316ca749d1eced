import CPKCS11

/// Hash functions the token layer can apply (SHA-2 family).
public enum HashAlgorithm: String, Sendable, Hashable, CaseIterable {
    case sha256, sha384, sha512

    /// Digest length in bytes.
    public var length: Int { switch self { case .sha256: 32; case .sha384: 48; case .sha512: 64 } }
    var bits: Int32 { switch self { case .sha256: 256; case .sha384: 384; case .sha512: 512 } }
    /// CKM_SHAxxx.
    var hashMechanism: UInt { switch self { case .sha256: 0x250; case .sha384: 0x260; case .sha512: 0x270 } }
    /// CKG_MGF1_SHAxxx.
    var mgf: UInt { switch self { case .sha256: 2; case .sha384: 3; case .sha512: 4 } }
    /// CKM_SHAxxx_RSA_PKCS.
    var rsaPKCSMechanism: UInt { switch self { case .sha256: 0x40; case .sha384: 0x41; case .sha512: 0x42 } }
    /// CKM_SHAxxx_RSA_PKCS_PSS.
    var rsaPSSMechanism: UInt { switch self { case .sha256: 0x43; case .sha384: 0x44; case .sha512: 0x45 } }
    /// CKM_ECDSA_SHAxxx.
    var ecdsaMechanism: UInt { switch self { case .sha256: 0x1044; case .sha384: 0x1045; case .sha512: 0x1046 } }
    /// DER of the DigestInfo prefix (RFC 8017 §9.2 note 1), to which the hash is appended.
    var digestInfoPrefix: [UInt8] {
        switch self {
        case .sha256: [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20]
        case .sha384: [0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30]
        case .sha512: [0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40]
        }
    }

    /// One-shot digest (libcrypto).
    public func hash(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 64)
        let n = data.withUnsafeBufferPointer { sb_digest(bits, $0.baseAddress, $0.count, &out) }
        return Array(out.prefix(n))
    }
}

/// What kind of key the seal key is.
public enum KeyAlgorithm: Sendable, Hashable, CustomStringConvertible {
    case rsa(bits: Int)
    case ec(curve: ECCurve)

    public var description: String {
        switch self {
        case .rsa(let b): "RSA-\(b)"
        case .ec(let c): "EC \(c.rawValue)"
        }
    }

    /// The signature algorithm to use when the caller has no preference.
    public var defaultSigningAlgorithm: SigningAlgorithm {
        switch self {
        case .rsa: .rsaPKCS1v15(.sha256)
        case .ec(.p256): .ecdsa(.sha256)
        case .ec(.p384): .ecdsa(.sha384)
        case .ec(.p521): .ecdsa(.sha512)
        }
    }
}

/// Named elliptic curves.
public enum ECCurve: String, Sendable, Hashable {
    case p256 = "P-256", p384 = "P-384", p521 = "P-521"
    /// DER of the namedCurve OID (CKA_EC_PARAMS).
    public var oidDER: [UInt8] {
        switch self {
        case .p256: [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]
        case .p384: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]
        case .p521: [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23]
        }
    }
    /// Field size in bytes (length of r and s).
    public var coordinateLength: Int { switch self { case .p256: 32; case .p384: 48; case .p521: 66 } }
    init?(ecParams: [UInt8]) {
        for c in [ECCurve.p256, .p384, .p521] where c.oidDER == ecParams { self = c; return }
        return nil
    }
}

/// A signature scheme requested by the caller. The token layer picks the mechanism.
public enum SigningAlgorithm: Sendable, Hashable, CustomStringConvertible {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2).
    case rsaPKCS1v15(HashAlgorithm)
    /// RSASSA-PSS with MGF1 over the same hash and salt length = hash length (RFC 8017 §8.1).
    case rsaPSS(HashAlgorithm)
    /// ECDSA; the result is a DER ECDSA-Sig-Value (RFC 3279 §2.2.3).
    case ecdsa(HashAlgorithm)

    public var hash: HashAlgorithm {
        switch self { case .rsaPKCS1v15(let h), .rsaPSS(let h), .ecdsa(let h): h }
    }

    public var description: String {
        switch self {
        case .rsaPKCS1v15(let h): "RSA PKCS#1 v1.5 with \(h.rawValue.uppercased())"
        case .rsaPSS(let h): "RSA-PSS with \(h.rawValue.uppercased())"
        case .ecdsa(let h): "ECDSA with \(h.rawValue.uppercased())"
        }
    }
}

/// How one signature is made on the token: the mechanism and what we feed it.
public struct SigningPlan: Sendable, Hashable, CustomStringConvertible {
    public enum Input: Sendable, Hashable {
        /// The message itself (the token hashes).
        case message
        /// Our hash of the message.
        case hash
        /// DER DigestInfo of our hash (CKM_RSA_PKCS).
        case digestInfo
    }
    public let algorithm: SigningAlgorithm
    public let mechanism: P11Mechanism
    public let input: Input
    /// ECDSA: convert the raw r‖s output to DER.
    public let rawECDSA: Bool
    public let coordinateLength: Int

    public var description: String {
        let what: String = switch input { case .message: "message"; case .hash: "our \(algorithm.hash.rawValue.uppercased()) hash"; case .digestInfo: "DigestInfo" }
        return "\(mechanism.name) over \(what)"
    }

    /// Picks the mechanism for `algorithm` among those the token can sign with, for this key.
    public static func choose(_ algorithm: SigningAlgorithm, key: KeyAlgorithm, available: Set<UInt>) throws -> SigningPlan {
        let h = algorithm.hash
        func unsupported(_ wanted: [UInt]) -> TokenError {
            TokenError(.mechanismUnsupported, "the token cannot do \(algorithm) with its \(key) key: it offers none of "
                + wanted.map(PKCS11.name(ofMechanism:)).joined(separator: ", "))
        }
        switch (algorithm, key) {
        case (.rsaPKCS1v15, .rsa):
            if available.contains(h.rsaPKCSMechanism) { return .init(algorithm: algorithm, mechanism: P11Mechanism(h.rsaPKCSMechanism), input: .message, rawECDSA: false, coordinateLength: 0) }
            if available.contains(0x1) { return .init(algorithm: algorithm, mechanism: P11Mechanism(0x1), input: .digestInfo, rawECDSA: false, coordinateLength: 0) }
            throw unsupported([h.rsaPKCSMechanism, 0x1])
        case (.rsaPSS, .rsa):
            let params = P11Mechanism.PSSParams(hashMechanism: h.hashMechanism, mgf: h.mgf, saltLength: UInt(h.length))
            if available.contains(h.rsaPSSMechanism) { return .init(algorithm: algorithm, mechanism: P11Mechanism(h.rsaPSSMechanism, pss: params), input: .message, rawECDSA: false, coordinateLength: 0) }
            if available.contains(0xD) { return .init(algorithm: algorithm, mechanism: P11Mechanism(0xD, pss: params), input: .hash, rawECDSA: false, coordinateLength: 0) }
            throw unsupported([h.rsaPSSMechanism, 0xD])
        case (.ecdsa, .ec(let curve)):
            if available.contains(0x1041) { return .init(algorithm: algorithm, mechanism: P11Mechanism(0x1041), input: .hash, rawECDSA: true, coordinateLength: curve.coordinateLength) }
            if available.contains(h.ecdsaMechanism) { return .init(algorithm: algorithm, mechanism: P11Mechanism(h.ecdsaMechanism), input: .message, rawECDSA: true, coordinateLength: curve.coordinateLength) }
            throw unsupported([0x1041, h.ecdsaMechanism])
        default:
            throw TokenError(.mechanismUnsupported, "\(algorithm) cannot be used with the token's \(key) key")
        }
    }

    /// The bytes to hand to C_Sign for `message`.
    func input(for message: [UInt8]) -> [UInt8] {
        switch input {
        case .message: message
        case .hash: algorithm.hash.hash(message)
        case .digestInfo: algorithm.hash.digestInfoPrefix + algorithm.hash.hash(message)
        }
    }

    /// Post-processes the token's output (raw r‖s → DER for ECDSA).
    func output(_ sig: [UInt8]) throws -> [UInt8] {
        guard rawECDSA else { return sig }
        return try DER.ecdsaSignature(rawRS: sig)
    }
}
