import Foundation
import PDF
import Pipeline

/// Where the password of encrypted inputs comes from (the PDFs that do not open with the empty user password):
/// like the PIN, an inherited descriptor (`stamp --pdf-password-fd 3 3<file`) or a file only its owner can read
/// (pipeline `"pdf-password-file"`), never the command line or the environment. One line; trailing CR/LF removed.
/// A source that cannot be read, or a file others can read, stops the run (`PipelineError`, exit 2).
/// The password is bound with `PDFPassword.$current.withValue` for the documents of a run or a stamp; it never
/// reaches a log, error, receipt or argv.
public enum PDFPasswordSource: Sendable, Equatable, CustomStringConvertible {
    case fileDescriptor(Int32)
    case file(String)

    /// The top-level pipeline key naming the password file (relative to the pipeline's folder).
    public static let sectionKey = "pdf-password-file"

    /// The pipeline's `"pdf-password-file"`, if any.
    public static func from(sections: [String: JSONValue], baseDir: URL) throws -> PDFPasswordSource? {
        guard let v = sections[sectionKey] else { return nil }
        guard case .string(let p) = v, !p.isEmpty else {
            throw PipelineError(.typeMismatch, path: sectionKey, "expected the path of a file holding the PDF password (mode 600)")
        }
        return .file(p.hasPrefix("/") ? p : baseDir.appendingPathComponent(p).standardizedFileURL.path)
    }

    public var description: String {
        switch self {
        case .fileDescriptor(let fd): "file descriptor \(fd)"
        case .file(let p): "file \(p)"
        }
    }

    /// Reads the password. A file others can read, or another user's file, is refused.
    public func read() throws -> PDFPassword {
        var bytes: [UInt8]
        switch self {
        case .fileDescriptor(let fd):
            guard fd >= 0 else { throw PipelineError(.invalidValue, path: "--pdf-password-fd", "must be a descriptor number") }
            bytes = try Self.readLine(fd: fd, what: "descriptor \(fd)")
        case .file(let path):
            var st = stat()
            guard stat(path, &st) == 0 else {
                throw PipelineError(.io, path: path, "cannot read the PDF password file. " + Self.next)
            }
            guard st.st_mode & 0o077 == 0 else {
                throw PipelineError(.invalidValue, path: path, String(format: "the PDF password file can be read by others (mode %o); run `chmod 600 %@`", st.st_mode & 0o777, path))
            }
            guard st.st_uid == geteuid() else {
                throw PipelineError(.invalidValue, path: path, "the PDF password file belongs to another user; give it to the user the pipeline runs as, mode 600")
            }
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw PipelineError(.io, path: path, "cannot open the PDF password file. " + Self.next) }
            defer { close(fd) }
            bytes = try Self.readLine(fd: fd, what: "the PDF password file")
        }
        while let last = bytes.last, last == 0x0a || last == 0x0d { bytes.removeLast() }
        if bytes.isEmpty {
            throw PipelineError(.invalidValue, path: Self.sectionKey, "the PDF password from the \(self) is empty. " + Self.next)
        }
        return PDFPassword(bytes: bytes)
    }

    static let next = "Put the password of the encrypted PDFs on one line in a file only you can read (chmod 600) and name it in \"pdf-password-file\", or give it on a descriptor (--pdf-password-fd 3 3<FILE)."

    static func readLine(fd: Int32, what: String) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1024)
        var b: UInt8 = 0
        while out.count < 1024 {
            let n = Foundation.read(fd, &b, 1)
            if n < 0 {
                if errno == EINTR { continue }
                throw PipelineError(.io, path: what, "reading the PDF password failed (errno \(errno))")
            }
            if n == 0 || b == 0x0a { break }
            out.append(b)
        }
        b = 0
        return out
    }
}
