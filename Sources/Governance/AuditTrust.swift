// Trust in the audit log that does not live beside it: the checkpoint signers pinned by an administrator's
// signature, and a witness (another file system, syslog) that keeps the latest head where the registry's
// writers cannot rewrite it.
import Foundation
import Signing
#if canImport(Glibc)
import Glibc
#endif

/// The organisation's list of accepted checkpoint signers, signed by a platform or system administrator.
///
/// Signed bytes (`statement`), UTF-8, one field per line:
/// ```
/// sealbatch-audit-signers/1
/// signed-by=<user id>
/// time=<ms since 1970>
/// signer=<SHA-256 hex of a checkpoint certificate>   (one line each, sorted)
/// ```
/// stored as JSON `{"statement": base64, "signature": base64(detached CMS)}` under meta key
/// `audit.signers.pin`. `AuditLog.verify()` accepts only checkpoints whose signer is listed here.
public struct AuditSignerPin: Sendable, Equatable {
    /// Accepted checkpoint signer fingerprints (SHA-256 hex of the DER certificate), sorted.
    public var signers: [String]
    /// The administrator who signed the list.
    public var signedBy: String
    /// When it was signed (milliseconds precision).
    public var time: Date
    /// Detached CMS SignedData over `statement`.
    public var signature: [UInt8]

    /// Creates a pin value (`Registry.pinAuditSigners` makes and stores signed ones).
    public init(signers: [String], signedBy: String, time: Date, signature: [UInt8]) {
        self.signers = signers.sorted(); self.signedBy = signedBy; self.time = time; self.signature = signature
    }

    /// Meta key of the stored pin.
    public static let metaKey = "audit.signers.pin"

    /// The signed bytes.
    public var statement: [UInt8] { Self.statement(signers: signers, signedBy: signedBy, time: time) }

    /// The signed bytes for given values.
    public static func statement(signers: [String], signedBy: String, time: Date) -> [UInt8] {
        var s = "sealbatch-audit-signers/1\nsigned-by=\(signedBy)\ntime=\(Int64((time.timeIntervalSince1970 * 1000).rounded()))\n"
        for fp in signers.sorted() { s += "signer=\(fp)\n" }
        return Array(s.utf8)
    }

    struct Stored: Codable { var statement: String; var signature: String }

    /// The stored form (JSON).
    public func encoded() -> String {
        let st = Stored(statement: Data(statement).base64EncodedString(), signature: Data(signature).base64EncodedString())
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        // encoding two strings cannot fail
        return String(decoding: (try? enc.encode(st)) ?? Data(), as: UTF8.self)
    }

    /// Reads the stored form; nil when it is not a well-formed pin.
    public static func decode(_ text: String) -> AuditSignerPin? {
        let st: Stored
        do { st = try JSONDecoder().decode(Stored.self, from: Data(text.utf8)) } catch { return nil } // nil: refused as malformed by the caller
        guard let stmt = Data(base64Encoded: st.statement), let sig = Data(base64Encoded: st.signature) else { return nil }
        let lines = String(decoding: stmt, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == "sealbatch-audit-signers/1" else { return nil }
        var by: String?, ms: Int64?, signers: [String] = []
        for l in lines.dropFirst() where !l.isEmpty {
            if l.hasPrefix("signed-by=") { by = String(l.dropFirst(10)) }
            else if l.hasPrefix("time=") { ms = Int64(l.dropFirst(5)) }
            else if l.hasPrefix("signer=") { signers.append(String(l.dropFirst(7))) }
            else { return nil }
        }
        guard let by, let ms else { return nil }
        let pin = AuditSignerPin(signers: signers.sorted(), signedBy: by, time: Date(timeIntervalSince1970: Double(ms) / 1000), signature: Array(sig))
        // the statement must be exactly what the fields say (no reordering, no extra bytes)
        guard pin.statement == Array(stmt) else { return nil }
        return pin
    }
}

/// Where the latest signed audit head is also written, outside the registry's reach.
///
/// Configured by `$SEALBATCH_AUDIT_WITNESS`, `--audit-witness` or the pipeline's
/// `governance.audit-witness`: a comma-separated list of file paths and the word `syslog`.
/// - a file gets one JSON line per checkpoint (`sealbatch-audit-witness/1`: log id, checkpoint id, seq,
///   record hash, time, signer certificate and CMS signature), appended with `O_APPEND` and flushed, so it
///   can live on another file system or be made append-only (`chattr +a`);
/// - `syslog` sends `sealbatch-audit-head/1 log=… checkpoint=… seq=… hash=… time=…` to syslog(3)
///   (facility authpriv, identity `sealbatch-audit`), which journald or a remote syslog keeps.
/// `audit verify --witness FILE` reads either form (a syslog or `journalctl -t sealbatch-audit` export
/// works as is). The log id is the hash of the log's first record.
public struct AuditWitness: Sendable, Equatable, CustomStringConvertible {
    /// One place the head goes.
    public enum Target: Sendable, Equatable {
        /// An append-only file (another file system).
        case file(String)
        /// syslog(3) / journald.
        case syslog
    }
    /// Where heads are written.
    public var targets: [Target]

    /// Creates a witness.
    public init(targets: [Target]) { self.targets = targets }

    /// The environment variable naming the witness.
    public static let environmentKey = "SEALBATCH_AUDIT_WITNESS"

    /// Parses `syslog,/mnt/witness/audit.log`. Relative paths resolve against `baseDir`.
    public static func parse(_ spec: String, baseDir: URL? = nil) throws -> AuditWitness {
        var t: [Target] = []
        for part in spec.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            if part == "syslog" { t.append(.syslog); continue }
            let path = part.hasPrefix("/") || baseDir == nil ? part : baseDir!.appendingPathComponent(part).standardizedFileURL.path
            t.append(.file(path))
        }
        guard !t.isEmpty else { throw GovernanceError(.invalidInput, "the audit witness '\(spec)' names no file and not 'syslog'") }
        return AuditWitness(targets: t)
    }

    /// The witness named by `$SEALBATCH_AUDIT_WITNESS` (nil when unset or empty).
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> AuditWitness? {
        guard let s = env[environmentKey], !s.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        return try parse(s)
    }

    /// A clerk-readable complaint when `$SEALBATCH_AUDIT_WITNESS` is set but names nothing usable (nil when fine).
    public static func environmentError(_ env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        do { _ = try fromEnvironment(env); return nil } catch let e as GovernanceError { return "\(environmentKey): \(e.detail)" } catch { return "\(error)" }
    }

    /// `file:/path, syslog`.
    public var description: String {
        targets.map { if case .file(let p) = $0 { return p } else { return "syslog" } }.joined(separator: ", ")
    }

    /// One head as a witness holds it.
    public struct Entry: Sendable, Equatable {
        /// Hash of the log's first record.
        public var log: String
        /// Checkpoint id (nil when unknown).
        public var checkpoint: Int64?
        /// Last record covered.
        public var seq: Int64
        /// Its hash.
        public var hash: String
        /// The signed checkpoint, when the witness carries it (file witness).
        public var signed: AuditCheckpoint?
        /// Line number in the witness file (1-based).
        public var line: Int
    }

    struct FileLine: Codable {
        var format: String
        var log: String
        var checkpoint: Int64
        var seq: Int64
        var hash: String
        var timeMs: Int64
        var signer: String
        var signature: String
        enum CodingKeys: String, CodingKey { case format, log, checkpoint, seq, hash, timeMs = "time-ms", signer, signature }
    }

    static let fileFormat = "sealbatch-audit-witness/1"
    static let syslogMarker = "sealbatch-audit-head/1 "

    /// Writes a checkpoint to every target. Throws (naming the target) when one cannot be written.
    public func record(_ c: AuditCheckpoint, log: String) throws {
        for t in targets {
            switch t {
            case .file(let path):
                let l = FileLine(format: Self.fileFormat, log: log, checkpoint: c.id, seq: c.seq, hash: c.recordHash,
                                 timeMs: Int64((c.time.timeIntervalSince1970 * 1000).rounded()),
                                 signer: Data(c.signerCertificateDER).base64EncodedString(), signature: Data(c.signature).base64EncodedString())
                let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                var bytes = Array(try enc.encode(l)); bytes.append(0x0a)
                try Self.append(bytes, to: path)
            case .syslog:
                let msg = "\(Self.syslogMarker)log=\(log) checkpoint=\(c.id) seq=\(c.seq) hash=\(c.recordHash) time=\(Int64((c.time.timeIntervalSince1970 * 1000).rounded()))"
                Self.syslog(msg)
            }
        }
    }

    static func append(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else {
            throw GovernanceError(.storage, "cannot open the audit witness \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else {
            throw GovernanceError(.storage, "cannot append to the audit witness \(path): \(n < 0 ? String(cString: strerror(errno)) : "short write")")
        }
        guard fsync(fd) == 0 else { throw GovernanceError(.storage, "cannot flush the audit witness \(path): \(String(cString: strerror(errno)))") }
    }

    static func syslog(_ message: String) {
        "sealbatch-audit".withCString { ident in
            openlog(ident, LOG_PID, LOG_AUTHPRIV)
            message.withCString { m in withVaList([m]) { vsyslog(LOG_NOTICE, "%s", $0) } }
            closelog()
        }
    }

    /// Reads a witness file: JSON lines this program wrote, or syslog / journal lines carrying the
    /// `sealbatch-audit-head/1` marker (other lines are skipped). A malformed witness line is an error.
    public static func read(path: String) throws -> [Entry] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw GovernanceError(.notFound, "cannot read the audit witness \(path): \(error.localizedDescription)")
        }
        var out: [Entry] = []
        for (i, raw) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            if line.hasPrefix("{") {
                let l: FileLine
                do { l = try JSONDecoder().decode(FileLine.self, from: Data(line.utf8)) } catch {
                    throw GovernanceError(.invalidInput, "\(path) line \(i + 1) is not an audit witness entry: \(error)")
                }
                guard l.format == fileFormat, let signer = Data(base64Encoded: l.signer), let sig = Data(base64Encoded: l.signature) else {
                    throw GovernanceError(.invalidInput, "\(path) line \(i + 1) is not an audit witness entry")
                }
                let c = AuditCheckpoint(id: l.checkpoint, seq: l.seq, recordHash: l.hash, time: Date(timeIntervalSince1970: Double(l.timeMs) / 1000),
                                        signerCertificateDER: Array(signer), signature: Array(sig))
                out.append(Entry(log: l.log, checkpoint: l.checkpoint, seq: l.seq, hash: l.hash, signed: c, line: i + 1))
            } else if let r = line.range(of: syslogMarker) {
                var f: [String: String] = [:]
                for kv in line[r.upperBound...].split(separator: " ") {
                    let p = kv.split(separator: "=", maxSplits: 1)
                    if p.count == 2 { f[String(p[0])] = String(p[1]) }
                }
                guard let log = f["log"], let seqText = f["seq"], let seq = Int64(seqText), let hash = f["hash"] else {
                    throw GovernanceError(.invalidInput, "\(path) line \(i + 1) carries a malformed audit head")
                }
                out.append(Entry(log: log, checkpoint: f["checkpoint"].flatMap { Int64($0) }, seq: seq, hash: hash, signed: nil, line: i + 1))
            }
        }
        return out
    }
}

extension Registry {
    /// Pins the accepted audit checkpoint signers: `certificates` (DER) become the only keys whose
    /// checkpoints `audit verify` accepts. Only a platform administrator or a system administrator may
    /// do it, signing with their own registered key (`identity`). Audited as `audit.pin-signers`;
    /// a refusal is audited too.
    @discardableResult
    public func pinAuditSigners(_ certificates: [[UInt8]], identity: DetachedSignature.Identity, as actor: AuthenticatedUser,
                                at time: Date = Date()) throws -> AuditSignerPin {
        let action = "audit.pin-signers"
        let roles = try store.roleGrants(user: actor.id).map(\.role)
        guard roles.contains(.platformAdmin) || roles.contains(.systemAdmin) else {
            try refused(action, GovernanceError(.notAuthorised, "only a platform or system administrator may pin the audit checkpoint signers",
                                                missingRight: "platform-admin or system-admin"), actor: actor.id, at: time)
        }
        guard let fp = actor.user.certificateSHA256, identity.certificate.sha256Fingerprint == fp else {
            try refused(action, GovernanceError(.authenticationFailed, "the signing key is not \(actor.id)'s registered key"), actor: actor.id, at: time)
        }
        guard !certificates.isEmpty else { throw GovernanceError(.invalidInput, "name at least one audit checkpoint certificate to pin") }
        var fps: [String] = []
        for der in certificates {
            do { fps.append(try DetachedSignature.Certificate(der: der).sha256Fingerprint) }
            catch { throw GovernanceError(.invalidInput, "an audit certificate to pin is not readable: \(error)") }
        }
        fps = Array(Set(fps)).sorted()
        let t = Date(timeIntervalSince1970: (time.timeIntervalSince1970 * 1000).rounded() / 1000)
        let statement = AuditSignerPin.statement(signers: fps, signedBy: actor.id, time: t)
        let sig: [UInt8]
        do { sig = try identity.sign(statement) } catch { throw GovernanceError(.invalidInput, "cannot sign the audit signer list: \(error)") }
        let pin = AuditSignerPin(signers: fps, signedBy: actor.id, time: t, signature: sig)
        for der in certificates { try audit.registerSigner(der) }
        try store.setMeta(AuditSignerPin.metaKey, pin.encoded())
        try audit.append(AuditEntry(actor: actor.id, action: action, outcome: .ok,
                                    detail: "audit checkpoint signers pinned: " + fps.map { "sha256 \($0)" }.joined(separator: ", ")), at: time)
        return pin
    }
}
