import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file as the kernel describes it: which file (device, inode) and its size and change times. Two
/// identities taken at different moments differ when the file was written in between (every write moves
/// mtime and ctime; an append also the size) or replaced.
public struct FileIdentity: Sendable, Equatable, Codable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNS: Int64
    public var ctimeNS: Int64

    /// The identity of an open file (nil when fstat fails).
    public init?(fd: Int32) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        self.init(st)
    }

    /// The identity of the file at `url` (not following a final symlink; nil when it cannot be read).
    public init?(url: URL) {
        var st = stat()
        guard lstat(url.path, &st) == 0 else { return nil }
        self.init(st)
    }

    init(_ st: stat) {
        device = UInt64(st.st_dev); inode = UInt64(st.st_ino); size = Int64(st.st_size)
        mtimeNS = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        ctimeNS = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }
}

extension FileOps {
    /// Places a copy of `src`'s first `length` bytes (all of it when nil) at `dst` (temporary name, then
    /// rename; not flushed) without reading them into this process: a reflink (`FICLONE`, shared blocks)
    /// where the file system has them and the whole file is copied, else `copy_file_range(2)` (in the
    /// kernel; itself a reflink on XFS and Btrfs), else read and write. For bytes already checked by
    /// reading them (the verify stage's pass over a sealed output): the copy holds what `src` holds.
    /// Throws when `src` is shorter than `length`; a failed copy leaves nothing at `dst`.
    public static func copyWithoutReading(_ src: URL, to dst: URL, length: Int? = nil) throws {
        let dir = dst.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let input = open(src.path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw PipelineError(.io, path: src.path, "cannot read file: \(errnoString())") }
        defer { close(input) }
        var st = stat()
        guard fstat(input, &st) == 0 else { throw PipelineError(.io, path: src.path, "cannot stat file: \(errnoString())") }
        let total = length ?? Int(st.st_size)
        guard total >= 0, total <= Int(st.st_size) else {
            throw PipelineError(.io, path: src.path, "the file has \(st.st_size) bytes, fewer than the \(total) to copy")
        }
        let tmp = dir.appendingPathComponent(".\(dst.lastPathComponent).partial-\(getpid())")
        unlink(tmp.path)
        let output = open(tmp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw PipelineError(.io, path: dst.path, "cannot create the copy: \(errnoString())") }
        var ok = false
        defer { if !ok { unlink(tmp.path) } }
        do {
            defer { close(output) }
            let ficlone: UInt = 0x4004_9409 // _IOW(0x94, 9, int)
            if total == Int(st.st_size), let clone = ioctlFn, clone(output, ficlone, input) == 0 {
                // shared blocks: nothing copied
            } else {
                var copied = 0
                var inOff = off_t(0), outOff = off_t(0)
                while copied < total, let cfr = copyFileRangeFn {
                    let n = cfr(input, &inOff, output, &outOff, total - copied, 0)
                    if n > 0 { copied += n; continue }
                    if n < 0 && errno == EINTR { continue }
                    if n == 0 { throw PipelineError(.io, path: src.path, "the file got shorter while it was copied") }
                    break // EXDEV, ENOSYS, EINVAL...: read and write
                }
                if copied < total {
                    let size = 1 << 20
                    let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
                    defer { buf.deallocate() }
                    while copied < total {
                        let n = pread(input, buf, min(size, total - copied), off_t(copied))
                        if n < 0 { if errno == EINTR { continue }; throw PipelineError(.io, path: src.path, "read failed: \(errnoString())") }
                        if n == 0 { throw PipelineError(.io, path: src.path, "the file got shorter while it was copied") }
                        var off = 0
                        while off < n {
                            let w = pwrite(output, buf + off, n - off, off_t(copied + off))
                            if w < 0 { if errno == EINTR { continue }; throw PipelineError(.io, path: dst.path, "write failed: \(errnoString())") }
                            off += w
                        }
                        copied += n
                    }
                }
            }
            var out = stat()
            guard fstat(output, &out) == 0, Int(out.st_size) == total else {
                throw PipelineError(.io, path: dst.path, "the copy does not have the \(total) bytes expected")
            }
        }
        guard rename(tmp.path, dst.path) == 0 else { throw PipelineError(.io, path: dst.path, "rename failed: \(errnoString())") }
        ok = true
    }

    /// Starts writing a file's dirty pages to disk without waiting (`sync_file_range`, SYNC_FILE_RANGE_WRITE),
    /// so that a later fsync or syncfs finds less to do. Best effort: nothing is promised until that flush.
    public static func startWriteback(_ url: URL) {
        guard let f = syncFileRangeFn else { return }
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = f(fd, 0, 0, 2) // SYNC_FILE_RANGE_WRITE
        close(fd)
    }
}

/// `copy_file_range(2)` and `sync_file_range(2)` looked up at run time (glibc declares them only under _GNU_SOURCE).
private typealias CopyFileRange = @convention(c) (Int32, UnsafeMutablePointer<off_t>?, Int32, UnsafeMutablePointer<off_t>?, Int, UInt32) -> Int
private let copyFileRangeFn: CopyFileRange? = {
    guard let h = dlopen(nil, RTLD_NOW), let sym = dlsym(h, "copy_file_range") else { return nil }
    return unsafeBitCast(sym, to: CopyFileRange.self)
}()
private typealias SyncFileRange = @convention(c) (Int32, off_t, off_t, UInt32) -> Int32
private let syncFileRangeFn: SyncFileRange? = {
    guard let h = dlopen(nil, RTLD_NOW), let sym = dlsym(h, "sync_file_range") else { return nil }
    return unsafeBitCast(sym, to: SyncFileRange.self)
}()
/// `ioctl(2)` for FICLONE (variadic in C, so not imported; its third argument here is the source descriptor).
private typealias IoctlInt = @convention(c) (Int32, UInt, Int32) -> Int32
private let ioctlFn: IoctlInt? = {
    guard let h = dlopen(nil, RTLD_NOW), let sym = dlsym(h, "ioctl") else { return nil }
    return unsafeBitCast(sym, to: IoctlInt.self)
}()
