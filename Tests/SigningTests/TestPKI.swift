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
    private let process: Process
    private let stdinPipe: Pipe

    static let shared: Result<TestPKI, Error> = Result { try TestPKI() }
    static func get() throws -> TestPKI { try shared.get() }

    private init() throws {
        dir = try TestSupport.tempDir("sealbatch-pki")
        let support = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support")
        process = Process()
        process.executableURL = URL(fileURLWithPath: TestSupport.which("python3") ?? "/usr/bin/python3")
        process.arguments = ["-u", support.appendingPathComponent("responder.py").path, dir.path]
        let out = Pipe()
        stdinPipe = Pipe()
        process.standardOutput = out
        process.standardInput = stdinPipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        // First line: the port.
        var line = [UInt8]()
        while true {
            let b = out.fileHandleForReading.readData(ofLength: 1)
            if b.isEmpty || b.first == 0x0a { break }
            line.append(contentsOf: b)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self)) else { throw FixtureError(message: "responder.py printed no port") }
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
