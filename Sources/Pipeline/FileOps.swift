import COpenSSL
import CSubprocess
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

    /// fsyncs a folder many workers write into (inbox, outbox, a day of the archive), sharing flushes:
    /// a caller waits for a flush that started after it arrived (its own changes are then covered)
    /// instead of starting one of its own while another is running.
    public static func syncShared(_ dir: URL) throws {
        try FolderSync.shared.sync(dir)
    }

    /// Writes bytes to `url` atomically: `.<name>.partial-<pid>` in the same folder, fsync, rename, fsync
    /// folder (`syncFolder: false` leaves the folder's fsync to the caller, who may cover several files with one).
    public static func writeAtomically(_ data: Data, to url: URL, syncFolder: Bool = true, syncFile: Bool = true) throws {
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
        if ok && syncFile && Glibc.fsync(fd) != 0 { ok = false }
        let err = errnoString()
        close(fd)
        guard ok else { unlink(tmp.path); throw PipelineError(.io, path: url.path, "write failed: \(err)") }
        guard rename(tmp.path, url.path) == 0 else {
            let e = errnoString(); unlink(tmp.path)
            throw PipelineError(.io, path: url.path, "rename failed: \(e)")
        }
        if syncFolder { try fsync(dir) }
    }

    /// Moves `src` to `dst` atomically (rename; across file systems: copy to a temporary name in the
    /// destination folder, fsync, rename, then remove the source). The destination folder is fsynced
    /// (shared with concurrent movers); the source folder too unless `syncSource` is false (when the
    /// file reappearing there after a power cut is harmless: recovery looks at the destination first).
    public static func move(_ src: URL, to dst: URL, syncSource: Bool = true) throws {
        try FileManager.default.createDirectory(at: dst.deletingLastPathComponent(), withIntermediateDirectories: true)
        if rename(src.path, dst.path) == 0 {
            try syncShared(dst.deletingLastPathComponent())
            if syncSource, src.deletingLastPathComponent().path != dst.deletingLastPathComponent().path { try? fsync(src.deletingLastPathComponent()) }
            return
        }
        guard errno == EXDEV else { throw PipelineError(.io, path: src.path, "cannot move to \(dst.path): \(errnoString())") }
        try copyAtomically(src, to: dst)
        unlink(src.path)
        try? fsync(src.deletingLastPathComponent())
    }

    /// Places a copy of `src` at `dst` atomically (hard link when `link` and possible, else copy +
    /// fsync + rename).
    public static func copyAtomically(_ src: URL, to dst: URL, link useLink: Bool = true, syncFolder: Bool = true, syncFile: Bool = true) throws {
        let dir = dst.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(dst.lastPathComponent).partial-\(getpid())")
        unlink(tmp.path)
        if !useLink || link(src.path, tmp.path) != 0 {
            do { try FileManager.default.copyItem(at: src, to: tmp) }
            catch { throw PipelineError(.io, path: dst.path, "copy failed: \(error.localizedDescription)") }
        }
        if syncFile { try fsync(tmp) }
        guard rename(tmp.path, dst.path) == 0 else {
            let e = errnoString(); unlink(tmp.path)
            throw PipelineError(.io, path: dst.path, "rename failed: \(e)")
        }
        if syncFolder { try fsync(dir) }
    }

    /// Copies `src` to `dst` (temporary name, then rename; not flushed) and returns the SHA-256 (hex) of
    /// the bytes copied, hashed as they are written: the copy is known to hold exactly those bytes,
    /// whatever happens to `src` afterwards. With `expected`, a copy of other bytes is removed and
    /// `PipelineError(.contentChanged)` thrown.
    @discardableResult
    public static func copyHashing(_ src: URL, to dst: URL, expected: String? = nil) throws -> String {
        let dir = dst.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(dst.lastPathComponent).partial-\(getpid())")
        unlink(tmp.path)
        let output = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw PipelineError(.io, path: dst.path, "cannot create the copy: \(errnoString())") }
        var ok = false
        defer { if !ok { unlink(tmp.path) } }
        var hash = SHA256Stream()
        do {
            defer { close(output) }
            try readChunks(src) { chunk in
                hash.update(chunk)
                var off = 0
                while off < chunk.count {
                    let w = write(output, chunk.baseAddress! + off, chunk.count - off)
                    if w < 0 { if errno == EINTR { continue }; throw PipelineError(.io, path: dst.path, "write failed: \(errnoString())") }
                    off += w
                }
            }
        }
        let digest = SHA256Stream.hex(hash.finalize())
        if let expected, expected.lowercased() != digest {
            throw PipelineError(.contentChanged, path: src.path,
                                "\(src.lastPathComponent) no longer has the content it had when it was taken in (sha256 \(digest.prefix(16))…, expected \(expected.prefix(16))…)")
        }
        guard rename(tmp.path, dst.path) == 0 else { throw PipelineError(.io, path: dst.path, "rename failed: \(errnoString())") }
        ok = true
        return digest
    }

    /// Reads a file front to back in 256 KiB chunks (EINTR retried).
    static func readChunks(_ url: URL, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError(.io, path: url.path, "cannot read file: \(errnoString())") }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 { if errno == EINTR { continue }; throw PipelineError(.io, path: url.path, "read failed: \(errnoString())") }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
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

    /// True when both names are links to the same file (hard links).
    public static func sameFile(_ a: URL, _ b: URL) -> Bool {
        var sa = stat(), sb = stat()
        guard lstat(a.path, &sa) == 0, lstat(b.path, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    /// Hard-links `src` as `dst` (replacing nothing). True if done or `dst` already is that file; false
    /// when the file system cannot (another device, no hard links), leaving the caller to copy.
    public static func linkIfPossible(_ src: URL, to dst: URL) throws -> Bool {
        if Glibc.link(src.path, dst.path) == 0 { return true }
        let e = errno
        if e == EEXIST {
            if sameFile(src, dst) { return true }
            unlink(dst.path) // a stale copy from an interrupted run: replace it
            if Glibc.link(src.path, dst.path) == 0 { return true }
        }
        if e == EXDEV || e == EPERM || e == EMLINK || e == ENOTSUP || e == EOPNOTSUPP { return false }
        throw PipelineError(.io, path: dst.path, "cannot link \(src.lastPathComponent): \(String(cString: strerror(e)))")
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

    /// Whether some process (this one included) has `url` open for writing. Asks the kernel for a read
    /// lease (`F_SETLEASE`), which it refuses with EAGAIN while any writer holds the file open, and gives
    /// it back at once. The lease-break signal is set to SIGURG, ignored by default, so a writer opening
    /// the file in that instant only waits microseconds. nil when it cannot tell: without CAP_LEASE a
    /// process may lease only files it owns, and some file systems have no leases.
    public static func hasOpenWriter(_ url: URL) -> Bool? {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let setLease: Int32 = 1024, setSig: Int32 = 10, readLease: Int32 = 0, unlock: Int32 = 2 // F_SETLEASE, F_SETSIG, F_RDLCK, F_UNLCK
        guard fcntl(fd, setSig, SIGURG) == 0 else { return nil }
        if fcntl(fd, setLease, readLease) == 0 {
            _ = fcntl(fd, setLease, unlock)
            return false
        }
        return errno == EAGAIN ? true : nil
    }

    /// Shell-pattern match, case-insensitive (`*.pdf` matches `A.PDF`).
    public static func matches(_ name: String, pattern: String) -> Bool {
        fnmatch(pattern.lowercased(), name.lowercased(), 0) == 0
    }

    static func errnoString() -> String { String(cString: strerror(errno)) }
}

/// A flush many threads ask for, run once for all who are waiting: a caller needs a flush that begins
/// after it arrived (its own writes are then covered); it runs one itself if none is running, else
/// waits for the running one to end and the next to cover it.
public final class CoalescedFlush: @unchecked Sendable {
    private let condition = NSCondition()
    private var started = 0, finished = 0, running = false
    private var error: Error?
    private let flush: () throws -> Void

    /// `flush` does the work (fsync, syncfs); its error is thrown to everyone the flush covered.
    public init(_ flush: @escaping () throws -> Void) { self.flush = flush }

    /// Returns once a flush that began after this call has completed.
    public func run() throws {
        condition.lock()
        let need = started + 1
        while finished < need {
            if running { condition.wait(); continue }
            running = true
            started += 1
            let mine = started
            condition.unlock()
            var failure: Error? = nil
            do { try flush() } catch { failure = error }
            condition.lock()
            running = false
            finished = mine
            error = failure
            condition.broadcast()
        }
        let failure = error
        condition.unlock()
        if let failure { throw failure }
    }
}

/// Coalesced fsyncs per folder (see `FileOps.syncShared`).
final class FolderSync: @unchecked Sendable {
    static let shared = FolderSync()
    private let lock = NSLock()
    private var flushes: [String: CoalescedFlush] = [:]

    func sync(_ dir: URL) throws {
        let flush = lock.withLock {
            if let f = flushes[dir.path] { return f }
            let f = CoalescedFlush { try FileOps.fsync(dir) }
            flushes[dir.path] = f
            return f
        }
        try flush.run()
    }
}

/// Makes everything written so far on the pipeline's file systems durable with one `syncfs` per file
/// system, shared by all documents waiting (instead of an fsync per file and folder per document).
public final class DurabilityBarrier: @unchecked Sendable {
    private var fds: [Int32] = []
    private var flush: CoalescedFlush!

    /// Opens each distinct file system holding one of `folders` (they must exist).
    public init(folders: [URL]) throws {
        var devices = Set<UInt64>()
        for f in folders {
            var st = stat()
            guard stat(f.path, &st) == 0 else { throw PipelineError(.io, path: f.path, "cannot stat folder: \(FileOps.errnoString())") }
            guard devices.insert(UInt64(st.st_dev)).inserted else { continue }
            let fd = open(f.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else { throw PipelineError(.io, path: f.path, "cannot open folder: \(FileOps.errnoString())") }
            fds.append(fd)
        }
        let fds = self.fds
        flush = CoalescedFlush {
            for fd in fds where sb_syncfs(fd) != 0 {
                throw PipelineError(.io, path: "", "syncfs failed: \(FileOps.errnoString())")
            }
        }
    }

    deinit { for fd in fds { close(fd) } }

    /// How many file systems it flushes.
    var fileSystems: Int { fds.count }

    /// Returns once everything written before the call is on disk.
    public func sync() throws { try flush.run() }
}

/// Streaming SHA-256 through libcrypto's EVP (about 5× faster than hashing in Swift), so hashing never
/// holds a whole document in memory. A class holding the context, with value-like use: `update`, then
/// `finalize` once.
public struct SHA256Stream: @unchecked Sendable {
    private final class Context {
        let ctx: OpaquePointer
        init() {
            ctx = EVP_MD_CTX_new()
            EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        }
        deinit { EVP_MD_CTX_free(ctx) }
    }
    private let context = Context()

    /// A fresh hash.
    public init() {}

    /// Adds bytes.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done = bytes.withContiguousStorageIfAvailable { p in
            EVP_DigestUpdate(context.ctx, p.baseAddress, p.count)
        }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBufferPointer { p in _ = EVP_DigestUpdate(context.ctx, p.baseAddress, p.count) }
        }
    }

    /// Adds raw bytes (no copy).
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        EVP_DigestUpdate(context.ctx, bytes.baseAddress, bytes.count)
    }

    /// The digest.
    public mutating func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var n: UInt32 = 0
        EVP_DigestFinal_ex(context.ctx, &out, &n)
        return out
    }

    /// Hex SHA-256 of a file, read in 256 KiB chunks.
    public static func hexDigest(ofFile url: URL) throws -> String {
        var s = SHA256Stream()
        try FileOps.readChunks(url) { s.update($0) }
        return hex(s.finalize())
    }

    /// Lower-case hex.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](); out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
