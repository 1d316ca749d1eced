#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Shows progress on stderr: a redrawn bar with rate and ETA on a terminal, plain lines otherwise.
public final class TerminalProgress: ProgressObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var total = 0, delivered = 0, quarantined = 0
    private let start = Date()
    private var lastDraw = 0.0
    private let isTTY: Bool
    private let plainEvery: Int

    /// `tty` defaults to whether stderr is a terminal.
    public init(tty: Bool? = nil, plainEvery: Int = 25) {
        self.isTTY = tty ?? (isatty(2) == 1)
        self.plainEvery = plainEvery
    }

    public func expected(total: Int) {
        lock.lock(); self.total = total; lock.unlock()
        draw(force: false)
    }

    public func finished(name: String, delivered ok: Bool, code: String?) {
        lock.lock()
        if ok { delivered += 1 } else { quarantined += 1 }
        let done = delivered + quarantined
        lock.unlock()
        if isTTY { draw(force: false) }
        else if done % plainEvery == 0 || !ok { FileHandle.standardError.write(Data((line() + (ok ? "" : " (\(name): \(code ?? "?"))") + "\n").utf8)) }
    }

    /// Ends the bar (newline on a terminal).
    public func finish() {
        if isTTY { draw(force: true); FileHandle.standardError.write(Data("\n".utf8)) }
    }

    /// One status line: counts, rate, ETA.
    public func line() -> String {
        lock.lock(); defer { lock.unlock() }
        let done = delivered + quarantined
        let secs = Date().timeIntervalSince(start)
        let rate = secs > 0 ? Double(done) / secs : 0
        let left = max(0, total - done)
        let eta = rate > 0 ? Self.clock(Double(left) / rate) : "--:--"
        return String(format: "%d/%d done (%d delivered, %d quarantined)  %.1f docs/s  ETA %@", done, total, delivered, quarantined, rate, eta)
    }

    private func draw(force: Bool) {
        guard isTTY else { return }
        let now = Date().timeIntervalSince1970
        lock.lock()
        if !force && now - lastDraw < 0.1 { lock.unlock(); return }
        lastDraw = now
        let done = delivered + quarantined, t = max(total, done)
        lock.unlock()
        let width = 30
        let filled = t == 0 ? 0 : min(width, done * width / t)
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(line())".utf8))
    }

    static func clock(_ s: Double) -> String {
        let i = Int(s.rounded())
        return i >= 3600 ? String(format: "%d:%02d:%02d", i / 3600, i / 60 % 60, i % 60) : String(format: "%d:%02d", i / 60, i % 60)
    }
}
