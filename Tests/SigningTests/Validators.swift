import Foundation
import TestSupport

/// pyHanko (API, one process for many files) and poppler's pdfsig as independent validators.
enum Validators {
    struct PyHankoSignature: Decodable {
        let field: String?
        let kind: String
        let intact: Bool?
        let valid: Bool?
        let trusted: Bool?
        let bottom_line: Bool
        let modification_level: String?
        let docmdp_ok: Bool?
        let coverage: String?
        let timestamp_ok: Bool?
        let error: String?
    }
    struct PyHankoFile: Decodable {
        let file: String
        let error: String?
        let signatures: [PyHankoSignature]
        var allPass: Bool { error == nil && !signatures.isEmpty && signatures.allSatisfy(\.bottom_line) }
    }

    /// Runs `Support/pyhanko_validate.py` in `processes` parallel processes (files split round-robin).
    static func pyhanko(_ files: [URL], root: URL, mode: String = "none", processes: Int) throws -> [String: PyHankoFile] {
        let parts = (0..<max(1, processes)).map { k in files.enumerated().filter { $0.offset % max(1, processes) == k }.map(\.element) }
        let results = ResultsBox()
        DispatchQueue.concurrentPerform(iterations: parts.count) { k in
            let r = Result { try pyhanko(parts[k], root: root, mode: mode) }
            results.set(k, r)
        }
        var out: [String: PyHankoFile] = [:]
        for k in 0..<parts.count { for (key, v) in try results.get(k).get() { out[key] = v } }
        return out
    }

    final class ResultsBox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Int: Result<[String: PyHankoFile], Error>] = [:]
        func set(_ k: Int, _ r: Result<[String: PyHankoFile], Error>) { lock.lock(); items[k] = r; lock.unlock() }
        func get(_ k: Int) -> Result<[String: PyHankoFile], Error> { lock.lock(); defer { lock.unlock() }; return items[k] ?? .success([:]) }
    }

    /// Runs `Support/pyhanko_validate.py`; `mode` is none / fetch / ltv; `password` opens files protected with a
    /// user password (given to the script in its environment, not its arguments).
    static func pyhanko(_ files: [URL], root: URL, mode: String = "none", password: String? = nil) throws -> [String: PyHankoFile] {
        if files.isEmpty { return [:] }
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_validate.py")
        let r = try TestSupport.run("python3", [script.path, root.path, mode] + files.map(\.path),
                                    env: password.map { ["PYHANKO_PDF_PASSWORD": $0] } ?? [:])
        var out: [String: PyHankoFile] = [:]
        for line in r.out.split(separator: "\n") {
            if let f = try? JSONDecoder().decode(PyHankoFile.self, from: Data(line.utf8)) { out[f.file] = f }
        }
        if out.count != files.count { throw FixtureError(message: "pyHanko validator failed: \(r.err.suffix(2000))") }
        return out
    }

    struct PdfsigSignature { var field: String = ""; var valid = false; var trusted = false; var total = false; var raw = "" }

    /// Runs pdfsig with an NSS db trusting the test root; pdfsig exits 0 even for broken signatures, so parse.
    static func pdfsig(_ file: URL, nssDir: URL, userPassword: String? = nil) throws -> [PdfsigSignature] {
        let r = try TestSupport.run("pdfsig", ["-nssdir", "sql:" + nssDir.path] + (userPassword.map { ["-upw", $0] } ?? []) + [file.path])
        var sigs: [PdfsigSignature] = []
        for line in r.out.split(separator: "\n", omittingEmptySubsequences: false) {
            let l = line.trimmingCharacters(in: .whitespaces)
            if l.hasPrefix("Signature #") { sigs.append(PdfsigSignature()); continue }
            guard !sigs.isEmpty else { continue }
            sigs[sigs.count - 1].raw += l + "\n"
            if l.hasPrefix("- Signature Field Name:") { sigs[sigs.count - 1].field = String(l.dropFirst("- Signature Field Name:".count)).trimmingCharacters(in: .whitespaces) }
            if l.contains("Signature is Valid.") { sigs[sigs.count - 1].valid = true }
            if l.contains("Certificate is Trusted.") { sigs[sigs.count - 1].trusted = true }
            if l.contains("Total document signed") { sigs[sigs.count - 1].total = true }
        }
        return sigs
    }

    /// An NSS database trusting `root` (made once per directory).
    static func nssDB(in dir: URL, root: URL) throws -> URL {
        let db = dir.appendingPathComponent("nssdb")
        if FileManager.default.fileExists(atPath: db.appendingPathComponent("cert9.db").path) { return db }
        try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
        try TestSupport.run("certutil", ["-N", "-d", "sql:" + db.path, "--empty-password"])
        try TestSupport.run("certutil", ["-A", "-d", "sql:" + db.path, "-n", "root", "-t", "C,C,C", "-i", root.path])
        return db
    }
}
