import Foundation

/// One revision of the file: the bytes up to an `%%EOF` that ends a cross-reference section.
public struct Revision: Sendable, Equatable, Codable {
    /// Absolute offset just past `%%EOF`.
    public var end: Int
    /// `end` plus the end-of-line marker that follows `%%EOF` (CR, LF or CRLF), if any.
    public var endIncludingEOL: Int
    /// Absolute offset of this revision's cross-reference section, when known.
    public var xrefOffset: Int?
}

/// A parsed PDF. Reads through a memory-mapped file and touches only the cross-reference data and
/// the objects asked for. Safe to share across threads.
public final class PDFDocument: @unchecked Sendable {
    let src: ByteSource
    /// File the document was read from, if any.
    public let url: URL?
    /// Size of the file in bytes.
    public var fileSize: Int { src.count }
    /// Byte offset of `%PDF-` (non-zero when there is junk before the header; offsets in the file are relative to it).
    public let headerOffset: Int
    /// Version from the header, e.g. "1.7".
    public let headerVersion: String
    /// The effective trailer (of the newest cross-reference section).
    public let trailer: PDFDictionary
    /// Cross-reference sections, newest first, as found by following `startxref` and `/Prev`.
    public let sections: [XRefSection]
    /// The value written after the last `startxref` (relative to the header), or nil when repaired.
    public let startxref: Int?
    /// True when cross-reference data could not be followed and objects were found by scanning the file.
    public let wasReconstructed: Bool
    /// Kind of the last cross-reference section (what an incremental update should write).
    public var lastXRefKind: XRefKind { sections.first?.kind ?? .table }
    let chainRevisions: [Revision]

    let xref: [Int: XRefEntry]
    let scanIndex: ScanResult?
    let security: SecurityHandler?

    private let lock = NSLock()
    private var cache: [ObjectRef: PDFObject] = [:]
    private var objStmCache: [Int: ObjectStream] = [:]
    private var resolving: Set<Int> = []
    private var _warnings: [PDFWarning] = []
    private var lazyScan: ScanResult?
    private var _revisions: [Revision]?
    private var lengthDepth = 0
    /// Computed once per document (objects never change once read): the page list and the signature fields,
    /// which a verification asks for several times (page count, DocMDP, each signature's checks).
    private var _pages: [PDFPage]?
    private var _signatureFields: [SignatureField]?

    /// The value cached under `slot`, computed by `make` on first use (outside the lock: `make` resolves
    /// objects, which takes the lock itself; two threads racing compute the same value).
    func memo<T>(_ slot: ReferenceWritableKeyPath<PDFDocument, T?>, _ make: () -> T) -> T {
        lock.lock()
        if let v = self[keyPath: slot] { lock.unlock(); return v }
        lock.unlock()
        let v = make()
        lock.lock(); self[keyPath: slot] = v; lock.unlock()
        return v
    }
    var pagesSlot: ReferenceWritableKeyPath<PDFDocument, [PDFPage]?> { \._pages }
    var signatureFieldsSlot: ReferenceWritableKeyPath<PDFDocument, [SignatureField]?> { \._signatureFields }

    /// Problems found and repaired or tolerated while reading (never silent).
    public var warnings: [PDFWarning] { lock.lock(); defer { lock.unlock() }; return _warnings }

    func warn(_ w: PDFWarning) {
        lock.lock(); defer { lock.unlock() }
        if !_warnings.contains(w) { _warnings.append(w) }
    }

    /// Opens a file (memory-mapped; nothing is loaded up front).
    /// An encrypted file that the empty user password does not open is opened with `password` (its user or
    /// owner password; default: the one bound to `PDFPassword.current`).
    public convenience init(url: URL, password: PDFPassword? = PDFPassword.current) throws {
        let src = try ByteSource(url: url)
        do { try self.init(source: src, url: url, password: password) } catch var e as PDFError {
            if e.file == nil { e.file = url.lastPathComponent }
            throw e
        }
    }

    /// Parses PDF bytes held in memory (copied once).
    public convenience init(data: Data) throws {
        let src = data.withUnsafeBytes { ByteSource(bytes: $0) }
        try self.init(source: src, url: nil, password: PDFPassword.current)
    }

    /// Parses PDF bytes held in memory (copied once).
    public convenience init(bytes: [UInt8]) throws {
        let src = bytes.withUnsafeBytes { ByteSource(bytes: $0) }
        try self.init(source: src, url: nil, password: PDFPassword.current)
    }

    init(source src: ByteSource, url: URL?, password: PDFPassword? = nil) throws {
        self.src = src
        self.url = url
        var warnings: [PDFWarning] = []

        // --- Header (§7.5.2): `%PDF-x.y` within the first 1024 bytes.
        guard src.count > 0 else { throw PDFError(.notAPDF, "the file is empty (0 bytes), not a PDF") }
        guard let h = src.find(Array("%PDF-".utf8), from: 0, to: min(src.count, 1024 + 5)) else {
            throw PDFError(.notAPDF, "not a PDF: no `%PDF-` header at the start of the file", offset: 0)
        }
        headerOffset = h
        var v: [UInt8] = []
        var k = h + 5
        while k < src.count && v.count < 8 && (isDigit(src[k]) || src[k] == 0x2E) { v.append(src[k]); k += 1 }
        headerVersion = v.isEmpty ? "1.0" : String(decoding: v, as: UTF8.self)
        if h > 0 {
            warnings.append(PDFWarning(.junkBeforeHeader, "\(h) bytes of data before the `%PDF-` header; offsets are taken relative to the header", offset: 0))
        }

        // --- startxref (§7.5.5): the last one in the file.
        var startxrefValue: Int? = nil
        let tailWindow = 1 << 20
        let sxPos = src.findLast(Array("startxref".utf8), from: max(0, src.count - tailWindow))
        if let sx = sxPos {
            var lex = Lexer(src, at: sx + 9)
            if case .integer(let val) = lex.next(), val >= 0 { startxrefValue = val }
            if src.count - sx > 1024 + 9 {
                // Readers look for startxref in the last 1024 bytes only.
                var e = lex.pos
                if let eof = src.find(Array("%%EOF".utf8), from: lex.pos, to: min(src.count, lex.pos + 64)) { e = eof + 5 }
                warnings.append(PDFWarning(.trailingGarbage, "\(src.count - e) bytes of data after the final %%EOF", offset: e))
            }
        }
        self.startxref = startxrefValue

        // --- Follow startxref and /Prev.
        var sections: [XRefSection] = []
        var broken = false
        if let sxv = startxrefValue {
            var candidates = [sxv &+ h]
            if h > 0 { candidates.append(sxv) }
            var found: Int? = candidates.first { Self.looksLikeSection(src, at: $0) }
            if found == nil {
                // Off-by-a-few offsets: look nearby.
                let target = sxv > src.count ? src.count : sxv + h
                let lo = max(0, target - 64), hi = min(src.count, target + 64)
                var best: Int? = nil
                var p = lo
                while p < hi {
                    if (p == 0 || !isRegular(src[p - 1])) && Self.looksLikeSection(src, at: p) {
                        if best == nil || abs(p - target) < abs(best! - target) { best = p }
                    }
                    p += 1
                }
                if let b = best {
                    found = b
                    warnings.append(PDFWarning(.startxrefRepaired, "startxref says \(sxv) but the cross-reference section starts at \(b - h)", offset: sxPos))
                }
            }
            if var off = found {
                var visited: Set<Int> = []
                while true {
                    if visited.contains(off) {
                        warnings.append(PDFWarning(.prevLoop, "the /Prev chain of cross-reference sections loops back to byte \(off); stopped following it", offset: off))
                        broken = true
                        break
                    }
                    visited.insert(off)
                    do {
                        let sec = try Self.readSection(src, at: off, base: h, warnings: &warnings)
                        sections.append(sec)
                        guard let prev = sec.trailer.int("Prev") else { break }
                        var next = prev &+ h
                        if !Self.looksLikeSection(src, at: next), h > 0, Self.looksLikeSection(src, at: prev) { next = prev }
                        if !Self.looksLikeSection(src, at: next) {
                            warnings.append(PDFWarning(.xrefRepaired, "/Prev \(prev) does not point to a cross-reference section; earlier objects recovered by scanning", offset: sec.offset))
                            broken = true
                            break
                        }
                        off = next
                    } catch let e as PDFError {
                        warnings.append(PDFWarning(.xrefRepaired, "cross-reference section unreadable (\(e.message)); objects recovered by scanning", offset: e.offset ?? off))
                        broken = true
                        break
                    }
                }
            } else {
                warnings.append(PDFWarning(.xrefRepaired, "startxref \(sxv) does not point to cross-reference data; rebuilt it by scanning for objects", offset: sxPos))
                broken = true
            }
        } else if let sx = sxPos {
            warnings.append(PDFWarning(.xrefRepaired, "`startxref` has no offset; rebuilt cross-reference data by scanning for objects", offset: sx))
            broken = true
        } else {
            warnings.append(PDFWarning(.xrefRepaired, "no `startxref` found; rebuilt cross-reference data by scanning for objects", offset: src.count))
            broken = true
        }

        // --- Merge entries, newest first.
        var xref: [Int: XRefEntry] = [:]
        for s in sections { for (n, e) in s.entries where xref[n] == nil { xref[n] = e } }
        var trailer = PDFDictionary()
        for s in sections.reversed() { for (key, value) in s.trailer { trailer[key] = value } }
        for key: PDFName in ["Prev", "XRefStm", "Type", "W", "Index", "Length", "Filter", "DecodeParms"] { trailer[key] = nil }
        if let newest = sections.first {
            // Trailer keys come from the newest section, with older ones only filling in gaps.
            for (key, value) in newest.trailer where key != "Prev" && key != "XRefStm" { trailer[key] = value }
        }

        var scanned: ScanResult? = nil
        if broken || trailer["Root"] == nil {
            let sr = Self.scan(src)
            scanned = sr
            var added = 0
            for (n, o) in sr.objects where xref[n] == nil {
                xref[n] = .inFile(offset: o.offset, generation: o.generation); added += 1
            }
            for o in sr.outOfRange {
                warnings.append(PDFWarning(.objectNumberOutOfRange, "object number \(o.number) is outside the range a PDF allows; ignored", offset: o.offset))
            }
            if trailer["Root"] == nil {
                if let t = sr.trailers.last(where: { $0.dict["Root"] != nil }) {
                    for (key, value) in t.dict where trailer[key] == nil { trailer[key] = value }
                    warnings.append(PDFWarning(.trailerRepaired, "trailer taken from the last `trailer` dictionary in the file", offset: t.offset))
                } else {
                    // An xref stream found by scanning can carry the trailer.
                    for (_, o) in sr.objects.sorted(by: { $0.value.offset > $1.value.offset }) {
                        var p = Parser(src, at: o.offset)
                        if let (_, obj) = try? p.parseIndirect(), case .stream(let s) = obj,
                           s.dictionary.name("Type") == "XRef", s.dictionary["Root"] != nil {
                            for (key, value) in s.dictionary where trailer[key] == nil { trailer[key] = value }
                            warnings.append(PDFWarning(.trailerRepaired, "trailer taken from a cross-reference stream found by scanning", offset: o.offset))
                            break
                        }
                    }
                }
            }
            if trailer["Root"] == nil {
                let endsWithEOF = src.findLast(Array("%%EOF".utf8), from: max(0, src.count - 1024)) != nil
                if !endsWithEOF && sections.isEmpty {
                    throw PDFError(.truncated, "the file is cut off: its end (cross-reference data and trailer) is missing. Ask the sender for the complete file", offset: src.count)
                }
                throw PDFError(.damaged, "the file is damaged: no trailer with a document catalog (/Root) could be found, even by scanning", offset: sxPos)
            }
        }
        for key: PDFName in ["Prev", "XRefStm", "Type", "W", "Index", "Length", "Filter", "DecodeParms"] { trailer[key] = nil }

        // --- Check that in-file entries point at their objects (bounded, to keep big files cheap).
        var entriesFixed = false
        let inFile = xref.filter { if case .inFile = $0.value { return true }; return false }
        if inFile.count <= 20_000 {
            var scanForFix: ScanResult? = scanned
            for (n, e) in inFile.sorted(by: { $0.key < $1.key }) {
                guard case .inFile(let off, let gen) = e else { continue }
                if Self.objectHeader(src, at: off) == n { continue }
                var fixed: Int? = nil
                var d = 1
                while d <= 64 && fixed == nil {
                    for c in [off &- d, off &+ d] where c >= 0 && c < src.count && (c == 0 || !isRegular(src[c - 1])) {
                        if Self.objectHeader(src, at: c) == n { fixed = c; break }
                    }
                    d += 1
                }
                if fixed == nil {
                    if scanForFix == nil { scanForFix = Self.scan(src) }
                    if let o = scanForFix?.objects[n] { fixed = o.offset }
                }
                if let f = fixed {
                    xref[n] = .inFile(offset: f, generation: gen)
                    entriesFixed = true
                    warnings.append(PDFWarning(.objectOffsetRepaired, "cross-reference entry for object \(n) says byte \(off &- h), but the object starts at byte \(f - h)", offset: f))
                } else {
                    warnings.append(PDFWarning(.objectMissing, "cross-reference entry for object \(n) points to byte \(off &- h), where there is no such object", offset: off))
                }
            }
            if scanned == nil, let sf = scanForFix { scanned = sf }
        }
        if entriesFixed { broken = true }

        // Keep the merged table, plus the newest section's own entries when there are earlier ones (an
        // incremental update: what that revision wrote, for the difference analysis); per-section maps
        // for every section would double the memory of big files.
        self.sections = sections.enumerated().map { i, sec in
            var sec = sec
            if i > 0 || sections.count == 1 { sec.entries = [:] }
            return sec
        }
        self.xref = xref
        self.scanIndex = scanned
        self.trailer = trailer
        // Any repair of the cross-reference data itself means an update must not rely on it.
        let xrefRepairKinds: Set<PDFWarning.Kind> = [.startxrefRepaired, .xrefRepaired, .xrefEntryMalformed, .objectOffsetRepaired, .trailerRepaired, .prevLoop, .objectMissing]
        self.wasReconstructed = broken || warnings.contains { xrefRepairKinds.contains($0.kind) }

        var chainRevs: [Revision] = []
        let eofKw = Array("%%EOF".utf8)
        for sec in sections {
            if let e = src.find(eofKw, from: sec.end, to: min(src.count, sec.end + (1 << 20))) {
                chainRevs.append(Self.revision(src, eofEnd: e + 5, xref: sec.offset))
            }
        }
        self.chainRevisions = chainRevs

        // --- Encryption (§7.6).
        if let enc = trailer["Encrypt"] {
            let encDict: PDFDictionary?
            if case .reference(let r) = enc {
                // The encryption dictionary itself is never encrypted.
                encDict = try? Self.readPlainObject(src, xref: xref, ref: r)?.dictionaryValue
            } else { encDict = enc.dictionaryValue }
            guard let ed = encDict else {
                throw PDFError(.damaged, "the file says it is encrypted but its encryption dictionary cannot be read")
            }
            security = try SecurityHandler(dictionary: ed, fileID: trailer["ID"]?.arrayValue?.first?.stringValue?.bytes ?? [],
                                           encryptRef: enc.referenceValue, password: password)
        } else { security = nil }

        lock.lock(); _warnings = warnings; lock.unlock()

        // --- The catalog must be readable.
        guard case .dictionary = resolve(trailer["Root"] ?? .null) else {
            throw PDFError(.damaged, "the document catalog (/Root) cannot be read", offset: nil)
        }
        // Truncated linearized files: /L larger than the file.
        if broken, let lin = linearizationDictionary, let l = lin.int("L"), l > src.count - h {
            throw PDFError(.truncated, "the file is cut off: it has \(src.count - h) bytes but its linearization dictionary says \(l). Ask the sender for the complete file", offset: src.count)
        }
    }

    /// Object number of an `N G obj` header at an offset, or nil.
    static func objectHeader(_ src: ByteSource, at off: Int) -> Int? {
        guard off >= 0, off < src.count else { return nil }
        var lex = Lexer(src, at: off, end: min(src.count, off &+ 64))
        guard case .integer(let n) = lex.next(), case .integer = lex.next(), lex.next().isKeyword("obj") else { return nil }
        return n
    }

    static func revision(_ src: ByteSource, eofEnd: Int, xref: Int?) -> Revision {
        var e = eofEnd
        if e < src.count && src[e] == 0x0D { e += 1 }
        if e < src.count && src[e] == 0x0A { e += 1 }
        return Revision(end: eofEnd, endIncludingEOL: e, xrefOffset: xref)
    }

    static func readPlainObject(_ src: ByteSource, xref: [Int: XRefEntry], ref: ObjectRef) throws -> PDFObject? {
        guard case .inFile(let off, _)? = xref[ref.number] else { return nil }
        var p = Parser(src, at: off)
        return try p.parseIndirect().1
    }

    /// Revisions in file order: the end of each cross-reference section reached through `startxref`
    /// and `/Prev`, plus every other `startxref N %%EOF` file trailer (found by a streaming scan that
    /// reads the file in 1 MB chunks, so memory stays flat), which catches revisions that a repaired
    /// or standalone update no longer chains to.
    public var revisions: [Revision] {
        lock.lock()
        if let r = _revisions { lock.unlock(); return r }
        lock.unlock()
        var all = chainRevisions
        for end in Self.scanFileTrailers(src, url: url) where !all.contains(where: { $0.end == end }) {
            all.append(Self.revision(src, eofEnd: end, xref: nil))
        }
        var seen = Set<Int>()
        let r = all.sorted { $0.end < $1.end }.filter { seen.insert($0.end).inserted }
        lock.lock(); _revisions = r; lock.unlock()
        return r
    }

    /// Ends of `%%EOF` markers preceded (within 48 bytes) by `startxref` and digits.
    static func scanFileTrailers(_ src: ByteSource, url: URL?) -> [Int] {
        var ends: [Int] = []
        let eof = Array("%%EOF".utf8), sx = Array("startxref".utf8)
        func check(_ window: [UInt8], _ eofAt: Int, _ absEnd: Int) {
            // window ends right before %%EOF
            var i = window.count - 1
            while i >= 0 && isWhite(window[i]) { i -= 1 }
            let digitsEnd = i
            while i >= 0 && isDigit(window[i]) { i -= 1 }
            guard i < digitsEnd else { return }
            while i >= 0 && isWhite(window[i]) { i -= 1 }
            guard i >= sx.count - 1, Array(window[(i - sx.count + 1)...i]) == sx else { return }
            ends.append(absEnd)
        }
        let chunk = 1 << 20
        var pos = 0
        while pos < src.count {
            // Read through a bounded window of the map; MADV_DONTNEED afterwards keeps RSS flat.
            let hi = min(src.count, pos + chunk + 64)
            let buf = src.buffer(pos..<hi)
            var i = 0
            while i + eof.count <= buf.count {
                guard let hit = memchr(buf.baseAddress! + i, 0x25, buf.count - i - eof.count + 1) else { break }
                let j = buf.baseAddress!.distance(to: UnsafeRawPointer(hit))
                if j >= chunk { break }
                if buf[j + 1] == 0x25 && buf[j + 2] == 0x45 && buf[j + 3] == 0x4F && buf[j + 4] == 0x46 {
                    let at = pos + j
                    let lo = max(0, at - 48)
                    check(src.bytes(lo..<at), at, at + 5)
                }
                i = j + 1
            }
            src.release(pos..<hi)
            pos += chunk
        }
        return ends
    }

    // MARK: - Resolving objects

    /// Follows references until a direct object; missing or unreadable objects are `.null` (§7.3.10).
    public func resolve(_ object: PDFObject) -> PDFObject {
        var o = object
        var hops = 0
        while case .reference(let r) = o, hops < 32 { o = resolve(r); hops += 1 }
        return o
    }

    /// The object with this reference, or `.null` when it does not exist.
    public func resolve(_ ref: ObjectRef) -> PDFObject {
        lock.lock()
        if let c = cache[ref] { lock.unlock(); return c }
        if resolving.contains(ref.number) { lock.unlock(); return .null }
        resolving.insert(ref.number)
        lock.unlock()
        let obj = (try? load(ref)) ?? .null
        lock.lock()
        resolving.remove(ref.number)
        cache[ref] = obj
        lock.unlock()
        return obj
    }

    /// Resolves a dictionary value through references.
    public func resolve(_ dict: PDFDictionary, _ key: PDFName) -> PDFObject? {
        guard let v = dict[key] else { return nil }
        let r = resolve(v)
        return r.isNull ? nil : r
    }

    /// Whether the cross-reference data lists an object number as in use.
    public func contains(_ ref: ObjectRef) -> Bool {
        switch xref[ref.number] {
        case .inFile?, .compressed?: return true
        default: return false
        }
    }

    /// One more than the highest object number in use (at least the trailer's /Size).
    public var size: Int {
        max(trailer.int("Size") ?? 0, (xref.keys.max() ?? 0) + 1)
    }

    private func lengthResolver() -> (ObjectRef) -> Int? {
        return { [unowned self] r in
            // An indirect /Length whose object is itself a stream with an indirect /Length…: bound the chain.
            self.lock.lock()
            guard self.lengthDepth < 8 else { self.lock.unlock(); return nil }
            self.lengthDepth += 1
            self.lock.unlock()
            defer { self.lock.lock(); self.lengthDepth -= 1; self.lock.unlock() }
            return self.resolve(r).intValue
        }
    }

    private func load(_ ref: ObjectRef) throws -> PDFObject {
        guard ref.number > 0 else { return .null }
        switch xref[ref.number] {
        case .inFile(let off, let gen)?:
            if gen != ref.generation && scanIndex?.objects[ref.number] == nil { return .null }
            if let o = try parseAt(off, expect: ref.number) { return decryptIfNeeded(o, ref: ObjectRef(ref.number, gen)) }
            // Wrong offset: look nearby, then scan.
            let lo = max(0, off &- 64), hi = min(src.count, off &+ 64)
            var candidates: [Int] = []
            var p = lo
            while p < hi { if p == 0 || !isRegular(src[p - 1]) { candidates.append(p) }; p += 1 }
            candidates.sort { abs($0 - off) < abs($1 - off) }
            for c in candidates where c != off {
                if let o = try? parseAt(c, expect: ref.number) {
                    warn(PDFWarning(.objectOffsetRepaired, "cross-reference entry for object \(ref.number) points to byte \(off &- headerOffset), but the object starts at \(c - headerOffset)", offset: c))
                    return decryptIfNeeded(o, ref: ObjectRef(ref.number, gen))
                }
            }
            if let s = fullScan().objects[ref.number], let o = try? parseAt(s.offset, expect: ref.number) {
                warn(PDFWarning(.objectOffsetRepaired, "object \(ref.number) was not where the cross-reference data says (byte \(off &- headerOffset)); found it by scanning", offset: s.offset))
                return decryptIfNeeded(o, ref: ObjectRef(ref.number, s.generation))
            }
            warn(PDFWarning(.objectMissing, "object \(ref.number) \(ref.generation) cannot be found", offset: off))
            return .null
        case .compressed(let stm, let idx)?:
            guard ref.generation == 0 else { return .null }
            return try loadCompressed(ref.number, stream: stm, index: idx)
        case .free?, nil:
            if case .free? = xref[ref.number] { return .null }
            return .null
        }
    }

    private func parseAt(_ off: Int, expect num: Int) throws -> PDFObject? {
        guard off >= 0 && off < src.count else { return nil }
        var p = Parser(src, at: off, lengthOf: lengthResolver())
        let (r, o) = try p.parseIndirect()
        guard r.number == num else { return nil }
        for w in p.warnings { warn(w) }
        return o
    }

    func fullScan() -> ScanResult {
        if let s = scanIndex { return s }
        lock.lock()
        if let s = lazyScan { lock.unlock(); return s }
        lock.unlock()
        let s = Self.scan(src)
        lock.lock(); lazyScan = s; lock.unlock()
        return s
    }

    final class ObjectStream {
        let data: [UInt8]
        let first: Int
        let offsets: [(number: Int, offset: Int)]
        let source: ByteSource
        init(data: [UInt8], first: Int, offsets: [(Int, Int)]) {
            self.data = data; self.first = first; self.offsets = offsets
            source = data.withUnsafeBytes { ByteSource(bytes: $0) }
        }
    }

    private func objectStream(_ num: Int) throws -> ObjectStream? {
        lock.lock()
        if let c = objStmCache[num] { lock.unlock(); return c }
        lock.unlock()
        // An object stream must itself be stored directly in the file (§7.5.7), never compressed:
        // this also rules out chains of object streams.
        guard case .inFile? = xref[num], case .stream(let s) = resolve(ObjectRef(num, 0)) else { return nil }
        let d = s.dictionary
        guard let n = d.int("N"), let first = d.int("First"), n >= 0, first >= 0 else { return nil }
        let data = try s.decodedData()
        var lex = Lexer(data.withUnsafeBytes { ByteSource(bytes: $0) }, at: 0, end: min(first, data.count))
        var offs: [(Int, Int)] = []
        offs.reserveCapacity(min(n, 1 << 16))
        for _ in 0..<min(n, data.count / 2 + 1) {
            guard case .integer(let on) = lex.next(), case .integer(let oo) = lex.next() else { break }
            offs.append((on, oo))
        }
        let os = ObjectStream(data: data, first: first, offsets: offs)
        lock.lock()
        if objStmCache.count > 64 { objStmCache.removeAll() }
        objStmCache[num] = os
        lock.unlock()
        return os
    }

    private func loadCompressed(_ num: Int, stream: Int, index: Int) throws -> PDFObject {
        guard stream != num, let os = try objectStream(stream) else { return .null }
        var idx = index
        if idx >= os.offsets.count || os.offsets[idx].number != num {
            guard let j = os.offsets.firstIndex(where: { $0.number == num }) else { return .null }
            idx = j
        }
        let (at, o) = os.first.addingReportingOverflow(os.offsets[idx].offset)
        guard !o, at >= 0, at < os.data.count else { return .null }
        var p = Parser(os.source, at: at)
        // Objects in object streams are not encrypted individually (the stream was).
        return try p.parseObject()
    }

    private func decryptIfNeeded(_ o: PDFObject, ref: ObjectRef) -> PDFObject {
        guard let security, security.encryptRef != ref else { return o }
        return security.decrypt(o, ref: ref)
    }

    // MARK: - Document-level

    /// The document catalog (§7.7.2).
    public var catalog: PDFDictionary { resolve(trailer["Root"] ?? .null).dictionaryValue ?? PDFDictionary() }

    /// Reference of the catalog.
    public var catalogRef: ObjectRef? { trailer["Root"]?.referenceValue }

    /// Effective PDF version: the header's, or the catalog's /Version when later (§7.7.2).
    public var version: String {
        if let cv = catalog.name("Version")?.string, Self.versionValue(cv) > Self.versionValue(headerVersion) { return cv }
        return headerVersion
    }

    static func versionValue(_ s: String) -> Double { Double(s) ?? 0 }

    /// True when the file has an /Encrypt entry.
    public var isEncrypted: Bool { security != nil }

    /// Encryption parameters, when encrypted.
    public var encryption: EncryptionInfo? { security?.info }

    /// Which password opened an encrypted document (nil when not encrypted).
    public var openedWith: PDFOpenedWith? { security?.openedWith }

    /// The /Linearized parameter dictionary if the first object in the file is one (§F.2).
    public var linearizationDictionary: PDFDictionary? {
        var lex = Lexer(src, at: headerOffset + 5)
        lex.skipWhitespaceAndComments()
        // Skip the header line's rest
        var p = Parser(src, at: lex.pos)
        // Find the first object header within the first 1 KB.
        let limit = min(src.count, headerOffset + 1024)
        var pos = lex.pos
        while pos < limit {
            p = Parser(src, at: pos)
            if let (_, o) = try? p.parseIndirect(), case .dictionary(let d) = o {
                return d["Linearized"] != nil ? d : nil
            }
            guard let nl = src.find(Array("obj".utf8), from: pos + 1, to: limit) else { return nil }
            // back up to the line start
            var b = nl
            while b > pos && src[b - 1] != 0x0A && src[b - 1] != 0x0D { b -= 1 }
            if b <= pos { return nil }
            pos = b
        }
        return nil
    }

    /// True when the file is linearized and the linearization still matches the file length.
    public var isLinearized: Bool {
        guard let d = linearizationDictionary, let l = d.int("L") else { return false }
        return l == src.count - headerOffset
    }

    /// The document as it was at an earlier revision: the first `end` bytes of this file, read in place
    /// (no copy). Its `url` is nil, so nothing reads past `end` by reopening the file.
    public func prefix(endingAt end: Int) throws -> PDFDocument {
        if end >= src.count { return self }
        return try PDFDocument(source: ByteSource(prefixOf: src, count: end), url: nil)
    }

    /// What the newest cross-reference section wrote, when the file has earlier sections (an incremental
    /// update); nil for a file with a single section.
    public var latestUpdate: XRefUpdateSummary? {
        guard sections.count > 1, let newest = sections.first else { return nil }
        var inUse: [ObjectRef] = [], freed: [ObjectRef] = [], objectStreams = Set<Int>()
        for (n, e) in newest.entries where n > 0 {
            switch e {
            case .inFile(_, let g): inUse.append(ObjectRef(n, g))
            case .compressed(let stm, _): inUse.append(ObjectRef(n, 0)); objectStreams.insert(stm)
            case .free(let g): freed.append(ObjectRef(n, max(0, g - 1)))
            }
        }
        var streams: [ObjectRef] = []
        if newest.kind == .stream, let n = Self.objectHeader(src, at: newest.offset) { streams.append(ObjectRef(n, generationInUse(n) ?? 0)) }
        if newest.kind == .hybrid, let x = newest.trailer.int("XRefStm"), let n = Self.objectHeader(src, at: x &+ headerOffset) {
            streams.append(ObjectRef(n, generationInUse(n) ?? 0))
        }
        return XRefUpdateSummary(written: inUse.sorted(), freed: freed.sorted(), objectStreams: objectStreams.sorted().map { ObjectRef($0, 0) },
                                 xrefStreams: streams, sectionOffsets: sections.map(\.offset), kind: newest.kind)
    }

    /// The generation under which the cross-reference data lists an object number as in use, or nil.
    public func generationInUse(_ number: Int) -> Int? {
        switch xref[number] {
        case .inFile(_, let g)?: return g
        case .compressed?: return 0
        default: return nil
        }
    }

    /// Copy of raw bytes of the file (clamped). For small reads only.
    public func bytes(in range: Range<Int>) -> [UInt8] { src.bytes(range) }
}
