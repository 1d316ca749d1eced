import Foundation

/// Text, JSON and JUnit XML renderings of a `VerificationReport`.
public extension VerificationReport {
    /// Stable JSON (sorted keys, ISO 8601 dates, kebab-case keys as everywhere on the command line:
    /// `covers-whole-file`, `sub-indication`, `doc-mdp`).
    func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        e.keyEncodingStrategy = .custom { path in ReportKey(stringValue: ReportKey.kebab(path.last!.stringValue)) }
        return try e.encode(self)
    }

    /// Decodes the JSON produced by `json()`.
    static func decode(json: Data) throws -> VerificationReport {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        d.keyDecodingStrategy = .custom { path in ReportKey(stringValue: ReportKey.camel(path.last!.stringValue)) }
        return try d.decode(VerificationReport.self, from: json)
    }

    /// One file's report as `json()` writes it (kebab-case keys), for documents that embed it (the receipt).
    static func kebabJSON(_ file: FileReport) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        e.keyEncodingStrategy = .custom { path in ReportKey(stringValue: ReportKey.kebab(path.last!.stringValue)) }
        return try e.encode(file)
    }

    /// Reads what `kebabJSON(_:)` wrote.
    static func fileReport(kebabJSON data: Data) throws -> FileReport {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        d.keyDecodingStrategy = .custom { path in ReportKey(stringValue: ReportKey.camel(path.last!.stringValue)) }
        return try d.decode(FileReport.self, from: data)
    }

    /// Human-readable report.
    func text() -> String {
        var out = ""
        for f in files {
            out += "\(f.path): \(f.passed ? (f.changedAfterLastSignature == true ? "PASSED, with later changes that are allowed" : "PASSED") : "FAILED")\n"
            if let e = f.error { out += "  error: \(e)\n" }
            var doc: [String] = []
            if let t = f.title, !t.isEmpty { doc.append("title \"\(t)\"") }
            if let p = f.pages { doc.append("\(p) page(s)") }
            if let r = f.revisions { doc.append("\(r) revision(s)") }
            if let s = f.size { doc.append("\(s) bytes") }
            if !doc.isEmpty { out += "  document: " + doc.joined(separator: ", ") + "\n" }
            if let h = f.sha256 { out += "  sha256: \(h)\n" }
            if f.signatures.isEmpty && f.error == nil { out += "  no signatures\n" }
            for (i, s) in f.signatures.enumerated() {
                out += "  [\(i + 1)] \(s.field) (\(s.kind)): \(s.indication.rawValue)\(s.subIndication.map { "/" + $0.rawValue } ?? "")\n"
                out += "      \(s.summary)\n"
                if let c = s.signer {
                    out += "      signer: \(c.commonName ?? c.subject)\(c.organization.map { ", " + $0 } ?? ""), serial \(c.serialNumber)\n"
                }
                if let n = s.name { out += "      seal name: \(n)\n" }
                if let r = s.reason { out += "      reason: \(r)\n" }
                if let l = s.location { out += "      location: \(l)\n" }
                if let t = s.claimedSigningTime { out += "      claimed time (/M): \(t.iso8601)\n" }
                if let ts = s.timestamp { out += "      time-stamp: \(ts.time.iso8601) (\(ts.intact && ts.trusted ? "valid" : ts.detail))\n" }
                out += "      method: \(s.subFilter ?? "?"), \(s.digestAlgorithm ?? "?"), \(s.signatureAlgorithm ?? "?"), level \(s.padesLevel?.rawValue ?? "none")\n"
                if let c = s.coverage {
                    out += "      byte range: \(c.byteRange) covers \(c.coveredBytes) of \(c.fileSize) bytes\(c.coversWholeFile ? " (whole file)" : c.revision.map { " (revision \($0))" } ?? "")\n"
                }
                if let a = s.appearance { out += "      appearance: \(a.summary)\n" }
                out += "      integrity: \(s.integrity.ok ? "ok" : "FAILED") — \(s.integrity.detail)\n"
                out += "      signature: \(s.cryptographic.ok ? "ok" : "FAILED") — \(s.cryptographic.detail)\n"
                out += "      certificate path: \(s.certificatePath.ok ? "ok" : "FAILED") — \(s.certificatePath.detail)\n"
                for c in s.chain {
                    out += "        - \(c.subject) [\(c.notBefore.iso8601) … \(c.notAfter.iso8601)]\(c.keyUsage.isEmpty ? "" : " " + c.keyUsage.joined(separator: ",")) revocation: \(c.revocation)\(c.revocationSource.map { " (\($0))" } ?? "")\n"
                }
                out += "      revocation: \(s.revocation.ok ? "ok" : "FAILED") — \(s.revocation.detail)\n"
                if s.modifications.level == .none && s.modifications.allowed {
                    out += "      changes after signing: none\(s.coverage?.coversWholeFile == true ? " (the signature covers the whole file)" : "")\n"
                } else {
                    out += "      changes after signing: \(s.modifications.level.rawValue) (\(s.modifications.allowed ? "allowed" : "NOT allowed"); permitted up to \(s.modifications.permitted.rawValue))\n"
                }
                for d in s.modifications.details.prefix(10) { out += "        - \(d)\n" }
                if let p = s.docMDP { out += "      certification: DocMDP P=\(p)\n" }
                for n in s.notes { out += "      note: \(n)\n" }
            }
        }
        let failed = files.filter { !$0.passed }.count
        out += "\(files.count) file(s), \(failed) failed\n"
        return out
    }

    /// JUnit XML: one test case per file, failing with the reasons of its failing signatures.
    func junit() -> String {
        func esc(_ s: String) -> String {
            var o = ""
            for ch in s.unicodeScalars {
                switch ch {
                case "&": o += "&amp;"
                case "<": o += "&lt;"
                case ">": o += "&gt;"
                case "\"": o += "&quot;"
                case "'": o += "&apos;"
                default:
                    if ch.value < 0x20 && ch != "\n" && ch != "\t" && ch != "\r" { o += "?" } else { o.unicodeScalars.append(ch) }
                }
            }
            return o
        }
        func secs(_ t: Double) -> String { String(format: "%.3f", t) }
        let errors = files.filter { $0.error != nil }.count
        let failures = files.filter { !$0.passed && $0.error == nil }.count
        let total = files.reduce(0.0) { $0 + ($1.seconds ?? 0) }
        var host = [CChar](repeating: 0, count: 256)
        let hostname = gethostname(&host, host.count) == 0 ? String(cString: host) : "localhost"
        var x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        x += "<testsuites name=\"sealbatch verify\" tests=\"\(files.count)\" failures=\"\(failures)\" errors=\"\(errors)\" time=\"\(secs(total))\">\n"
        x += "  <testsuite name=\"sealbatch.verify\" tests=\"\(files.count)\" failures=\"\(failures)\" errors=\"\(errors)\" skipped=\"0\" time=\"\(secs(total))\" timestamp=\"\(validationTime.iso8601)\" hostname=\"\(esc(hostname))\">\n"
        for f in files {
            x += "    <testcase classname=\"sealbatch.verify\" name=\"\(esc(f.path))\" time=\"\(secs(f.seconds ?? 0))\">\n"
            if let e = f.error {
                // Unreadable input is an error of the test, not a failed verdict (Ant/Jenkins/GitLab semantics).
                x += "      <error message=\"\(esc(e))\" type=\"UNREADABLE\">\(esc(e))</error>\n"
            } else if !f.passed {
                let reasons: [String]
                if let e = f.error { reasons = [e] }
                else if f.signatures.isEmpty { reasons = ["no signatures"] }
                else { reasons = f.signatures.filter { $0.indication != .totalPassed }.map { "\($0.field): \($0.indication.rawValue)\($0.subIndication.map { "/" + $0.rawValue } ?? "") — \($0.summary)" } }
                x += "      <failure message=\"\(esc(reasons.first ?? "failed"))\" type=\"\(esc(f.signatures.first { $0.indication != .totalPassed }?.indication.rawValue ?? "ERROR"))\">\(esc(reasons.joined(separator: "\n")))</failure>\n"
            }
            let single = VerificationReport(validationTime: validationTime, requiredLevel: requiredLevel, files: [f])
            x += "      <system-out>\(esc(single.text()))</system-out>\n"
            x += "    </testcase>\n"
        }
        x += "  </testsuite>\n</testsuites>\n"
        return x
    }
}

extension AppearanceReport {
    /// "seal on page 3, cross-page slices on pages 1–3 (signed with it)" or "invisible".
    public var summary: String {
        func pages(_ p: [Int]) -> String {
            let u = Array(Set(p)).sorted()
            guard let first = u.first, let last = u.last else { return "" }
            if u.count == 1 { return "page \(first)" }
            if u == Array(first...last) { return "pages \(first)–\(last)" }
            return "pages " + u.map(String.init).joined(separator: ", ")
        }
        var parts: [String] = []
        parts.append(visible ? "seal on \(pages(widgetPages))" : "invisible")
        if !slices.isEmpty { parts.append("\(slices.count) cross-page slice(s) on \(pages(slicePages)), signed with it") }
        return parts.joined(separator: ", ")
    }
}

/// The report's JSON keys: the properties' names in kebab-case (`coversWholeFile` ↔ `covers-whole-file`,
/// `docMDP` ↔ `doc-mdp`). The report has no dictionaries, so every key is a property name.
struct ReportKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }

    /// Acronyms written in capitals in property names.
    static let acronyms: Set<String> = ["mdp"]

    static func kebab(_ key: String) -> String {
        let chars = Array(key)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase {
                let prev: Character? = i > 0 ? chars[i - 1] : nil
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if let prev, prev.isLowercase || prev.isNumber || (prev.isUppercase && nextIsLower) { out.append("-") }
                out.append(Character(c.lowercased()))
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func camel(_ key: String) -> String {
        let parts = key.split(separator: "-", omittingEmptySubsequences: false)
        return parts.enumerated().map { i, p in
            i == 0 ? String(p) : acronyms.contains(String(p)) ? p.uppercased() : p.prefix(1).uppercased() + p.dropFirst()
        }.joined()
    }
}
