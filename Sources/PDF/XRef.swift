import Foundation

/// Where an object lives, per the cross-reference data (absolute file offsets).
enum XRefEntry: Equatable, Sendable {
    case free(generation: Int)
    case inFile(offset: Int, generation: Int)
    case compressed(stream: Int, index: Int)
}

/// Kind of a cross-reference section (§7.5.4, §7.5.8).
public enum XRefKind: String, Sendable, Codable {
    /// Classic `xref` table with a `trailer` dictionary.
    case table
    /// Cross-reference stream (`/Type /XRef`).
    case stream
    /// Classic table whose trailer also points to a cross-reference stream via `/XRefStm` (§7.5.8.4).
    case hybrid
}

/// One cross-reference section found by following `startxref` and `/Prev`.
public struct XRefSection: Sendable {
    /// Absolute offset of the section (`xref` keyword or xref stream object) in the file.
    public var offset: Int
    /// Table, stream or hybrid.
    public var kind: XRefKind
    /// The trailer dictionary (or the xref stream's dictionary).
    public var trailer: PDFDictionary
    /// Absolute offset just past the section's trailer / stream object.
    var end: Int
    var entries: [Int: XRefEntry]
}

/// The objects one incremental update wrote (its cross-reference section's own entries).
public struct XRefUpdateSummary: Sendable, Equatable {
    /// References the section lists as in use (stored in the file or in an object stream).
    public var written: [ObjectRef]
    /// References the section marks free (the generation that was in use before).
    public var freed: [ObjectRef]
    /// Object streams holding objects of this section.
    public var objectStreams: [ObjectRef]
    /// The cross-reference stream(s) of the section (a stream section, or a hybrid section's /XRefStm).
    public var xrefStreams: [ObjectRef]
    /// Offsets of every cross-reference section of the file, newest first.
    public var sectionOffsets: [Int]
    /// Kind of the newest section.
    public var kind: XRefKind
}

/// Upper bound on object numbers we accept (PDF 1.7 Annex C gives 8,388,607; leave headroom).
let maxObjectNumber = 16_777_215

extension PDFDocument {
    /// Reads a classic xref table at `offset` (pointing at `xref`).
    static func readTable(_ src: ByteSource, at offset: Int, base: Int, warnings: inout [PDFWarning]) throws -> XRefSection {
        var lex = Lexer(src, at: offset)
        guard lex.next().isKeyword("xref") else { throw PDFError(.damaged, "no `xref` keyword", offset: offset) }
        var entries: [Int: XRefEntry] = [:]
        var malformedAt: Int? = nil
        var firstSubsection = true
        while true {
            lex.skipWhitespaceAndComments()
            let lineStart = lex.pos
            let t = lex.next()
            if t.isKeyword("trailer") { break }
            guard case .integer(var start) = t, case .integer(let count) = lex.next(), start >= 0, count >= 0 else {
                throw PDFError(.damaged, "malformed cross-reference subsection header", offset: lineStart)
            }
            // Each entry takes at least ~6 bytes even when malformed: guard absurd counts.
            guard count <= (src.count - lex.pos) / 6 + 1 else {
                throw PDFError(.damaged, "cross-reference subsection claims \(count) entries, more than the file can hold", offset: lineStart)
            }
            for i in 0..<count {
                lex.skipWhitespaceAndComments()
                let entryStart = lex.pos
                // Strict form: 10 digits, space, 5 digits, space, n|f, 2-byte EOL (§7.5.4).
                var strict = entryStart + 20 <= src.count
                if strict {
                    for k in 0..<10 where !isDigit(src[entryStart + k]) { strict = false; break }
                    if strict && src[entryStart + 10] != 0x20 { strict = false }
                    if strict { for k in 11..<16 where !isDigit(src[entryStart + k]) { strict = false; break } }
                    if strict && src[entryStart + 16] != 0x20 { strict = false }
                    if strict && src[entryStart + 17] != 0x6E && src[entryStart + 17] != 0x66 { strict = false }
                    if strict && !(isWhite(src[entryStart + 18])) { strict = false }
                }
                // Tolerant reading by tokens.
                guard case .integer(let off) = lex.next(), case .integer(let gen) = lex.next() else {
                    throw PDFError(.damaged, "malformed cross-reference entry", offset: entryStart)
                }
                let kindTok = lex.next()
                let inUse: Bool
                if kindTok.isKeyword("n") { inUse = true } else if kindTok.isKeyword("f") { inUse = false } else {
                    throw PDFError(.damaged, "malformed cross-reference entry (expected n or f)", offset: entryStart)
                }
                if !strict && malformedAt == nil { malformedAt = entryStart }
                // Common writer bug: a first subsection "1 N" whose first entry is object 0's free head.
                if firstSubsection && i == 0 && start == 1 && !inUse && gen == 65535 { start = 0 }
                guard start <= maxObjectNumber else { continue }
                let num = start + i
                guard num <= maxObjectNumber else { continue }
                if entries[num] == nil {
                    entries[num] = inUse ? .inFile(offset: off &+ base, generation: gen) : .free(generation: gen)
                }
            }
            firstSubsection = false
        }
        if let m = malformedAt {
            warnings.append(PDFWarning(.xrefEntryMalformed, "cross-reference entries do not have the fixed 20-byte form; read them tolerantly", offset: m))
        }
        // trailer dictionary (tolerate stray tokens before `<<`).
        let tpos = lex.pos
        var tries = 0
        while true {
            let save = lex.pos
            let t = lex.next()
            if t == .dictOpen { lex.pos = save; break }
            tries += 1
            if t == .eof || tries > 4 || t.isKeyword("startxref") {
                throw PDFError(.damaged, "no trailer dictionary after the cross-reference table", offset: tpos)
            }
        }
        if tries > 0 {
            warnings.append(PDFWarning(.trailerRepaired, "unexpected tokens between `trailer` and its dictionary were skipped", offset: tpos))
        }
        var p = Parser(src, at: lex.pos)
        guard case .dictionary(let trailer) = try p.parseObject() else {
            throw PDFError(.damaged, "trailer is not a dictionary", offset: tpos)
        }
        return XRefSection(offset: offset, kind: .table, trailer: trailer, end: p.lex.pos, entries: entries)
    }

    /// Reads a cross-reference stream object at `offset`.
    static func readXRefStream(_ src: ByteSource, at offset: Int, base: Int, warnings: inout [PDFWarning]) throws -> XRefSection {
        var p = Parser(src, at: offset)
        let (_, obj) = try p.parseIndirect()
        warnings.append(contentsOf: p.warnings)
        guard case .stream(let s) = obj, s.dictionary.name("Type") == "XRef" else {
            throw PDFError(.damaged, "no cross-reference stream at this offset", offset: offset)
        }
        let d = s.dictionary
        guard let w = d["W"]?.arrayValue?.compactMap(\.intValue), w.count == 3, w.allSatisfy({ $0 >= 0 && $0 <= 8 }) else {
            throw PDFError(.damaged, "cross-reference stream has an invalid /W", offset: offset)
        }
        let size = d.int("Size") ?? 0
        var index: [Int] = d["Index"]?.arrayValue?.compactMap(\.intValue) ?? [0, size]
        if index.count % 2 != 0 { index.removeLast() }
        let data = try s.decodedData()
        let rowLen = w[0] + w[1] + w[2]
        guard rowLen > 0 else { throw PDFError(.damaged, "cross-reference stream has an empty /W", offset: offset) }
        var entries: [Int: XRefEntry] = [:]
        var pos = 0
        func field(_ width: Int, _ def: Int) -> Int {
            if width == 0 { return def }
            var v = 0
            for k in 0..<width { v = (v << 8) | Int(data[pos + k]) }
            pos += width
            return v
        }
        var i = 0
        outer: while i + 1 < index.count {
            let start = index[i], count = index[i + 1]
            i += 2
            guard start >= 0, count >= 0, start <= maxObjectNumber else { continue }
            for k in 0..<count {
                guard pos + rowLen <= data.count else { break outer }
                let type = field(w[0], 1), f2 = field(w[1], 0), f3 = field(w[2], 0)
                let num = start + k
                guard num <= maxObjectNumber else { continue }
                if entries[num] != nil { continue }
                switch type {
                case 0: entries[num] = .free(generation: f3)
                case 1: entries[num] = .inFile(offset: f2 &+ base, generation: f3)
                case 2: entries[num] = .compressed(stream: f2, index: f3)
                default: break // unknown types are ignored (§7.5.8.3)
                }
            }
        }
        return XRefSection(offset: offset, kind: .stream, trailer: d, end: p.lex.pos, entries: entries)
    }

    /// Reads the section at an absolute offset: table or stream.
    static func readSection(_ src: ByteSource, at offset: Int, base: Int, warnings: inout [PDFWarning]) throws -> XRefSection {
        var lex = Lexer(src, at: offset)
        lex.skipWhitespaceAndComments()
        let at = lex.pos
        if lex.peek().isKeyword("xref") {
            var sec = try readTable(src, at: at, base: base, warnings: &warnings)
            if let x = sec.trailer.int("XRefStm") {
                sec.kind = .hybrid
                if let hidden = try? readXRefStream(src, at: x &+ base, base: base, warnings: &warnings) {
                    // In-use entries of the table come first, then the stream's, then the table's free ones.
                    var merged: [Int: XRefEntry] = [:]
                    for (k, v) in sec.entries { if case .free = v { continue }; merged[k] = v }
                    for (k, v) in hidden.entries where merged[k] == nil { if case .free = v { continue }; merged[k] = v }
                    for (k, v) in sec.entries where merged[k] == nil { merged[k] = v }
                    for (k, v) in hidden.entries where merged[k] == nil { merged[k] = v }
                    sec.entries = merged
                } else {
                    warnings.append(PDFWarning(.xrefRepaired, "the /XRefStm of a hybrid-reference section could not be read", offset: x &+ base))
                }
            }
            return sec
        }
        return try readXRefStream(src, at: at, base: base, warnings: &warnings)
    }

    /// Whether a plausible section starts at an absolute offset.
    static func looksLikeSection(_ src: ByteSource, at offset: Int) -> Bool {
        guard offset >= 0, offset < src.count else { return false }
        var lex = Lexer(src, at: offset)
        let t = lex.next()
        if t.isKeyword("xref") { return true }
        if case .integer = t, case .integer = lex.next(), lex.next().isKeyword("obj") { return true }
        return false
    }
}

/// Objects found by scanning the whole file for `N G obj` (repair mode).
struct ScanResult {
    var objects: [Int: (offset: Int, generation: Int)] = [:]
    var trailers: [(offset: Int, dict: PDFDictionary)] = []
    var eofs: [Int] = []
    var outOfRange: [(number: Int, offset: Int)] = []
}

extension PDFDocument {
    static func scan(_ src: ByteSource) -> ScanResult {
        var r = ScanResult()
        let objKw = Array("obj".utf8)
        var i = 0
        while let hit = src.find(objKw, from: i) {
            i = hit + 3
            if hit + 3 < src.count && isRegular(src[hit + 3]) { continue }
            // Walk back: whitespace, generation digits, whitespace, number digits.
            var p = hit - 1
            var ws = 0
            while p >= 0 && isWhite(src[p]) { p -= 1; ws += 1 }
            guard ws > 0 || (p >= 0 && isDigit(src[p])) else { continue }
            var genEnd = p + 1
            while p >= 0 && isDigit(src[p]) { p -= 1 }
            let genStart = p + 1
            guard genStart < genEnd, genEnd - genStart <= 5 else { continue }
            var ws2 = 0
            while p >= 0 && isWhite(src[p]) { p -= 1; ws2 += 1 }
            guard ws2 > 0 else { continue }
            let numEnd = p + 1
            while p >= 0 && isDigit(src[p]) { p -= 1 }
            let numStart = p + 1
            guard numStart < numEnd, numEnd - numStart <= 12 else { continue }
            if p >= 0 && isRegular(src[p]) { continue }
            var num = 0, gen = 0
            for k in numStart..<numEnd { num = num &* 10 &+ Int(src[k] - 0x30) }
            for k in genStart..<genEnd { gen = gen * 10 + Int(src[k] - 0x30) }
            genEnd = 0
            if num > maxObjectNumber || num <= 0 { r.outOfRange.append((num, numStart)); continue }
            r.objects[num] = (numStart, gen)
        }
        // Trailers.
        let trailerKw = Array("trailer".utf8)
        i = 0
        while let hit = src.find(trailerKw, from: i) {
            i = hit + 7
            var lex = Lexer(src, at: hit + 7)
            var tries = 0
            while tries < 4 {
                let save = lex.pos
                let t = lex.next()
                if t == .dictOpen { lex.pos = save; break }
                tries += 1
            }
            var p = Parser(src, at: lex.pos)
            if case .dictionary(let d)? = try? p.parseObject() { r.trailers.append((hit, d)) }
        }
        let eofKw = Array("%%EOF".utf8)
        i = 0
        while let hit = src.find(eofKw, from: i) { r.eofs.append(hit + 5); i = hit + 5 }
        return r
    }
}
