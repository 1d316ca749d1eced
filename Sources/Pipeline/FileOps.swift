#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Durable file operations: temporary name + fsync + rename, so no reader ever sees half a file.
public enum FileOps {
    /// fsyncs a file or folder.
    public static func fsync(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError(.io, path: url.path, "cannot open for fsync: \(errnoString())") }
        defer { close(fd) }
        if Glibc.fsync(fd) != 0 { throw PipelineError(.io, path: url.path, "fsync failed: \(errnoString())") }
    }

    /// Writes bytes to `url` atomically: `.<name>.partial-<pid>` in the same folder, fsync, rename, fsync folder.
    public static func writeAtomically(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
        let fd = open(tmp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw PipelineError(.io, path: tmp.path, "cannot create: \(errnoString())") }
        var ok = true
        data.withUnsafeBytes { raw in
            var off = 0
            while off < raw.count {
                let n = write(fd, raw.baseAddress! + off, raw.count - off)
                if n < 0 { if errno == EINTR { continue }; ok = false; break }
                off += n
            }
        }
        if ok && Glibc.fsync(fd) != 0 { ok = false }
        let err = errnoString()
        close(fd)
        guard ok else { unlink(tmp.path); throw PipelineError(.io, path: url.path, "write failed: \(err)") }
        guard rename(tmp.path, url.path) == 0 else {
            let e = errnoString(); unlink(tmp.path)
            throw PipelineError(.io, path: url.path, "rename failed: \(e)")
        }
        try fsync(dir)
    }

    /// Moves `src` to `dst` atomically (rename; across file systems: copy to a temporary name in the
    /// destination folder, fsync, rename, then remove the source). Both folders are fsynced.
    public static func move(_ src: URL, to dst: URL) throws {
        try FileManager.default.createDirectory(at: dst.deletingLastPathComponent(), withIntermediateDirectories: true)
        if rename(src.path, dst.path) == 0 {
            try fsync(dst.deletingLastPathComponent())
            if src.deletingLastPathComponent().path != dst.deletingLastPathComponent().path { try? fsync(src.deletingLastPathComponent()) }
            return
        }
        guard errno == EXDEV else { throw PipelineError(.io, path: src.path, "cannot move to \(dst.path): \(errnoString())") }
        try copyAtomically(src, to: dst)
        unlink(src.path)
        try? fsync(src.deletingLastPathComponent())
    }

    /// Places a copy of `src` at `dst` atomically (hard link when `link` and possible, else copy +
    /// fsync + rename).
    public static func copyAtomically(_ src: URL, to dst: URL, link useLink: Bool = true) throws {
        let dir = dst.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(dst.lastPathComponent).partial-\(getpid())")
        unlink(tmp.path)
        if !useLink || link(src.path, tmp.path) != 0 {
            do { try FileManager.default.copyItem(at: src, to: tmp) }
            catch { throw PipelineError(.io, path: dst.path, "copy failed: \(error.localizedDescription)") }
        }
        try fsync(tmp)
        guard rename(tmp.path, dst.path) == 0 else {
            let e = errnoString(); unlink(tmp.path)
            throw PipelineError(.io, path: dst.path, "rename failed: \(e)")
        }
        try fsync(dir)
    }

    /// A name in `dir` that does not exist yet: `name`, else `stem.<tag>.ext`, else `stem.<tag>-N.ext`.
    public static func freeName(_ name: String, in dir: URL, tag: String) -> URL {
        let first = dir.appendingPathComponent(name)
        if !exists(first) { return first }
        let ext = (name as NSString).pathExtension, stem = (name as NSString).deletingPathExtension
        let dot = ext.isEmpty ? "" : ".\(ext)"
        let second = dir.appendingPathComponent("\(stem).\(tag)\(dot)")
        if !exists(second) { return second }
        var n = 2
        while true {
            let u = dir.appendingPathComponent("\(stem).\(tag)-\(n)\(dot)")
            if !exists(u) { return u }
            n += 1
        }
    }

    /// lstat-based existence (does not follow symlinks).
    public static func exists(_ url: URL) -> Bool {
        var st = stat()
        return lstat(url.path, &st) == 0
    }

    /// Size and modification time of a regular file, or nil.
    public static func regularFileInfo(_ url: URL) -> (size: Int64, mtime: Double)? {
        var st = stat()
        guard lstat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return (Int64(st.st_size), Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    /// Shell-pattern match, case-insensitive (`*.pdf` matches `A.PDF`).
    public static func matches(_ name: String, pattern: String) -> Bool {
        fnmatch(pattern.lowercased(), name.lowercased(), 0) == 0
    }

    static func errnoString() -> String { String(cString: strerror(errno)) }
}

/// Streaming SHA-256 (FIPS 180-4), so hashing never holds a whole document in memory.
public struct SHA256Stream: Sendable {
    private var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
    private var buffer: [UInt8] = []
    private var length: UInt64 = 0
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]

    /// A fresh hash.
    public init() {}

    /// Adds bytes.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        length &+= UInt64(bytes.count)
        buffer.append(contentsOf: bytes)
        var start = 0
        buffer.withUnsafeBufferPointer { p in
            while p.count - start >= 64 { Self.block(&h, p, start); start += 64 }
        }
        if start > 0 { buffer.removeFirst(start) }
    }

    /// The digest.
    public mutating func finalize() -> [UInt8] {
        let bits = length &* 8
        var pad: [UInt8] = [0x80]
        let rem = (buffer.count + 1) % 64
        pad += [UInt8](repeating: 0, count: rem <= 56 ? 56 - rem : 120 - rem)
        for i in (0..<8).reversed() { pad.append(UInt8(truncatingIfNeeded: bits >> (UInt64(i) * 8))) }
        let savedLength = length
        update(pad)
        length = savedLength
        var out: [UInt8] = []
        for v in h { out += [UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
        return out
    }

    private static func block(_ h: inout [UInt32], _ p: UnsafeBufferPointer<UInt8>, _ o: Int) {
        var w = [UInt32](repeating: 0, count: 64)
        for i in 0..<16 {
            w[i] = UInt32(p[o + 4 * i]) << 24 | UInt32(p[o + 4 * i + 1]) << 16 | UInt32(p[o + 4 * i + 2]) << 8 | UInt32(p[o + 4 * i + 3])
        }
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        for i in 16..<64 {
            let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
            let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
        }
        var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7]
        for i in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
        }
        h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e; h[5] &+= f; h[6] &+= g; h[7] &+= hh
    }

    /// Hex SHA-256 of a file, read in 64 KiB chunks.
    public static func hexDigest(ofFile url: URL) throws -> String {
        guard let fh = FileHandle(forReadingAtPath: url.path) else { throw PipelineError(.io, path: url.path, "cannot read file") }
        defer { try? fh.close() }
        var s = SHA256Stream()
        while true {
            let chunk = fh.readData(ofLength: 1 << 16)
            if chunk.isEmpty { break }
            s.update(chunk)
        }
        return s.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
