import Foundation

/// How to reach the seal key: which PKCS#11 module, which key and certificate, which reader gates it.
/// Decodes from JSON with kebab-case keys; unknown keys are rejected.
///
/// ```json
/// { "module": "/usr/lib/softhsm/libsofthsm2.so",
///   "key": "pkcs11:token=Seal;object=seal;type=private",
///   "module-environment": { "SOFTHSM2_CONF": "/srv/seal/softhsm2.conf" },
///   "presence-reader": "Virtual PCD 00 00" }
/// ```
public struct TokenConfiguration: Sendable, Codable, Hashable {
    /// Path of the vendor PKCS#11 library (dlopen'ed at run time).
    public var module: String
    /// RFC 7512 URI of the private key.
    public var key: PKCS11URI
    /// RFC 7512 URI of the certificate; default: the certificate with the key's CKA_ID (or label).
    public var certificate: PKCS11URI?
    /// Variables the module reads at `C_Initialize` (e.g. `SOFTHSM2_CONF`).
    public var moduleEnvironment: [String: String]
    /// PC/SC reader whose card presence gates signing (a card must be in it). Nil: PKCS#11 slot state only.
    public var presenceReader: String?
    /// Whether a login may spend the token's final PIN try (CKF_USER_PIN_FINAL_TRY). Default false.
    public var allowFinalTry: Bool
    /// How often (seconds) to poll the slot when the module has no slot events and no reader is set.
    public var pollInterval: Double

    public init(module: String, key: PKCS11URI, certificate: PKCS11URI? = nil, moduleEnvironment: [String: String] = [:],
                presenceReader: String? = nil, allowFinalTry: Bool = false, pollInterval: Double = 0.25) {
        self.module = module; self.key = key; self.certificate = certificate
        self.moduleEnvironment = moduleEnvironment; self.presenceReader = presenceReader
        self.allowFinalTry = allowFinalTry; self.pollInterval = pollInterval
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case module, key, certificate
        case moduleEnvironment = "module-environment"
        case presenceReader = "presence-reader"
        case allowFinalTry = "allow-final-try"
        case pollInterval = "poll-interval"
    }

    private struct AnyKey: CodingKey {
        var stringValue: String; var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let any = try decoder.container(keyedBy: AnyKey.self)
        let known = Set(CodingKeys.allCases.map(\.rawValue))
        for k in any.allKeys where !known.contains(k.stringValue) {
            throw DecodingError.dataCorruptedError(forKey: k, in: any, debugDescription: "unknown key '\(k.stringValue)' in token configuration")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        module = try c.decode(String.self, forKey: .module)
        do { key = try PKCS11URI(try c.decode(String.self, forKey: .key)) }
        catch let e as TokenError { throw DecodingError.dataCorruptedError(forKey: .key, in: c, debugDescription: e.message) }
        if let cert = try c.decodeIfPresent(String.self, forKey: .certificate) {
            do { certificate = try PKCS11URI(cert) }
            catch let e as TokenError { throw DecodingError.dataCorruptedError(forKey: .certificate, in: c, debugDescription: e.message) }
        }
        moduleEnvironment = try c.decodeIfPresent([String: String].self, forKey: .moduleEnvironment) ?? [:]
        presenceReader = try c.decodeIfPresent(String.self, forKey: .presenceReader)
        allowFinalTry = try c.decodeIfPresent(Bool.self, forKey: .allowFinalTry) ?? false
        pollInterval = try c.decodeIfPresent(Double.self, forKey: .pollInterval) ?? 0.25
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(module, forKey: .module)
        try c.encode(key.description, forKey: .key)
        try c.encodeIfPresent(certificate?.description, forKey: .certificate)
        if !moduleEnvironment.isEmpty { try c.encode(moduleEnvironment, forKey: .moduleEnvironment) }
        try c.encodeIfPresent(presenceReader, forKey: .presenceReader)
        if allowFinalTry { try c.encode(allowFinalTry, forKey: .allowFinalTry) }
    }

    /// Reads a configuration file (JSON).
    public static func load(from url: URL) throws -> TokenConfiguration {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TokenError(.invalidConfiguration, "cannot read the token configuration \(url.path)", context: url.path)
        }
        do { return try JSONDecoder().decode(TokenConfiguration.self, from: data) } catch let DecodingError.dataCorrupted(ctx) {
            let path = ctx.codingPath.map(\.stringValue).joined(separator: ".")
            throw TokenError(.invalidConfiguration, "token configuration \(path.isEmpty ? "" : "at '\(path)' ")is invalid: \(ctx.debugDescription)", context: url.path)
        } catch let DecodingError.keyNotFound(k, _) {
            throw TokenError(.invalidConfiguration, "token configuration lacks '\(k.stringValue)'", context: url.path)
        } catch {
            throw TokenError(.invalidConfiguration, "token configuration is invalid: \(error)", context: url.path)
        }
    }

    /// Semantic checks: module path is absolute and exists; the key URI selects a private key.
    public func validate() throws {
        guard module.hasPrefix("/") else { throw TokenError(.invalidConfiguration, "module must be an absolute path, got '\(module)'") }
        guard FileManager.default.fileExists(atPath: module) else {
            throw TokenError(.invalidConfiguration, "module \(module) does not exist (is the vendor's PKCS#11 library installed?)")
        }
        if let t = key.type, t != .private { throw TokenError(.invalidConfiguration, "key URI must select type=private, not type=\(t.rawValue)") }
        if key.object == nil && key.id == nil {
            throw TokenError(.invalidConfiguration, "key URI must name the key with object= or id=")
        }
    }
}
