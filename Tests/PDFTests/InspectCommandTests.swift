import Foundation
import Testing
import TestSupport

/// `sealbatch inspect` end to end: exit codes and the JSON report (Sources/sealbatch/InspectCommand.swift).
@Suite struct InspectCommandTests {
    var binary: URL { TestSupport.sealbatchBinary }
    func inspect(_ args: [String]) throws -> TestSupport.ProcessResult { try TestSupport.run(binary.path, ["inspect"] + args) }
    func corpus(_ n: String) -> String { TestSupport.corpusDir.appendingPathComponent(n).path }

    func json(_ r: TestSupport.ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
    }

    @Test func readableFileExitsZeroWithPagesRevisionsAndSignatures() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { Issue.record("sealbatch not built at \(binary.path)"); return }
        let r = try inspect([corpus("signed-twice-xrefstream-pyhanko.pdf"), "--format", "json"])
        #expect(r.status == 0)
        let j = try json(r)
        #expect(j["readable"] as? Bool == true)
        #expect(j["page-count"] as? Int == 1)
        #expect(j["revisions"] as? Int == 3)
        #expect(j["xref"] as? String == "stream")
        let sigs = try #require(j["signatures"] as? [[String: Any]])
        #expect(Set(sigs.compactMap { $0["field"] as? String }) == ["Sig1", "Sig2"])
        let sig1 = try #require(sigs.first { $0["field"] as? String == "Sig1" })
        #expect(sig1["covers-whole-file"] as? Bool == true)
        #expect(sig1["sub-filter"] as? String == "adbe.pkcs7.detached")
        #expect((sig1["byte-range"] as? [Int])?.count == 4)
        let sig2 = try #require(sigs.first { $0["field"] as? String == "Sig2" })
        #expect(sig2["covered-revision"] as? Int == 2)
        #expect(j["sealable"] as? Bool == true)
    }

    @Test func textReportNamesDocMDPAndWarnings() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return }
        let cert = try inspect([corpus("certified-docmdp-p1-pyhanko.pdf")])
        #expect(cert.status == 0)
        #expect(cert.out.contains("P=1 no changes allowed"))
        #expect(cert.out.contains("Sealable:    no"))
        let damaged = try inspect([corpus("damaged-prev-loop-qpdf.pdf")])
        #expect(damaged.status == 0)
        #expect(damaged.out.contains("[prev-loop]"))
        #expect(damaged.out.contains("at byte"))
    }

    @Test func rejectedFileExitsOneWithTheReason() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return }
        let r = try inspect([corpus("encrypted-aes256-r6-userpw-qpdf.pdf")])
        #expect(r.status == 1)
        #expect(r.err.contains("password"))
        let j = try json(try inspect([corpus("damaged-truncated-linearized-acrobat-dss.pdf"), "--format", "json"]))
        #expect(j["readable"] as? Bool == false)
        #expect((j["rejection"] as? [String: Any])?["code"] as? String == "truncated")
    }

    @Test func usageErrorsExitTwo() throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { return }
        #expect(try inspect([]).status == 2)
        #expect(try inspect(["/nonexistent/file.pdf"]).status == 2)
        #expect(try inspect([TestSupport.corpusDir.path]).status == 2)
    }
}
