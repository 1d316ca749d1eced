import Foundation
import Governance
@testable import Pipeline
import PDF
import Signing
import Stages
import TestSupport
import Testing
import Token

/// Issue #14 item 6 through the whole pipeline (`--once`): a contract protected with a user password is sealed
/// when the pipeline names its password in `"pdf-password-file"` (bound around the run as `sealbatch run` does:
/// ingest, render, sign and verify open it with that password), validated by pyHanko and pdfsig with the password;
/// without the password file it is quarantined `encrypted-password-required`. The password source refuses a
/// file others can read.
@Suite(.serialized) struct PasswordPipelineTests {
    static let password = "contract-2026"

    static func tools() throws -> Bool {
        for t in ["python3", "softhsm2-util", "pdfsig", "certutil", "openssl", "qpdf"] where !(try TestSupport.haveTool(t)) { return false }
        return true
    }

    static func stages(_ world: SealWorld) -> String {
        """
        [{"kind": "ingest"}, {"kind": "approval", "manifests": "approvals"}, {"kind": "render", "placement": {"corner": "bottom-right"}},
         {"kind": "sign", "level": "B-B"}, {"kind": "verify", "trust": "\(world.token.caCertificate.path)"}, {"kind": "archive"}]
        """
    }

    func run(_ input: URL, passwordFile: URL?, world: SealWorld) async throws -> (root: URL, summary: RunSummary) {
        let root = try TestSupport.tempDir("password-pipeline")
        let inbox = root.appendingPathComponent("inbox")
        try FileManager.default.createDirectory(at: inbox, withIntermediateDirectories: true)
        let copy = inbox.appendingPathComponent(input.lastPathComponent)
        try FileManager.default.copyItem(at: input, to: copy)
        let manifest = try world.approve([copy])
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        var json = world.pipelineJSON(name: "password", extraStages: Self.stages(world))
        if let passwordFile {
            json = json.replacingOccurrences(of: "\"name\": \"password\",", with: "\"name\": \"password\", \"pdf-password-file\": \"\(passwordFile.path)\",")
        }
        let cfgURL = root.appendingPathComponent("pipeline.json")
        try Data(json.utf8).write(to: cfgURL)
        let config = try PipelineConfig.load(from: cfgURL, registry: StandardStages.registry())
        let shared = SharedObjects()
        let built = try config.makeStages(registry: StandardStages.registry(), shared: shared)
        _ = try StandardStages.runtime(StageEnvironment(sections: config.sections, baseDir: config.baseDir, folders: config.folders, shared: shared))
        let engine = Engine(config: config, stages: built, journal: try Journal(url: config.journal), logger: quietLogger, metricsFactory: PrometheusRegistry())
        // as `sealbatch run`: the password read once from the pipeline's source, bound for the whole run
        let pw = try PDFPasswordSource.from(sections: config.sections, baseDir: config.baseDir)?.read()
        #expect((pw != nil) == (passwordFile != nil))
        let summary = try await PDFPassword.$current.withValue(pw) { try await engine.run(mode: .once) }
        return (root, summary)
    }

    @Test func userPasswordContractIsSealedWithThePipelinesPasswordFileAndQuarantinedWithoutIt() async throws {
        guard try Self.tools() else { return }
        let world = try SealWorld.shared()
        let dir = try TestSupport.tempDir("password-inputs")
        let plain = try SamplePDFs.make(in: dir.appendingPathComponent("src"), count: 1, prefix: "contract-pw")[0]
        let input = dir.appendingPathComponent("contract-protected.pdf")
        let q = try TestSupport.run("qpdf", ["--encrypt", Self.password, "owner-secret", "256", "--", plain.path, input.path])
        try #require(q.status == 0 || q.status == 3, "qpdf: \(q.err)")
        let pwFile = dir.appendingPathComponent("pdf-password")
        FileManager.default.createFile(atPath: pwFile.path, contents: Data((Self.password + "\n").utf8), attributes: [.posixPermissions: 0o600])

        // without the password: quarantined with the code, nothing delivered
        let refused = try await run(input, passwordFile: nil, world: world)
        #expect(refused.summary.delivered == 0, "\(refused.summary.table())")
        let reasonURL = refused.root.appendingPathComponent("quarantine/\(input.lastPathComponent).reason.json")
        let reason = try String(contentsOf: reasonURL, encoding: .utf8)
        #expect(reason.contains("encrypted-password-required"), "\(reason)")
        #expect(!reason.contains(Self.password))

        // with the pipeline's password file: delivered, still encrypted, accepted by pyHanko and pdfsig
        let sealed = try await run(input, passwordFile: pwFile, world: world)
        #expect(sealed.summary.delivered == 1, "\(sealed.summary.table())")
        let out = sealed.root.appendingPathComponent("outbox/\(input.lastPathComponent)")
        #expect(throws: PDFError.self) { _ = try PDFDocument(url: out, password: nil) }
        let doc = try PDFDocument(url: out, password: PDFPassword(bytes: Array(Self.password.utf8)))
        #expect(doc.encryption?.cipher == "AES-256" && doc.signatureFields.filter(\.isSigned).count == 1)
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/SigningTests/Support/pyhanko_validate.py")
        let r = try TestSupport.run("python3", [script.path, world.token.caCertificate.path, "none", out.path], env: ["PYHANKO_PDF_PASSWORD": Self.password])
        let ph = try #require(try JSONSerialization.jsonObject(with: Data((r.out.split(separator: "\n").first ?? "").utf8)) as? [String: Any], "\(r.err)")
        let sigs = ph["signatures"] as? [[String: Any]] ?? []
        #expect(sigs.count == 1 && sigs.allSatisfy { $0["bottom_line"] as? Bool == true }, "\(ph)")
        let db = dir.appendingPathComponent("nss")
        try FileManager.default.createDirectory(at: db, withIntermediateDirectories: true)
        _ = try TestSupport.run("certutil", ["-N", "-d", "sql:" + db.path, "--empty-password"])
        _ = try TestSupport.run("certutil", ["-A", "-d", "sql:" + db.path, "-n", "root", "-t", "C,C,C", "-i", world.token.caCertificate.path])
        let ps = try TestSupport.run("pdfsig", ["-nssdir", "sql:" + db.path, "-upw", Self.password, out.path])
        #expect(ps.out.contains("Signature is Valid.") && ps.out.contains("Certificate is Trusted."), "\(ps.out)")
        // the log and the journal never hold the password
        for f in FileManager.default.enumerator(at: sealed.root, includingPropertiesForKeys: nil)?.compactMap({ $0 as? URL }) ?? []
        where ["json", "sqlite", "log", "txt"].contains(f.pathExtension) {
            #expect(try Data(contentsOf: f).range(of: Data(Self.password.utf8)) == nil, "\(f.lastPathComponent) holds the PDF password")
        }
    }

    @Test func passwordSourceRefusesAFileOthersCanReadAndReadsADescriptor() throws {
        let dir = try TestSupport.tempDir("password-source")
        let f = dir.appendingPathComponent("pw")
        FileManager.default.createFile(atPath: f.path, contents: Data("s3cret\r\n".utf8), attributes: [.posixPermissions: 0o644])
        #expect(throws: PipelineError.self) { _ = try PDFPasswordSource.file(f.path).read() }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: f.path)
        #expect(try PDFPasswordSource.file(f.path).read().bytes == Array("s3cret".utf8))
        #expect(!"\(try PDFPasswordSource.file(f.path).read())".contains("s3cret"))
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        _ = "via-fd\n".withCString { write(fds[1], $0, 7) }
        close(fds[1])
        #expect(try PDFPasswordSource.fileDescriptor(fds[0]).read().bytes == Array("via-fd".utf8))
        close(fds[0])
        // a pipeline naming something that is not a path is refused at load
        #expect(throws: PipelineError.self) { _ = try PDFPasswordSource.from(sections: ["pdf-password-file": .number(3)], baseDir: dir) }
    }
}
