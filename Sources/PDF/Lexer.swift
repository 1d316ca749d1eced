import Foundation

/// Character classes of §7.2.3.
@inline(__always) func isWhite(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 || b == 0x0C || b == 0x00 }
@inline(__always) func isDelim(_ b: UInt8) -> Bool {
    switch b {
    case 0x28, 0x29, 0x3C, 0x3E, 0x5B, 0x5D, 0x7B, 0x7D, 0x2F, 0x25: return true
    default: return false
    }
}
@inline(__always) func isRegular(_ b: UInt8) -> Bool { !isWhite(b) && !isDelim(b) }
@inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
@inline(__always) func hexValue(_ b: UInt8) -> UInt8? {
    switch b {
    case 0x30...0x39: return b - 0x30
    case 0x41...0x46: return b - 0x41 + 10
    case 0x61...0x66: return b - 0x61 + 10
    default: return nil
    }
}

/// A lexical token.
enum Token: Equatable {
    case integer(Int)
    case real(Double)
    case string([UInt8], hex: Bool)
    case name([UInt8])
    case keyword([UInt8])
    case arrayOpen, arrayClose, dictOpen, dictClose, braceOpen, braceClose
    case eof

    func isKeyword(_ s: StaticString) -> Bool {
        guard case .keyword(let k) = self, k.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for i in 0..<k.count where k[i] != p[i] { return false }
        return true
    }
}

/// Tokenizer over a byte source (§7.2, §7.3).
struct Lexer {
    let src: ByteSource
    var pos: Int
    let end: Int

    init(_ src: ByteSource, at pos: Int, end: Int? = nil) {
        self.src = src
        self.end = min(end ?? src.count, src.count)
        self.pos = max(0, min(pos, self.end))
    }

    @inline(__always) func peekByte() -> UInt8? { pos < end ? src[pos] : nil }

    mutating func skipWhitespaceAndComments() {
        while pos < end {
            let b = src[pos]
            if isWhite(b) { pos += 1; continue }
            if b == 0x25 { // comment to end of line
                while pos < end && src[pos] != 0x0A && src[pos] != 0x0D { pos += 1 }
                continue
            }
            break
        }
    }

    /// Next token; `.eof` at the end.
    mutating func next() -> Token {
        skipWhitespaceAndComments()
        guard pos < end else { return .eof }
        let b = src[pos]
        switch b {
        case 0x5B: pos += 1; return .arrayOpen
        case 0x5D: pos += 1; return .arrayClose
        case 0x7B: pos += 1; return .braceOpen
        case 0x7D: pos += 1; return .braceClose
        case 0x3C:
            if pos + 1 < end && src[pos + 1] == 0x3C { pos += 2; return .dictOpen }
            return hexString()
        case 0x3E:
            if pos + 1 < end && src[pos + 1] == 0x3E { pos += 2; return .dictClose }
            pos += 1; return .keyword([0x3E]) // stray '>'
        case 0x28: return literalString()
        case 0x29: pos += 1; return .keyword([0x29]) // stray ')'
        case 0x2F: return name()
        case 0x2B, 0x2D, 0x2E, 0x30...0x39: return number()
        default:
            let start = pos
            while pos < end && isRegular(src[pos]) { pos += 1 }
            if pos == start { pos += 1 }
            return .keyword(src.bytes(start..<pos))
        }
    }

    /// Peeks the next token without consuming it.
    mutating func peek() -> Token {
        let save = pos
        let t = next()
        pos = save
        return t
    }

    private mutating func number() -> Token {
        let start = pos
        var negative = false
        var sawSign = false
        // Tolerate repeated signs ("--5", "+-3") as real-world writers produce them.
        while pos < end && (src[pos] == 0x2B || src[pos] == 0x2D) { if src[pos] == 0x2D { negative.toggle() }; sawSign = true; pos += 1 }
        var intPart = 0
        var overflow = false
        var digits = 0
        while pos < end && isDigit(src[pos]) {
            let (m, o1) = intPart.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(src[pos] - 0x30))
            if o1 || o2 { overflow = true } else { intPart = a }
            digits += 1; pos += 1
        }
        var isReal = false
        var frac = 0.0, scale = 1.0
        if pos < end && src[pos] == 0x2E {
            isReal = true; pos += 1
            while pos < end && isDigit(src[pos]) {
                if scale < 1e18 { frac = frac * 10 + Double(src[pos] - 0x30); scale *= 10 }
                digits += 1; pos += 1
            }
        }
        // Anything regular glued on (e.g. "1.2.3", "12abc") makes it a keyword-ish junk token.
        if pos < end && isRegular(src[pos]) {
            while pos < end && isRegular(src[pos]) { pos += 1 }
            if digits == 0 { return .keyword(src.bytes(start..<pos)) }
            // Use the numeric prefix, like most readers.
        }
        if digits == 0 { _ = sawSign; return .integer(0) }
        if isReal || overflow {
            // Correctly rounded (strtod) from the digits, so that a value re-serialised in its shortest
            // form reads back identical to the original text in any other reader.
            var text: [UInt8] = []
            var sawDot = false
            for b in src.bytes(start..<pos) {
                if isDigit(b) { text.append(b) } else if b == 0x2E && !sawDot { sawDot = true; if text.isEmpty { text.append(0x30) }; text.append(b) }
                else if !isDigit(b) && b != 0x2B && b != 0x2D { break }
            }
            if text.last == 0x2E { text.append(0x30) }
            var v = Double(String(decoding: text, as: UTF8.self)) ?? (Double(intPart) + frac / scale)
            if negative { v = -v }
            return .real(v)
        }
        return .integer(negative ? -intPart : intPart)
    }

    private mutating func name() -> Token {
        pos += 1
        var out: [UInt8] = []
        while pos < end {
            let b = src[pos]
            if !isRegular(b) { break }
            if b == 0x23, pos + 2 < end, let h = hexValue(src[pos + 1]), let l = hexValue(src[pos + 2]) {
                out.append(h << 4 | l); pos += 3; continue
            }
            out.append(b); pos += 1
        }
        return .name(out)
    }

    private mutating func hexString() -> Token {
        pos += 1
        var out: [UInt8] = []
        var close = pos
        while close < end, src[close] != 0x3E { close += 1 }
        out.reserveCapacity((close - pos + 1) / 2)
        var hi: UInt8? = nil
        while pos < end {
            let b = src[pos]; pos += 1
            if b == 0x3E { break }
            guard let v = hexValue(b) else { continue } // whitespace and junk are ignored
            if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
        }
        if let h = hi { out.append(h << 4) }
        return .string(out, hex: true)
    }

    private mutating func literalString() -> Token {
        pos += 1
        var out: [UInt8] = []
        var depth = 1
        while pos < end {
            let b = src[pos]; pos += 1
            switch b {
            case 0x28: depth += 1; out.append(b)
            case 0x29:
                depth -= 1
                if depth == 0 { return .string(out, hex: false) }
                out.append(b)
            case 0x5C:
                guard pos < end else { break }
                let c = src[pos]; pos += 1
                switch c {
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x0D: if pos < end && src[pos] == 0x0A { pos += 1 } // line continuation
                case 0x0A: break
                case 0x30...0x37:
                    var v = Int(c - 0x30)
                    var n = 1
                    while n < 3, pos < end, src[pos] >= 0x30, src[pos] <= 0x37 { v = v * 8 + Int(src[pos] - 0x30); pos += 1; n += 1 }
                    out.append(UInt8(truncatingIfNeeded: v))
                default: out.append(c)
                }
            case 0x0D:
                // An unescaped end-of-line in a literal string is read as a single LF (§7.3.4.2).
                if pos < end && src[pos] == 0x0A { pos += 1 }
                out.append(0x0A)
            default: out.append(b)
            }
        }
        return .string(out, hex: false)
    }
}
