import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Small HTTP client for TSA, CRL and OCSP traffic (http/https through Foundation).
enum HTTP {
    static func session(timeout: TimeInterval) -> URLSession {
        let c = URLSessionConfiguration.ephemeral
        c.timeoutIntervalForRequest = timeout
        c.timeoutIntervalForResource = timeout
        return URLSession(configuration: c)
    }

    /// POSTs `body` with a content type; returns the body of a 200 response or throws a plain message.
    static func post(_ url: URL, contentType: String, body: [UInt8], timeout: TimeInterval) async throws -> [UInt8] {
        var req = URLRequest(url: url)
        req.httpMethod = "POST"
        req.setValue(contentType, forHTTPHeaderField: "Content-Type")
        req.httpBody = Data(body)
        return try await send(req, timeout: timeout)
    }

    static func get(_ url: URL, timeout: TimeInterval) async throws -> [UInt8] {
        try await send(URLRequest(url: url), timeout: timeout)
    }

    private static func send(_ req: URLRequest, timeout: TimeInterval) async throws -> [UInt8] {
        let s = session(timeout: timeout)
        defer { s.finishTasksAndInvalidate() }
        let (data, resp) = try await s.data(for: req)
        guard let h = resp as? HTTPURLResponse else { throw HTTPError(message: "no HTTP response") }
        guard h.statusCode == 200 else { throw HTTPError(message: "HTTP status \(h.statusCode)") }
        return [UInt8](data)
    }

    struct HTTPError: Error, CustomStringConvertible { let message: String; var description: String { message } }
}
