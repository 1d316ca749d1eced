import Foundation
import PDF
import Pipeline
import Render
import Signing

/// Draws the seal (once per run, vector, Cairo) and places it on each document: coordinates, an
/// anchor text found with poppler, or a cross-page seal (骑缝章). `invisible: true` seals without
/// an appearance. A certified document (DocMDP P=2/P=3) never gets a new visible signature field:
/// `CertifiedPlacement` puts the seal into the author's empty signature field, or seals it invisibly with a
/// warning, or refuses (`visible: "required"`).
public struct RenderStage: Stage {
    public static let kind: StageKind = "render"
    public static let requires: Set<Fact> = [.ingested]
    public static let produces: Set<Fact> = [.rendered]
    /// `visible`: seal invisibly with a warning (`preferred`) or refuse (`required`) when the seal cannot be shown.
    public var visible: SealVisibility = .preferred
    let runtime: StagesRuntime
    let placement: PlacementSpec
    let invisible: Bool
    let cache: RenderCache

    /// Creates the stage.
    /// Creates the stage; the design is the registered seal's (`StagesRuntime.registeredDesign`).
    public init(runtime: StagesRuntime, placement: PlacementSpec, invisible: Bool = false) {
        self.runtime = runtime; self.placement = placement; self.invisible = invisible
        self.cache = RenderCache()
    }

    public func process(_ job: Job, context: StageContext) async throws -> Job {
        var job = job
        if invisible {
            job.facts[StageFacts.appearance] = AppearanceBox(appearance: nil, placements: [])
            return job
        }
        let seal = try cache.seal { try self.design() }
        do {
            let doc = try PDFDocument(url: job.currentURL)
            var placed: PlacementResult
            if doc.docMDPPermission != nil && placement.field == nil {
                guard let inField = try CertifiedPlacement.resolve(document: doc, fileURL: job.currentURL, spec: placement,
                                                                   seal: seal, visible: visible, job: &job, context: context) else {
                    job.facts[StageFacts.appearance] = AppearanceBox(appearance: nil, placements: [])
                    return job
                }
                placed = inField
            } else {
                placed = try Placement.resolve(document: doc, fileURL: job.currentURL, spec: placement, seal: seal)
            }
            let widgets = try seal.widgets(for: placed.widgets)
            var appearance = SealAppearance(widgets: widgets.map {
                SealAppearance.Widget(pageIndex: $0.pageIndex, rect: $0.rect, form: $0.form, source: $0.source)
            }, fieldName: placed.fieldName)
            appearance.visibleRequired = visible == .required
            job.facts[StageFacts.appearance] = AppearanceBox(appearance: appearance, placements: placed.widgets.map {
                String(format: "page %d at [%.1f %.1f %.1f %.1f]", $0.pageIndex + 1, $0.rect.llx, $0.rect.lly, $0.rect.urx, $0.rect.ury)
            })
            for w in placed.warnings { context.logger.notice("placement", metadata: ["file": "\(job.sourceName)", "warning": "\(w)"]) }
            return job
        } catch let e as RenderError {
            throw StageRejection(.placement, "\(job.sourceName): \(e.description)")
        } catch let e as PDFError {
            throw IngestStage.rejection(e, name: job.sourceName)
        }
    }

    /// Draws the seal before the first document needs it (errors surface on that document).
    public func prepare(context: StageContext) async {
        if !invisible { _ = try? cache.seal { try self.design() } } // warm-up only: a bad design fails the first document, with its error
    }

    func design() throws -> SealDesign { try runtime.registeredDesign() }

    static func descriptor() -> StageDescriptor {
        StageDescriptor(RenderStage.self, defaultConcurrency: 2, settingsKeys: ["placement", "design", "invisible", "visible"]) { s, path, env in
            let rt = try StandardStages.runtime(env)
            let spec = try s["placement"].map { try $0.decode(PlacementSpec.self, path: path + ".placement") } ?? PlacementSpec(page: nil, corner: .bottomRight)
            do { try spec.validate() } catch { throw PipelineError(.invalidValue, path: path + ".placement", "\(error)") }
            let invisible = try s["invisible"].map { try $0.decode(Bool.self, path: path + ".invisible") } ?? false
            if s["design"] != nil {
                throw PipelineError(.invalidValue, path: path + ".design", SealSection.designMoved(rt.sealSection?.id ?? "SEAL"))
            }
            var st = RenderStage(runtime: rt, placement: spec, invisible: invisible)
            st.visible = try SealVisibility.setting(s["visible"], path: path + ".visible", invisible: invisible)
            return st
        }
    }
}

/// The rendered seal, drawn once per run.
final class RenderCache: @unchecked Sendable {
    private let lock = NSLock()
    private var value: RenderedSeal?
    func seal(_ design: () throws -> SealDesign) throws -> RenderedSeal {
        lock.lock(); defer { lock.unlock() }
        if let v = value { return v }
        do {
            let v = try SealRenderer.render(design: try design())
            value = v
            return v
        } catch let e as RenderError {
            throw StageRejection(.render, "the seal could not be drawn: \(e.description)")
        }
    }
}
