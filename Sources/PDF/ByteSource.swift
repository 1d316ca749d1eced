import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Read-only bytes of a PDF: a private memory map of the file (only touched pages become resident)
/// or an owned copy for in-memory data.
final class ByteSource: @unchecked Sendable {
    let base: UnsafeMutableRawPointer?
    let count: Int
    private let mapped: Bool
    /// The source whose bytes a prefix view shares (kept alive by the view); nil when this one owns them.
    private let parent: ByteSource?

    init(url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            throw PDFError(.io, "cannot open the file: \(String(cString: strerror(errno)))", file: url.lastPathComponent)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw PDFError(.io, "cannot read the file's size", file: url.lastPathComponent) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw PDFError(.io, "is a directory, not a file", file: url.lastPathComponent) }
        let size = Int(st.st_size)
        count = size
        mapped = size > 0
        parent = nil
        if size == 0 { base = nil; return }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw PDFError(.io, "cannot map the file into memory: \(String(cString: strerror(errno)))", file: url.lastPathComponent)
        }
        // Random access: do not read ahead (keeps resident memory small for big files).
        _ = madvise(p, size, Int32(MADV_RANDOM))
        base = p
    }

    init(bytes: UnsafeRawBufferPointer) {
        count = bytes.count
        mapped = false
        parent = nil
        if bytes.count == 0 { base = nil; return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 16)
        p.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        base = p
    }

    /// The first `count` bytes of another source, sharing its memory (no copy).
    init(prefixOf source: ByteSource, count n: Int) {
        let root = source.parent ?? source
        base = source.base
        count = max(0, min(n, source.count))
        mapped = source.mapped
        parent = root
    }

    deinit {
        guard parent == nil, let base else { return }
        if mapped { munmap(base, count) } else { base.deallocate() }
    }

    @inline(__always) subscript(i: Int) -> UInt8 { base!.load(fromByteOffset: i, as: UInt8.self) }

    /// Copy of a range (clamped to the file).
    func bytes(_ r: Range<Int>) -> [UInt8] {
        let lo = max(0, min(r.lowerBound, count)), hi = max(lo, min(r.upperBound, count))
        guard hi > lo, let base else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: base + lo, count: hi - lo))
    }

    /// Buffer view of a range (clamped).
    func buffer(_ r: Range<Int>) -> UnsafeRawBufferPointer {
        let lo = max(0, min(r.lowerBound, count)), hi = max(lo, min(r.upperBound, count))
        guard let base, hi > lo else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + lo, count: hi - lo)
    }

    /// Tells the kernel the mapped pages of a range are no longer needed (they are dropped from this
    /// process's resident set; the file is unchanged since the mapping is read-only).
    func release(_ r: Range<Int>) {
        guard mapped, let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (max(0, r.lowerBound) / page) * page
        let hi = min(count, r.upperBound)
        guard hi > lo else { return }
        _ = madvise(base + lo, hi - lo, Int32(MADV_DONTNEED))
    }

    /// First index >= from (and < to) where `needle` starts.
    func find(_ needle: [UInt8], from: Int, to: Int? = nil) -> Int? {
        let end = min(to ?? count, count)
        guard let base, !needle.isEmpty, from >= 0, end - from >= needle.count else { return nil }
        let first = needle[0]
        var i = from
        let last = end - needle.count
        while i <= last {
            guard let hit = memchr(base + i, Int32(first), last - i + 1) else { return nil }
            let j = base.distance(to: hit)
            var ok = true
            for k in 1..<needle.count where self[j + k] != needle[k] { ok = false; break }
            if ok { return j }
            i = j + 1
        }
        return nil
    }

    /// Last index in [from, to) where `needle` starts.
    func findLast(_ needle: [UInt8], from: Int = 0, to: Int? = nil) -> Int? {
        let end = min(to ?? count, count)
        guard base != nil, !needle.isEmpty, end - max(from, 0) >= needle.count else { return nil }
        var i = end - needle.count
        while i >= max(from, 0) {
            if self[i] == needle[0] {
                var ok = true
                for k in 1..<needle.count where self[i + k] != needle[k] { ok = false; break }
                if ok { return i }
            }
            i -= 1
        }
        return nil
    }
}
