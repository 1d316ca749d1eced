import Foundation
import Governance
import Pipeline
import Render
import Signing
import Token
#if canImport(Glibc)
import Glibc
#endif

/// Everything a pipeline needs before it may seal, checked without sealing, without asking the PIN and
/// without creating anything: `sealbatch check PIPELINE`, and the same checks when `sealbatch run` (or a
/// daemon) starts. Each problem is one finding with a stable code, a message naming the file or setting,
/// and the fix. A check that cannot be made is a failure, never a pass.
public enum PipelineCheck {
    /// One result line.
    public struct Finding: Sendable, Encodable, Equatable {
        /// How bad it is.
        public enum Level: String, Sendable, Encodable { case ok, warning, failure }
        /// What was checked (`config`, `registry`, `audit`, `seal`, `token`, `trust`, `folders`).
        public let check: String
        /// ok, warning (the run works, but read it) or failure (the pipeline may not run).
        public let level: Level
        /// Stable code (`registry-missing`, `token-absent`, …; `ok` when it passed).
        public let code: String
        /// What was found, naming the file or setting.
        public let message: String
        /// What to do about it (nil when it passed).
        public let fix: String?

        /// Creates a finding.
        public init(_ check: String, _ level: Level, _ code: String, _ message: String, fix: String? = nil) {
            self.check = check; self.level = level; self.code = code; self.message = message; self.fix = fix
        }
    }

    /// All findings for one pipeline.
    public struct Report: Sendable, Encodable {
        /// The pipeline file.
        public let pipeline: String
        /// Every finding, in the order checked.
        public var findings: [Finding] = []
        /// An empty report for a pipeline file.
        public init(pipeline: String) { self.pipeline = pipeline }
        /// True when nothing failed (warnings allowed).
        public var ok: Bool { !findings.contains { $0.level == .failure } }
        /// The failures.
        public var failures: [Finding] { findings.filter { $0.level == .failure } }
        enum CodingKeys: String, CodingKey { case pipeline, ok, findings }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(pipeline, forKey: .pipeline); try c.encode(ok, forKey: .ok); try c.encode(findings, forKey: .findings)
        }
    }

    /// Where the checks run.
    public enum Mode: Sendable {
        /// `sealbatch check`: every problem is reported, the token must be there.
        case check
        /// The start of `sealbatch run`: a missing module or an absent token is left to the sign stage, which
        /// stops the batch (or lets the daemon wait) without charging any document; the certificate binding is
        /// checked by the run itself, with its audit record.
        case runStart
    }

    /// Loads the pipeline file and checks it.
    public static func run(pipeline url: URL, mode: Mode = .check, auditWitness: String? = nil) async -> Report {
        var report = Report(pipeline: url.path)
        let registry = StandardStages.registry()
        let config: PipelineConfig
        let stages: [BuiltStage]
        let shared = SharedObjects()
        do {
            config = try PipelineConfig.load(from: url, registry: registry)
            stages = try config.makeStages(registry: registry, shared: shared)
        } catch {
            report.findings.append(Finding("config", .failure, "config-invalid", "\(url.path): \(error)",
                                           fix: "Correct the pipeline file at the place named (see docs/pipeline.md and the examples in pipelines/)."))
            return report
        }
        report.findings.append(Finding("config", .ok, "ok", "\(url.path) is a valid pipeline (\(stages.map(\.name).joined(separator: ", ")))"))
        let runtime: StagesRuntime
        do {
            runtime = try StandardStages.runtime(StageEnvironment(sections: config.sections, baseDir: config.baseDir, folders: config.folders, shared: shared))
        } catch {
            report.findings.append(Finding("config", .failure, "config-invalid", "\(url.path): \(error)", fix: "Correct the pipeline file at the place named."))
            return report
        }
        await check(config: config, stages: stages, runtime: runtime, mode: mode, auditWitness: auditWitness, into: &report)
        return report
    }

    /// Checks a loaded pipeline (the run uses its own runtime, so the registry and token opened here are
    /// the ones it goes on with).
    public static func check(config: PipelineConfig, stages: [BuiltStage], runtime: StagesRuntime, mode: Mode,
                             auditWitness: String? = nil, into report: inout Report) async {
        checkFolders(config, probe: mode == .check, into: &report)
        let seal = checkGovernance(stages: stages, runtime: runtime, auditWitness: auditWitness, into: &report)
        if runtime.tokenSection != nil || stages.contains(where: { $0.stage is SignStage }) {
            await checkToken(runtime: runtime, seal: seal, mode: mode, stages: stages, into: &report)
        }
        checkTrust(stages: stages, into: &report)
    }

    // MARK: - folders

    /// inbox, work, outbox, quarantine and archive exist, or their parent does (the run then makes them,
    /// one level only: nothing like /srv or /var/lib is created silently); the inbox and the work folder
    /// are on one file system (a document is claimed by one rename between them).
    static func checkFolders(_ config: PipelineConfig, probe: Bool, into report: inout Report) {
        let f = config.folders
        var allThere = true
        for (name, url) in [("inbox", f.inbox), ("work", f.work), ("outbox", f.outbox), ("quarantine", f.quarantine), ("archive", f.archive)] {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) {
                if !isDir.boolValue {
                    allThere = false
                    report.findings.append(Finding("folders", .failure, "folder-not-a-folder", "the \(name) folder \(url.path) is a file",
                                                   fix: "Move the file away or point folders.\(name) at a folder."))
                } else if access(url.path, R_OK | W_OK | X_OK) != 0 {
                    allThere = false
                    report.findings.append(Finding("folders", .failure, "folder-not-writable", "the \(name) folder \(url.path) cannot be read and written (\(errnoText()))",
                                                   fix: "Give the account that runs sealbatch read and write access to \(url.path)."))
                }
                continue
            }
            allThere = false
            let parent = url.deletingLastPathComponent()
            if FileManager.default.fileExists(atPath: parent.path, isDirectory: &isDir), isDir.boolValue {
                report.findings.append(Finding("folders", .ok, "ok", "the \(name) folder \(url.path) does not exist yet; the first run creates it"))
            } else {
                report.findings.append(Finding("folders", .failure, "folder-missing", "the \(name) folder \(url.path) and its parent \(parent.path) do not exist",
                                               fix: "Create the pipeline's folders (mkdir -p \(url.path)) or correct folders.\(name) / folders.root; sealbatch does not create \(parent.path) by itself."))
            }
        }
        let journalDir = config.journal.deletingLastPathComponent()
        if journalDir.path != f.work.path && !FileManager.default.fileExists(atPath: journalDir.path) {
            report.findings.append(Finding("folders", .failure, "folder-missing", "the journal's folder \(journalDir.path) does not exist",
                                           fix: "Create it (mkdir -p \(journalDir.path)) or correct 'journal' in the pipeline file."))
        }
        // the claim: one rename from the inbox into the work folder
        let inboxFS = nearestExisting(f.inbox), workFS = nearestExisting(f.work)
        var a = stat(), b = stat()
        if stat(inboxFS.path, &a) == 0, stat(workFS.path, &b) == 0, a.st_dev != b.st_dev {
            report.findings.append(Finding("folders", .failure, "folders-on-different-file-systems",
                                           "the inbox (\(f.inbox.path)) and the work folder (\(f.work.path)) are on different file systems: a document is claimed by one rename between them",
                                           fix: "Put the inbox and the work folder on the same file system, e.g. the work folder next to the inbox."))
        } else if probe, FileManager.default.fileExists(atPath: f.inbox.path) && FileManager.default.fileExists(atPath: f.work.path), let problem = renameProbe(f.inbox, f.work) {
            // (a run makes the same probe itself, in the engine, right after these checks)
            report.findings.append(Finding("folders", .failure, "folders-rename-refused", problem,
                                           fix: "Put the inbox and the work folder on the same file system and mount point, writable by sealbatch."))
        } else if allThere {
            report.findings.append(Finding("folders", .ok, "ok", "folders present; the inbox and the work folder share a file system"))
        }
    }

    static func nearestExisting(_ url: URL) -> URL {
        var u = url
        while !FileManager.default.fileExists(atPath: u.path) && u.path != "/" { u = u.deletingLastPathComponent() }
        return u
    }

    /// Renames an empty file from the inbox into the work folder and removes it (the run's own probe):
    /// catches a bind mount or another mount point on the same device. Nil when the rename works.
    static func renameProbe(_ inbox: URL, _ work: URL) -> String? {
        let name = ".sealbatch-check-probe-\(getpid())-\(UUID().uuidString.prefix(8))"
        let src = inbox.appendingPathComponent(name), dst = work.appendingPathComponent(name)
        let fd = open(src.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return "cannot create a file in the inbox \(inbox.path) (\(errnoText())): the pipeline moves files out of it" }
        close(fd)
        defer { unlink(src.path); unlink(dst.path) }
        if rename(src.path, dst.path) != 0 {
            return errno == EXDEV
                ? "the inbox (\(inbox.path)) and the work folder (\(work.path)) are on different mount points: a document is claimed by one rename between them"
                : "a file cannot be moved from the inbox (\(inbox.path)) into the work folder (\(work.path)): \(errnoText())"
        }
        return nil
    }

    // MARK: - governance

    /// Registry there and readable, audit key usable and pinned, witness usable, audit log intact, the seal
    /// registered, active, in its validity period and drawable, the organisation's trust anchors readable.
    /// Returns the registered seal when it is usable.
    static func checkGovernance(stages: [BuiltStage], runtime: StagesRuntime, auditWitness: String?, into report: inout Report) -> Seal? {
        guard let g = runtime.governanceSection else {
            if stages.contains(where: { $0.stage is SignStage || $0.stage is ApprovalStage }) {
                report.findings.append(Finding("registry", .failure, "registry-not-configured", "this pipeline seals but names no registry",
                                               fix: "Add \"governance\": {\"registry\": \"…\"} naming the registry (`sealbatch org init` creates one)."))
            }
            return nil
        }
        let path = runtime.resolve(g.registry).path
        guard FileManager.default.fileExists(atPath: path) else {
            report.findings.append(Finding("registry", .failure, "registry-missing", "no registry at \(path) (governance.registry)",
                                           fix: "Correct governance.registry, or create the registry with `sealbatch org init --registry \(path)`."))
            return nil
        }
        let named = g.auditKey.map { runtime.resolve($0).path } ?? ProcessInfo.processInfo.environment["SEALBATCH_AUDIT_KEY"]
        if let named, !FileManager.default.fileExists(atPath: named) {
            report.findings.append(Finding("audit", .failure, "audit-key-missing", "the audit checkpoint key \(named) does not exist (governance.audit-key / $SEALBATCH_AUDIT_KEY)",
                                           fix: "Correct governance.audit-key (or $SEALBATCH_AUDIT_KEY), or put the key file there."))
            return nil
        }
        let registry: Registry
        do { registry = try runtime.registry() } catch {
            report.findings.append(Finding("registry", .failure, "registry-unreadable", "the registry \(path) cannot be opened: \(error)",
                                           fix: "Check the file and its permissions (and the audit key named by governance.audit-key); `sealbatch audit verify --registry \(path)` shows more."))
            return nil
        }
        if let auditWitness {
            do { registry.audit.useWitness(try AuditWitness.parse(auditWitness)) } catch {
                report.findings.append(Finding("audit", .failure, "audit-witness-invalid", "--audit-witness \(auditWitness): \(error)",
                                               fix: "Name a witness file (on another file system) or 'syslog'."))
            }
        }
        report.findings.append(Finding("registry", .ok, "ok", "registry \(path) opened"))
        checkAudit(registry, into: &report)
        return checkSeal(stages: stages, runtime: runtime, registry: registry, into: &report)
    }

    static func checkAudit(_ registry: Registry, into report: inout Report) {
        let audit = registry.audit
        if let bad = audit.witnessConfigurationError {
            report.findings.append(Finding("audit", .failure, "audit-witness-invalid", bad, fix: "Set $SEALBATCH_AUDIT_WITNESS to witness files and/or 'syslog', or unset it."))
        }
        for target in audit.witness?.targets ?? [] {
            guard case .file(let w) = target else { continue }
            if FileManager.default.fileExists(atPath: w) {
                let fd = open(w, O_WRONLY | O_APPEND | O_CLOEXEC)
                if fd < 0 {
                    report.findings.append(Finding("audit", .failure, "audit-witness-not-writable", "the audit witness \(w) cannot be written (\(errnoText()))",
                                                   fix: "Give sealbatch append access to \(w) (it may be append-only, chattr +a), or correct the witness setting."))
                } else { close(fd) }
            } else {
                let dir = URL(fileURLWithPath: w).deletingLastPathComponent().path
                var isDir: ObjCBool = false
                if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) || !isDir.boolValue || access(dir, W_OK | X_OK) != 0 {
                    report.findings.append(Finding("audit", .failure, "audit-witness-not-writable", "the audit witness \(w) cannot be created: its folder \(dir) is missing or not writable",
                                                   fix: "Mount or create the witness folder \(dir) (another file system than the registry's), or correct the witness setting."))
                }
            }
        }
        if let signer = audit.signer {
            let fp = DetachedSignature.hex(DetachedSignature.sha256(signer.certificateDER))
            if let sync = signer as? any SynchronousAuditCheckpointSigner {
                let probe = Array("sealbatch-check/1\naudit checkpoint key probe \(UUID().uuidString)\n".utf8)
                do {
                    let v = try DetachedSignature.verify(try sync.signNow(probe), over: probe)
                    if v.signer.der != signer.certificateDER { throw GovernanceError(.invalidInput, "the key signs as another certificate") }
                } catch {
                    report.findings.append(Finding("audit", .failure, "audit-key-unusable", "the audit checkpoint key (certificate sha256 \(fp.prefix(16))…) cannot sign: \(error)",
                                                   fix: "Replace the audit key file with the PEM key and certificate made by `sealbatch org init`."))
                }
            }
            do {
                if let text = try registry.store.meta(AuditSignerPin.metaKey) {
                    if let pin = AuditSignerPin.decode(text), !pin.signers.contains(fp) {
                        report.findings.append(Finding("audit", .failure, "audit-key-not-pinned",
                                                       "the audit checkpoint key (certificate sha256 \(fp.prefix(16))…) is not in the administrator-signed signer list: its checkpoints would fail `audit verify`",
                                                       fix: "A platform or system administrator pins it: `sealbatch audit pin-signers --cert KEY.pem --as ADMIN --key ADMIN.p12`."))
                    }
                }
            } catch {
                report.findings.append(Finding("audit", .failure, "registry-unreadable", "the audit signer list cannot be read: \(error)", fix: "Check the registry file."))
            }
        } else {
            report.findings.append(Finding("audit", .warning, "audit-key-none",
                                           "no audit checkpoint key (governance.audit-key, <registry>.audit-key.pem): the log is hash-chained but not checkpointed, so deleting its tail is not detected",
                                           fix: "Give the registry its audit key (`sealbatch org init` makes one) and pin it (`sealbatch audit pin-signers`)."))
        }
        // A configured witness file that does not exist yet is created by the first checkpoint: verify with the
        // witness files that exist (a deleted witness is named, as a warning: the tail it saw is unwitnessed).
        var existing: [AuditWitness.Target] = []
        for t in audit.witness?.targets ?? [] {
            if case .file(let w) = t, !FileManager.default.fileExists(atPath: w) {
                report.findings.append(Finding("audit", .warning, "audit-witness-new",
                                               "the audit witness \(w) does not exist yet; the next checkpoint creates it",
                                               fix: "Nothing if the witness is new. If it existed before, it was removed: keep the witness where the registry's writers cannot delete it (another file system, append-only)."))
            } else { existing.append(t) }
        }
        let verifier = AuditLog(store: registry.store, headFile: audit.headFile, witness: AuditWitness(targets: existing.isEmpty ? [.syslog] : existing))
        do {
            let v = try verifier.verify()
            if v.ok {
                report.findings.append(Finding("audit", .ok, "ok", "audit log intact (\(v.recordsChecked) records, \(v.checkpointsChecked) checkpoints\(v.witnessedSeq.map { ", witness up to record \($0)" } ?? ""))"))
            } else {
                report.findings.append(Finding("audit", .failure, "audit-log-broken", "the audit log does not verify: \(v.description)",
                                               fix: "Do not seal until the platform administrator has examined the log (`sealbatch audit verify`); restore the registry from a backup if records were removed."))
            }
        } catch {
            report.findings.append(Finding("audit", .failure, "audit-log-unreadable", "the audit log cannot be read: \(error)", fix: "Check the registry file and its permissions."))
        }
    }

    static func checkSeal(stages: [BuiltStage], runtime: StagesRuntime, registry: Registry, into report: inout Report) -> Seal? {
        guard let section = runtime.sealSection else {
            if stages.contains(where: { $0.stage is SignStage || $0.stage is ApprovalStage }) {
                report.findings.append(Finding("seal", .failure, "seal-not-configured", "this pipeline seals but has no 'seal' section",
                                               fix: "Add \"seal\": {\"id\": \"…\", \"user\": \"…\"} naming the registered seal and the official-seal user."))
            }
            return nil
        }
        let seal: Seal
        do {
            guard let s = try registry.seal(section.id) else {
                report.findings.append(Finding("seal", .failure, "seal-not-registered", "seal \(section.id) is not registered in the registry",
                                               fix: "Correct seal.id, or have the official-seal administrator register it (`sealbatch seal register`)."))
                return nil
            }
            seal = s
        } catch {
            report.findings.append(Finding("seal", .failure, "registry-unreadable", "seal \(section.id) cannot be read from the registry: \(error)", fix: "Check the registry file."))
            return nil
        }
        var usable = true
        let now = Date()
        if seal.status != .active {
            usable = false
            report.findings.append(Finding("seal", .failure, "seal-not-usable", "seal \(seal.id) is \(seal.status.rawValue)",
                                           fix: "Only an active seal can be applied; ask the official-seal administrator."))
        } else if now < seal.validFrom || now > seal.validUntil {
            usable = false
            report.findings.append(Finding("seal", .failure, "seal-not-usable", "seal \(seal.id) is outside its validity period (\(seal.validFrom) – \(seal.validUntil))",
                                           fix: "Ask the official-seal administrator to renew the seal's certificate and rebind it (`sealbatch seal rebind`)."))
        }
        for st in stages {
            guard let render = st.stage as? RenderStage, !render.invisible else { continue }
            do { _ = try SealRenderer.render(design: try render.design()) } catch {
                usable = false
                report.findings.append(Finding("seal", .failure, "seal-design-invalid", "the seal's design cannot be drawn (\(st.name) stage): \(error)",
                                               fix: "Give the seal a design in the registry (`sealbatch seal rebind \(seal.id) --design FILE.json`); `sealbatch preview` shows it."))
            }
        }
        do {
            let anchors = try registry.trustAnchors(organisation: seal.organisation)
            if anchors.isEmpty {
                report.findings.append(Finding("trust", .warning, "trust-anchors-none",
                                               "organisation \(seal.organisation) has no trust anchors: approvers' signatures are checked against their registered certificates only",
                                               fix: "A system administrator adds the organisation's CA certificates (`sealbatch org anchor add`)."))
            } else {
                report.findings.append(Finding("trust", .ok, "ok", "organisation \(seal.organisation): \(anchors.count) trust anchor(s)"))
            }
        } catch {
            report.findings.append(Finding("trust", .failure, "trust-anchors-unreadable", "the trust anchors of organisation \(seal.organisation) cannot be read: \(error)",
                                           fix: "A system administrator replaces the damaged anchors (`sealbatch org anchor`); until then nothing is admitted."))
        }
        checkSealUser(section.user, seal: seal, registry: registry, into: &report)
        if usable { report.findings.append(Finding("seal", .ok, "ok", "seal \(seal.id) (\(seal.name)) is registered, active and drawable")) }
        return usable ? seal : nil
    }

    /// The pipeline's official-seal user may stamp with the seal: known, active, a seal user of the seal's
    /// organisation with the `use` right on it, and no administrator (the same Policy the admission applies).
    static func checkSealUser(_ user: String, seal: Seal, registry: Registry, into report: inout Report) {
        let rights: ActorRights
        let account: User?
        do { account = try registry.user(user); rights = try registry.rights(of: user) } catch {
            report.findings.append(Finding("seal", .failure, "registry-unreadable", "the rights of user \(user) cannot be read from the registry: \(error)",
                                           fix: "Check the registry file."))
            return
        }
        guard let account, account.status == .active else {
            report.findings.append(Finding("seal", .failure, "seal-user-not-allowed",
                                           "seal.user \(user) is \(account == nil ? "not a registered user" : "disabled"): every document would be refused at admission",
                                           fix: "Correct seal.user, or have a system administrator add or enable the user (`sealbatch user add`)."))
            return
        }
        switch Policy.check(.stamp, actor: rights, target: ActionTarget(organisation: seal.organisation, seal: seal.id)) {
        case .success:
            report.findings.append(Finding("seal", .ok, "ok", "user \(user) may stamp with seal \(seal.id)"))
        case .failure(let e):
            report.findings.append(Finding("seal", .failure, e.code == .separationOfDuties ? "separation-of-duties" : "seal-user-not-allowed",
                                           "seal.user \(user) may not stamp with seal \(seal.id): \(e.detail)\(e.missingRight.map { " (missing: \($0))" } ?? "")",
                                           fix: "Have the official-seal administrator grant the use right (`sealbatch seal grant \(seal.id) --user \(user) --right use`), or name the right user in seal.user."))
        }
    }

    // MARK: - token

    /// Module loadable, token present, its certificate the registered one (no PIN asked).
    static func checkToken(runtime: StagesRuntime, seal: Seal?, mode: Mode, stages: [BuiltStage] = [], into report: inout Report) async {
        guard let t = runtime.tokenSection else {
            report.findings.append(Finding("token", .failure, "token-not-configured", "this pipeline signs but has no 'token' section",
                                           fix: "Add \"token\": {\"config\": \"token.json\"} (see `sealbatch token init-dev` / docs/token.md)."))
            return
        }
        let configPath = runtime.resolve(t.config).path
        do { _ = try TokenConfiguration.load(from: URL(fileURLWithPath: configPath)) } catch {
            report.findings.append(Finding("token", .failure, "token-config-unreadable", "the token configuration \(configPath) cannot be read: \(error)",
                                           fix: "Correct token.config, or write the configuration (`sealbatch token init-dev` shows the format)."))
            return
        }
        let token: SealToken
        do { token = try await runtime.tokenWithoutLogin() } catch {
            let (code, fix): (String, String)
            let e = error as? TokenError
            switch e?.code {
            case .moduleLoadFailed?, .moduleInitFailed?:
                (code, fix) = ("token-module", "Install the token's PKCS#11 module, or correct 'module' in \(configPath).")
            case .tokenNotFound?, .tokenRemoved?:
                (code, fix) = ("token-absent", "Plug in the seal's USB key (token), or correct the token label in \(configPath).")
            case .keyNotFound?, .certificateNotFound?:
                (code, fix) = ("token-key-missing", "The token does not hold the configured key or certificate: use the seal's own token, or correct \(configPath).")
            default:
                (code, fix) = ("token-error", "Check the token and \(configPath) (`sealbatch token info`).")
            }
            // at run start, a token that is not there is the sign stage's business: it stops the batch, or the daemon waits
            let lenient = mode == .runStart && (code == "token-module" || code == "token-absent")
            report.findings.append(Finding("token", lenient ? .warning : .failure, code, "the seal token cannot be opened: \(error)", fix: fix))
            return
        }
        report.findings.append(Finding("token", .ok, "ok", "token '\(token.tokenLabel)' (serial \(token.tokenSerial)) present"))
        guard mode == .check else { return } // the run keeps its token open, and checks the binding itself (audited)
        if let seal {
            do {
                try SealKeyBinding.checkCertificate(token, seal: seal)
                report.findings.append(Finding("token", .ok, "ok", "the token's certificate is seal \(seal.id)'s registered certificate (sha256 \(SealKeyBinding.fingerprint(seal.certificateDER).prefix(16))…)"))
            } catch {
                report.findings.append(Finding("token", .failure, "seal-key-mismatch", error.description,
                                               fix: "Connect the seal's own token, or have the official-seal administrator rebind the seal (`sealbatch seal rebind`)."))
            }
            checkChain(seal: seal, tokenChainDER: token.chainDER, stages: stages, into: &report)
        }
        await token.close()
    }

    /// The certificates a signature will carry (the token's, the registered chain, the sign stages' `chain`)
    /// must lead from the seal certificate to a self-signed root or to an issuer among the verify stages' trust
    /// anchors; otherwise validators find no path. The finding names the certificate whose issuer is missing.
    static func checkChain(seal: Seal, tokenChainDER: [[UInt8]], stages: [BuiltStage], into report: inout Report) {
        guard stages.contains(where: { $0.stage is SignStage }) else { return }
        let leaf: DetachedSignature.Certificate
        do { leaf = try DetachedSignature.Certificate(der: seal.certificateDER) } catch { return } // the binding check reports it
        var pool: [DetachedSignature.Certificate] = []
        var anchors: [DetachedSignature.Certificate] = []
        func add(_ ders: [[UInt8]], to list: inout [DetachedSignature.Certificate]) {
            for d in ders {
                // an unreadable certificate cannot help a path: the walk below then reports the gap
                do { let c = try DetachedSignature.Certificate(der: d); if !list.contains(c) { list.append(c) } } catch { continue }
            }
        }
        add(tokenChainDER, to: &pool)
        add(seal.chainDER, to: &pool)
        for st in stages { if let sign = st.stage as? SignStage { add(sign.chainDER, to: &pool) } }
        for st in stages {
            guard let verify = st.stage as? VerifyStage else { continue }
            for u in verify.trust {
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: u.path, isDirectory: &isDir) else { continue }
                // unreadable trust files are checkTrust's finding; here they only cannot end a path
                var files = [u]
                if isDir.boolValue {
                    do { files = try FileManager.default.contentsOfDirectory(at: u, includingPropertiesForKeys: nil) } catch { continue }
                }
                for f in files {
                    do { add(try DetachedSignature.certificates(pemOrDER: Array(try Data(contentsOf: f))).map(\.der), to: &anchors) } catch { continue }
                }
            }
        }
        var current = leaf, steps = 0
        while current.subject != current.issuer, !anchors.contains(where: { $0.subject == current.issuer }) {
            guard let next = pool.first(where: { $0.subject == current.issuer && $0.der != current.der }), steps <= pool.count else {
                report.findings.append(Finding("seal", .failure, "seal-chain-incomplete",
                    "the issuer of \(current.subject) (\(current.issuer)) is not on the token, in seal \(seal.id)'s registered chain or a sign stage's chain: validators will find no certificate path",
                    fix: "Register the seal's CA certificates (intermediates and root): `sealbatch seal rebind \(seal.id) --chain CA-chain.pem` (official-seal administrator)."))
                return
            }
            current = next; steps += 1
        }
        report.findings.append(Finding("seal", .ok, "ok", "seal \(seal.id)'s certificate chain is complete (\(steps + 1) certificate(s) up to \(current.subject == current.issuer ? "its root" : "a trust anchor"))"))
    }

    // MARK: - trust anchors of the verify stages

    /// Every verify stage's trust files and folders are readable and hold certificates.
    static func checkTrust(stages: [BuiltStage], into report: inout Report) {
        for st in stages {
            guard let verify = st.stage as? VerifyStage, !verify.trust.isEmpty else { continue }
            var readable = true
            for u in verify.trust {
                if let why = unreadable(u) {
                    readable = false
                    report.findings.append(Finding("trust", .failure, "trust-anchors-unreadable", "the trust anchors \(u.path) (\(st.name) stage) cannot be read: \(why)",
                                                   fix: "Make \(u.path) readable by the account that runs sealbatch (and holding the CA certificates), or correct 'trust'."))
                }
            }
            guard readable else { continue }
            do {
                _ = try Verifier(trust: verify.trust)
                report.findings.append(Finding("trust", .ok, "ok", "trust anchors of the \(st.name) stage readable (\(verify.trust.map(\.path).joined(separator: ", ")))"))
            } catch {
                report.findings.append(Finding("trust", .failure, "trust-anchors-unreadable", "the trust anchors of the \(st.name) stage cannot be used: \(error)",
                                               fix: "Put the CA certificates (PEM or DER) there, or correct 'trust'."))
            }
        }
    }

    /// Why a trust file or folder cannot be read; nil when it can. A file or folder without read permission
    /// for anyone (mode 000) is unreadable even when the check runs as root: the service account would fail.
    static func unreadable(_ u: URL) -> String? {
        var st = stat()
        guard stat(u.path, &st) == 0 else { return errnoText() }
        if st.st_mode & 0o444 == 0 { return "it has no read permission (mode \(String(st.st_mode & 0o777, radix: 8)))" }
        if access(u.path, R_OK) != 0 { return errnoText() }
        if st.st_mode & S_IFMT == S_IFDIR {
            do {
                for n in try FileManager.default.contentsOfDirectory(atPath: u.path) where !n.hasPrefix(".") {
                    if let why = unreadable(u.appendingPathComponent(n)) { return "\(n): \(why)" }
                }
            } catch { return "\(error)" }
        }
        return nil
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
