import Foundation

/// Writes PDF objects in canonical syntax. Records where placeholders landed (relative to `out`).
struct PDFSerializer {
    var out: [UInt8] = []
    /// Offsets (in `out`) of placeholders written so far, with their byte length.
    var placeholders: [(kind: SignaturePlaceholder, offset: Int, length: Int)] = []

    static let byteRangeWidth = 12 // digits reserved per number in a /ByteRange placeholder

    mutating func raw(_ s: String) { out.append(contentsOf: Array(s.utf8)) }

    /// Whether a separator is needed before writing a token starting with `first` after `out.last`.
    private mutating func separate() {
        guard let last = out.last else { return }
        if isDelimiterOrSpace(last) { return }
        out.append(0x20)
    }

    private func isDelimiterOrSpace(_ b: UInt8) -> Bool {
        switch b {
        case 0x20, 0x0A, 0x0D, 0x09, 0x0C, 0x00, 0x28, 0x29, 0x3C, 0x3E, 0x5B, 0x5D, 0x7B, 0x7D, 0x2F, 0x25: return true
        default: return false
        }
    }

    mutating func write(_ o: PDFObject) {
        switch o {
        case .null: separate(); raw("null")
        case .bool(let b): separate(); raw(b ? "true" : "false")
        case .integer(let i): separate(); raw(String(i))
        case .real(let d): separate(); out.append(contentsOf: Self.formatReal(d))
        case .string(let s): writeString(s)
        case .name(let n): writeName(n)
        case .array(let a):
            out.append(0x5B)
            for (i, e) in a.enumerated() { if i > 0 { out.append(0x20) }; write(e) }
            out.append(0x5D)
        case .dictionary(let d): writeDict(d)
        case .stream(let s):
            var d = s.dictionary
            d["Length"] = .integer(s.rawLength)
            writeDict(d)
            raw("\nstream\n")
            out.append(contentsOf: s.rawData)
            raw("\nendstream")
        case .reference(let r): separate(); raw("\(r.number) \(r.generation) R")
        case .placeholder(let p):
            switch p {
            case .contents(let n):
                let start = out.count
                out.append(0x3C)
                out.append(contentsOf: [UInt8](repeating: 0x30, count: 2 * n))
                out.append(0x3E)
                placeholders.append((p, start, out.count - start))
            case .byteRange:
                let start = out.count
                // "[0 " + three numbers of fixed width + "]": filled with real values padded by spaces.
                let text = "[0 " + [String](repeating: String(repeating: "0", count: Self.byteRangeWidth), count: 3).joined(separator: " ") + "]"
                raw(text)
                placeholders.append((p, start, out.count - start))
            }
        }
    }

    mutating func writeDict(_ d: PDFDictionary) {
        raw("<<")
        for (k, v) in d.entries {
            writeName(k)
            if case .null = v { raw(" null"); continue }
            switch v {
            case .name, .string, .array, .dictionary: break
            default: out.append(0x20)
            }
            write(v)
        }
        raw(">>")
    }

    mutating func writeName(_ n: PDFName) {
        out.append(0x2F)
        for b in n.bytes {
            if b < 0x21 || b > 0x7E || b == 0x23 || isDelimiterOrSpace(b) {
                out.append(0x23)
                out.append(hexDigit(b >> 4)); out.append(hexDigit(b & 0xF))
            } else { out.append(b) }
        }
    }

    mutating func writeString(_ s: PDFString) {
        if s.isHex {
            out.append(0x3C)
            for b in s.bytes { out.append(hexDigit(b >> 4)); out.append(hexDigit(b & 0xF)) }
            out.append(0x3E)
            return
        }
        out.append(0x28)
        for b in s.bytes {
            switch b {
            case 0x28, 0x29, 0x5C: out.append(0x5C); out.append(b)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            default: out.append(b)
            }
        }
        out.append(0x29)
    }

    private func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 0x30 + v : 0x41 + v - 10 }

    /// A real number without exponent, trailing zeros removed. Uses the shortest decimal form that
    /// reads back as the same Double, so re-serialising an existing dictionary (e.g. a page gaining
    /// /Annots) never changes its other numbers — validators diff earlier revisions value by value.
    static func formatReal(_ d: Double) -> [UInt8] {
        guard d.isFinite else { return Array("0".utf8) }
        if d.rounded() == d && abs(d) < 1e15 { return Array(String(Int(d)).utf8) }
        let shortest = "\(d)"
        if !shortest.contains("e") && !shortest.contains("E") { return Array(shortest.utf8) }
        var s = String(format: "%.10f", d)
        while s.hasSuffix("0") { s.removeLast() }
        if s.hasSuffix(".") { s.removeLast() }
        if s == "-0" { s = "0" }
        return Array(s.utf8)
    }
}

/// PDF text strings (§7.9.2.2): PDFDocEncoding, UTF-16BE/LE with BOM, UTF-8 with BOM (PDF 2.0).
enum PDFTextEncoding {
    // PDFDocEncoding differs from Latin-1 in 0x18–0x1F and 0x80–0xA0 (Annex D).
    static let high: [UInt16] = [
        0x2022, 0x2020, 0x2021, 0x2026, 0x2014, 0x2013, 0x0192, 0x2044, 0x2039, 0x203A, 0x2212, 0x2030, 0x201E, 0x201C, 0x201D, 0x2018,
        0x2019, 0x201A, 0x2122, 0xFB01, 0xFB02, 0x0141, 0x0152, 0x0160, 0x0178, 0x017D, 0x0131, 0x0142, 0x0153, 0x0161, 0x017E, 0xFFFD,
        0x20AC,
    ]
    static let low: [UInt16] = [0x02D8, 0x02C7, 0x02C6, 0x02D9, 0x02DD, 0x02DB, 0x02DA, 0x02DC]

    static func decode(_ b: [UInt8]) -> String {
        if b.count >= 2, b[0] == 0xFE, b[1] == 0xFF {
            var u: [UInt16] = []
            var i = 2
            while i + 1 < b.count { u.append(UInt16(b[i]) << 8 | UInt16(b[i + 1])); i += 2 }
            return String(decoding: u, as: UTF16.self)
        }
        if b.count >= 2, b[0] == 0xFF, b[1] == 0xFE {
            var u: [UInt16] = []
            var i = 2
            while i + 1 < b.count { u.append(UInt16(b[i + 1]) << 8 | UInt16(b[i])); i += 2 }
            return String(decoding: u, as: UTF16.self)
        }
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { return String(decoding: b[3...], as: UTF8.self) }
        var s = String.UnicodeScalarView()
        for c in b {
            let v: UInt16
            if c >= 0x18 && c <= 0x1F { v = low[Int(c - 0x18)] }
            else if c >= 0x80 && c <= 0xA0 { v = high[Int(c - 0x80)] }
            else { v = UInt16(c) }
            if let sc = Unicode.Scalar(v) { s.append(sc) }
        }
        return String(s)
    }

    /// PDFDocEncoding bytes for plain ASCII/Latin-1 text that needs no special mapping, else nil.
    static func encodePDFDoc(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        for sc in s.unicodeScalars {
            let v = sc.value
            if (v >= 0x20 && v < 0x7F) || v == 0x0A || v == 0x0D || v == 0x09 || (v > 0xA0 && v <= 0xFF) { out.append(UInt8(v)) }
            else { return nil }
        }
        return out
    }
}
