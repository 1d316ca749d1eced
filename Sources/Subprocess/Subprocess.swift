import CSubprocess
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Child processes through `posix_spawn` and `waitpid`, with deadlines.
///
/// Foundation's `Process` on Linux was seen to miss a child's exit (the child left as a zombie,
/// `waitUntilExit()` blocked forever) when the child started a daemon. That hung a whole CI run. This
/// type waits on the one pid it spawned, never on a signal handler, and every wait has a deadline.
///
/// The child starts in its own process group (so a deadline can kill what it started too), with an
/// empty signal mask and default dispositions (Dispatch worker threads block most signals, and
/// `posix_spawn` would otherwise hand that mask to the child), and with every descriptor above 2 closed.
public final class Subprocess: @unchecked Sendable {
    /// Where a standard stream of the child goes.
    public enum Stream: Sendable {
        case null
        case inherit
        case pipe
        case file(String)
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// What `run` returns.
    public struct Result: Sendable {
        /// Exit status, or 128 + signal number when the child was killed by a signal.
        public let status: Int32
        public let stdout: [UInt8]
        public let stderr: [UInt8]
        /// True when the deadline passed and the child's process group was killed.
        public let timedOut: Bool
    }

    public let pid: pid_t
    /// Our ends of the pipes asked for (-1 when not a pipe). Owned by this object.
    public private(set) var stdinFD: Int32
    public private(set) var stdoutFD: Int32
    public private(set) var stderrFD: Int32
    private let lock = Mutex()
    private var _status: Int32?

    /// Starts `executable` (an absolute path, or a name looked up on PATH) with `arguments`.
    /// `environment` nil = the parent's environment.
    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                directory: String? = nil, stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }

        var ours: [Int32] = [-1, -1, -1]
        var theirs: [Int32] = []
        defer { for fd in theirs { close(fd) } }
        func fail(_ what: String) -> Failure {
            for fd in ours where fd >= 0 { close(fd) }
            return Failure(description: "\(what): \(String(cString: strerror(errno)))")
        }
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit:
                break
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, target == 0 ? O_RDONLY : (O_WRONLY | O_CREAT | O_TRUNC), 0o644)
            case .pipe:
                var fds: [Int32] = [-1, -1]
                guard sb_pipe_cloexec(&fds) == 0 else { throw fail("pipe") }
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                ours[Int(target)] = parentEnd
                theirs.append(childEnd)
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
            }
        }
        sb_spawn_closefrom(&actions, 3)
        if let directory { sb_spawn_chdir(&actions, directory) }

        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var envStrings: [UnsafeMutablePointer<CChar>?]
        if let environment {
            envStrings = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        } else {
            envStrings = []
            var p = environ
            while let s = p.pointee { envStrings.append(strdup(s)); p += 1 }
            envStrings.append(nil)
        }
        defer { for p in envStrings { free(p) } }

        var child: pid_t = 0
        let rc = executable.contains("/")
            ? posix_spawn(&child, executable, &actions, &attr, argv, envStrings)
            : posix_spawnp(&child, executable, &actions, &attr, argv, envStrings)
        guard rc == 0 else {
            errno = rc
            throw fail("cannot start \(executable)")
        }
        pid = child
        stdinFD = ours[0]
        stdoutFD = ours[1]
        stderrFD = ours[2]
    }

    deinit {
        for fd in [stdinFD, stdoutFD, stderrFD] where fd >= 0 { close(fd) }
        // Never leave a zombie: reap if it has already exited. A child still running is left alone
        // (callers that own long-running children kill and wait them).
        if _status == nil { var s: Int32 = 0; _ = waitpid(pid, &s, WNOHANG) }
    }

    /// The exit status once the child has exited (reaps it), nil while it runs.
    public var exitStatus: Int32? {
        lock.withLock {
            if let s = _status { return s }
            var raw: Int32 = 0
            let r = waitpid(pid, &raw, WNOHANG)
            if r == pid { _status = Self.decode(raw) } else if r < 0 && errno == ECHILD { _status = -1 }
            return _status
        }
    }

    public var isRunning: Bool { exitStatus == nil }

    /// Sends `sig` to the child (`group: true`: to its whole process group).
    public func signal(_ sig: Int32, group: Bool = false) {
        guard exitStatus == nil else { return }
        _ = kill(group ? -pid : pid, sig)
    }

    /// Waits for the child to exit; nil when `timeout` seconds passed first.
    @discardableResult
    public func wait(timeout: Double? = nil) -> Int32? {
        let deadline = timeout.map { Self.now() + $0 }
        var pause: useconds_t = 200
        while true {
            if let s = exitStatus { return s }
            if let deadline, Self.now() >= deadline { return nil }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Kills the child's process group (SIGKILL) and reaps the child.
    public func killAndWait() {
        if exitStatus == nil { _ = kill(-pid, SIGKILL); _ = kill(pid, SIGKILL) }
        _ = wait(timeout: 10)
    }

    /// Writes all of `bytes` to the child's stdin pipe.
    public func write(_ bytes: [UInt8]) throws {
        guard stdinFD >= 0 else { throw Failure(description: "stdin is not a pipe") }
        var offset = 0
        while offset < bytes.count {
            let w = bytes.withUnsafeBytes { systemWrite(stdinFD, $0.baseAddress! + offset, $0.count - offset) }
            if w < 0 { if errno == EINTR { continue }; throw Failure(description: "write to child: \(String(cString: strerror(errno)))") }
            offset += w
        }
    }

    /// What the child wrote to its stdout pipe within `timeout` seconds: returns as soon as some bytes
    /// arrived (empty when none did, or at end of file).
    public func readStdout(timeout: Double) -> [UInt8] {
        guard stdoutFD >= 0 else { return [] }
        var f = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
        guard poll(&f, 1, Int32(max(0, timeout * 1000))) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let r = buffer.withUnsafeMutableBytes { read(stdoutFD, $0.baseAddress, $0.count) }
        return r > 0 ? Array(buffer[0..<r]) : []
    }

    /// One line (without the newline) from the child's stdout, or nil at end of file or after `timeout`.
    public func readStdoutLine(timeout: Double) -> String? {
        let deadline = Self.now() + timeout
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while Self.now() < deadline {
            var f = pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)
            guard poll(&f, 1, 100) >= 0 else { return nil }
            if f.revents == 0 { continue }
            guard read(stdoutFD, &byte, 1) == 1 else { return nil }
            if byte == 0x0a { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }

    /// Closes our end of the child's stdin (it sees end of file).
    public func closeStdin() {
        if stdinFD >= 0 { close(stdinFD); stdinFD = -1 }
    }

    /// Runs to completion: feeds `input` to stdin (when given), collects stdout and stderr, and kills the
    /// child's process group when `timeout` seconds pass. A daemon started by the child that keeps the
    /// output pipes open does not block the return: reading stops shortly after the child itself exits.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                           directory: String? = nil, input: [UInt8]? = nil, timeout: Double = 600) throws -> Result {
        let p = try Subprocess(executable, arguments, environment: environment, directory: directory,
                               stdin: input == nil ? .null : .pipe, stdout: .pipe, stderr: .pipe)
        var out: [UInt8] = [], err: [UInt8] = []
        var pending = input ?? []
        if p.stdinFD >= 0 {
            _ = fcntl(p.stdinFD, F_SETFL, fcntl(p.stdinFD, F_GETFL) | O_NONBLOCK)
            if pending.isEmpty { p.closeStdin() }
        }
        let deadline = now() + timeout
        var exitedAt: Double?
        var open = [p.stdoutFD, p.stderrFD]
        var buffer = [UInt8](repeating: 0, count: 65536)
        var timedOut = false
        while !open.isEmpty || p.stdinFD >= 0 {
            let t = now()
            if t >= deadline { timedOut = true; break }
            if exitedAt == nil, p.exitStatus != nil { exitedAt = t }
            if let e = exitedAt, t - e > 0.5 { break } // a grandchild holds the pipes
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if p.stdinFD >= 0 { fds.append(pollfd(fd: p.stdinFD, events: Int16(POLLOUT), revents: 0)) }
            let n = poll(&fds, nfds_t(fds.count), 50)
            if n < 0 { if errno == EINTR { continue }; break }
            for f in fds where f.revents != 0 {
                if f.fd == p.stdinFD {
                    let w = pending.withUnsafeBytes { systemWrite(f.fd, $0.baseAddress, $0.count) }
                    if w > 0 { pending.removeFirst(w) }
                    if pending.isEmpty || (w < 0 && errno != EAGAIN && errno != EINTR) { p.closeStdin() }
                    continue
                }
                let r = buffer.withUnsafeMutableBytes { read(f.fd, $0.baseAddress, $0.count) }
                if r > 0 {
                    if f.fd == p.stdoutFD { out += buffer[0..<r] } else { err += buffer[0..<r] }
                } else if r == 0 || (errno != EINTR && errno != EAGAIN) {
                    open.removeAll { $0 == f.fd }
                }
            }
        }
        p.closeStdin()
        if timedOut {
            p.killAndWait()
            return Result(status: p.exitStatus ?? -1, stdout: out, stderr: err, timedOut: true)
        }
        guard let status = p.wait(timeout: max(1, deadline - now())) else {
            p.killAndWait()
            return Result(status: p.exitStatus ?? -1, stdout: out, stderr: err, timedOut: true)
        }
        return Result(status: status, stdout: out, stderr: err, timedOut: false)
    }

    static func decode(_ raw: Int32) -> Int32 {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let sig = raw & 0x7f
        return sig == 0 ? (raw >> 8) & 0xff : 128 + sig
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

private func systemWrite(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int) -> Int { write(fd, p, n) }

/// A pthread mutex (this module stays free of Foundation).
final class Mutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}
