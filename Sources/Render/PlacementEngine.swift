import Foundation

let pointsPerMM = 72.0 / 25.4

/// What the placement engine needs to know about one page.
struct PageInfo: Sendable {
    var geometry: PageGeometry
    /// Rectangles (user space) of existing signature widgets on the page.
    var signatureWidgets: [Box]
    /// Empty (unsigned) signature fields with a visible widget on this page: name and rectangle.
    var emptyFields: [(name: String, box: Box)] = []
}

/// One seal (or seal slice) as placed by the engine, in user space.
struct PlacedBox: Equatable, Sendable {
    var pageIndex: Int
    var box: Box
    var rotation: Int
    /// (index, count) for a cross-page slice; index counts from the seal's left as displayed.
    var slice: (Int, Int)?
    /// The existing empty signature field the seal fills (its rectangle is `box`).
    var fieldName: String? = nil
    static func == (a: PlacedBox, b: PlacedBox) -> Bool {
        a.pageIndex == b.pageIndex && a.box == b.box && a.rotation == b.rotation && a.slice?.0 == b.slice?.0 && a.slice?.1 == b.slice?.1
            && a.fieldName == b.fieldName
    }
}

/// Pure placement logic: page geometry, anchor hits and a spec in, rectangles and warnings out.
/// Works in display space (what the clerk sees) and converts to user space at the end.
struct PlacementEngine {
    let pages: [PageInfo]
    /// Seal size in points (upright, as displayed).
    let sealWidth: Double
    let sealHeight: Double
    let fileName: String?
    /// Finds anchor text: (page index, text) → user-space boxes in reading order.
    let find: (Int, String) throws -> [Box]

    func resolve(_ spec: PlacementSpec) throws -> (boxes: [PlacedBox], warnings: [String]) {
        try spec.validate()
        guard !pages.isEmpty else { throw RenderError(.documentUnreadable, "the document has no pages", file: fileName) }
        var out: [PlacedBox] = []
        var warnings: [String] = []

        // Main seal: a named empty signature field, or an empty field that fits the seal (preferred), or
        // anchor, or explicit position, or anchor with fallback.
        if let name = spec.field {
            guard let (p, f) = pages.indices.lazy.compactMap({ p in self.pages[p].emptyFields.first { $0.name == name }.map { (p, $0) } }).first else {
                let names = pages.flatMap { $0.emptyFields.map(\.name) }
                throw RenderError(.fieldNotFound, "the document has no empty signature field \"\(name)\" with a visible widget"
                                  + (names.isEmpty ? " (it has no empty signature field)" : " (empty signature fields: \(names.map { "\"\($0)\"" }.joined(separator: ", ")))"),
                                  file: fileName)
            }
            out.append(PlacedBox(pageIndex: p, box: f.box, rotation: pages[p].geometry.rotation, slice: nil, fieldName: f.name))
        } else if spec.preferEmptyField, spec.anchor != nil || spec.hasExplicitPosition, let (p, f) = fittingEmptyField() {
            warnings.append("page \(p + 1): the seal fills the empty signature field \"\(f.name)\" (it fits the seal) instead of the configured position")
            out.append(PlacedBox(pageIndex: p, box: f.box, rotation: pages[p].geometry.rotation, slice: nil, fieldName: f.name))
        } else if let anchor = spec.anchor {
            if let (pageIndex, hit) = try findAnchor(anchor) {
                let g = pages[pageIndex].geometry
                let r = g.displayRect(hit)
                let (cx, cy) = anchorCentre(anchor, textRect: r)
                out.append(try place(centreX: cx, centreY: cy, page: pageIndex, spec: spec, warnings: &warnings))
            } else if anchor.fallback == .lastPage {
                let idx = try explicitPage(spec, default: .last)
                warnings.append("anchor text \(Self.quoted(anchor.texts)) not found\(Self.window(anchor.pages)); seal placed at the fallback position on page \(idx + 1)")
                out.append(try explicitBox(spec, pageIndex: idx, warnings: &warnings))
            } else {
                throw RenderError(.anchorNotFound,
                    "anchor text \(Self.quoted(anchor.texts)) (occurrence \(anchor.occurrence)) is not in the document's text\(Self.window(anchor.pages)); "
                    + "check the wording (full-width brackets matter), add \"alternatives\", widen \"pages\", or configure \"fallback\": \"last-page\"", file: fileName)
            }
        } else if spec.hasExplicitPosition {
            let idx = try explicitPage(spec, default: .last)
            out.append(try explicitBox(spec, pageIndex: idx, warnings: &warnings))
        }

        if let cp = spec.crossPage {
            out += try crossPage(cp, policy: spec.signatureOverlap, warnings: &warnings)
        }
        return (out, warnings)
    }

    // MARK: - main seal

    /// The first empty signature field (last page first, then from the first page) whose rectangle holds the seal.
    private func fittingEmptyField() -> (Int, (name: String, box: Box))? {
        let order = [pages.count - 1] + Array(0..<(pages.count - 1))
        for p in order {
            for f in pages[p].emptyFields {
                let (w, h) = (abs(f.box.urx - f.box.llx), abs(f.box.ury - f.box.lly))
                let (sw, sh) = pages[p].geometry.rotation % 180 == 0 ? (sealWidth, sealHeight) : (sealHeight, sealWidth)
                if w + 1 >= sw && h + 1 >= sh { return (p, f) }
            }
        }
        return nil
    }

    private func explicitPage(_ spec: PlacementSpec, default def: PageSelector) throws -> Int {
        let sel = spec.page ?? def
        guard let i = sel.index(pageCount: pages.count) else {
            throw RenderError(.pageOutOfRange, "placement names page \(sel) but the document has \(pages.count) pages", file: fileName)
        }
        return i
    }

    private func explicitBox(_ spec: PlacementSpec, pageIndex: Int, warnings: inout [String]) throws -> PlacedBox {
        let (w, h) = pages[pageIndex].geometry.displaySize
        let x = (spec.xMM ?? 50) * pointsPerMM, y = (spec.yMM ?? 60) * pointsPerMM
        let cx: Double, cy: Double
        switch spec.corner ?? .bottomRight {
        case .topLeft: (cx, cy) = (x, y)
        case .topRight: (cx, cy) = (w - x, y)
        case .bottomLeft: (cx, cy) = (x, h - y)
        case .bottomRight: (cx, cy) = (w - x, h - y)
        }
        return try place(centreX: cx, centreY: cy, page: pageIndex, spec: spec, warnings: &warnings)
    }

    /// The anchor's box: the chosen occurrence of `text`, else of the first alternative found.
    func findAnchor(_ a: AnchorSpec) throws -> (Int, Box)? {
        let window = a.pages.indices(pageCount: pages.count)
        for text in a.texts {
            if let hit = try findAnchor(text, occurrence: a.occurrence, in: window) { return hit }
        }
        return nil
    }

    /// The nth occurrence inside `window`: forwards from its first page for n > 0, backwards from its last
    /// page for n < 0 (-1 = last). Stops at the page that holds it: pages beyond are never read.
    private func findAnchor(_ text: String, occurrence: Int, in window: Range<Int>) throws -> (Int, Box)? {
        var seen = 0
        if occurrence > 0 {
            for p in window {
                let hits = try find(p, text)
                if seen + hits.count >= occurrence { return (p, hits[occurrence - 1 - seen]) }
                seen += hits.count
            }
            return nil
        }
        for p in window.reversed() {
            let hits = try find(p, text)   // reading order on the page; counted from its end
            if seen + hits.count >= -occurrence { return (p, hits[hits.count - (-occurrence - seen)]) }
            seen += hits.count
        }
        return nil
    }

    static func window(_ w: SearchWindow) -> String { w == .all ? "" : " (searched the \(w) pages)" }

    static func quoted(_ texts: [String]) -> String { texts.map { "\"\($0)\"" }.joined(separator: " or ") }

    private func anchorCentre(_ a: AnchorSpec, textRect r: (x: Double, y: Double, w: Double, h: Double)) -> (Double, Double) {
        let gap = 1 * pointsPerMM
        var cx = r.x + r.w / 2, cy = r.y + r.h / 2
        switch a.position {
        case .over: break
        case .right: cx = r.x + r.w + gap + sealWidth / 2
        case .left: cx = r.x - gap - sealWidth / 2
        case .above: cy = r.y - gap - sealHeight / 2
        case .below: cy = r.y + r.h + gap + sealHeight / 2
        }
        return (cx + a.dxMM * pointsPerMM, cy - a.dyMM * pointsPerMM)
    }

    /// Places the whole seal centred at a display point: kept on the visible page, moved off
    /// signature fields according to the policy.
    private func place(centreX: Double, centreY: Double, page: Int, spec: PlacementSpec, warnings: inout [String]) throws -> PlacedBox {
        let info = pages[page]
        let g = info.geometry
        let (W, H) = g.displaySize
        guard sealWidth <= W + 0.01, sealHeight <= H + 0.01 else {
            throw RenderError(.sealDoesNotFit, String(format: "the seal (%.0f×%.0f mm) is larger than the visible page (%.0f×%.0f mm)",
                                                      sealWidth / pointsPerMM, sealHeight / pointsPerMM, W / pointsPerMM, H / pointsPerMM),
                              file: fileName, page: page + 1)
        }
        var x = centreX - sealWidth / 2, y = centreY - sealHeight / 2
        let cx = min(max(x, 0), W - sealWidth), cy = min(max(y, 0), H - sealHeight)
        if abs(cx - x) > 0.01 || abs(cy - y) > 0.01 {
            warnings.append(String(format: "page %d: seal moved %.1f mm to stay on the visible page", page + 1,
                                   hypot(cx - x, cy - y) / pointsPerMM))
            x = cx; y = cy
        }
        let widgets = info.signatureWidgets.map { g.displayRect($0) }
        func overlaps(_ x: Double, _ y: Double) -> Bool {
            widgets.contains { w in x < w.x + w.w && w.x < x + sealWidth && y < w.y + w.h && w.y < y + sealHeight }
        }
        if overlaps(x, y) {
            switch spec.signatureOverlap {
            case .error:
                throw RenderError(.overlapsSignature, "the seal would cover an existing signature field", file: fileName, page: page + 1)
            case .report:
                warnings.append("page \(page + 1): the seal covers an existing signature field")
            case .move:
                guard let (nx, ny) = nearestFree(x, y, W: W, H: H, overlaps: overlaps)
                        ?? nearestFree(x, y, W: W, H: H, reach: Int((max(W, H) / (2 * pointsPerMM)).rounded(.up)), overlaps: overlaps) else {
                    throw RenderError(.overlapsSignature, "the seal would cover an existing signature field and there is no free spot on the page",
                                      file: fileName, page: page + 1)
                }
                warnings.append(String(format: "page %d: seal moved %.1f mm to keep clear of an existing signature field",
                                       page + 1, hypot(nx - x, ny - y) / pointsPerMM))
                x = nx; y = ny
            }
        }
        return PlacedBox(pageIndex: page, box: g.userBox(displayX: x, y: y, width: sealWidth, height: sealHeight),
                         rotation: g.rotation, slice: nil)
    }

    /// Nearest position (2 mm grid, up to `reach` steps away: 80 mm by default, the whole page when asked) that overlaps nothing.
    private func nearestFree(_ x: Double, _ y: Double, W: Double, H: Double, reach: Int = 40, overlaps: (Double, Double) -> Bool) -> (Double, Double)? {
        let step = 2 * pointsPerMM
        var best: (Double, Double, Double)?
        for i in -reach...reach {
            for j in -reach...reach {
                let nx = x + Double(i) * step, ny = y + Double(j) * step
                guard nx >= 0, ny >= 0, nx + sealWidth <= W, ny + sealHeight <= H, !overlaps(nx, ny) else { continue }
                let d = hypot(nx - x, ny - y)
                if best == nil || d < best!.2 { best = (nx, ny, d) }
            }
        }
        return best.map { ($0.0, $0.1) }
    }

    // MARK: - cross-page seal

    private func crossPage(_ cp: CrossPageSpec, policy: OverlapPolicy, warnings: inout [String]) throws -> [PlacedBox] {
        let idx = try cp.pages.indices(pageCount: pages.count)
        guard idx.count >= 2 else {
            throw RenderError(.invalidPlacement, "a cross-page seal needs at least 2 pages; the document has \(pages.count)", file: fileName)
        }
        let n = idx.count
        let sliceW = sealWidth / Double(n)
        if sliceW < 1 * pointsPerMM {
            warnings.append(String(format: "cross-page seal over %d pages: slices are only %.2f mm wide", n, sliceW / pointsPerMM))
        }
        var out: [PlacedBox] = []
        for (k, p) in idx.enumerated() {
            let g = pages[p].geometry
            let (W, H) = g.displaySize
            guard sealHeight <= H else {
                throw RenderError(.sealDoesNotFit, "the seal is taller than the visible page", file: fileName, page: p + 1)
            }
            var y = (cp.yMM.map { $0 * pointsPerMM } ?? H / 2) - sealHeight / 2
            let clamped = min(max(y, 0), H - sealHeight)
            if abs(clamped - y) > 0.01 {
                warnings.append(String(format: "page %d: cross-page slice moved %.1f mm to stay on the visible page", p + 1, abs(clamped - y) / pointsPerMM))
                y = clamped
            }
            // Right edge: page order left to right. Left edge: reverse order.
            let sliceIndex = cp.edge == .right ? k : n - 1 - k
            let x = cp.edge == .right ? W - sliceW : 0
            let box = g.userBox(displayX: x, y: y, width: sliceW, height: sealHeight)
            if pages[p].signatureWidgets.contains(where: { $0.intersects(box) }) {
                if policy == .error {
                    throw RenderError(.overlapsSignature, "the cross-page slice would cover an existing signature field", file: fileName, page: p + 1)
                }
                warnings.append("page \(p + 1): the cross-page slice covers an existing signature field")
            }
            out.append(PlacedBox(pageIndex: p, box: box, rotation: g.rotation, slice: (sliceIndex, n)))
        }
        return out
    }
}
