import Foundation

/// Object parser (§7.3) on top of `Lexer`. Tolerant: unknown tokens inside containers become null,
/// wrong stream lengths are corrected by finding `endstream` (with a warning).
struct Parser {
    var lex: Lexer
    /// Resolves an indirect `/Length`.
    var lengthOf: ((ObjectRef) -> Int?)?
    var warnings: [PDFWarning] = []
    private var depth = 0
    static let maxDepth = 256

    init(_ src: ByteSource, at pos: Int, end: Int? = nil, lengthOf: ((ObjectRef) -> Int?)? = nil) {
        lex = Lexer(src, at: pos, end: end)
        self.lengthOf = lengthOf
    }

    var src: ByteSource { lex.src }

    private func fail(_ msg: String, at: Int? = nil) -> PDFError {
        PDFError(.damaged, msg, offset: at ?? lex.pos)
    }

    /// Parses one direct object.
    mutating func parseObject() throws -> PDFObject {
        let start = lex.pos
        let t = lex.next()
        return try object(from: t, start: start)
    }

    private mutating func object(from t: Token, start: Int) throws -> PDFObject {
        switch t {
        case .integer(let i):
            // `N G R` lookahead.
            let save = lex.pos
            if i >= 0, case .integer(let g) = lex.next(), g >= 0 {
                if lex.next().isKeyword("R") { return .reference(ObjectRef(i, g)) }
            }
            lex.pos = save
            return .integer(i)
        case .real(let d): return .real(d)
        case .string(let b, let hex): return .string(PDFString(bytes: b, isHex: hex))
        case .name(let n): return .name(PDFName(bytes: n))
        case .arrayOpen:
            depth += 1; defer { depth -= 1 }
            guard depth < Self.maxDepth else { throw fail("objects nested too deeply") }
            var a: [PDFObject] = []
            while true {
                let s = lex.pos
                let n = lex.next()
                if n == .arrayClose { break }
                if n == .eof { throw fail("array not closed", at: start) }
                if n == .dictClose || n.isKeyword("endobj") || n.isKeyword("stream") { lex.pos = s; break } // unterminated array
                a.append(try object(from: n, start: s))
            }
            return .array(a)
        case .dictOpen:
            depth += 1; defer { depth -= 1 }
            guard depth < Self.maxDepth else { throw fail("objects nested too deeply") }
            return .dictionary(try dictionaryBody(start: start))
        case .keyword(let k):
            if t.isKeyword("true") { return .bool(true) }
            if t.isKeyword("false") { return .bool(false) }
            if t.isKeyword("null") { return .null }
            _ = k
            return .null
        case .eof: throw fail("unexpected end of file", at: start)
        case .arrayClose, .dictClose, .braceOpen, .braceClose: return .null
        }
    }

    /// Reads entries after `<<` up to `>>`.
    mutating func dictionaryBody(start: Int) throws -> PDFDictionary {
        // Entries plus a hash index, so that huge dictionaries stay linear; later duplicates win.
        var entries: [(key: PDFName, value: PDFObject)] = []
        var index: [PDFName: Int] = [:]
        func set(_ k: PDFName, _ v: PDFObject) {
            if let i = index[k] { entries[i].value = v } else { index[k] = entries.count; entries.append((k, v)) }
        }
        func done() -> PDFDictionary {
            // Drop keys whose final value is null (a null value is the same as an absent key, §7.3.7).
            PDFDictionary(uniqueEntries: entries.filter { !$0.value.isNull })
        }
        while true {
            let s = lex.pos
            let k = lex.next()
            switch k {
            case .dictClose: return done()
            case .eof: throw fail("dictionary not closed", at: start)
            case .name(let n):
                let vs = lex.pos
                let vt = lex.next()
                if vt == .dictClose { return done() }
                if vt == .eof { throw fail("dictionary not closed", at: start) }
                if vt.isKeyword("endobj") || vt.isKeyword("stream") { lex.pos = vs; return done() }
                set(PDFName(bytes: n), try object(from: vt, start: vs))
            default:
                // A dictionary that runs into `endobj`/`stream` was not closed: stop here, tolerantly.
                if k.isKeyword("endobj") || k.isKeyword("stream") { lex.pos = s; return done() }
                _ = try object(from: k, start: s) // skip a stray value
            }
        }
    }

    /// Parses `N G obj … endobj` at the current position. Returns the reference found.
    mutating func parseIndirect() throws -> (ObjectRef, PDFObject) {
        let start = lex.pos
        guard case .integer(let num) = lex.next(), case .integer(let gen) = lex.next(), lex.next().isKeyword("obj") else {
            throw fail("expected an object header `N G obj`", at: start)
        }
        let ref = ObjectRef(num, gen)
        let s = lex.pos
        let t = lex.next()
        if t.isKeyword("endobj") { return (ref, .null) } // empty object is null
        var obj = try object(from: t, start: s)
        let afterObj = lex.pos
        let n = lex.next()
        if n.isKeyword("stream"), case .dictionary(let dict) = obj {
            obj = .stream(try streamBody(dict: dict, ref: ref))
            let e = lex.pos
            if !lex.next().isKeyword("endobj") { lex.pos = e }
        } else if !n.isKeyword("endobj") {
            lex.pos = afterObj // missing endobj: tolerated
        }
        return (ref, obj)
    }

    /// After the `stream` keyword: locate the data using /Length, repairing when it is wrong.
    private mutating func streamBody(dict: PDFDictionary, ref: ObjectRef) throws -> PDFStream {
        // The keyword is followed by CRLF or LF (tolerate a lone CR).
        if lex.pos < lex.end && src[lex.pos] == 0x0D { lex.pos += 1 }
        if lex.pos < lex.end && src[lex.pos] == 0x0A { lex.pos += 1 }
        let dataStart = lex.pos
        var length: Int? = nil
        switch dict["Length"] {
        case .integer(let l)?: length = l
        case .reference(let r)?: if r != ref { length = lengthOf?(r) }
        default: break
        }
        if let l = length, l >= 0, l <= lex.end - dataStart {
            var p = dataStart + l
            while p < lex.end && isWhite(src[p]) { p += 1 }
            if matches(p, "endstream") {
                lex.pos = p + 9
                return PDFStream(dictionary: dict, source: src, range: dataStart..<(dataStart + l))
            }
        }
        // Wrong or missing /Length: find `endstream`.
        guard let e = src.find(Array("endstream".utf8), from: dataStart, to: lex.end) else {
            throw fail("stream of object \(ref.number) \(ref.generation) has no `endstream`", at: dataStart)
        }
        var dataEnd = e
        if dataEnd > dataStart && src[dataEnd - 1] == 0x0A { dataEnd -= 1 }
        if dataEnd > dataStart && src[dataEnd - 1] == 0x0D { dataEnd -= 1 }
        warnings.append(PDFWarning(.streamLengthRepaired,
            "stream of object \(ref.number) \(ref.generation) has a wrong /Length (\(length.map(String.init) ?? "none")); used \(dataEnd - dataStart) bytes up to `endstream`",
            offset: dataStart))
        lex.pos = e + 9
        return PDFStream(dictionary: dict, source: src, range: dataStart..<dataEnd)
    }

    /// At `N G obj << … >>`: the absolute byte range of the value of `key` in the top-level dictionary.
    mutating func locateValue(of key: PDFName) throws -> Range<Int>? {
        guard case .integer = lex.next(), case .integer = lex.next(), lex.next().isKeyword("obj") else { return nil }
        guard lex.next() == .dictOpen else { return nil }
        while true {
            let k = lex.next()
            guard case .name(let n) = k else { return nil }
            lex.skipWhitespaceAndComments()
            let start = lex.pos
            if lex.pos + 1 < lex.end, src[lex.pos] == 0x3C, src[lex.pos + 1] != 0x3C {
                // A hex string (a signature's /Contents is tens of kilobytes): find its end, do not decode it.
                var q = lex.pos + 1
                while q < lex.end, src[q] != 0x3E { q += 1 }
                guard q < lex.end else { return nil }
                lex.pos = q + 1
            } else {
                _ = try parseObject()
            }
            if PDFName(bytes: n) == key { return start..<lex.pos }
        }
    }

    func matches(_ p: Int, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard p >= 0, p + n <= lex.end else { return false }
        let q = s.utf8Start
        for i in 0..<n where src[p + i] != q[i] { return false }
        return true
    }
}
