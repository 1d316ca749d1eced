import COpenSSL
import Foundation

/// An RFC 3161 time-stamp token with the time it asserts.
public struct TimeStampToken: Sendable {
    /// DER of the token (a CMS ContentInfo of SignedData over TSTInfo).
    public var der: [UInt8]
    /// TSTInfo genTime.
    public var time: Date
    /// URL of the authority that issued it.
    public var url: URL
}

/// RFC 3161 client: SHA-256 requests with a random nonce, tried against each URL in order (fallback).
public struct TimeStampClient: Sendable {
    public var urls: [URL]
    public var timeout: TimeInterval

    public init(urls: [URL], timeout: TimeInterval = 15) {
        self.urls = urls
        self.timeout = timeout
    }

    /// Time-stamps a SHA-256 digest. Checks status, message imprint and nonce of each response.
    /// Throws `tsaUnavailable` listing every URL and its failure when none answered correctly.
    public func timestamp(sha256Digest digest: [UInt8]) async throws -> TimeStampToken {
        guard !urls.isEmpty else { throw SigningError(.tsaUnavailable, "no time-stamp authority configured") }
        var failures: [String] = []
        for url in urls {
            var nonce = [UInt8](repeating: 0, count: 8)
            _ = RAND_bytes(&nonce, 8)
            nonce[0] &= 0x7f
            if nonce[0] == 0 { nonce[0] = 1 }
            guard let req = withAllocated({ out in
                digest.withUnsafeBufferPointer { d in nonce.withUnsafeBufferPointer { n in
                    sb_ts_request(d.baseAddress, Int32(d.count), n.baseAddress, Int32(n.count), out) } }
            }) else { throw SigningError(.cms, "cannot build a time-stamp request") }
            let resp: [UInt8]
            do {
                resp = try await HTTP.post(url, contentType: "application/timestamp-query", body: req, timeout: timeout)
            } catch {
                failures.append("\(url.absoluteString): \(error)")
                continue
            }
            var tokenPtr: UnsafeMutablePointer<UInt8>? = nil
            var tokenLen: Int32 = 0
            var genTime: Int64 = 0
            let rc = resp.withUnsafeBufferPointer { r in digest.withUnsafeBufferPointer { d in nonce.withUnsafeBufferPointer { n in
                sb_ts_response_check(r.baseAddress, Int32(r.count), d.baseAddress, Int32(d.count), n.baseAddress, Int32(n.count),
                                     &tokenPtr, &tokenLen, &genTime) } } }
            switch rc {
            case 0:
                guard let tokenPtr, tokenLen > 0 else { failures.append("\(url.absoluteString): empty token"); continue }
                let token = Array(UnsafeBufferPointer(start: tokenPtr, count: Int(tokenLen)))
                sb_OPENSSL_free(tokenPtr)
                return TimeStampToken(der: token, time: Date(timeIntervalSince1970: TimeInterval(genTime)), url: url)
            case 1: failures.append("\(url.absoluteString): request refused by the authority")
            case 2: failures.append("\(url.absoluteString): response is for a different digest")
            case 3: failures.append("\(url.absoluteString): response nonce does not match the request")
            default: failures.append("\(url.absoluteString): response is not an RFC 3161 time-stamp response")
            }
        }
        throw SigningError(.tsaUnavailable, "no time-stamp authority answered correctly: " + failures.joined(separator: "; "))
    }
}
