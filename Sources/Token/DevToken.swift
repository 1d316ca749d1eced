import CPKCS11
import Foundation
import Subprocess

/// What `DevToken.create` made: everything a test or `make demo` needs to sign with it.
public struct DevTokenInfo: Sendable {
    /// The workspace directory holding the SoftHSM config, token files and DEV-ONLY CA.
    public let directory: URL
    /// Token label.
    public let label: String
    /// SOFTHSM2_CONF to use for this token.
    public let softhsmConf: URL
    /// The SoftHSM2 PKCS#11 module.
    public let modulePath: String
    /// RFC 7512 URI of the seal key.
    public let keyURI: PKCS11URI
    /// DEV-ONLY root CA certificate (PEM): the trust anchor for tests.
    public let caCertificate: URL
    /// DEV-ONLY issuing (intermediate) CA certificate (PEM).
    public let intermediateCertificate: URL
    /// The seal certificate (PEM), also stored on the token.
    public let certificate: URL
    /// A ready token configuration (also written to `token.json` in the directory).
    public let configuration: TokenConfiguration
}

/// A SoftHSM2 token for development and tests, so nothing needs hardware. NOT FOR PRODUCTION:
/// the CA key lies unprotected in the workspace and every certificate says DEV-ONLY.
public enum DevToken {
    /// Key types a development token can hold.
    public enum KeyType: String, Sendable, CaseIterable {
        case rsa2048 = "rsa2048", ecP256 = "ec-p256", ecP384 = "ec-p384"
    }

    /// Default location of the SoftHSM2 module on Debian/Ubuntu.
    public static let defaultModulePath = "/usr/lib/softhsm/libsofthsm2.so"

    /// Creates (or, when the same label already exists in `directory`, reuses) a SoftHSM2 token:
    /// writes `softhsm2.conf` with its token directory inside `directory`, initialises the token
    /// through C_InitToken/C_InitPIN (random SO PIN, discarded), generates the key on the token,
    /// issues its certificate from a DEV-ONLY CA with the `openssl` CLI (no PIN is passed to it), and
    /// stores the certificate and the CA certificates on the token.
    public static func create(in directory: URL, label: String = "sealbatch-dev", keyType: KeyType = .rsa2048,
                              pin: borrowing PIN, alwaysAuthenticate: Bool = false, keyLabel: String = "seal",
                              modulePath: String = defaultModulePath, openssl: String = "/usr/bin/openssl") throws -> DevTokenInfo {
        let fm = FileManager.default
        let dir = directory.standardizedFileURL
        let tokens = dir.appendingPathComponent("softhsm-tokens")
        do {
            try fm.createDirectory(at: tokens, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch { throw TokenError(.devTokenFailed, "cannot create \(tokens.path): \(error)") }
        let conf = dir.appendingPathComponent("softhsm2.conf")
        let confText = """
        # SoftHSM2 configuration for a sealbatch DEVELOPMENT token. NOT FOR PRODUCTION.
        directories.tokendir = \(tokens.path)
        objectstore.backend = file
        log.level = ERROR
        slots.removable = false
        slots.mechanisms = ALL

        """
        if (try? String(contentsOf: conf, encoding: .utf8)) != confText {
            do { try confText.write(to: conf, atomically: true, encoding: .utf8) } catch {
                throw TokenError(.devTokenFailed, "cannot write \(conf.path): \(error)")
            }
        }
        let env = ["SOFTHSM2_CONF": conf.path]
        let module = try PKCS11Module.load(path: modulePath, environment: env)
        let keyID: [UInt8] = Array("seal-\(keyLabel)".utf8).prefix(16).map { $0 }
        var uri = PKCS11URI()
        uri.token = label; uri.object = keyLabel; uri.type = .private
        let caKey = dir.appendingPathComponent("DEV-ONLY-root-ca.key")
        let caCert = dir.appendingPathComponent("DEV-ONLY-root-ca.crt")
        let intKey = dir.appendingPathComponent("DEV-ONLY-issuing-ca.key")
        let intCert = dir.appendingPathComponent("DEV-ONLY-issuing-ca.crt")
        let leafCert = dir.appendingPathComponent("\(label)-\(keyLabel).DEV-ONLY.crt")
        let config = TokenConfiguration(module: modulePath, key: uri, moduleEnvironment: env)
        let info = DevTokenInfo(directory: dir, label: label, softhsmConf: conf, modulePath: modulePath, keyURI: uri,
                                caCertificate: caCert, intermediateCertificate: intCert, certificate: leafCert, configuration: config)

        // Reuse an existing token with this label.
        for s in try module.slots(tokenPresent: true) {
            if let t = try? module.tokenInfo(s), t.initialized, t.label == label {
                guard fm.fileExists(atPath: leafCert.path) else {
                    throw TokenError(.devTokenFailed, "a token labelled '\(label)' already exists in \(dir.path) but has no certificate \(leafCert.lastPathComponent); use another label or directory")
                }
                try writeConfig(config, dir: dir)
                return info
            }
        }
        guard let free = try module.slots(tokenPresent: true).first(where: { (try? module.tokenInfo($0))?.initialized == false }) else {
            throw TokenError(.devTokenFailed, "SoftHSM offers no free slot in \(tokens.path)")
        }
        // SO PIN: random, used once, never stored.
        var soBytes = (0..<16).map { _ in UInt8.random(in: 0x61...0x7a) }
        let soPIN = PIN(consuming: &soBytes)
        try module.initToken(slot: free, soPIN: soPIN, label: label)
        // SoftHSM moves an initialised token to a new slot ID: find it by label.
        guard let slot = try module.slots(tokenPresent: true).first(where: { (try? module.tokenInfo($0))?.label == label }) else {
            throw TokenError(.devTokenFailed, "the new token '\(label)' did not appear")
        }
        let session = try module.openSession(slot: slot, readWrite: true)
        defer { session.close() }
        try session.login(.securityOfficer, pin: soPIN)
        try session.initPIN(pin)
        session.logout()
        try session.login(.user, pin: pin)
        defer { session.logout() }

        // Key pair on the token.
        let common: [P11Attribute] = [.bool(UInt(CKA_TOKEN), true), .string(UInt(CKA_LABEL), keyLabel), .bytes(UInt(CKA_ID), keyID)]
        var pubT = common + [.bool(UInt(CKA_VERIFY), true)]
        var privT = common + [.bool(UInt(CKA_PRIVATE), true), .bool(UInt(CKA_SENSITIVE), true), .bool(UInt(CKA_EXTRACTABLE), false), .bool(UInt(CKA_SIGN), true)]
        if alwaysAuthenticate { privT.append(.bool(UInt(CKA_ALWAYS_AUTHENTICATE), true)) }
        let mech: UInt
        switch keyType {
        case .rsa2048:
            mech = UInt(CKM_RSA_PKCS_KEY_PAIR_GEN)
            pubT += [.ulong(UInt(CKA_MODULUS_BITS), 2048), .bytes(UInt(CKA_PUBLIC_EXPONENT), [1, 0, 1])]
        case .ecP256, .ecP384:
            mech = UInt(CKM_EC_KEY_PAIR_GEN)
            pubT += [.bytes(UInt(CKA_EC_PARAMS), (keyType == .ecP256 ? ECCurve.p256 : ECCurve.p384).oidDER)]
        }
        let (pub, _) = try session.generateKeyPair(mechanism: mech, publicTemplate: pubT, privateTemplate: privT)
        let spki: [UInt8]
        switch keyType {
        case .rsa2048:
            guard let n = try session.attribute(pub, UInt(CKA_MODULUS)), let e = try session.attribute(pub, UInt(CKA_PUBLIC_EXPONENT)) else {
                throw TokenError(.devTokenFailed, "the token did not return the RSA public key")
            }
            spki = DER.rsaSPKI(modulus: n, exponent: e)
        case .ecP256, .ecP384:
            guard let p = try session.attribute(pub, UInt(CKA_EC_POINT)) else { throw TokenError(.devTokenFailed, "the token did not return the EC point") }
            // CKA_EC_POINT is DER OCTET STRING wrapping the uncompressed point (SoftHSM); accept raw too.
            var point = p
            if p.first == 0x04, let (node, rest) = try? DER.read(p[...]), rest.isEmpty, node.content.first == 0x04 { point = Array(node.content) }
            spki = DER.ecSPKI(curveOID: (keyType == .ecP256 ? ECCurve.p256 : ECCurve.p384).oidDER, point: point)
        }
        let pubPEM = dir.appendingPathComponent("\(label)-\(keyLabel).pub.pem")
        try pem(spki, "PUBLIC KEY").write(to: pubPEM, atomically: true, encoding: .utf8)

        // DEV-ONLY CA (root + issuing), reused across tokens in the same workspace.
        let ext = dir.appendingPathComponent("DEV-ONLY-extensions.cnf")
        try """
        # Extensions for sealbatch DEVELOPMENT certificates. NOT FOR PRODUCTION.
        [ca]
        basicConstraints = critical, CA:TRUE, pathlen:0
        keyUsage = critical, keyCertSign, cRLSign
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always
        [seal]
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature, nonRepudiation
        subjectKeyIdentifier = hash
        authorityKeyIdentifier = keyid:always

        """.write(to: ext, atomically: true, encoding: .utf8)
        if !fm.fileExists(atPath: caCert.path) || !fm.fileExists(atPath: intCert.path) {
            try runOpenSSL(openssl, ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                     "-keyout", caKey.path, "-out", caCert.path, "-days", "3650",
                                     "-subj", "/O=sealbatch DEVELOPMENT/CN=sealbatch DEV-ONLY Root CA - NOT FOR PRODUCTION"])
            try runOpenSSL(openssl, ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", intKey.path])
            let intPub = dir.appendingPathComponent("DEV-ONLY-issuing-ca.pub.pem")
            try runOpenSSL(openssl, ["pkey", "-in", intKey.path, "-pubout", "-out", intPub.path])
            try runOpenSSL(openssl, ["x509", "-new", "-force_pubkey", intPub.path, "-CA", caCert.path, "-CAkey", caKey.path,
                                     "-subj", "/O=sealbatch DEVELOPMENT/CN=sealbatch DEV-ONLY Issuing CA - NOT FOR PRODUCTION",
                                     "-days", "3650", "-extfile", ext.path, "-extensions", "ca", "-out", intCert.path])
            chmod(caKey.path, 0o600); chmod(intKey.path, 0o600)
        }
        try runOpenSSL(openssl, ["x509", "-new", "-force_pubkey", pubPEM.path, "-CA", intCert.path, "-CAkey", intKey.path,
                                 "-subj", "/O=sealbatch DEVELOPMENT/OU=DEV-ONLY seal - NOT FOR PRODUCTION/CN=\(label) \(keyLabel) (DEV-ONLY)",
                                 "-days", "825", "-extfile", ext.path, "-extensions", "seal", "-out", leafCert.path])

        // Certificates on the token: the seal certificate with the key's id and label; the CA chain beside it.
        func store(_ pemFile: URL, label l: String, id: [UInt8], authority: Bool) throws {
            let der = try derFromPEM(pemFile)
            let parts = try DER.certificateParts(der)
            try session.createObject([
                .ulong(UInt(CKA_CLASS), UInt(CKO_CERTIFICATE)), .ulong(UInt(CKA_CERTIFICATE_TYPE), UInt(CKC_X_509)),
                .bool(UInt(CKA_TOKEN), true), .bool(UInt(CKA_PRIVATE), false), .string(UInt(CKA_LABEL), l), .bytes(UInt(CKA_ID), id),
                .bytes(UInt(CKA_SUBJECT), parts.subject), .bytes(UInt(CKA_ISSUER), parts.issuer),
                .bytes(UInt(CKA_SERIAL_NUMBER), parts.serial), .bytes(UInt(CKA_VALUE), der),
                .ulong(UInt(CKA_CERTIFICATE_CATEGORY), authority ? 2 : 1),
            ])
        }
        try store(leafCert, label: keyLabel, id: keyID, authority: false)
        try store(intCert, label: "DEV-ONLY issuing CA", id: Array("dev-issuing-ca".utf8), authority: true)
        try store(caCert, label: "DEV-ONLY root CA", id: Array("dev-root-ca".utf8), authority: true)
        try writeConfig(config, dir: dir)
        return info
    }

    private static func writeConfig(_ config: TokenConfiguration, dir: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try enc.encode(config).write(to: dir.appendingPathComponent("token.json"))
    }

    static func pem(_ der: [UInt8], _ kind: String) -> String {
        let b64 = Data(der).base64EncodedString()
        var lines: [String] = []
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 64, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[i..<j])); i = j
        }
        return "-----BEGIN \(kind)-----\n" + lines.joined(separator: "\n") + "\n-----END \(kind)-----\n"
    }

    /// The DER bytes of the first PEM block in a file.
    public static func derFromPEM(_ url: URL) throws -> [UInt8] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw TokenError(.devTokenFailed, "cannot read \(url.path)") }
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let endMarker = text.range(of: "-----END")
        let firstBlock = endMarker.map { String(text[..<$0.lowerBound]) } ?? text
        let b64 = firstBlock.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let d = Data(base64Encoded: b64.isEmpty ? body : b64) else { throw TokenError(.devTokenFailed, "\(url.path) is not PEM") }
        return Array(d)
    }

    private static func runOpenSSL(_ openssl: String, _ args: [String]) throws {
        let r: Subprocess.Result
        do { r = try Subprocess.run(openssl, args, timeout: 120) } catch { throw TokenError(.devTokenFailed, "cannot run \(openssl): \(error)") }
        guard r.status == 0, !r.timedOut else {
            throw TokenError(.devTokenFailed, "openssl \(args.first ?? "") failed\(r.timedOut ? " (no answer in 120 s)" : ""): \(String(decoding: r.stderr.prefix(400), as: UTF8.self))")
        }
    }
}
