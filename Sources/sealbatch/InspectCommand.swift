import ArgumentParser
import Foundation
import PDF

/// `sealbatch inspect FILE [--format text|json]`: what a PDF is and whether it can be sealed.
/// Exit 0 readable, 1 rejected (with the reason), 2 usage.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a PDF's version, pages, revisions, encryption, signatures and warnings.",
        discussion: "Exit codes: 0 the file is readable, 1 it is rejected (the reason is printed), 2 usage error.")

    @Argument(help: "The PDF file to inspect.")
    var file: String?

    @Option(help: "Output format.")
    var format: TextOrJSON = .text
    @OptionGroup var deprecated: DeprecatedJSONFlag

    /// Usage problems exit 2 (house convention), not ArgumentParser's 64.
    private func usage(_ message: String) -> ExitCode {
        CLIMessage.write("usage", "\(message) (usage: sealbatch inspect FILE [--format text|json])")
        return ExitCode(2)
    }

    func run() throws {
        guard let file else { throw usage("missing the PDF file to inspect") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDir) else { throw usage("no such file: \(file)") }
        if isDir.boolValue { throw usage("\(file) is a directory, not a PDF file") }
        let url = URL(fileURLWithPath: file)
        let json = deprecated.resolve(format) == .json
        let report: InspectReport
        do {
            let doc = try PDFDocument(url: url)
            report = InspectReport(document: doc)
        } catch let e as PDFError {
            let r = InspectReport(rejected: e, file: url)
            if json { print(r.jsonString()) } else {
                CLIMessage.write(e)
            }
            throw ExitCode(1)
        }
        if json { print(report.jsonString()) } else { print(report.text()) }
    }
}

/// The inspect report, both as text and as JSON (keys are stable).
struct InspectReport: Encodable {
    struct Page: Encodable { var number: Int; var width: Double; var height: Double; var rotate: Int; var mediaBox: [Double]; var cropBox: [Double] }
    struct Signature: Encodable {
        var field: String
        var signed: Bool
        var type: String?
        var subFilter: String?
        var byteRange: [Int]?
        var coverage: String?
        var coversWholeFile: Bool?
        var coveredRevision: Int?
        var certification: Bool
        var signingTime: String?
        var page: Int?
    }
    struct Encryption: Encodable { var filter: String; var cipher: String; var revision: Int; var userPasswordRequired: Bool }
    struct Warning: Encodable { var kind: String; var offset: Int?; var message: String; var repair: Bool }
    struct Rejection: Encodable { var code: String; var offset: Int?; var reason: String }

    var file: String
    var fileSize: Int?
    var readable: Bool
    var rejection: Rejection?
    var version: String?
    var pageCount: Int?
    var pages: [Page]?
    var revisions: Int?
    var revisionEnds: [Int]?
    var xref: String?
    var linearized: Bool?
    var repaired: Bool?
    var encrypted: Bool?
    var encryption: Encryption?
    var signatures: [Signature]?
    var docMDP: Int?
    var sealable: Bool?
    var notSealableReason: String?
    var title: String?
    var xmpTitle: String?
    var producer: String?
    var warnings: [Warning]?

    init(rejected e: PDFError, file: URL) {
        self.file = file.lastPathComponent
        readable = false
        rejection = Rejection(code: e.code.identifier, offset: e.offset, reason: e.message)
        if case .encrypted = e.code { encrypted = true }
    }

    init(document doc: PDFDocument) {
        file = doc.url?.lastPathComponent ?? "-"
        fileSize = doc.fileSize
        readable = true
        version = doc.version
        let ps = doc.pages
        pageCount = ps.count
        pages = ps.map { p in
            Page(number: p.index + 1, width: p.size.width, height: p.size.height, rotate: p.rotate,
                 mediaBox: [p.mediaBox.llx, p.mediaBox.lly, p.mediaBox.urx, p.mediaBox.ury],
                 cropBox: [p.cropBox.llx, p.cropBox.lly, p.cropBox.urx, p.cropBox.ury])
        }
        revisions = doc.revisions.count
        revisionEnds = doc.revisions.map(\.end)
        xref = doc.lastXRefKind.rawValue
        linearized = doc.isLinearized
        repaired = doc.wasReconstructed || doc.warnings.contains { $0.isRepair }
        encrypted = doc.isEncrypted
        if let e = doc.encryption {
            encryption = Encryption(filter: e.filter, cipher: e.cipher, revision: e.revision, userPasswordRequired: e.userPasswordRequired)
        }
        signatures = doc.signatureFields.map { f in
            var s = Signature(field: f.name, signed: f.isSigned, type: f.type, subFilter: f.subFilter, byteRange: f.byteRange,
                              certification: f.isCertification, signingTime: f.signingTime, page: f.pageIndex.map { $0 + 1 })
            if let cov = doc.coverage(of: f) {
                switch cov {
                case .wholeFile: s.coverage = "whole file"; s.coversWholeFile = true
                case .revision(let i): s.coverage = "revision \(i + 1) of \(doc.revisions.count)"; s.coveredRevision = i + 1; s.coversWholeFile = false
                case .partial: s.coverage = "partial: does not end at a revision end"; s.coversWholeFile = false
                case .invalid(let why): s.coverage = "invalid: \(why)"; s.coversWholeFile = false
                }
            }
            return s
        }
        docMDP = doc.docMDPPermission
        do { try doc.checkSealable(); sealable = true } catch let e as PDFError { sealable = false; notSealableReason = e.message } catch { sealable = false }
        let info = doc.info
        title = info.title ?? info.xmpTitle
        xmpTitle = info.xmpTitle
        producer = info.producer
        warnings = doc.warnings.map { Warning(kind: $0.kind.rawValue, offset: $0.offset, message: $0.message, repair: $0.isRepair) }
    }

    func jsonString() -> String {
        String(decoding: (try? CLIJSON.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    private func fmt(_ d: Double) -> String {
        d.rounded() == d ? String(Int(d)) : String(format: "%.2f", d)
    }

    func text() -> String {
        var l: [String] = []
        l.append("File:        \(file) (\(fileSize ?? 0) bytes)")
        l.append("Version:     PDF \(version ?? "?")")
        l.append("Pages:       \(pageCount ?? 0)")
        for p in pages ?? [] {
            l.append("  page \(p.number): \(fmt(p.width)) x \(fmt(p.height)) pt" + (p.rotate != 0 ? ", rotated \(p.rotate)°" : ""))
        }
        l.append("Revisions:   \(revisions ?? 0)" + " (cross-reference: \(xref ?? "?")" + ((linearized ?? false) ? ", linearized" : "") + ")")
        if let e = encryption {
            l.append("Encryption:  \(e.filter) \(e.cipher) (R\(e.revision)), " + (e.userPasswordRequired ? "user password required" : "opens without a password"))
        } else { l.append("Encryption:  none") }
        if let t = title { l.append("Title:       \(t)") }
        let sigs = signatures ?? []
        l.append("Signatures:  \(sigs.filter(\.signed).count) signed, \(sigs.filter { !$0.signed }.count) empty field(s)")
        for s in sigs {
            if s.signed {
                var line = "  \(s.field): \(s.type ?? "Sig") \(s.subFilter ?? "?")"
                if let br = s.byteRange { line += ", ByteRange [\(br.map(String.init).joined(separator: " "))]" }
                if let c = s.coverage { line += ", covers \(c)" }
                if s.certification { line += ", certification" }
                l.append(line)
            } else {
                l.append("  \(s.field): empty signature field" + (s.page.map { " on page \($0)" } ?? ""))
            }
        }
        l.append("DocMDP:      " + (docMDP.map { ["", "P=1 no changes allowed", "P=2 form filling and signing allowed", "P=3 form filling, signing and annotations allowed"][$0] } ?? "not certified"))
        l.append("Sealable:    " + ((sealable ?? false) ? "yes" : "no — \(notSealableReason ?? "")"))
        let ws = warnings ?? []
        l.append("Warnings:    \(ws.count)")
        for w in ws { l.append("  [\(w.kind)] \(w.message)" + (w.offset.map { " (at byte \($0))" } ?? "")) }
        return l.joined(separator: "\n")
    }
}
