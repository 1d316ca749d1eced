import CPoppler
import Foundation

/// Draws a seal design with Cairo in millimetre units, origin at the top-left corner of the seal's
/// box, y downwards. Used for the PDF appearance (vector, fonts embedded by Cairo) and for previews.
/// All calls run under `CLibraries.lock`.
struct SealPainter {
    let design: SealDesign
    /// Font for the seal text (nil only for image seals).
    let font: ResolvedFont?
    /// Size of the seal box in millimetres (authoritative for image seals).
    let widthMM: Double
    let heightMM: Double
    /// Path of the decoded PNG for image seals.
    let imagePath: String?

    /// Checks the design, finds its font and measures it. Throws before anything is drawn.
    init(design: SealDesign) throws {
        do { try design.validate() } catch let e as SealDesignError { throw RenderError(.invalidDesign, e.description) }
        self.design = design
        switch design {
        case .image(let i):
            imagePath = i.file
            font = nil
            let (w, h) = try SealPainter.pngSize(i.file)
            widthMM = i.widthMM
            heightMM = i.heightMM ?? i.widthMM * Double(h) / Double(w)
        case .round(let r):
            imagePath = nil
            font = try FontResolver.resolve(family: r.font, text: design.text)
            (widthMM, heightMM) = (r.diameterMM, r.diameterMM)
        case .oval(let o):
            imagePath = nil
            font = try FontResolver.resolve(family: o.font, text: design.text)
            (widthMM, heightMM) = (o.widthMM, o.heightMM)
        case .square(let s):
            imagePath = nil
            font = try FontResolver.resolve(family: s.font, text: design.text)
            (widthMM, heightMM) = (s.sizeMM, s.sizeMM)
        }
    }

    static func pngSize(_ path: String) throws -> (Int, Int) {
        try CLibraries.locked {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw RenderError(.imageUnreadable, "seal image not found or not readable", file: path)
            }
            let s = cairo_image_surface_create_from_png(path)
            defer { cairo_surface_destroy(s) }
            guard cairo_surface_status(s) == CAIRO_STATUS_SUCCESS else {
                throw RenderError(.imageUnreadable, "seal image is not a readable PNG", file: path)
            }
            let w = Int(cairo_image_surface_get_width(s)), h = Int(cairo_image_surface_get_height(s))
            guard w > 0, h > 0 else { throw RenderError(.imageUnreadable, "seal image is empty", file: path) }
            return (w, h)
        }
    }

    /// Paints the seal. `cr` must already map millimetres (seal box at 0,0).
    func draw(_ cr: OpaquePointer) throws {
        try CLibraries.locked {
            cairo_save(cr)
            defer { cairo_restore(cr) }
            // Ink multiplies with the paper like a real stamp: text under the seal stays readable.
            cairo_set_operator(cr, CAIRO_OPERATOR_MULTIPLY)
            switch design {
            case .image:
                try drawImage(cr)
            case .round(let r):
                try withFont(cr) {
                    if r.inkTexture { clipTexture(cr, seed: r.textureSeed) }
                    setColor(cr, r.color)
                    drawRound(cr, r)
                }
            case .oval(let o):
                try withFont(cr) {
                    if o.inkTexture { clipTexture(cr, seed: o.textureSeed) }
                    setColor(cr, o.color)
                    drawOval(cr, o)
                }
            case .square(let s):
                try withFont(cr) {
                    if s.inkTexture { clipTexture(cr, seed: s.textureSeed) }
                    setColor(cr, s.color)
                    drawSquare(cr, s)
                }
            }
            let st = cairo_status(cr)
            if st != CAIRO_STATUS_SUCCESS {
                throw RenderError(.drawingFailed, "Cairo: \(String(cString: cairo_status_to_string(st)))")
            }
        }
    }

    // MARK: - helpers

    private func withFont(_ cr: OpaquePointer, _ body: () throws -> Void) throws {
        guard let font, let face = FontResolver.cairoFace(font) else {
            throw RenderError(.fontNotFound, "the seal font could not be loaded by Cairo")
        }
        defer { cairo_font_face_destroy(face) }
        guard cairo_font_face_status(face) == CAIRO_STATUS_SUCCESS else {
            throw RenderError(.fontNotFound, "Cairo cannot load the font file \(font.file)")
        }
        cairo_set_font_face(cr, face)
        let opts = cairo_font_options_create()
        cairo_font_options_set_hint_style(opts, CAIRO_HINT_STYLE_NONE)
        cairo_font_options_set_hint_metrics(opts, CAIRO_HINT_METRICS_OFF)
        cairo_font_options_set_antialias(opts, CAIRO_ANTIALIAS_GRAY)
        cairo_set_font_options(cr, opts)
        cairo_font_options_destroy(opts)
        try body()
    }

    private func setColor(_ cr: OpaquePointer, _ c: SealColor) {
        cairo_set_source_rgb(cr, c.red, c.green, c.blue)
    }

    /// Clips away small specks (even-odd) so the ink looks slightly uneven; deterministic per seed.
    private func clipTexture(_ cr: OpaquePointer, seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        cairo_new_path(cr)
        cairo_rectangle(cr, 0, 0, widthMM, heightMM)
        let count = Int(widthMM * heightMM * 0.35)
        for _ in 0..<count {
            let x = rng.unit() * widthMM, y = rng.unit() * heightMM
            let r = 0.06 + rng.unit() * rng.unit() * 0.3
            cairo_new_sub_path(cr)
            cairo_arc(cr, x, y, r, 0, 2 * .pi)
        }
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_EVEN_ODD)
        cairo_clip(cr)
        cairo_set_fill_rule(cr, CAIRO_FILL_RULE_WINDING)
    }

    private func advance(_ cr: OpaquePointer, _ s: String) -> Double {
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, s, &e)
        return e.x_advance
    }

    /// Shows one character with its em box centred on the current origin, squeezed by `xScale`.
    private func showCentred(_ cr: OpaquePointer, _ s: String, size: Double, xScale: Double) {
        let adv = advance(cr, s)
        cairo_save(cr)
        cairo_scale(cr, xScale, 1)
        cairo_move_to(cr, -adv / 2, 0.38 * size)   // ideographic em box spans -0.88…+0.12 em around the baseline
        cairo_show_text(cr, s)
        cairo_restore(cr)
    }

    /// A horizontal line of text centred at (cx, cy), condensed to fit `maxWidth`.
    private func drawLine(_ cr: OpaquePointer, _ text: String, cx: Double, cy: Double, size: Double, maxWidth: Double) {
        cairo_set_font_size(cr, size)
        let chars = text.map(String.init)
        let advs = chars.map { advance(cr, $0) }
        let natural = advs.reduce(0, +)
        guard natural > 0 else { return }
        let xs = min(1, maxWidth / natural)
        var x = cx - natural * xs / 2
        for (c, a) in zip(chars, advs) {
            cairo_save(cr)
            cairo_translate(cr, x + a * xs / 2, cy)
            showCentred(cr, c, size: size, xScale: xs)
            cairo_restore(cr)
            x += a * xs
        }
    }

    private func isCJK(_ text: String) -> Bool {
        text.unicodeScalars.contains { (0x3000...0x9FFF).contains($0.value) || (0xF900...0xFFEF).contains($0.value) }
    }

    /// Lays characters along the upper arc (clockwise, tops outwards) or the lower arc (left to right,
    /// bottoms outwards) of an ellipse through the em-box centres. Spacing is fitted to the arc;
    /// too-long texts are condensed, then reduced in size. Returns the size used.
    @discardableResult
    private func drawArcText(_ cr: OpaquePointer, _ text: String, cx: Double, cy: Double,
                             radii: (Double) -> (Double, Double), size: Double, spanDegrees: Double,
                             upper: Bool, maxGapEm: Double, minXScale: Double = 0.45) -> Double {
        let chars = text.map(String.init)
        guard !chars.isEmpty else { return size }
        var s = size
        var layout: (a: Double, b: Double, xs: Double, gap: Double, table: ArcTable, advs: [Double])!
        for _ in 0..<6 {
            let (a, b) = radii(s)
            let table = ArcTable(a: a, b: b, halfSpan: spanDegrees / 2 * .pi / 180, upper: upper)
            cairo_set_font_size(cr, s)
            let advs = chars.map { advance(cr, $0) }
            let natural = advs.reduce(0, +)
            let minGap = chars.count > 1 ? 0.04 * s : 0
            let room = table.length - minGap * Double(max(chars.count - 1, 0))
            var xs = min(1, room / natural)
            if xs < minXScale {            // still too long: smaller glyphs, then try again
                s *= max(0.6, xs / minXScale)
                xs = minXScale
                if s < 1.2 { s = 1.2 } else { continue }
            }
            var gap = chars.count > 1 ? (table.length - natural * xs) / Double(chars.count - 1) : 0
            gap = min(gap, maxGapEm * s)
            layout = (a, b, xs, gap, table, advs)
            break
        }
        if layout == nil {
            let (a, b) = radii(s)
            let table = ArcTable(a: a, b: b, halfSpan: spanDegrees / 2 * .pi / 180, upper: upper)
            cairo_set_font_size(cr, s)
            let advs = chars.map { advance(cr, $0) }
            layout = (a, b, minXScale, 0.04 * s, table, advs)
        }
        let (_, _, xs, gap, table, advs) = layout!
        cairo_set_font_size(cr, s)
        let used = advs.reduce(0) { $0 + $1 * xs } + gap * Double(chars.count - 1)
        var pos = (table.length - used) / 2
        for (c, a) in zip(chars, advs) {
            let centre = pos + a * xs / 2
            let (x, y, angle) = table.point(atLength: centre)
            cairo_save(cr)
            cairo_translate(cr, cx + x, cy + y)
            cairo_rotate(cr, angle)
            showCentred(cr, c, size: s, xScale: xs)
            cairo_restore(cr)
            pos += a * xs + gap
        }
        return s
    }

    private func star(_ cr: OpaquePointer, cx: Double, cy: Double, r: Double) {
        cairo_new_path(cr)
        for i in 0..<10 {
            let rad = i % 2 == 0 ? r : r * 0.381966
            let a = -Double.pi / 2 + Double(i) * .pi / 5
            let x = cx + rad * cos(a), y = cy + rad * sin(a)
            if i == 0 { cairo_move_to(cr, x, y) } else { cairo_line_to(cr, x, y) }
        }
        cairo_close_path(cr)
        cairo_fill(cr)
    }

    // MARK: - kinds

    private func drawRound(_ cr: OpaquePointer, _ r: RoundSeal) {
        let d = r.diameterMM, R = d / 2, c = R
        cairo_set_line_width(cr, r.rimWidthMM)
        cairo_new_path(cr)
        cairo_arc(cr, c, c, R - r.rimWidthMM / 2, 0, 2 * .pi)
        cairo_stroke(cr)
        if r.star { star(cr, cx: c, cy: c, r: 0.175 * d) }
        let cjk = isCJK(r.organisation)
        let orgSize = (cjk ? 0.165 : 0.12) * d
        let margin = 0.02 * d
        drawArcText(cr, r.organisation, cx: c, cy: c,
                    radii: { s in let rr = R - r.rimWidthMM - margin - s / 2; return (rr, rr) },
                    size: orgSize, spanDegrees: r.textArcDegrees, upper: true, maxGapEm: cjk ? 0.9 : 0.35)
        if let name = r.name, !name.isEmpty {
            let s = (isCJK(name) ? 0.11 : 0.075) * d
            drawLine(cr, name, cx: c, cy: c + (r.star ? 0.232 : 0.05) * d, size: s, maxWidth: 0.5 * d)
        }
        if let code = r.code, !code.isEmpty {
            let s = 0.06 * d
            drawArcText(cr, code, cx: c, cy: c,
                        radii: { s in let rr = R - r.rimWidthMM - 0.015 * d - s / 2; return (rr, rr) },
                        size: s, spanDegrees: 84, upper: false, maxGapEm: 0.35)
        }
    }

    private func drawOval(_ cr: OpaquePointer, _ o: OvalSeal) {
        let a = o.widthMM / 2, b = o.heightMM / 2
        cairo_set_line_width(cr, o.rimWidthMM)
        cairo_save(cr)
        cairo_translate(cr, a, b)
        cairo_scale(cr, a - o.rimWidthMM / 2, b - o.rimWidthMM / 2)
        cairo_new_path(cr)
        cairo_arc(cr, 0, 0, 1, 0, 2 * .pi)
        cairo_restore(cr)   // stroke with an unscaled pen
        cairo_stroke(cr)
        let h = o.heightMM
        let cjk = isCJK(o.organisation)
        let margin = 0.025 * h
        drawArcText(cr, o.organisation, cx: a, cy: b,
                    radii: { s in (a - o.rimWidthMM - margin - s / 2, b - o.rimWidthMM - margin - s / 2) },
                    size: (cjk ? 0.17 : 0.12) * h, spanDegrees: o.textArcDegrees, upper: true, maxGapEm: cjk ? 0.9 : 0.35)
        if let tax = o.taxNumber, !tax.isEmpty {
            drawLine(cr, tax, cx: a, cy: b + 0.05 * h, size: 0.11 * h, maxWidth: 0.64 * o.widthMM)
        }
        if let name = o.name, !name.isEmpty {
            drawLine(cr, name, cx: a, cy: b + 0.3 * h, size: (isCJK(name) ? 0.14 : 0.09) * h, maxWidth: 0.5 * o.widthMM)
        }
    }

    private func drawSquare(_ cr: OpaquePointer, _ q: SquareSeal) {
        let S = q.sizeMM, rim = q.rimWidthMM
        cairo_set_line_width(cr, rim)
        cairo_rectangle(cr, rim / 2, rim / 2, S - rim, S - rim)
        cairo_stroke(cr)
        let inset = rim + 0.06 * S
        let inner = S - 2 * inset
        let chars = q.characters.map(String.init)
        // Cells as (x, y, w, h) in reading order: columns from the right, top to bottom.
        let half = inner / 2
        var cells: [(Double, Double, Double, Double)] = []
        switch chars.count {
        case 2: cells = [(inset + half, inset, half, inner), (inset, inset, half, inner)]
        case 3: cells = [(inset + half, inset, half, inner), (inset, inset, half, half), (inset, inset + half, half, half)]
        default: cells = [(inset + half, inset, half, half), (inset + half, inset + half, half, half),
                          (inset, inset, half, half), (inset, inset + half, half, half)]
        }
        cairo_set_font_size(cr, 10)
        for (ch, cell) in zip(chars, cells) {
            var e = cairo_text_extents_t()
            cairo_text_extents(cr, ch, &e)
            guard e.width > 0, e.height > 0 else { continue }
            let pad = 0.04 * S
            let sx = (cell.2 - pad) / e.width, sy = (cell.3 - pad) / e.height
            cairo_save(cr)
            cairo_translate(cr, cell.0 + cell.2 / 2, cell.1 + cell.3 / 2)
            cairo_scale(cr, sx, sy)
            cairo_move_to(cr, -(e.x_bearing + e.width / 2), -(e.y_bearing + e.height / 2))
            cairo_show_text(cr, ch)
            cairo_restore(cr)
        }
    }

    private func drawImage(_ cr: OpaquePointer) throws {
        guard let imagePath else { return }
        let img = cairo_image_surface_create_from_png(imagePath)
        defer { cairo_surface_destroy(img) }
        guard cairo_surface_status(img) == CAIRO_STATUS_SUCCESS else {
            throw RenderError(.imageUnreadable, "seal image is not a readable PNG", file: imagePath)
        }
        let w = Double(cairo_image_surface_get_width(img)), h = Double(cairo_image_surface_get_height(img))
        cairo_save(cr)
        cairo_scale(cr, widthMM / w, heightMM / h)
        cairo_set_source_surface(cr, img, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_BEST)
        cairo_paint(cr)
        cairo_restore(cr)
    }
}

/// Arc-length parametrisation of the upper or lower part of an ellipse centred on the origin
/// (y downwards). The upper arc runs clockwise from the left, the lower arc left to right.
struct ArcTable {
    let a: Double, b: Double, halfSpan: Double, upper: Bool
    private var params: [Double] = []
    private var lengths: [Double] = []

    init(a: Double, b: Double, halfSpan: Double, upper: Bool) {
        self.a = a; self.b = b; self.halfSpan = halfSpan; self.upper = upper
        let n = 720
        var acc = 0.0
        var prev = pos(-halfSpan)
        params.reserveCapacity(n + 1); lengths.reserveCapacity(n + 1)
        params.append(-halfSpan); lengths.append(0)
        for i in 1...n {
            let t = -halfSpan + 2 * halfSpan * Double(i) / Double(n)
            let p = pos(t)
            acc += hypot(p.0 - prev.0, p.1 - prev.1)
            params.append(t); lengths.append(acc)
            prev = p
        }
    }

    var length: Double { lengths.last ?? 0 }

    private func pos(_ t: Double) -> (Double, Double) {
        upper ? (a * sin(t), -b * cos(t)) : (a * sin(t), b * cos(t))
    }

    /// Point and glyph rotation (radians, Cairo sense) at an arc length from the start.
    func point(atLength l: Double) -> (Double, Double, Double) {
        let l = min(max(l, 0), length)
        var lo = 0, hi = lengths.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if lengths[mid] < l { lo = mid } else { hi = mid }
        }
        let span = lengths[hi] - lengths[lo]
        let f = span > 0 ? (l - lengths[lo]) / span : 0
        let t = params[lo] + f * (params[hi] - params[lo])
        let (x, y) = pos(t)
        let angle = upper ? atan2(b * sin(t), a * cos(t)) : atan2(-b * sin(t), a * cos(t))
        return (x, y, angle)
    }
}

/// Small deterministic generator for the ink texture.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
