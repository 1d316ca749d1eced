import Foundation
import TestSupport
import Testing
@testable import Token

/// Shared fixtures: a SoftHSM dev token per test directory, OpenSSL verification.
enum Fixture {
    static let pinText = "123456"
    static var pin: PIN { PIN(pinText) }

    /// A temp directory removed when the test process exits.
    static func tempDir(_ label: String = "sealbatch-token") throws -> URL {
        let dir = try TestSupport.tempDir(label)
        Cleanup.shared.add(dir)
        return dir
    }

    /// A fresh dev token in its own temp directory.
    static func devToken(_ keyType: DevToken.KeyType = .rsa2048, alwaysAuthenticate: Bool = false, label: String = "test") throws -> DevTokenInfo {
        let dir = try tempDir()
        return try DevToken.create(in: dir, label: label, keyType: keyType, pin: pin, alwaysAuthenticate: alwaysAuthenticate)
    }

    /// An opened and logged-in actor on a fresh dev token.
    static func loggedIn(_ keyType: DevToken.KeyType = .rsa2048, alwaysAuthenticate: Bool = false) async throws -> (SealToken, DevTokenInfo) {
        let info = try devToken(keyType, alwaysAuthenticate: alwaysAuthenticate)
        let token = try await SealToken.open(info.configuration)
        try await token.login(pin: pin)
        return (token, info)
    }

    /// Verifies `signature` over `message` with the certificate's public key using the openssl CLI.
    static func opensslVerifies(certificate: URL, message: [UInt8], signature: [UInt8], hash: String = "sha256", pss: Bool = false) throws -> Bool {
        let dir = try TestSupport.tempDir("sealbatch-verify")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pub = dir.appendingPathComponent("pub.pem")
        let r = try TestSupport.run("openssl", ["x509", "-in", certificate.path, "-pubkey", "-noout"])
        try r.stdout.write(to: pub)
        try Data(message).write(to: dir.appendingPathComponent("msg"))
        try Data(signature).write(to: dir.appendingPathComponent("sig"))
        var args = ["dgst", "-\(hash)", "-verify", pub.path, "-signature", dir.appendingPathComponent("sig").path]
        if pss { args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-sigopt", "rsa_mgf1_md:\(hash)"] }
        args.append(dir.appendingPathComponent("msg").path)
        let v = try TestSupport.run("openssl", args)
        return v.status == 0 && v.out.contains("Verified OK")
    }
}

extension Fixture {
    /// A second, fresh module instance on the same SoftHSM files (SoftHSM reads its token files at
    /// C_Initialize; an extra environment entry makes `PKCS11Module.load` map a private copy).
    static func freshConfiguration(_ info: DevTokenInfo, allowFinalTry: Bool = false) -> TokenConfiguration {
        var c = info.configuration
        c.moduleEnvironment["SEALBATCH_TEST_INSTANCE"] = UUID().uuidString
        c.allowFinalTry = allowFinalTry
        return c
    }

    /// Sets the token-flags word SoftHSM keeps in the token's `token.object` file (attribute
    /// CKA_OS_TOKENFLAGS 0x8000534B, an 8-byte big-endian value). SoftHSM 2.6 never locks a user PIN
    /// by itself, so a locked / final-try token is made by writing the flags a real token would report.
    static func setTokenFlags(_ info: DevTokenInfo, add: UInt) throws {
        let tokens = info.directory.appendingPathComponent("softhsm-tokens")
        let dirs = try FileManager.default.contentsOfDirectory(atPath: tokens.path)
        var patched = 0
        for d in dirs {
            let f = tokens.appendingPathComponent(d).appendingPathComponent("token.object")
            guard var bytes = try? [UInt8](Data(contentsOf: f)) else { continue }
            let marker: [UInt8] = [0, 0, 0, 0, 0x80, 0, 0x53, 0x4b, 0, 0, 0, 0, 0, 0, 0, 2]
            guard let i = (0...(bytes.count - marker.count - 8)).first(where: { Array(bytes[$0..<($0 + marker.count)]) == marker }) else { continue }
            let at = i + marker.count
            var v: UInt = 0
            for k in 0..<8 { v = v << 8 | UInt(bytes[at + k]) }
            v |= add
            for k in 0..<8 { bytes[at + k] = UInt8((v >> (56 - 8 * k)) & 0xff) }
            try Data(bytes).write(to: f)
            patched += 1
        }
        #expect(patched == 1)
    }

    /// A PIN provider that counts how often it is asked.
    actor CountingProvider: PINProvider {
        let text: String
        private(set) var asked = 0
        private(set) var reasons: [PINRequestReason] = []
        init(_ text: String) { self.text = text }
        func pin(for request: PINRequest) async throws -> PIN {
            asked += 1
            reasons.append(request.reason)
            return PIN(text)
        }
    }
}

/// Removes the tests' temp directories at process exit (SoftHSM keeps files open until then).
final class Cleanup: @unchecked Sendable {
    static let shared: Cleanup = {
        let c = Cleanup()
        atexit { Cleanup.shared.removeAll() }
        return c
    }()
    private let lock = NSLock()
    private var dirs: [URL] = []
    func add(_ url: URL) { lock.lock(); dirs.append(url); lock.unlock() }
    func removeAll() {
        lock.lock(); defer { lock.unlock() }
        for d in dirs { try? FileManager.default.removeItem(at: d) }
        dirs.removeAll()
    }
}
