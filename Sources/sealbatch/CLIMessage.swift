import Foundation
import Governance
import PDF
import Pipeline
import Render
import Signing
import Token

/// The one shape of every error and refusal the command line prints, on standard error:
///
///     sealbatch: <code>: <message>
///       next: <what to do>          (when there is a next step; in Chinese under a zh locale)
///
/// `<code>` is a stable kebab-case reason code (`chain-invalid`, `token-not-found`, `not-approved`), never
/// a Swift type or case name, so scripts can match it; `<message>` is the sentence for the person.
enum CLIMessage {
    /// `chainInvalid` → `chain-invalid`; kebab-case stays as it is.
    static func kebab(_ s: String) -> String {
        var out = ""
        for ch in s {
            if ch.isUppercase { if !out.isEmpty { out.append("-") }; out.append(Character(ch.lowercased())) } else { out.append(ch) }
        }
        return out
    }

    static func render(_ code: String, _ message: String, next: String? = nil, lang: ClerkLanguage = ClerkLanguage.choose()) -> String {
        var s = "sealbatch: \(kebab(code)): \(message)\n"
        let step = next.map { ClerkText.nextStep(kebab(code), english: $0, lang) } ?? (lang == .zhCN ? ClerkText.nextStepZH(kebab(code)) : nil)
        if let step, !step.isEmpty { s += "  next: \(step)\n" }
        return s
    }

    /// Writes one error to standard error.
    static func write(_ code: String, _ message: String, next: String? = nil) {
        FileHandle.standardError.write(Data(render(code, message, next: next).utf8))
    }

    /// The code and message of an error of ours, without type names.
    static func describe(_ error: any Error) -> (code: String, message: String) {
        switch error {
        case let e as GovernanceError:
            return (e.code.rawValue, e.missingRight.map { "\(e.detail) (missing right: \($0))" } ?? e.detail)
        case let e as ApprovalRefusal: return (e.code.rawValue, e.detail)
        case let e as DetachedSignature.Error: return (e.code.rawValue, e.detail)
        case let e as TokenError:
            var m = e.message
            if let f = e.pinFlags { m += " [token reports: \(f)]" }
            if let ckr = e.ckr { m += " (\(PKCS11.name(ofReturnValue: ckr))" + (e.context.map { " from \($0)" } ?? "") + ")" }
            else if let c = e.context { m += " (\(c))" }
            return (e.code.rawValue, m)
        case let e as PipelineError: return (e.code.rawValue, e.description)
        case let e as RenderError:
            var m = e.detail
            if let p = e.page { m = "page \(p): " + m }
            if let f = e.file { m = "\(f): " + m }
            return (e.code.rawValue, m)
        case let e as PDFError: return (e.code.identifier, e.description)
        case let e as any StageFailure: return (e.reasonCode, e.clerkMessage)
        default: return ("error", "\(error)")
        }
    }

    /// Whether the error is one of sealbatch's own (rendered here), not ArgumentParser's (help, usage).
    static func isOurs(_ error: any Error) -> Bool {
        error is GovCLI.Failure || error is GovernanceError || error is ApprovalRefusal || error is DetachedSignature.Error
            || error is TokenError || error is PipelineError || error is RenderError || error is PDFError || error is any StageFailure
    }

    /// Writes an error of ours in the one shape.
    static func write(_ error: any Error, next: String? = nil) {
        let (c, m) = describe(error)
        write(c, m, next: next ?? (error as? any StageFailure)?.nextStep)
    }
}
