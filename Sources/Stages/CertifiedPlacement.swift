import Foundation
import PDF
import Pipeline
import Render
import Signing

/// The render stage's `visible` setting: what happens when the seal cannot be shown on the page (a certified
/// document without an empty signature field).
public enum SealVisibility: String, Sendable, CaseIterable {
    /// Seal invisibly (it shows in the signature panel), with a warning in the receipt, the run's summary and
    /// the report. The default.
    case preferred
    /// Refuse the document (`visible-seal-not-allowed`) before its approval use and the token are spent.
    case required

    /// Reads `visible` (absent: `preferred`); `required` together with `invisible: true` is a contradiction.
    static func setting(_ v: JSONValue?, path: String, invisible: Bool) throws -> SealVisibility {
        guard let v else { return .preferred }
        let raw = try v.decode(String.self, path: path)
        guard let parsed = SealVisibility(rawValue: raw) else {
            throw PipelineError(.invalidValue, path: path, "use \"preferred\" (seal invisibly, with a warning, when the seal cannot be shown) or \"required\" (refuse the document)")
        }
        if parsed == .required && invisible {
            throw PipelineError(.invalidValue, path: path, "\"required\" contradicts \"invisible\": true")
        }
        return parsed
    }
}

/// Placement on a certified document (DocMDP P=2/P=3): a new visible signature field would break the
/// certification (ISO 32000-2 §12.8.2.2; pyHanko: "Update of Reference … is only allowed after an approval
/// signature, not a certification signature"), so the seal fills the author's empty signature field — the one on
/// the page the placement chose, else the first — in its own rectangle and page. Without one, the seal is
/// invisible (a warning) or refused (`visible: "required"`). P=1 never gets here: ingest refuses it.
enum CertifiedPlacement {
    /// The placement in an empty field, or nil for an invisible seal (the warning recorded on the job).
    static func resolve(document doc: PDFDocument, fileURL: URL, spec: PlacementSpec, seal: RenderedSeal,
                        visible: SealVisibility, job: inout Job, context: StageContext) throws -> PlacementResult? {
        let empty = Placement.emptySignatureFields(doc)
        if empty.isEmpty { return try noField(doc, visible: visible, job: &job, context: context) }
        // The page the configured placement would use; it may find no free spot (the author's fields fill the
        // page), which does not matter here: the seal goes into one of those fields.
        let wanted: PlacementResult?
        do { wanted = try Placement.resolve(document: doc, fileURL: fileURL, spec: spec, seal: seal) } catch is RenderError { wanted = nil }
        if let wanted, wanted.fieldName != nil { return wanted } // the automatic choice of an empty field that fits
        let f = empty.first { $0.pageIndex == wanted?.widgets.first?.pageIndex } ?? empty[0]
        var inField = PlacementSpec(field: f.name)
        inField.signatureOverlap = spec.signatureOverlap
        let result = try Placement.resolve(document: doc, fileURL: fileURL, spec: inField, seal: seal)
        warn("\(why(doc)); the seal fills the existing empty signature field \"\(f.name)\" on page \(f.pageIndex + 1) instead", job: &job, context: context)
        return result
    }

    static func why(_ doc: PDFDocument) -> String {
        "the document is certified (DocMDP P=\(doc.docMDPPermission ?? 0)): a new visible signature field would break its certification"
    }

    /// No empty field to seal into: refused (`required`) or invisible with a warning (nil).
    static func noField(_ doc: PDFDocument, visible: SealVisibility, job: inout Job, context: StageContext) throws -> PlacementResult? {
        let why = why(doc)
        if visible == .required {
            throw StageRejection(.visibleSealNotAllowed, "\(job.sourceName): \(why), and it has no empty signature field to seal into; "
                + "the pipeline requires a visible seal (render stage \"visible\": \"required\")")
        }
        warn("\(why), and the document has no empty signature field: the seal was added INVISIBLY (it shows in the signature panel, not on the page)",
             job: &job, context: context)
        return nil
    }

    /// A warning for the receipt (`warnings`), the run's summary and the report (the job note `warning`), and the log.
    static func warn(_ w: String, job: inout Job, context: StageContext) {
        job.facts[StageFacts.warnings] = (job.facts[StageFacts.warnings] ?? []) + [w]
        job.notes["warning"] = job.notes["warning"].map { $0 + "; " + w } ?? w
        context.logger.notice("seal", metadata: ["file": "\(job.sourceName)", "warning": "\(w)"])
    }
}
