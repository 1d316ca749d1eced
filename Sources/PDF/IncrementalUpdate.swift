import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the signature hole ended up in a written file (§12.8.1: /ByteRange excludes /Contents).
public struct ByteRangeHole: Sendable, Equatable {
    /// The four /ByteRange values written into the file: `[0, a, b, c]`.
    public var byteRange: [Int]
    /// Absolute offset of the `<` that opens the /Contents hex string.
    public var contentsOffset: Int
    /// Length of the /Contents string including `<` and `>`.
    public var contentsLength: Int
    /// Size of the written file.
    public var fileSize: Int
    /// Largest DER blob that fits, in bytes.
    public var capacity: Int { (contentsLength - 2) / 2 }
    /// The byte ranges as offset ranges.
    public var ranges: [Range<Int>] { [byteRange[0]..<(byteRange[0] + byteRange[1]), byteRange[2]..<(byteRange[2] + byteRange[3])] }

    /// Writes `contents` (e.g. a CMS SignedData DER blob) as hex into the hole, padded with zeros.
    /// Throws `.invalidArgument` when it does not fit. Nothing else in the file changes. With `sync`,
    /// the file is flushed to disk (fsync) before returning.
    public func fill(file: URL, contents: [UInt8], sync: Bool = false) throws {
        guard contents.count <= capacity else {
            throw PDFError(.invalidArgument, "the signature (\(contents.count) bytes) does not fit in the space reserved for it (\(capacity) bytes); reserve more", file: file.lastPathComponent)
        }
        var hex = [UInt8](repeating: 0x30, count: contentsLength - 2)
        let digits = Array("0123456789ABCDEF".utf8)
        for (i, b) in contents.enumerated() { hex[2 * i] = digits[Int(b >> 4)]; hex[2 * i + 1] = digits[Int(b & 0xF)] }
        let fd = open(file.path, O_WRONLY)
        guard fd >= 0 else { throw PDFError(.io, "cannot open the file to write the signature", file: file.lastPathComponent) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) == fileSize else {
            throw PDFError(.invalidArgument, "the file changed size since it was written; refusing to fill the signature", file: file.lastPathComponent)
        }
        try pwriteAll(fd, hex, at: contentsOffset + 1, file: file)
        if sync, fsync(fd) != 0 { throw PDFError(.io, "cannot flush the file to disk", file: file.lastPathComponent) }
    }
}

func pwriteAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int, file: URL?) throws {
    var done = 0
    try bytes.withUnsafeBytes { b in
        while done < b.count {
            let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(offset + done))
            if n < 0 { if errno == EINTR { continue }; throw PDFError(.io, "write failed: \(String(cString: strerror(errno)))", file: file?.lastPathComponent) }
            done += n
        }
    }
}

/// Builds an incremental update (§7.5.6): new and changed objects appended after the original bytes,
/// which stay byte-identical, with a cross-reference section of the same kind as the file's last one.
public final class IncrementalUpdate: @unchecked Sendable {
    /// The document being updated.
    public let document: PDFDocument
    private var objects: [ObjectRef: PDFObject] = [:]
    private var nextNumber: Int
    private var importMaps: [ObjectIdentifier: [ObjectRef: ObjectRef]] = [:]
    /// Overrides the /ID written in the new trailer (default: the file's /ID, or one derived from the file).
    public var fileID: [[UInt8]]? = nil

    /// Starts an update. An encrypted document (opened with the empty user password or a given one) gets an update
    /// encrypted with its own security handler (§7.6: every string and stream of the new objects, under
    /// their own object keys; the trailer keeps /Encrypt and /ID), as pyHanko writes it.
    public init(document: PDFDocument) throws {
        if let e = document.encryption, document.security == nil {
            throw PDFError(.encrypted(userPasswordRequired: true),
                "the file is protected with a password needed to open it (\(e.cipher)); it cannot be updated",
                file: document.url?.lastPathComponent)
        }
        self.document = document
        self.nextNumber = document.size
    }

    /// Adds a new object; returns its reference.
    @discardableResult
    public func add(_ object: PDFObject) -> ObjectRef {
        let r = reserve()
        objects[r] = object
        return r
    }

    /// Reserves an object number to be set later with `replace(_:with:)` (for forward references).
    public func reserve() -> ObjectRef {
        let r = ObjectRef(nextNumber, 0)
        nextNumber += 1
        objects[r] = .null
        return r
    }

    /// Replaces an existing object (of the document or of this update) with a new value.
    public func replace(_ ref: ObjectRef, with object: PDFObject) {
        objects[ref] = object
        if ref.number >= nextNumber { nextNumber = ref.number + 1 }
    }

    /// The object as it will be after this update (this update's value, else the document's).
    public func object(_ ref: ObjectRef) -> PDFObject {
        if let o = objects[ref] { return o }
        return document.resolve(ref)
    }

    /// References written by this update, in order.
    public var changedObjects: [ObjectRef] { objects.keys.sorted() }

    /// Deep-copies `object` and everything reachable from it in `other` into this update, renumbering
    /// references. Objects imported earlier from the same document are reused. Returns the copy (a
    /// reference when `object` was one).
    public func importObject(_ object: PDFObject, from other: PDFDocument) -> PDFObject {
        let key = ObjectIdentifier(other)
        var map = importMaps[key] ?? [:]
        var pending: [(ObjectRef, ObjectRef)] = []
        func copy(_ o: PDFObject) -> PDFObject {
            switch o {
            case .reference(let r):
                if let m = map[r] { return .reference(m) }
                let target = other.resolve(r)
                if target.isNull { return .null }
                let n = reserve()
                map[r] = n
                pending.append((r, n))
                return .reference(n)
            case .array(let a): return .array(a.map(copy))
            case .dictionary(let d): return .dictionary(PDFDictionary(d.entries.map { ($0.key, copy($0.value)) }))
            case .stream(let s):
                let d = PDFDictionary(s.dictionary.entries.filter { $0.key != "Length" }.map { ($0.key, copy($0.value)) })
                return .stream(PDFStream(dictionary: d, rawData: s.rawData))
            default: return o
            }
        }
        let result = copy(object)
        while let (src, dst) = pending.popLast() {
            objects[dst] = copy(other.resolve(src))
        }
        importMaps[key] = map
        return result
    }

    // MARK: - Writing

    /// Streams the original bytes to `output`, appends the update and its cross-reference section,
    /// and, when the update holds a `/Contents` placeholder, fills `/ByteRange` in place and returns the hole.
    /// The output is created (or truncated) and removed again if writing fails. With `sync`, it is
    /// flushed to disk (fsync) before returning — callers that rename it into place should ask for that.
    @discardableResult
    public func write(to output: URL, sync: Bool = false) throws -> ByteRangeHole? {
        let doc = document
        let fd = open(output.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw PDFError(.io, "cannot create the output file: \(String(cString: strerror(errno)))", file: output.lastPathComponent) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(output.path) }
        }
        try copyOriginal(to: fd, output: output)
        var pos = doc.fileSize
        var out: [UInt8] = []
        if doc.fileSize > 0 {
            let last = doc.src[doc.fileSize - 1]
            if last != 0x0A && last != 0x0D { out.append(0x0A) }
        }
        let base = doc.headerOffset
        var offsets: [Int: (Int, Int)] = [:] // number -> (relative offset, generation)
        var contentsHole: (offset: Int, length: Int)? = nil
        var byteRangeAt: (offset: Int, length: Int)? = nil
        for ref in objects.keys.sorted() {
            let abs = pos + out.count
            offsets[ref.number] = (abs - base, ref.generation)
            out += Array("\(ref.number) \(ref.generation) obj\n".utf8)
            var ser = PDFSerializer()
            let plain = objects[ref]!
            if let security = doc.security, security.encryptRef != ref {
                ser.write(security.encrypt(plain, ref: ref))
            } else {
                ser.write(plain)
            }
            for p in ser.placeholders {
                let at = pos + out.count + p.offset
                switch p.kind {
                case .contents:
                    if contentsHole != nil { throw PDFError(.invalidArgument, "an update can hold only one /Contents placeholder") }
                    contentsHole = (at, p.length)
                case .byteRange:
                    if byteRangeAt != nil { throw PDFError(.invalidArgument, "an update can hold only one /ByteRange placeholder") }
                    byteRangeAt = (at, p.length)
                }
            }
            out += ser.out
            out += Array("\nendobj\n".utf8)
            if out.count > 1 << 20 { try writeAll(fd, out, output); pos += out.count; out.removeAll(keepingCapacity: true) }
        }
        if (contentsHole == nil) != (byteRangeAt == nil) {
            throw PDFError(.invalidArgument, "a signature needs both a /Contents and a /ByteRange placeholder")
        }

        // Cross-reference section.
        let xrefAbs = pos + out.count
        let prev: Int? = doc.wasReconstructed ? nil : doc.sections.first.map { $0.offset - base }
        var trailer = PDFDictionary()
        var entries: [Int: XRefEntry] = [:] // relative offsets
        if doc.wasReconstructed {
            // The old cross-reference data cannot be trusted: list every object so the new section stands alone.
            for (n, e) in doc.xref {
                switch e {
                case .inFile(let o, let g):
                    // Only objects that really are where the entry says (others are missing).
                    if o >= 0, o < doc.fileSize, PDFDocument.objectHeader(doc.src, at: o) == n {
                        entries[n] = .inFile(offset: o - base, generation: g)
                    }
                case .compressed: entries[n] = e
                case .free: break
                }
            }
        }
        for (n, (o, g)) in offsets { entries[n] = .inFile(offset: o, generation: g) }
        let hasCompressed = entries.values.contains { if case .compressed = $0 { return true }; return false }
        let useStream = doc.lastXRefKind == .stream || hasCompressed
        trailer["Size"] = .integer(0)
        if let r = doc.trailer["Root"] { trailer["Root"] = r }
        if let i = doc.trailer["Info"] { trailer["Info"] = i }
        if doc.security != nil, let e = doc.trailer["Encrypt"] { trailer["Encrypt"] = e }
        trailer["ID"] = idObject()
        if let prev { trailer["Prev"] = .integer(prev) }

        if useStream {
            let xrefNum = max(nextNumber, doc.size)
            entries[xrefNum] = .inFile(offset: xrefAbs - base, generation: 0)
            let size = max(doc.size, xrefNum + 1)
            trailer["Size"] = .integer(size)
            let maxOff = entries.values.map { if case .inFile(let o, _) = $0 { return o }; if case .compressed(let s, _) = $0 { return s }; return 0 }.max() ?? 0
            var w2 = 1
            while w2 < 8 && (maxOff >> (8 * w2)) > 0 { w2 += 1 }
            let maxIdx = entries.values.map { if case .compressed(_, let i) = $0 { return i }; if case .inFile(_, let g) = $0 { return g }; return 0 }.max() ?? 0
            var w3 = 1
            while w3 < 4 && (maxIdx >> (8 * w3)) > 0 { w3 += 1 }
            var index: [PDFObject] = []
            var data: [UInt8] = []
            var nums = entries.keys.sorted()
            if doc.wasReconstructed && nums.first != 0 { nums.insert(0, at: 0) }
            var i = 0
            while i < nums.count {
                var j = i
                while j + 1 < nums.count && nums[j + 1] == nums[j] + 1 { j += 1 }
                index += [.integer(nums[i]), .integer(j - i + 1)]
                for n in nums[i...j] {
                    let (t, f2, f3): (Int, Int, Int)
                    switch entries[n] {
                    case .inFile(let o, let g)?: (t, f2, f3) = (1, o, g)
                    case .compressed(let s, let x)?: (t, f2, f3) = (2, s, x)
                    default: (t, f2, f3) = (0, 0, n == 0 ? 65535 & ((1 << (8 * w3)) - 1) : 0)
                    }
                    data.append(UInt8(t))
                    for k in stride(from: w2 - 1, through: 0, by: -1) { data.append(UInt8((f2 >> (8 * k)) & 0xFF)) }
                    for k in stride(from: w3 - 1, through: 0, by: -1) { data.append(UInt8((f3 >> (8 * k)) & 0xFF)) }
                }
                i = j + 1
            }
            var d = PDFDictionary()
            d["Type"] = .name("XRef")
            for (k, v) in trailer { d[k] = v }
            d["W"] = .array([.integer(1), .integer(w2), .integer(w3)])
            d["Index"] = .array(index)
            let s = PDFStream.flate(dictionary: d, data: data)
            out += Array("\(xrefNum) 0 obj\n".utf8)
            out += PDFObject.stream(s).serialized()
            out += Array("\nendobj\n".utf8)
        } else {
            trailer["Size"] = .integer(max(doc.size, nextNumber))
            out += Array("xref\n".utf8)
            var nums = entries.keys.sorted()
            if nums.first != 0 { nums.insert(0, at: 0) }
            var i = 0
            while i < nums.count {
                var j = i
                while j + 1 < nums.count && nums[j + 1] == nums[j] + 1 { j += 1 }
                out += Array("\(nums[i]) \(j - i + 1)\n".utf8)
                for n in nums[i...j] {
                    switch entries[n] {
                    case .inFile(let o, let g)?: out += Array((pad(o, 10) + " " + pad(g, 5) + " n\r\n").utf8)
                    default: out += Array("0000000000 65535 f\r\n".utf8)
                    }
                }
                i = j + 1
            }
            out += Array("trailer\n".utf8)
            out += PDFObject.dictionary(trailer).serialized()
            out += Array("\n".utf8)
        }
        out += Array("startxref\n\(xrefAbs - base)\n%%EOF\n".utf8)
        try writeAll(fd, out, output)
        let total = pos + out.count
        pos = total

        var hole: ByteRangeHole? = nil
        if let c = contentsHole, let br = byteRangeAt {
            let a = c.offset, b = c.offset + c.length
            let values = [0, a, b, total - b]
            var text = Array(("[" + values.map(String.init).joined(separator: " ")).utf8)
            guard text.count + 1 <= br.length else { throw PDFError(.invalidArgument, "the /ByteRange placeholder is too small for this file size") }
            text += [UInt8](repeating: 0x20, count: br.length - 1 - text.count) + [0x5D]
            try pwriteAll(fd, text, at: br.offset, file: output)
            hole = ByteRangeHole(byteRange: values, contentsOffset: a, contentsLength: c.length, fileSize: total)
        }
        if sync { guard fsync(fd) == 0 || errno == EINVAL else { throw PDFError(.io, "cannot flush the output file", file: output.lastPathComponent) } }
        ok = true
        return hole
    }

    private func pad(_ v: Int, _ w: Int) -> String {
        let s = String(v)
        return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
    }

    private func idObject() -> PDFObject {
        if let f = fileID, f.count == 2 { return .array(f.map { .hexString($0) }) }
        if let id = document.trailer["ID"], let a = document.resolve(id).arrayValue, a.count == 2,
           a.allSatisfy({ $0.stringValue != nil }) { return .array(a) }
        // No /ID: derive one from the file's size and its first and last bytes (deterministic).
        let n = document.fileSize
        var seed = Array(String(n).utf8)
        seed += document.src.bytes(0..<min(n, 4096))
        seed += document.src.bytes(max(0, n - 4096)..<n)
        let h = MD5.hash(seed)
        return .array([.hexString(h), .hexString(h)])
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], _ output: URL) throws {
        var done = 0
        try bytes.withUnsafeBytes { b in
            while done < b.count {
                let n = Glibc.write(fd, b.baseAddress! + done, b.count - done)
                if n < 0 { if errno == EINTR { continue }; throw PDFError(.io, "write failed: \(String(cString: strerror(errno)))", file: output.lastPathComponent) }
                done += n
            }
        }
    }

    /// Copies the original bytes with copy_file_range (kernel-side, no user-space buffer) when the
    /// document came from a file, else from memory.
    private func copyOriginal(to fd: Int32, output: URL) throws {
        let doc = document
        let total = doc.fileSize
        if let url = doc.url {
            let inFd = open(url.path, O_RDONLY)
            guard inFd >= 0 else { throw PDFError(.io, "cannot reopen the original for copying", file: url.lastPathComponent) }
            defer { close(inFd) }
            var copied = 0
            var inOff = off_t(0), outOff = off_t(0)
            while copied < total {
                guard let cfr = copyFileRange else { break }
                let n = cfr(inFd, &inOff, fd, &outOff, total - copied, 0)
                if n > 0 { copied += n; continue }
                if n == 0 { break }
                if errno == EINTR { continue }
                break // EXDEV/ENOSYS/EINVAL: fall back to read/write
            }
            if copied < total {
                var buf = [UInt8](repeating: 0, count: 1 << 20)
                while copied < total {
                    let n = buf.withUnsafeMutableBytes { pread(inFd, $0.baseAddress!, min($0.count, total - copied), off_t(copied)) }
                    if n < 0 { if errno == EINTR { continue }; throw PDFError(.io, "read failed while copying", file: url.lastPathComponent) }
                    if n == 0 { throw PDFError(.io, "the original file got shorter while copying", file: url.lastPathComponent) }
                    try pwriteAll(fd, Array(buf[0..<n]), at: copied, file: output)
                    copied += n
                }
            }
            if lseek(fd, off_t(total), SEEK_SET) < 0 { throw PDFError(.io, "seek failed", file: output.lastPathComponent) }
        } else {
            try writeAll(fd, doc.src.bytes(0..<total), output)
        }
    }
}

/// `copy_file_range(2)` looked up at run time (glibc declares it only under _GNU_SOURCE).
private typealias CopyFileRangeFn = @convention(c) (Int32, UnsafeMutablePointer<off_t>?, Int32, UnsafeMutablePointer<off_t>?, Int, UInt32) -> Int
private let copyFileRange: CopyFileRangeFn? = {
    guard let h = dlopen(nil, RTLD_NOW), let sym = dlsym(h, "copy_file_range") else { return nil }
    return unsafeBitCast(sym, to: CopyFileRangeFn.self)
}()

/// Streaming access to byte ranges of a file (memory does not grow with file size).
public enum ByteRange {
    /// Calls `body` with consecutive chunks of the given ranges (a /ByteRange array `[a, b, c, d, …]` as
    /// offset/length pairs). Throws when a range reaches beyond the end of the file.
    public static func stream(file: URL, ranges: [Int], chunkSize: Int = 1 << 20,
                              _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard ranges.count % 2 == 0 else { throw PDFError(.invalidArgument, "byte ranges must be offset/length pairs") }
        let fd = open(file.path, O_RDONLY)
        guard fd >= 0 else { throw PDFError(.io, "cannot open the file", file: file.lastPathComponent) }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        let size = Int(st.st_size)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: max(1, chunkSize), alignment: 16)
        defer { buf.deallocate() }
        var i = 0
        while i < ranges.count {
            let start = ranges[i], len = ranges[i + 1]
            i += 2
            guard start >= 0, len >= 0, start <= size, len <= size - start else {
                throw PDFError(.invalidArgument, "byte range \(start)+\(len) reaches beyond the end of the file (\(size) bytes)", file: file.lastPathComponent)
            }
            var done = 0
            while done < len {
                let n = pread(fd, buf, min(chunkSize, len - done), off_t(start + done))
                if n < 0 { if errno == EINTR { continue }; throw PDFError(.io, "read failed", file: file.lastPathComponent) }
                if n == 0 { throw PDFError(.io, "unexpected end of file", file: file.lastPathComponent) }
                try body(UnsafeRawBufferPointer(start: buf, count: n))
                done += n
            }
        }
    }

    /// Digest algorithms for `digest(file:ranges:algorithm:)`.
    public enum Algorithm: String, Sendable, CaseIterable { case sha256, sha384, sha512 }

    /// Hashes the ranges by streaming (pure Swift SHA-2).
    public static func digest(file: URL, ranges: [Int], algorithm: Algorithm = .sha256) throws -> [UInt8] {
        switch algorithm {
        case .sha256:
            var h = SHA256()
            try stream(file: file, ranges: ranges) { h.update($0) }
            return h.finalize()
        case .sha384, .sha512:
            var h = SHA512(is384: algorithm == .sha384)
            try stream(file: file, ranges: ranges) { h.update($0) }
            return h.finalize()
        }
    }
}
