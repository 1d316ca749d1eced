import Foundation
import Governance
import PDF
import Pipeline
import Signing
import Token

/// Seals the document by incremental update (PAdES B-B…B-LTA), the signature value computed by the
/// token through the run's single `SerializedKey`. The approval use is consumed first (idempotent
/// per job, so a restart after a crash never counts twice). Several documents are prepared at once
/// (`concurrency`), so the token always has the next signature waiting.
public struct SignStage: Stage {
    public static let kind: StageKind = "sign"
    public static let requires: Set<Fact> = [.ingested, .approved, .rendered]
    public static let produces: Set<Fact> = [.signed]
    let runtime: StagesRuntime
    /// The registry's folder: the approval use is recorded there.
    public var durableFolders: [URL] { runtime.registryFolder.map { [$0] } ?? [] }
    /// Level, TSA, field name, reason/location.
    public var level: PAdESLevel
    public var tsa: [URL]
    public var fieldName: String
    public var reason: String?
    public var location: String?
    /// The seal's chain (intermediates, root) from configuration (`chain`: a PEM/DER file), for tokens that
    /// hold only the seal certificate; added to the CMS and the DSS.
    public var chainDER: [[UInt8]] = []
    /// Shared per run: CRLs / OCSP responses from the operator's folder (`revocation-folder`) and the network
    /// (`revocation-fetch`, default true). Nil: fetched per document.
    public var revocationCache: RevocationCache? = nil
    /// Refuse instead of sealing invisibly when a certified document has no empty signature field (`require-visible`).
    public var requireVisible = false

    /// Creates the stage.
    public init(runtime: StagesRuntime, level: PAdESLevel = .bB, tsa: [URL] = [], fieldName: String = "Seal", reason: String? = nil, location: String? = nil) {
        self.runtime = runtime; self.level = level; self.tsa = tsa; self.fieldName = fieldName; self.reason = reason; self.location = location
    }

    public func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        let key: SerializedKey
        do { key = try await runtime.key() } catch { throw Self.rejection(error, name: job.sourceName) }
        // The token must be ready (present, logged in) before the approval use is consumed: a wrong PIN,
        // a locked or absent token stops the batch here, with the token's own error, and no document is
        // charged for it. An absent token is waited for; a failed login is never tried again by itself.
        if let token = key.token {
            do { try await token.waitUntilReady() } catch { throw Self.rejection(error, name: job.sourceName) }
        }
        let sealName = try runtime.sealDisplayName()
        if let grant = job.facts[StageFacts.grant] {
            let book = try runtime.approvalBook()
            do { try book.consume(grant) } catch { throw ApprovalStage.rejection(error, name: job.sourceName) }
        }
        var options = SealOptions(level: level, tsaURLs: tsa, fieldName: fieldName, name: sealName,
                                  reason: reason, location: location, appearance: job.facts[StageFacts.appearance]?.appearance)
        options.timeout = 15
        // The CMS certificate set: the token's certificates, completed by the registered seal's chain, then the
        // pipeline's `chain` file (the registry's first; duplicates dropped).
        options.chainDER = try runtime.registeredChainDER() + chainDER
        options.revocationCache = revocationCache
        options.requireVisible = requireVisible
        // The approval is of the original's bytes: the sealer checks that what it seals is exactly them.
        if job.currentURL == job.originalURL, let d = job.facts[StageFacts.grant]?.documentSHA256 ?? job.digest, let bytes = unhex(d) {
            options.expectedInputSHA256 = bytes
            // the original's hash state from ingest: its bytes are not read again for the signed digest (the
            // verify stage reads the whole output, including them, and checks them against the approval)
            options.inputPrefix = job.facts[StageFacts.inputHash]
        }
        let output = job.workDir.appendingPathComponent("sealed.pdf")
        let t0 = Date()
        do {
            let result = try await PAdESSealer().seal(input: job.currentURL, output: output, key: key, options: options)
            context.recordDuration("seal.document", seconds: Date().timeIntervalSince(t0))
            FileOps.startWriteback(output) // the delivery's flush then finds the output (mostly) on disk already
            let leaf = key.certificateChainDER.first ?? []
            job.facts[StageFacts.seal] = SealRecord(sealID: runtime.sealSection?.id ?? "", result: result,
                                                    certificateSHA256: hex(sha256(leaf)), tokenSerial: key.token?.tokenSerial)
            job.currentURL = output
            job.notes["level"] = result.level.rawValue
            if !result.warnings.isEmpty {
                for w in result.warnings { CertifiedPlacement.warn(w, job: &job, context: context) } // receipt, summary, report, log
            }
            return job
        } catch {
            // The sealer reports a failed signature as its own error; if the token is no longer ready
            // (a login lost, the token gone), the token's error is what happened, not the document's.
            if let token = key.token, await token.presence != .ready {
                do { try await token.waitUntilReady() } catch let tokenError {
                    try? FileManager.default.removeItem(at: output)
                    throw Self.rejection(tokenError, name: job.sourceName)
                }
            }
            try? FileManager.default.removeItem(at: output) // a partial output in the job's own work folder; the engine discards it too
            throw Self.rejection(error, name: job.sourceName)
        }
    }

    /// A document quarantined after its approval use was consumed (signing failed, or verification or
    /// archiving refused the output) gives the use back: nothing stamped left the pipeline. A document
    /// restarted after crashes and then given up (`crash-loop`) no longer knows its grant: the uses its
    /// job consumed in an earlier attempt are found by job id and document hash.
    public func quarantined(_ job: Job, code: String, context: StageContext) {
        runtime.recordQuarantine(job, code: code, context: context)
        guard runtime.hasRegistry, job.facts[StageFacts.grant] != nil || job.digest != nil else { return }
        let reason = "\(job.sourceName) quarantined (\(code))"
        do {
            let book = try runtime.approvalBook()
            if let grant = job.facts[StageFacts.grant] {
                if try book.release(grant, reason: reason) {
                    context.logger.notice("approval use given back", metadata: ["file": "\(job.sourceName)", "approval": "\(grant.approval)", "code": "\(code)"])
                }
            } else if let digest = job.digest {
                for approval in try book.releaseUses(job: job.id, documentSHA256: digest, reason: reason) {
                    context.logger.notice("approval use given back", metadata: ["file": "\(job.sourceName)", "approval": "\(approval)", "code": "\(code)"])
                }
            }
        } catch {
            context.logger.error("cannot give the approval use back", metadata: ["file": "\(job.sourceName)", "error": "\(error)"])
        }
    }

    /// A document returned to the inbox because the batch stopped (a token fault) gives back any approval
    /// use its job consumed: the next claim of the same bytes is a new job and must be admitted afresh.
    public func returned(_ job: Job, reason: String, context: StageContext) {
        guard runtime.governanceSection != nil || runtime.registryIfOpen != nil, let digest = job.digest else { return }
        do {
            for approval in try runtime.approvalBook().releaseUses(job: job.id, documentSHA256: digest,
                                                                    reason: "\(job.sourceName) returned to the inbox (\(reason))") {
                context.logger.notice("approval use given back", metadata: ["file": "\(job.sourceName)", "approval": "\(approval)"])
            }
        } catch {
            context.logger.error("cannot give the approval use back", metadata: ["file": "\(job.sourceName)", "error": "\(error)"])
        }
    }

    static func rejection(_ error: Error, name: String) -> Error {
        if let r = error as? StageRejection { return r }
        if let e = error as? TokenError {
            switch e.code {
            case .pinIncorrect, .pinLocked, .finalTryRefused, .pinRequired, .pinSourceFailed, .pinSourceUnsafe:
                return StageRejection(.pinIncorrect, "the seal token did not accept the PIN (\(e.description)); the batch stops and the PIN is not tried again, so the token does not lock: fix the PIN and run again",
                                      routing: .stopBatch)
            default:
                // The token never sees the document (only a digest): whatever fails there is the token's
                // fault, so the batch stops and the documents go back to the inbox.
                return StageRejection(.tokenError, "the seal token is not usable: \(e.description)", routing: .stopBatch)
            }
        }
        if let e = error as? SigningError {
            switch e.code {
            case .tsaUnavailable, .tsaBadResponse:
                return StageRejection(.tsaUnavailable, "\(name): \(e.message)", routing: .retry(maxAttempts: 3, delaySeconds: 2))
            case .certifiedNoChanges: return StageRejection(.certifiedNoChanges, "\(name) is certified by its author to allow no changes.")
            case .encrypted: return StageRejection(.encrypted, "\(name): \(e.message)")
            case .visibleSealNotAllowed: return StageRejection(.visibleSealNotAllowed, "\(name): \(e.message)")
            case .fieldNotFound: return StageRejection(.placement, "\(name): \(e.message)")
            case .earlierSignatureBroken: return StageRejection(.earlierSignatureBroken, "\(name): \(e.message)")
            case .unreadablePDF: return StageRejection(.damaged, "\(name): \(e.message)")
            case .inputChanged: return StageRejection(.documentAltered, "\(name): \(e.message)")
            case .badKey: return StageRejection(.tokenError, "the seal key is not usable: \(e.message)", routing: .stopBatch)
            default: return StageRejection(.signing, "\(name): \(e.message)")
            }
        }
        if let e = error as? PDFError { return IngestStage.rejection(e, name: name) }
        if let e = error as? PipelineError { return e }
        return StageRejection(.signing, "\(name): \(error)")
    }

    static func descriptor() -> StageDescriptor {
        StageDescriptor(SignStage.self, defaultConcurrency: 3, serialized: true,
                        settingsKeys: ["level", "tsa", "field-name", "reason", "location", "chain", "revocation-folder", "revocation-fetch",
                                       "require-visible"]) { s, path, env in
            let rt = try StandardStages.runtime(env)
            var st = SignStage(runtime: rt)
            if let v = s["level"] {
                let raw = try v.decode(String.self, path: path + ".level")
                guard let l = PAdESLevel(rawValue: raw.uppercased()) else {
                    throw PipelineError(.invalidValue, path: path + ".level", "unknown PAdES level '\(raw)' (B-B, B-T, B-LT, B-LTA)")
                }
                st.level = l
            }
            if let v = s["tsa"] {
                let list: [String]
                if case .string(let one) = v { list = [one] } else { list = try v.decode([String].self, path: path + ".tsa") }
                st.tsa = try list.enumerated().map { i, u in
                    guard let url = URL(string: u), url.scheme == "http" || url.scheme == "https" else {
                        throw PipelineError(.invalidValue, path: path + ".tsa[\(i)]", "not an http(s) URL: \(u)")
                    }
                    return url
                }
            }
            if st.level >= .bT && st.tsa.isEmpty {
                throw PipelineError(.missingKey, path: path + ".tsa", "PAdES \(st.level.rawValue) needs a time-stamp authority URL")
            }
            if let v = s["field-name"] { st.fieldName = try v.decode(String.self, path: path + ".field-name") }
            if let v = s["reason"] { st.reason = try v.decode(String.self, path: path + ".reason") }
            if let v = s["location"] { st.location = try v.decode(String.self, path: path + ".location") }
            if let v = s["chain"] {
                let file = try v.decode(String.self, path: path + ".chain")
                let certs: [DetachedSignature.Certificate]
                do { certs = try DetachedSignature.certificates(pemOrDER: Array(try Data(contentsOf: URL(fileURLWithPath: file)))) } catch {
                    throw PipelineError(.invalidValue, path: path + ".chain", "\(file) cannot be read as PEM or DER certificates (the seal's intermediates and root): \(error)")
                }
                guard !certs.isEmpty else {
                    throw PipelineError(.invalidValue, path: path + ".chain", "\(file) holds no certificate (the seal's intermediates and root)")
                }
                st.chainDER = certs.map(\.der)
            }
            if let v = s["require-visible"] { st.requireVisible = try v.decode(Bool.self, path: path + ".require-visible") }
            let fetch = try s["revocation-fetch"].map { try $0.decode(Bool.self, path: path + ".revocation-fetch") } ?? true
            if let v = s["revocation-folder"] {
                let folder = try v.decode(String.self, path: path + ".revocation-folder")
                var isDir: ObjCBool = false
                guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
                    throw PipelineError(.invalidValue, path: path + ".revocation-folder", "\(folder) is not a folder (of CRLs and OCSP responses)")
                }
                st.revocationCache = RevocationCache(timeout: 15, offlineFolder: URL(fileURLWithPath: folder), fetch: fetch)
            } else if !fetch {
                st.revocationCache = RevocationCache(timeout: 15, fetch: false)
            }
            return st
        }
    }
}

func sha256(_ bytes: [UInt8]) -> [UInt8] { var s = SHA256Stream(); s.update(bytes); return s.finalize() }
func hex(_ b: [UInt8]) -> String { DetachedSignature.hex(b) }

/// Bytes of a lower- or upper-case hex string (nil if it is not one).
func unhex(_ s: String) -> [UInt8]? {
    let u = Array(s.utf8)
    guard u.count % 2 == 0 else { return nil }
    func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }
    var out = [UInt8](); out.reserveCapacity(u.count / 2)
    var i = 0
    while i < u.count {
        guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
        out.append(hi << 4 | lo); i += 2
    }
    return out
}
