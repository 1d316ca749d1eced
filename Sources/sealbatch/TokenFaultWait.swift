import Foundation
import Pipeline
import Stages
import Token
#if canImport(Glibc)
import Glibc
#endif

/// The daemon after a token fault (`sealbatch run` without `--once`): instead of exiting — which systemd
/// would answer with a restart every 10 s, spending one PIN try each time until the USB key locks — it
/// waits until what caused the stop has changed, then starts afresh in the same process (re-exec: a new
/// token session, a new run; the documents are already back in the inbox).
///
/// - `pin-incorrect`: never resumes on a timer. It resumes when the PIN file (`--pin-file` or
///   `token.pin-file`) or the token configuration changes. With `--pin-fd` / `--pin-env` there is nothing
///   to watch: it waits for SIGTERM (restart the service with the right PIN).
/// - `token-error` (module missing, token absent, key missing …): also checks every 5 s whether the
///   token can be opened (no login, no PIN try) and resumes when it can.
enum TokenFaultWait {
    /// Stop codes the daemon waits out.
    static let codes: Set<String> = ["pin-incorrect", "token-error"]

    /// Why the wait ended.
    enum Outcome: Equatable { case resume(String), shutdown }

    /// The PIN file a run reads, when the PIN comes from a file.
    static func pinFile(options: PINOptions, runtime: StagesRuntime, baseDir: URL) -> URL? {
        if options.pinFD != nil || options.pinEnv != nil { return nil }
        if let f = options.pinFile { return URL(fileURLWithPath: f) }
        guard options.pinFD == nil, let f = runtime.tokenSection?.pinFile else { return nil }
        return f.hasPrefix("/") ? URL(fileURLWithPath: f) : baseDir.appendingPathComponent(f).standardizedFileURL
    }

    /// The token configuration file of the pipeline.
    static func tokenConfig(runtime: StagesRuntime, baseDir: URL) -> URL? {
        guard let f = runtime.tokenSection?.config else { return nil }
        return f.hasPrefix("/") ? URL(fileURLWithPath: f) : baseDir.appendingPathComponent(f).standardizedFileURL
    }

    /// Waits until the cause may be gone (see the type's summary) or shutdown is requested.
    static func wait(code: String, pinFile: URL?, tokenConfig: URL?, shutdown: ShutdownSignal) async -> Outcome {
        let pinStamp = pinFile.map(stamp), confStamp = tokenConfig.map(stamp)
        var lastProbe = Date()
        while !shutdown.isRequested {
            if let pinFile, stamp(pinFile) != pinStamp { return .resume("the PIN file \(pinFile.path) changed") }
            if let tokenConfig, stamp(tokenConfig) != confStamp { return .resume("the token configuration \(tokenConfig.path) changed") }
            if code != "pin-incorrect", let tokenConfig, Date().timeIntervalSince(lastProbe) >= 5 {
                lastProbe = Date()
                if await tokenOpens(tokenConfig) { return .resume("the token can be opened again") }
            }
            try? await Task.sleep(nanoseconds: 500_000_000)
        }
        return .shutdown
    }

    /// inode, size and modification time (or "missing").
    static func stamp(_ url: URL) -> String {
        var st = stat()
        guard stat(url.path, &st) == 0 else { return "missing" }
        return "\(st.st_ino)-\(st.st_size)-\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
    }

    /// Whether the token opens (module loads, token and key found). No login: no PIN try is spent.
    static func tokenOpens(_ config: URL) async -> Bool {
        guard let c = try? TokenConfiguration.load(from: config), let t = try? await SealToken.open(c) else { return false }
        await t.close()
        return true
    }

    /// Replaces this process with a fresh `sealbatch` run with the same arguments (same PID for systemd).
    /// Descriptors beyond stderr (the journal, the registry, a metrics socket) are marked close-on-exec
    /// rather than closed, so no other thread of this process trips over a closed descriptor before the
    /// exec. Returns only if the exec failed, with the reason.
    static func reexec() -> String {
        fflush(nil) // every C stream (the summary table went to stdout)
        let args = CommandLine.arguments
        var cargs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cargs.append(nil)
        for fd in 3..<Int32(4096) {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
        execv("/proc/self/exe", &cargs)
        return String(cString: strerror(errno))
    }
}
