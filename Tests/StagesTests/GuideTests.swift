import Foundation
import Pipeline
import Stages
import TestSupport
import Testing

/// The user guide (docs/guide) works when followed literally: every `sh` block of pages 1–4 is run, in
/// order, in one shell on a fresh workspace, with the built `sealbatch` first on PATH. A command that fails
/// fails the test (`set -euo pipefail`). Page 5 has one entry per reason code a clerk can meet.
@Suite struct GuideTests {
    static let pages = ["01-install.md", "02-set-up-an-office.md", "03-daily-work.md", "04-ci-gate.md"]

    static func shellBlocks(_ markdown: String) -> [String] {
        var blocks: [String] = [], current: [String]? = nil
        for line in markdown.components(separatedBy: "\n") {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```sh" { current = []; continue }
            if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" { blocks.append(current!.joined(separator: "\n")); current = nil; continue }
            current?.append(line)
        }
        return blocks
    }

    @Test func everyCommandOfTheGuideRunsLiterallyOnAFreshWorkspace() throws {
        for tool in ["openssl", "softhsm2-util", "bash"] { guard try TestSupport.haveTool(tool) else { return } }
        let guide = TestSupport.packageRoot.appendingPathComponent("docs/guide")
        var script = "set -euo pipefail\n"
        var count = 0
        for page in Self.pages {
            let blocks = Self.shellBlocks(try String(contentsOf: guide.appendingPathComponent(page), encoding: .utf8))
            #expect(!blocks.isEmpty || page == "01-install.md", "\(page) has no commands")
            for b in blocks { script += "echo '>>> \(page)'\n" + b + "\n"; count += 1 }
        }
        #expect(count >= 15, "the guide's commands were found (\(count) blocks)")
        let dir = try TestSupport.tempDir("guide")
        let scriptURL = dir.appendingPathComponent("guide.sh")
        try Data(script.utf8).write(to: scriptURL)
        let bin = TestSupport.sealbatchBinary.deletingLastPathComponent().path
        let r = try TestSupport.run("bash", [scriptURL.path], cwd: dir,
                                    env: ["PATH": "\(bin):\(ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")",
                                          "SEALBATCH_SAMPLES": TestSupport.packageRoot.appendingPathComponent("samples").path,
                                          "LANG": "C.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""], timeout: 900)
        #expect(r.status == 0, "the guide stopped at a failing command:\n\(r.out.suffix(3000))\n\(r.err.suffix(3000))")
        let office = dir.appendingPathComponent("office")
        let outbox = (try? FileManager.default.contentsOfDirectory(atPath: office.appendingPathComponent("contracts/outbox").path)) ?? []
        #expect(Set(outbox) == ["contract-zh-libreoffice.pdf", "contract-en-libreoffice.pdf"], "\(outbox)")
        #expect(r.out.contains("\"code\" : \"not-approved\"") || r.out.contains("\"code\": \"not-approved\""), "the reason file is shown")
        #expect(r.out.contains("已盖章并交付"), "the Chinese report is shown")
        #expect(r.out.contains("audit log intact"))
    }

    @Test func troubleshootingHasOneEntryPerReasonCode() throws {
        let text = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("docs/guide/05-troubleshooting.md"), encoding: .utf8)
        for code in StageRejection.Code.allCases.map(\.rawValue) + ["duplicate", "stage-error", "delivery-record", "crash-loop"] {
            #expect(text.contains("## `\(code)`"), "no troubleshooting entry for \(code)")
            if let zh = ClerkText.nextStepZH(code) { #expect(text.contains(zh), "\(code): the Chinese next step is not the one the program writes") }
        }
    }
}
