import Foundation
import PDF
import Pipeline
import Signing

/// Checks the document before it leaves, with the same `Verifier` as `sealbatch verify` (integrity,
/// cryptography, certificate path to the trust anchors, modifications, PAdES level). After a sign
/// stage it also checks that the original bytes are an unchanged prefix (incremental update) and that
/// exactly one signature was added; the new seal must be TOTAL-PASSED and earlier signatures intact.
/// In a verify-only pipeline every signature must be TOTAL-PASSED.
public struct VerifyStage: Stage {
    public static let kind: StageKind = "verify"
    public static let requires: Set<Fact> = [.ingested]
    public static let produces: Set<Fact> = [.verified]
    let runtime: StagesRuntime?
    /// Trust anchors (PEM/DER files or folders); empty: the root of the seal's own chain.
    public var trust: [URL] = []
    /// Require at least one signature (verify-only pipelines).
    public var requireSignature = true
    /// Revocation policy.
    public var revocation: RevocationPolicy = .softFail
    /// Fetch CRL/OCSP over the network.
    public var fetchRevocation = false
    /// Minimum PAdES level.
    public var requiredLevel: PAdESLevel?

    /// Creates the stage.
    public init(runtime: StagesRuntime?, trust: [URL] = []) { self.runtime = runtime; self.trust = trust }

    /// The verifier, made once per stage: trust files are read and parsed once per run, not per document.
    private let made = MadeVerifier()
    final class MadeVerifier: @unchecked Sendable {
        let lock = NSLock()
        var value: Verifier?
    }

    func verifier() async throws -> Verifier {
        if let v = made.lock.withLock({ made.value }) { return v }
        let (v, final) = try await makeVerifier()
        if final { made.lock.withLock { made.value = v } }
        return v
    }

    /// The verifier, and whether it may be kept (not while it falls back to "no anchors" because the
    /// token is not open yet, e.g. for a document resumed after the sign stage).
    private func makeVerifier() async throws -> (Verifier, Bool) {
        var options = Verifier.Options()
        options.revocation = revocation
        options.fetchRevocation = fetchRevocation
        options.requiredLevel = requiredLevel
        if !trust.isEmpty { return (try Verifier(trust: trust, options: options), true) }
        if let key = try await runtime?.keyIfOpen(), let leaf = key.certificateChainDER.first {
            // Self-check: the chain the token holds (production pipelines name their trust anchors).
            let cas = Array(key.certificateChainDER.dropFirst())
            return (Verifier(trustAnchorsDER: cas.isEmpty ? [leaf] : cas, options: options), true)
        }
        return (Verifier(trustAnchorsDER: [], options: options), false)
    }

    /// Reads the trust anchors before the first document needs them (only named trust files: the
    /// token's own chain is known once the sign stage opened it).
    public func prepare(context: StageContext) async {
        if !trust.isEmpty { _ = try? await verifier() } // warm-up only: an unreadable trust file fails the first document, with its error
    }

    public func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        var checks: [String] = []
        var failed: [String] = []
        var prefixFailed = false
        /// Records a check: `passed` says what held, `failure` what went wrong (the words a clerk reads).
        func check(_ ok: Bool, _ passed: @autoclosure () -> String, else failure: @autoclosure () -> String) {
            if ok { checks.append("ok: " + passed()) } else { let f = failure(); checks.append("FAILED: " + f); failed.append(f) }
        }
        func verdict(_ s: SignatureReport) -> String { s.indication.rawValue + (s.subIndication.map { "/" + $0.rawValue } ?? "") }
        // After a seal, the output's first bytes must be the approved original: the verifier hashes them in
        // the same read that checks the signatures (the original is not read again).
        let sealed = job.established.contains(.signed)
        let originalLength = sealed ? job.facts[StageFacts.sniff]?.size : nil
        var v = try await verifier()
        if let originalLength { v = v.with(prefixLength: originalLength) }
        let report = await v.verify(url: job.currentURL)
        if let e = report.error { check(false, "", else: "the document cannot be read (\(e))") }
        // Every signature counts, document time-stamps included — the same count as ingest's.
        let sigs = report.signatures
        if job.established.contains(.signed) {
            let before = job.facts[StageFacts.sniff]?.existingSignatures ?? 0
            check(sigs.count == before + 1, "one signature added (\(before) → \(sigs.count))",
                  else: sigs.count <= before ? "the seal is missing from the output (\(before) signature(s) before, \(sigs.count) after)"
                                             : "\(sigs.count - before) signatures were added instead of one (\(before) before, \(sigs.count) after)")
            if let originalLength, let digest = job.digest {
                let p = report.prefix
                let same = p?.length == originalLength && p?.sha256 == digest.lowercased()
                check(same, "the output starts with the approved original, unchanged (incremental update; \(originalLength) bytes, sha256 \(digest.prefix(16))…)",
                      else: p == nil ? "the output's first \(originalLength) bytes (the original) could not be read"
                                     : "the output does not start with the approved original's bytes (sha256 \(p!.sha256.prefix(16))… instead of \(digest.prefix(16))…): the original changed while it was sealed, or the update is not incremental")
                if !same { prefixFailed = true }
            } else {
                check(Self.isPrefix(job.originalURL, of: job.currentURL), "the original bytes are unchanged (incremental update)",
                      else: "the output does not start with the original's bytes (the update is not incremental)")
            }
            // The new seal is the signature whose byte range ends last.
            func end(_ s: SignatureReport) -> Int { s.coverage.map { $0.byteRange.count == 4 ? $0.byteRange[2] &+ $0.byteRange[3] : 0 } ?? -1 }
            if let mine = sigs.max(by: { end($0) < end($1) }) {
                check(mine.indication == .totalPassed, "the new seal \(mine.field) is TOTAL-PASSED",
                      else: "the new seal \(mine.field) is \(verdict(mine)): \(mine.summary)")
                let allowedBroken = Set(job.facts[StageFacts.sniff]?.brokenSignatures ?? [])
                for s in sigs where s.field != mine.field && !allowedBroken.contains(s.field) {
                    check(s.integrity.ok, "earlier signature \(s.field) is intact", else: "earlier signature \(s.field) is no longer intact: \(s.integrity.detail)")
                    // ingest admitted it with its changes allowed: the seal must not change that (a certification
                    // broken by a new visible field, an object the signed revision pointed at defined afterwards)
                    check(s.modifications.allowed, "the changes after earlier signature \(s.field) are allowed (\(s.modifications.level.rawValue))",
                          else: "the seal changes earlier signature \(s.field)'s document beyond what it allows (\(s.modifications.level.rawValue), permitted \(s.modifications.permitted.rawValue)): \(s.modifications.details.prefix(2).joined(separator: "; "))")
                }
            }
        } else {
            if requireSignature { check(!sigs.isEmpty, "the document is signed", else: "the document has no signature") }
            for s in sigs {
                check(s.indication == .totalPassed, "signature \(s.field) is TOTAL-PASSED", else: "signature \(s.field) is \(verdict(s)): \(s.summary)")
            }
        }
        job.facts[StageFacts.verification] = VerifySummary(passed: failed.isEmpty, checks: checks, signatures: sigs.count, report: report)
        if !failed.isEmpty {
            // output bytes that are not the approved ones: the sender's file changed under the seal
            throw StageRejection(prefixFailed ? .documentAltered : .verifyFailed, "\(job.sourceName): \(failed.joined(separator: "; "))")
        }
        if let originalLength, let size = report.size, let sha = report.sha256 {
            job.facts[StageFacts.verifiedOutput] = VerifiedOutput(path: job.currentURL.path, size: size, sha256: sha, originalLength: originalLength)
        }
        return job
    }

    static func isPrefix(_ a: URL, of b: URL) -> Bool {
        guard let ha = FileHandle(forReadingAtPath: a.path), let hb = FileHandle(forReadingAtPath: b.path) else { return false }
        defer { try? ha.close(); try? hb.close() } // read-only handles: closing decides nothing
        while true {
            let x = ha.readData(ofLength: 1 << 16)
            if x.isEmpty { return true }
            if hb.readData(ofLength: x.count) != x { return false }
        }
    }

    static func descriptor() -> StageDescriptor {
        StageDescriptor(VerifyStage.self, defaultConcurrency: 3,
                        settingsKeys: ["trust", "require-signature", "revocation", "fetch-revocation", "level"]) { s, path, env in
            var st = VerifyStage(runtime: try StandardStages.runtime(env))
            if let v = s["trust"] {
                let list: [String]
                if case .string(let one) = v { list = [one] } else { list = try v.decode([String].self, path: path + ".trust") }
                st.trust = list.map(env.resolve)
            }
            if let v = s["require-signature"] { st.requireSignature = try v.decode(Bool.self, path: path + ".require-signature") }
            if let v = s["revocation"] {
                let raw = try v.decode(String.self, path: path + ".revocation")
                guard let r = RevocationPolicy(rawValue: raw) else { throw PipelineError(.invalidValue, path: path + ".revocation", "use off, soft-fail or hard-fail") }
                st.revocation = r
            }
            if let v = s["fetch-revocation"] { st.fetchRevocation = try v.decode(Bool.self, path: path + ".fetch-revocation") }
            if let v = s["level"] {
                let raw = try v.decode(String.self, path: path + ".level")
                guard let l = PAdESLevel(rawValue: raw.uppercased()) else { throw PipelineError(.invalidValue, path: path + ".level", "use B-B, B-T, B-LT or B-LTA") }
                st.requiredLevel = l
            }
            return st
        }
    }
}
