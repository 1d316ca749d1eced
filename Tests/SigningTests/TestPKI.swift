import Foundation
import TestSupport
@testable import Signing

/// A throwaway PKI plus a loopback TSA / CRL / OCSP responder, made once per test process.
///
/// `Support/make-pki.sh` creates the certificates with the openssl CLI; `Support/responder.py` serves
/// RFC 3161, CRLs and RFC 6960 on 127.0.0.1 (ephemeral port) and exits when this process goes away.
final class TestPKI: @unchecked Sendable {
    let dir: URL
    let base: String
    /// Lives as long as the test process; exits when its stdin (our pipe) closes.
    private let process: Subprocess

    static let shared: Result<TestPKI, Error> = Result { try TestPKI() }
    static func get() throws -> TestPKI { try shared.get() }

    private init() throws {
        dir = try TestSupport.tempDir("sealbatch-pki")
        let support = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support")
        process = try TestSupport.spawn("python3", ["-u", support.appendingPathComponent("responder.py").path, dir.path],
                                        stdin: .pipe, stdout: .pipe)
        // First line: the port.
        let line = process.readStdoutLine(timeout: 30) ?? ""
        guard let port = Int(line) else { throw FixtureError(message: "responder.py printed no port") }
        base = "http://127.0.0.1:\(port)"
        let r = try TestSupport.run("bash", [support.appendingPathComponent("make-pki.sh").path, dir.path, base])
        if r.status != 0 { throw FixtureError(message: "make-pki.sh failed: \(r.err)") }
    }

    func url(_ name: String) -> URL { dir.appendingPathComponent(name) }
    var tsaURL: URL { URL(string: base + "/tsa")! }
    var root: URL { url("root.crt") }

    /// A software key for one of the leaf names (leaf, leaf-ec, leaf-expired, leaf-revoked, untrusted-leaf).
    func key(_ name: String = "leaf") throws -> SoftwareKey {
        let chain = name == "untrusted-leaf" ? [url("untrusted-leaf.crt"), url("untrusted.crt")] : [url("\(name).crt"), url("inter.crt"), url("root.crt")]
        return try SoftwareKey(keyPEM: url("\(name).key"), certificatesPEM: chain)
    }

    /// How often the responder served a path (e.g. "crl/inter.crl", "ocsp", "tsa").
    func hits(_ path: String) -> Int {
        let f = dir.appendingPathComponent("hits-" + path.replacingOccurrences(of: "/", with: "_"))
        return Int((try? String(contentsOf: f, encoding: .utf8)) ?? "0") ?? 0
    }
}

struct FixtureError: Error, CustomStringConvertible { let message: String; var description: String { message } }
