import CPoppler
import Foundation
import PDF

/// The `render` settings a preview needs: a seal design and where it goes. JSON:
/// `{"design": {…SealDesign…}, "placement": {…PlacementSpec…}}` (kebab-case, unknown keys rejected).
public struct RenderSettings: Codable, Sendable, Equatable {
    public var design: SealDesign
    public var placement: PlacementSpec

    public init(design: SealDesign, placement: PlacementSpec) { self.design = design; self.placement = placement }

    enum CodingKeys: String, CodingKey, CaseIterable { case design, placement }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(allowed: Set(CodingKeys.allCases.map(\.rawValue)), in: "render settings")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        design = try c.decode(SealDesign.self, forKey: .design)
        placement = try c.decode(PlacementSpec.self, forKey: .placement)
    }
}

/// One previewed page.
public struct PreviewPage: Sendable {
    /// 0-based page index.
    public var pageIndex: Int
    /// The page as displayed (rotation applied, CropBox), seals drawn, as PNG.
    public var png: [UInt8]
}

/// What a preview produced.
public struct PreviewResult: Sendable {
    public var pages: [PreviewPage]
    public var placements: [WidgetPlacement]
    public var warnings: [String]
}

/// Renders pages as they will look after sealing, without the token: the seal widgets are written
/// into a temporary unsigned copy (the original is untouched) which poppler renders with Cairo.
public enum Preview {
    /// Renders `pages` (0-based; nil = the pages that receive a seal) of `fileURL` at `dpi`.
    public static func render(fileURL: URL, settings: RenderSettings, pages: [Int]? = nil, dpi: Double = 100) throws -> PreviewResult {
        guard (20...600).contains(dpi) else { throw RenderError(.invalidPlacement, "dpi \(dpi) is outside 20…600") }
        let name = fileURL.lastPathComponent
        let doc: PDFDocument
        do { doc = try PDFDocument(url: fileURL) } catch {
            throw RenderError(.documentUnreadable, "cannot read the PDF: \(error)", file: name)
        }
        let seal = try SealRenderer.render(design: settings.design)
        let placed = try Placement.resolve(document: doc, fileURL: fileURL, spec: settings.placement, seal: seal)
        let widgets = try seal.widgets(for: placed.widgets)
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sealbatch-preview-\(UUID().uuidString).pdf")
        defer { try? FileManager.default.removeItem(at: tmp) }
        try SealOverlay.write(document: doc, widgets: widgets, to: tmp)
        let sealed = try PopplerFile(url: tmp)
        let sealedDoc = try PDFDocument(url: tmp)
        let wanted = pages ?? Array(Set(placed.widgets.map(\.pageIndex))).sorted()
        let all = sealedDoc.pages
        var out: [PreviewPage] = []
        for i in wanted {
            guard all.indices.contains(i) else {
                throw RenderError(.pageOutOfRange, "the document has \(all.count) pages", file: name, page: i + 1)
            }
            let p = all[i]
            let g = PageGeometry(crop: Box(p.cropBox.llx, p.cropBox.lly, p.cropBox.urx, p.cropBox.ury), rotation: p.rotate)
            let png: [UInt8] = try CLibraries.locked {
                let s = try sealed.renderPage(i, dpi: dpi, geometry: g)
                defer { cairo_surface_destroy(s) }
                return try pngBytes(s)
            }
            out.append(PreviewPage(pageIndex: i, png: png))
        }
        return PreviewResult(pages: out, placements: placed.widgets, warnings: placed.warnings)
    }
}

extension Preview {
    /// Number of pages of a PDF (as the PDF core reads them).
    public static func pageCount(fileURL: URL) throws -> Int {
        do { return try PDFDocument(url: fileURL).pageCount } catch {
            throw RenderError(.documentUnreadable, "cannot read the PDF: \(error)", file: fileURL.lastPathComponent)
        }
    }
}
