#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Installs SIGTERM/SIGINT handlers: the first signal requests a graceful shutdown (documents in
/// flight finish), a second one exits at once (the journal resolves everything on the next start).
public enum SignalHandling {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// Routes SIGTERM and SIGINT to `shutdown`.
    public nonisolated static func install(_ shutdown: ShutdownSignal, onFirst: @escaping @Sendable (Int32) -> Void = { _ in }) {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler {
                if shutdown.isRequested { _exit(128 + sig) }
                onFirst(sig)
                shutdown.request(sig == SIGTERM ? "SIGTERM" : "SIGINT")
            }
            src.resume()
            sources.append(src)
        }
    }
}
