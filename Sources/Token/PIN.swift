import CPKCS11

/// A PIN held in memory that is zeroised when it goes away. Non-copyable: it cannot be duplicated by
/// accident, stored in two places, or interpolated into a string (it has no description at all).
/// Make an explicit copy with `duplicate()` only where a second owner is required.
public struct PIN: ~Copyable, @unchecked Sendable {
    private let storage: UnsafeMutableRawBufferPointer

    /// Takes the bytes of a PIN. The caller should zero its own copy (`PIN(consuming:)` does that).
    public init(bytes: some Collection<UInt8>) {
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        buf.initializeMemory(as: UInt8.self, repeating: 0)
        var i = 0
        for b in bytes { buf[i] = b; i += 1 }
        storage = UnsafeMutableRawBufferPointer(rebasing: buf[0..<bytes.count])
        _base = buf
    }

    /// Takes the bytes of a PIN and zeroes the array it came from.
    public init(consuming bytes: inout [UInt8]) {
        self.init(bytes: bytes)
        bytes.withUnsafeMutableBytes { sb_zeroize($0.baseAddress, $0.count) }
        bytes.removeAll()
    }

    /// A PIN from text (UTF-8). Prefer byte sources; strings cannot be wiped.
    public init(_ string: String) {
        self.init(bytes: Array(string.utf8))
    }

    private let _base: UnsafeMutableRawBufferPointer

    /// Number of bytes in the PIN.
    public var count: Int { storage.count }

    /// Whether the PIN is empty.
    public var isEmpty: Bool { storage.count == 0 }

    /// Lends the PIN bytes to `body`; they must not escape.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(storage))
    }

    /// An explicit second copy (zeroised independently).
    public func duplicate() -> PIN {
        PIN(bytes: UnsafeRawBufferPointer(storage))
    }

    deinit {
        sb_zeroize(_base.baseAddress, _base.count)
        _base.deallocate()
    }
}

/// Why the token layer asks for a PIN.
public enum PINRequestReason: Sendable, Hashable {
    /// First login of a run.
    case initialLogin
    /// The token was removed and inserted again; the session must be logged in anew.
    case reinserted
}

/// What the token layer tells a PIN provider (never the PIN itself).
public struct PINRequest: Sendable {
    public let tokenLabel: String
    public let tokenSerial: String
    public let reason: PINRequestReason
    /// The PIN state the token reports right now.
    public let flags: PINFlags
}

/// Supplies a PIN when the token actor needs one (interactive prompt, --pin-fd reader, test fixture).
/// A provider is asked once per login; the actor never re-asks after a wrong PIN.
public protocol PINProvider: Sendable {
    func pin(for request: PINRequest) async throws -> PIN
}
