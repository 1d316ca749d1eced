#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Logging

/// Watches the inbox with inotify and hands out files only once they have settled: unchanged for
/// `settle-seconds`, and — if we saw them being written — closed by the writer (or quiet for
/// `settle-max-seconds`). A periodic rescan catches anything inotify missed (e.g. queue overflow in a
/// burst of thousands of files).
public final class HotFolderWatcher: @unchecked Sendable {
    struct Entry { var lastChange: Double; var writing: Bool; var warnedOpen = false }

    let folder: URL
    let settings: WatchSettings
    let logger: Logger
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var lastRescan = 0.0
    private var fd: Int32 = -1
    private var source: DispatchSourceRead?
    private let queue = DispatchQueue(label: "sealbatch.watcher")

    /// Starts watching `folder`.
    public init(folder: URL, settings: WatchSettings, logger: Logger) throws {
        self.folder = folder; self.settings = settings; self.logger = logger
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw PipelineError(.folder, path: folder.path, "inotify_init1 failed: \(FileOps.errnoString())") }
        let mask = UInt32(IN_CREATE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB)
        guard inotify_add_watch(fd, folder.path, mask) >= 0 else {
            close(fd)
            throw PipelineError(.folder, path: folder.path, "cannot watch the inbox: \(FileOps.errnoString())")
        }
        Self.installSource(self)
        rescan()
    }

    /// Creates the read source outside any actor (Dispatch calls it on its own queue).
    private nonisolated static func installSource(_ w: HotFolderWatcher) {
        let src = DispatchSource.makeReadSource(fileDescriptor: w.fd, queue: w.queue)
        src.setEventHandler { [weak w] in w?.drain() }
        w.source = src
        src.resume()
    }

    /// Stops watching.
    public func stop() {
        lock.lock(); let s = source; source = nil; lock.unlock()
        guard let s else { return }
        let f = fd
        s.setCancelHandler { close(f) }
        s.cancel()
    }

    deinit { stop() }

    /// Files seen but not yet handed out.
    public var pendingCount: Int { lock.lock(); defer { lock.unlock() }; return entries.count }

    private func drain() {
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        let header = MemoryLayout<inotify_event>.size
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var off = 0
            let now = Date().timeIntervalSince1970
            lock.lock()
            while off + header <= n {
                let (mask, len) = buf.withUnsafeBytes { raw -> (UInt32, Int) in
                    let ev = raw.loadUnaligned(fromByteOffset: off, as: inotify_event.self)
                    return (ev.mask, Int(ev.len))
                }
                var name = ""
                if len > 0 {
                    let bytes = buf[(off + header)..<min(n, off + header + len)]
                    name = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
                off += header + len
                if mask & UInt32(IN_Q_OVERFLOW) != 0 { lastRescan = 0; continue }
                guard !name.isEmpty, !name.hasPrefix("."), FileOps.matches(name, pattern: settings.pattern) else { continue }
                if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0 { entries[name] = nil; continue }
                var e = entries[name] ?? Entry(lastChange: now, writing: false)
                e.lastChange = now
                if mask & UInt32(IN_CREATE | IN_MODIFY) != 0 { e.writing = true }
                if mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO) != 0 { e.writing = false }
                entries[name] = e
            }
            lock.unlock()
        }
    }

    /// Lists the folder and adds files not yet known (their age counts from their mtime).
    func rescan() {
        let now = Date().timeIntervalSince1970
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            // nothing is claimed from an inbox that cannot be read, and it is said loudly at every rescan
            logger.error("cannot read the inbox; no document is taken until it can be read", metadata: ["folder": "\(folder.path)", "error": "\(error)"])
            lock.lock(); lastRescan = now; lock.unlock()
            return
        }
        lock.lock(); defer { lock.unlock() }
        lastRescan = now
        for n in names where !n.hasPrefix(".") && entries[n] == nil && FileOps.matches(n, pattern: settings.pattern) {
            guard let info = FileOps.regularFileInfo(folder.appendingPathComponent(n)) else { continue }
            entries[n] = Entry(lastChange: min(now, info.mtime), writing: false)
        }
    }

    /// Files ready to claim now; each is handed out once (until it shows up again).
    public func takeReady() -> [String] {
        let now = Date().timeIntervalSince1970
        lock.lock()
        let needRescan = now - lastRescan >= settings.rescanSeconds
        lock.unlock()
        if needRescan { rescan() }
        lock.lock(); defer { lock.unlock() }
        var ready: [String] = []
        for (name, e) in entries {
            guard let info = FileOps.regularFileInfo(folder.appendingPathComponent(name)) else {
                if now - e.lastChange > settings.settleSeconds { entries[name] = nil }
                continue
            }
            let quiet = now - max(e.lastChange, info.mtime)
            guard quiet >= settings.settleSeconds && (!e.writing || quiet >= settings.settleMaxSeconds) else { continue }
            // quiet, but a program still holds it open for writing (a slow or paused copy): not yet
            if FileOps.hasOpenWriter(folder.appendingPathComponent(name)) == true {
                if quiet >= settings.settleMaxSeconds && !e.warnedOpen {
                    entries[name]?.warnedOpen = true
                    logger.warning("still open for writing; waiting for the writer to close it", metadata: ["file": "\(name)"])
                }
                continue
            }
            ready.append(name)
        }
        for n in ready { entries[n] = nil }
        return ready.sorted()
    }
}
