import CPCSC
import Foundation

/// One PC/SC reader and its card, as `sealbatch token list` shows it.
public struct ReaderStatus: Sendable, Hashable {
    public let name: String
    public let cardPresent: Bool
    /// Answer To Reset of the card (empty without a card).
    public let atr: [UInt8]
    /// Raw SCARD_STATE_* flags (low 16 bits).
    public let state: UInt
    public var mute: Bool { state & UInt(SCARD_STATE_MUTE) != 0 }
    public var inUse: Bool { state & UInt(SCARD_STATE_INUSE) != 0 }
    public var exclusive: Bool { state & UInt(SCARD_STATE_EXCLUSIVE) != 0 }

    /// "present (ATR 3B 8F …)", "empty", "mute".
    public var cardDescription: String {
        if !cardPresent { return "empty" }
        if mute { return "card present, mute" }
        let hex = atr.map { String(format: "%02X", $0) }.joined(separator: " ")
        return "card present, ATR \(hex)" + (exclusive ? ", in exclusive use" : inUse ? ", in use" : "")
    }
}

/// A change seen on the PC/SC stack.
public enum PCSCEvent: Sendable, Hashable {
    case readerAdded(String)
    case readerRemoved(String)
    case cardInserted(String, atr: [UInt8])
    case cardRemoved(String)
    /// pcscd is not reachable (not running, or it stopped).
    case serviceUnavailable
    /// pcscd is reachable again.
    case serviceAvailable
}

/// PC/SC (libpcsclite) queries.
public enum PCSC {
    static let pnpReader = "\\\\?PnP?\\Notification"
    static let noService = 0x8010001D
    static let noReaders = 0x8010002E
    static let timeout = 0x8010000A
    static let cancelled = 0x80100002

    static func error(_ rv: Int, _ fn: String) -> TokenError {
        if rv == noService {
            return TokenError(.pcscFailed, "the PC/SC service (pcscd) is not running; start it (scripts/pcsc-up.sh or `systemctl start pcscd`)", context: fn)
        }
        let msg = pcsc_stringify_error(rv).map { String(cString: $0) } ?? String(format: "0x%lX", rv)
        return TokenError(.pcscFailed, "\(fn) failed: \(msg)", context: fn)
    }

    static func establish() throws -> SCARDCONTEXT {
        var ctx: SCARDCONTEXT = 0
        let rv = SCardEstablishContext(UInt(SCARD_SCOPE_SYSTEM), nil, nil, &ctx)
        guard rv == SCARD_S_SUCCESS else { throw error(Int(rv), "SCardEstablishContext") }
        return ctx
    }

    static func listReaders(_ ctx: SCARDCONTEXT) throws -> [String] {
        var len: DWORD = 0
        var rv = SCardListReaders(ctx, nil, nil, &len)
        if Int(rv) == noReaders { return [] }
        guard rv == SCARD_S_SUCCESS else { throw error(Int(rv), "SCardListReaders") }
        var buf = [CChar](repeating: 0, count: Int(len) + 1)
        rv = SCardListReaders(ctx, nil, &buf, &len)
        if Int(rv) == noReaders { return [] }
        guard rv == SCARD_S_SUCCESS else { throw error(Int(rv), "SCardListReaders") }
        var names: [String] = []
        var start = 0
        for i in 0..<Int(len) where buf[i] == 0 {
            if i > start { names.append(String(decoding: buf[start..<i].map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
            start = i + 1
        }
        return names
    }

    /// Runs SCardGetStatusChange over `names` with the given current states; returns event states and ATRs.
    static func statusChange(_ ctx: SCARDCONTEXT, names: [String], current: [UInt], timeoutMs: UInt) -> (Int, [(UInt, [UInt8])]) {
        let cNames = names.map { strdup($0)! }
        defer { cNames.forEach { free($0) } }
        var states = [SCARD_READERSTATE](repeating: SCARD_READERSTATE(), count: names.count)
        for i in names.indices {
            states[i].szReader = UnsafePointer(cNames[i])
            states[i].dwCurrentState = current[i]
        }
        let rv = SCardGetStatusChange(ctx, timeoutMs, &states, DWORD(states.count))
        let out = states.map { s -> (UInt, [UInt8]) in
            let atr = withUnsafeBytes(of: s.rgbAtr) { Array($0.prefix(Int(min(s.cbAtr, 33)))) }
            return (s.dwEventState, atr)
        }
        return (Int(rv), out)
    }

    /// Every reader with its card state and ATR.
    public static func readers() throws -> [ReaderStatus] {
        let ctx = try establish()
        defer { SCardReleaseContext(ctx) }
        let names = try listReaders(ctx)
        if names.isEmpty { return [] }
        let (rv, states) = statusChange(ctx, names: names, current: names.map { _ in UInt(SCARD_STATE_UNAWARE) }, timeoutMs: 0)
        guard rv == Int(SCARD_S_SUCCESS) || rv == timeout else { throw error(rv, "SCardGetStatusChange") }
        return zip(names, states).map { name, st in
            let flags = st.0 & 0xFFFF
            return ReaderStatus(name: name, cardPresent: flags & UInt(SCARD_STATE_PRESENT) != 0, atr: flags & UInt(SCARD_STATE_PRESENT) != 0 ? st.1 : [], state: flags)
        }
    }
}

/// Watches PC/SC readers and cards on its own thread (SCardGetStatusChange, including reader
/// hot-plug through `\\?PnP?\Notification`) and reports changes through a callback.
/// The callback runs on the monitor's thread; keep it short (e.g. yield into an AsyncStream).
public final class PCSCMonitor: @unchecked Sendable {
    private let onEvent: @Sendable (PCSCEvent) -> Void
    private let lock = NSLock()
    private var stopped = false
    private var context: SCARDCONTEXT = 0
    private var thread: Thread?

    public init(onEvent: @escaping @Sendable (PCSCEvent) -> Void) { self.onEvent = onEvent }

    /// Starts watching (idempotent).
    public func start() {
        lock.lock(); defer { lock.unlock() }
        guard thread == nil, !stopped else { return }
        let t = Thread { [self] in self.run() }
        t.name = "sealbatch.pcsc"
        thread = t
        t.start()
    }

    /// Stops watching; no events after it returns (except one already being delivered).
    public func stop() {
        lock.lock()
        stopped = true
        let ctx = context
        lock.unlock()
        if ctx != 0 { SCardCancel(ctx) }
    }

    private var isStopped: Bool { lock.lock(); defer { lock.unlock() }; return stopped }

    private func run() {
        var known: [String: (state: UInt, present: Bool)] = [:]
        var pnpState: UInt = UInt(SCARD_STATE_UNAWARE)
        var serviceUp: Bool? = nil
        var ctx: SCARDCONTEXT = 0
        var relist = true
        var names: [String] = []
        while !isStopped {
            if ctx == 0 {
                guard let c = try? PCSC.establish() else {
                    if serviceUp != false {
                        serviceUp = false
                        for (n, k) in known { if k.present { onEvent(.cardRemoved(n)) }; onEvent(.readerRemoved(n)) }
                        known.removeAll()
                        onEvent(.serviceUnavailable)
                    }
                    Thread.sleep(forTimeInterval: 0.5)
                    continue
                }
                ctx = c
                lock.lock(); context = c; lock.unlock()
                if serviceUp == false { onEvent(.serviceAvailable) }
                serviceUp = true
                relist = true
                pnpState = UInt(SCARD_STATE_UNAWARE)
            }
            if relist {
                guard let list = try? PCSC.listReaders(ctx) else { drop(&ctx); continue }
                names = list
                for n in names where known[n] == nil {
                    known[n] = (UInt(SCARD_STATE_UNAWARE), false)
                    onEvent(.readerAdded(n))
                }
                for (n, k) in known where !names.contains(n) {
                    if k.present { onEvent(.cardRemoved(n)) }
                    known[n] = nil
                    onEvent(.readerRemoved(n))
                }
                relist = false
            }
            let all = names + [PCSC.pnpReader]
            let current = names.map { known[$0]?.state ?? 0 } + [pnpState]
            let (rv, states) = PCSC.statusChange(ctx, names: all, current: current, timeoutMs: 1000)
            if rv == PCSC.timeout { continue }
            if rv == PCSC.cancelled { break }
            if rv != Int(SCARD_S_SUCCESS) {
                // Service gone or reader list changed under us: start over.
                drop(&ctx)
                if rv == PCSC.noService || rv == 0x80100017 /* SCARD_E_READER_UNAVAILABLE */ || rv == 0x80100009 { relist = true }
                Thread.sleep(forTimeInterval: 0.1)
                continue
            }
            for (i, n) in names.enumerated() {
                let (ev, atr) = states[i]
                let flags = ev & 0xFFFF
                guard var k = known[n] else { continue }
                if flags & UInt(SCARD_STATE_UNKNOWN) != 0 { relist = true }
                let present = flags & UInt(SCARD_STATE_PRESENT) != 0 && flags & UInt(SCARD_STATE_UNKNOWN) == 0
                if present != k.present {
                    onEvent(present ? .cardInserted(n, atr: atr) : .cardRemoved(n))
                }
                k.state = ev
                k.present = present
                known[n] = k
            }
            let pnp = states[names.count].0
            if pnp & UInt(SCARD_STATE_CHANGED) != 0 && pnpState != UInt(SCARD_STATE_UNAWARE) { relist = true }
            pnpState = pnp & ~UInt(SCARD_STATE_CHANGED)
        }
        if ctx != 0 { drop(&ctx) }
    }

    private func drop(_ ctx: inout SCARDCONTEXT) {
        lock.lock(); context = 0; lock.unlock()
        SCardReleaseContext(ctx)
        ctx = 0
    }
}
