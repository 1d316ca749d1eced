import Foundation

/// Where a PIN comes from on the command line. Shared by `token`, `run` and `stamp`.
///
/// - `.prompt`: read from the terminal (/dev/tty) with echo off.
/// - `.fileDescriptor(n)`: read one line from an inherited descriptor (`--pin-fd 3 3<pinfile`).
/// - `.file(path)`: read a credentials file that only its owner can read (mode 0600 or 0400).
/// - `.environment(name)`: read an environment variable; only with `--allow-insecure-pin-env`,
///   because the environment of a process can be read by others (`/proc/PID/environ`, core dumps).
public enum PINSource: Sendable, Hashable, CustomStringConvertible {
    case prompt
    case fileDescriptor(Int32)
    case file(String)
    case environment(String)

    /// Builds a source from the CLI options; at most one may be given. None means `.prompt`.
    public static func from(pinFD: Int32?, pinFile: String?, pinEnv: String?, allowInsecureEnv: Bool) throws -> PINSource {
        let given = [pinFD != nil, pinFile != nil, pinEnv != nil].filter { $0 }.count
        if given > 1 { throw TokenError(.pinSourceUnsafe, "give only one of --pin-fd, --pin-file, --pin-env") }
        if let pinFD { return .fileDescriptor(pinFD) }
        if let pinFile { return .file(pinFile) }
        if let pinEnv {
            guard allowInsecureEnv else {
                throw TokenError(.pinSourceUnsafe, "--pin-env reads the PIN from the environment, which other processes of this user can read; add --allow-insecure-pin-env to accept that, or use --pin-fd / --pin-file")
            }
            return .environment(pinEnv)
        }
        return .prompt
    }

    public var description: String {
        switch self {
        case .prompt: "interactive prompt"
        case .fileDescriptor(let fd): "file descriptor \(fd)"
        case .file(let p): "file \(p)"
        case .environment(let v): "environment variable \(v) (insecure)"
        }
    }

    /// Reads the PIN. Trailing CR/LF is removed; an empty PIN is an error.
    public func read(prompt text: String = "Token PIN: ") throws -> PIN {
        var bytes: [UInt8]
        switch self {
        case .prompt:
            bytes = try Self.readFromTTY(prompt: text)
        case .fileDescriptor(let fd):
            guard fd >= 0 else { throw TokenError(.pinSourceFailed, "--pin-fd must be a descriptor number") }
            bytes = try Self.readLine(fd: fd, what: "descriptor \(fd)")
        case .file(let path):
            var st = stat()
            guard stat(path, &st) == 0 else { throw TokenError(.pinSourceFailed, "cannot read the PIN file \(path)", context: path) }
            guard st.st_mode & 0o077 == 0 else {
                throw TokenError(.pinSourceUnsafe, String(format: "the PIN file %@ can be read by others (mode %o); run `chmod 600 %@`", path, st.st_mode & 0o777, path), context: path)
            }
            guard st.st_uid == geteuid() else {
                throw TokenError(.pinSourceUnsafe, "the PIN file \(path) belongs to another user", context: path)
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw TokenError(.pinSourceFailed, "cannot open the PIN file \(path)", context: path) }
            defer { close(fd) }
            bytes = try Self.readLine(fd: fd, what: "the PIN file")
        case .environment(let name):
            guard let v = getenv(name) else { throw TokenError(.pinSourceFailed, "environment variable \(name) is not set") }
            bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(v).assumingMemoryBound(to: UInt8.self), count: strlen(v)))
        }
        while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
        if bytes.isEmpty { throw TokenError(.pinSourceFailed, "the PIN from the \(self) is empty") }
        return PIN(consuming: &bytes)
    }

    static func readLine(fd: Int32, what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)   // no regrowth: no stray copies of PIN bytes in freed memory
        var b: UInt8 = 0
        while out.count < 256 {
            let n = Foundation.read(fd, &b, 1)
            if n < 0 { if errno == EINTR { continue }; throw TokenError(.pinSourceFailed, "reading the PIN from \(what) failed (errno \(errno))") }
            if n == 0 || b == 0x0a { break }
            out.append(b)
        }
        b = 0
        return out
    }

    static func readFromTTY(prompt: String) throws -> [UInt8] {
        let fd = open("/dev/tty", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw TokenError(.pinRequired, "no terminal to ask for the PIN; use --pin-fd N or --pin-file PATH")
        }
        defer { close(fd) }
        var old = termios()
        guard tcgetattr(fd, &old) == 0 else { throw TokenError(.pinSourceFailed, "cannot configure the terminal for PIN entry") }
        var noEcho = old
        noEcho.c_lflag &= ~tcflag_t(ECHO)
        noEcho.c_lflag |= tcflag_t(ICANON)
        _ = prompt.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
        guard tcsetattr(fd, TCSAFLUSH, &noEcho) == 0 else { throw TokenError(.pinSourceFailed, "cannot turn off echo for PIN entry") }
        defer {
            _ = tcsetattr(fd, TCSAFLUSH, &old)
            _ = write(fd, "\n", 1)
        }
        return try readLine(fd: fd, what: "the terminal")
    }
}

/// A `PINProvider` that reads from a `PINSource` each time it is asked (the prompt asks the person
/// again after a reinsertion; a descriptor or file is read once and the PIN kept for reinsertion).
public actor SourcePINProvider: PINProvider {
    private let source: PINSource
    private var cached: PINBox?

    public init(_ source: PINSource) { self.source = source }

    public func pin(for request: PINRequest) async throws -> PIN {
        if case .prompt = source {
            let why = request.reason == .reinserted ? " (token re-inserted)" : ""
            return try source.read(prompt: "PIN for token '\(request.tokenLabel)'\(why): ")
        }
        if let cached { return cached.pin.duplicate() }
        let pin = try source.read()
        let box = PINBox(pin)
        cached = box
        return box.pin.duplicate()
    }
}
