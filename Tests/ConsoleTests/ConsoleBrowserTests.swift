import Foundation
import Subprocess
import Testing
import TestSupport

/// `sealbatch serve` on an ephemeral loopback port, driven by a real browser (Debian chromium +
/// chromium-driver through selenium) and by plain HTTP for the security checks.
struct NoSelenium: Error, CustomStringConvertible { var description: String { "python3 selenium is not installed (run `make deps`)" } }

@Suite(.serialized) struct ConsoleBrowserTests {
    /// Starts the console over a fresh registry; returns the process and its URL.
    static func startServer(_ w: ConsoleWorld, extra: [String] = []) throws -> (Subprocess, String) {
        let log = w.dir.appendingPathComponent("serve.stderr.log").path
        let p = try TestSupport.spawn(TestSupport.sealbatchBinary.path,
                                      ["serve", "--registry", w.registryPath, "--pipeline", w.pipelineFile.path, "--listen", "127.0.0.1:0",
                                       "--max-upload-mib", "1", "--trust", w.dir.appendingPathComponent("keys/ca.crt").path] + extra,
                                      stdout: .pipe, stderr: .file(log))
        guard let line = p.readStdoutLine(timeout: 60), let r = line.range(of: "http://") else {
            p.killAndWait()
            throw NSError(domain: "console", code: 1, userInfo: [NSLocalizedDescriptionKey: "serve did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")"])
        }
        return (p, String(line[r.lowerBound...]).trimmingCharacters(in: .whitespaces))
    }

    static func haveBrowser() throws -> Bool {
        let chromium = try TestSupport.haveTool("chromium"), driver = try TestSupport.haveTool("chromedriver")
        let selenium = (try? TestSupport.run("python3", ["-c", "import selenium"]).status) == 0
        if !selenium && TestSupport.toolsRequired { throw NoSelenium() }
        if !selenium { try TestSupport.skip("the selenium Python package is not installed (run `make deps`)") }
        return chromium && driver && selenium
    }

    /// Runs a Python script against the console; while it runs, a `stamp.request` file it writes (holding a
    /// document hash) is answered by appending a seal use to the audit log, as the pipeline would.
    static func runScript(_ name: String, _ w: ConsoleWorld, url: String, artefacts: URL, timeout: Double = 150) throws -> (Int32, String) {
        let script = TestSupport.packageRoot.appendingPathComponent("Tests/ConsoleTests/browser/\(name)").path
        let signals = w.dir.appendingPathComponent("signals")
        try FileManager.default.createDirectory(at: signals, withIntermediateDirectories: true)
        let out = w.dir.appendingPathComponent("\(name).log").path
        let env = ["CONSOLE_URL": url, "ARTEFACTS": artefacts.path, "SIGNALS": signals.path, "SEALBATCH": TestSupport.sealbatchBinary.path,
                   "REGISTRY": w.registryPath, "KEYS": w.dir.appendingPathComponent("keys").path, "KEY_PASSWORD": w.keyPassword,
                   "PIPELINE_ROOT": w.pipelineRoot.path, "SAMPLE_PDF": TestSupport.packageRoot.appendingPathComponent("samples/contract-en-libreoffice.pdf").path,
                   "PASSWORDS": ConsoleWorld.passwords.map { "\($0.key)=\($0.value)" }.joined(separator: ","), "PYTHONUNBUFFERED": "1"]
        let py = try TestSupport.spawn("python3", [script], env: env, stdout: .file(out), stderr: .file(out + ".err"))
        defer { if py.isRunning { py.killAndWait() } }
        let start = Date()
        let request = signals.appendingPathComponent("stamp.request")
        while py.isRunning {
            if let sha = try? String(contentsOf: request, encoding: .utf8) {
                try FileManager.default.removeItem(at: request)
                try w.recordStamp(sha256: sha.trimmingCharacters(in: .whitespacesAndNewlines))
                try Data("\(Date().timeIntervalSince1970)".utf8).write(to: signals.appendingPathComponent("stamp.done"))
            }
            if Date().timeIntervalSince(start) > timeout { break }
            _ = py.wait(timeout: 0.02)
        }
        let status = py.wait(timeout: 1) ?? -1
        let text = ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "") + ((try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? "")
        return (status, text)
    }

    @Test func everyRoleSeesExactlyItsPagesAndTheFlowWorksInABrowser() throws {
        guard try Self.haveBrowser() else { return }
        let t0 = Date()
        let w = try ConsoleWorld()
        let (server, url) = try Self.startServer(w)
        defer { server.killAndWait() }
        let artefacts = try TestSupport.tempDir("console-screenshots")
        let (status, output) = try Self.runScript("console_browser.py", w, url: url, artefacts: artefacts)
        print(output)
        #expect(status == 0, "browser script failed:\n\(output)")
        let shots = (try? FileManager.default.contentsOfDirectory(atPath: artefacts.path)) ?? []
        #expect(shots.filter { $0.hasSuffix(".png") }.count >= 15, "screenshots in \(artefacts.path): \(shots)")
        print("console browser test: \(String(format: "%.1f", Date().timeIntervalSince(t0))) s, screenshots in \(artefacts.path)")
    }

    @Test func httpSecurity() throws {
        let w = try ConsoleWorld()
        let (server, url) = try Self.startServer(w)
        defer { server.killAndWait() }
        let (status, output) = try Self.runScript("console_http_security.py", w, url: url, artefacts: w.dir)
        print(output)
        #expect(status == 0, "security script failed:\n\(output)")
    }
}
