import Foundation
import Signing
import Token

/// Adapts the `SealToken` actor to Signing's `SignatureKey`.
public struct TokenKey: SignatureKey {
    /// The token.
    public let token: SealToken
    public let certificateChainDER: [[UInt8]]
    public let signatureAlgorithm: SignatureAlgorithm

    /// Wraps an open token; the algorithm follows the certificate's key.
    public init(token: SealToken) throws {
        self.token = token
        self.certificateChainDER = [token.certificateDER] + token.chainDER
        switch token.keyAlgorithm {
        case .rsa: signatureAlgorithm = .rsaPKCS1SHA256
        case .ec(.p256): signatureAlgorithm = .ecdsaSHA256
        case .ec(.p384): signatureAlgorithm = .ecdsaSHA384
        case .ec(let c): throw SigningError(.badKey, "EC curve \(c.rawValue) is not supported for seals")
        }
    }

    public func sign(_ message: [UInt8]) async throws -> [UInt8] {
        switch signatureAlgorithm {
        case .rsaPKCS1SHA256: return try await token.sign(message, algorithm: .rsaPKCS1v15(.sha256))
        case .ecdsaSHA256: return try await token.sign(message, algorithm: .ecdsa(.sha256))
        case .ecdsaSHA384: return try await token.sign(message, algorithm: .ecdsa(.sha384))
        }
    }
}

/// A test decorator modelling a slow USB key: every signature takes at least `delayMS` longer.
public struct SlowedKey: SignatureKey {
    let inner: any SignatureKey
    let delay: UInt64
    /// Wraps `inner`.
    public init(_ inner: any SignatureKey, delayMS: Int) { self.inner = inner; self.delay = UInt64(delayMS) * 1_000_000 }
    public var certificateChainDER: [[UInt8]] { inner.certificateChainDER }
    public var signatureAlgorithm: SignatureAlgorithm { inner.signatureAlgorithm }
    public func sign(_ message: [UInt8]) async throws -> [UInt8] {
        try await Task.sleep(nanoseconds: delay)
        return try await inner.sign(message)
    }
}

/// The single serialization point for token work: a FIFO gate around the key (one signature at a
/// time, in arrival order, even across suspension points), measuring how busy the token is.
public final class SerializedKey: SignatureKey, @unchecked Sendable {
    let inner: any SignatureKey
    /// The token, when the key is one.
    public let token: SealToken?
    private let lock = NSLock()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var busySeconds = 0.0
    private var signatures = 0
    private var firstUse: Date?
    private var lastUse: Date?

    /// Wraps a key.
    public init(_ inner: any SignatureKey, token: SealToken? = nil) { self.inner = inner; self.token = token }
    public var certificateChainDER: [[UInt8]] { inner.certificateChainDER }
    public var signatureAlgorithm: SignatureAlgorithm { inner.signatureAlgorithm }

    public func sign(_ message: [UInt8]) async throws -> [UInt8] {
        await acquire()
        let t0 = Date()
        defer { release(started: t0) }
        return try await inner.sign(message)
    }

    private func acquire() async {
        let mustWait: Bool = lock.withLock {
            if !busy { busy = true; return false }
            return true
        }
        if mustWait {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = lock.withLock {
                    if !busy { busy = true; return true }
                    waiters.append(c); return false
                }
                if resumeNow { c.resume() }
            }
        }
    }

    private func release(started: Date) {
        let now = Date()
        let next: CheckedContinuation<Void, Never>? = lock.withLock {
            busySeconds += now.timeIntervalSince(started); signatures += 1
            if firstUse == nil { firstUse = started }
            lastUse = now
            if waiters.isEmpty { busy = false; return nil }
            return waiters.removeFirst()   // hand over directly: busy stays true
        }
        next?.resume()
    }

    /// Signatures made, seconds the token was busy, and the busy share between first and last use.
    public var usage: (signatures: Int, busySeconds: Double, utilisation: Double) {
        lock.withLock {
            let span = (lastUse ?? Date()).timeIntervalSince(firstUse ?? Date())
            return (signatures, busySeconds, span > 0 ? busySeconds / span : 0)
        }
    }
}
