import Foundation
import Governance
import Signing
import Token

/// The check that the token about to seal holds the registered seal's key (DESIGN.md "The registered
/// seal is the seal"): the token's certificate for the key must be the registered certificate (SHA-256
/// fingerprint), and the key must sign a fresh challenge that the certificate's public key verifies.
/// Validators cannot catch a trusted-but-wrong key (another certificate under the same root): only this can.
public enum SealKeyBinding {
    /// Why a token does not hold a seal's key.
    public struct Mismatch: Error, Sendable, Equatable, CustomStringConvertible {
        /// Seal id.
        public let seal: String
        /// SHA-256 (hex) of the registered certificate.
        public let registeredSHA256: String
        /// SHA-256 (hex) of the token's certificate for the key.
        public let tokenSHA256: String
        /// Token label and serial.
        public let token: String
        /// True when the certificates are equal but the key does not belong to them.
        public let keyDiffers: Bool

        /// One line for a clerk, naming both fingerprints.
        public var description: String {
            if keyDiffers {
                return "the token \(token) holds the registered certificate of seal \(seal) (sha256 \(registeredSHA256)), but its key is not that "
                    + "certificate's key (a challenge it signed does not verify); nothing was sealed. Use the seal's own token."
            }
            return "the token \(token) does not hold the registered key of seal \(seal): registered certificate sha256 \(registeredSHA256), "
                + "token certificate sha256 \(tokenSHA256); nothing was sealed. Use the seal's own token, or have the official-seal "
                + "administrator rebind the seal (`sealbatch seal rebind`)."
        }
    }

    /// SHA-256 (lower-case hex) of a DER certificate.
    public static func fingerprint(_ der: [UInt8]) -> String { hex(sha256(der)) }

    /// Compares the token's certificate with the registered one (no PIN needed).
    public static func checkCertificate(_ token: SealToken, seal: Seal) throws(Mismatch) {
        let registered = fingerprint(seal.certificateDER), found = fingerprint(token.certificateDER)
        guard registered == found else {
            throw Mismatch(seal: seal.id, registeredSHA256: registered, tokenSHA256: found, token: describe(token), keyDiffers: false)
        }
    }

    /// The certificate check, then a challenge signed by the key (logs in through the token's PIN provider
    /// if it is not logged in yet: the one login of the run) and verified with the registered certificate's
    /// public key. Token errors (wrong PIN, token gone) are thrown as they are.
    public static func check(_ token: SealToken, seal: Seal) async throws {
        try checkCertificate(token, seal: seal)
        let challenge = Array("sealbatch-key-check/1\nseal=\(seal.id)\nnonce=\(hex(DetachedSignature.randomBytes(16)))\n".utf8)
        let algorithm = token.keyAlgorithm.defaultSigningAlgorithm
        let signature = try await token.sign(challenge, algorithm: algorithm)
        // the token's public key was read from its certificate, which is byte-for-byte the registered one
        guard token.verify(signature, message: challenge, algorithm: algorithm) else {
            let fp = fingerprint(seal.certificateDER)
            throw Mismatch(seal: seal.id, registeredSHA256: fp, tokenSHA256: fp, token: describe(token), keyDiffers: true)
        }
    }

    static func describe(_ token: SealToken) -> String { "'\(token.tokenLabel)' (serial \(token.tokenSerial))" }
}
