import Foundation
import TestSupport
import Testing
@testable import Token

/// Shared fixtures: a SoftHSM dev token per test directory, OpenSSL verification.
enum Fixture {
    static let pinText = "123456"
    static var pin: PIN { PIN(pinText) }

    /// A fresh dev token in its own temp directory.
    static func devToken(_ keyType: DevToken.KeyType = .rsa2048, alwaysAuthenticate: Bool = false, label: String = "test") throws -> DevTokenInfo {
        let dir = try TestSupport.tempDir("sealbatch-token")
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
