import Foundation
import Testing
@testable import Render
import TestSupport

/// `sealbatch preview` end to end (the built binary).
@Suite struct PreviewCommandTests {
    var bin: String { TestSupport.sealbatchBinary.path }

    /// A pipeline's design lives in the registry now (StagesTests.RegisteredDesignTests preview it from
    /// there); one that still carries `seal.design` is refused, and the same settings work from --config.
    @Test func previewRefusesAPipelineDesignAndDrawsTheSameSettingsFromAConfig() throws {
        guard FileManager.default.isExecutableFile(atPath: bin) else { Issue.record("sealbatch not built at \(bin)"); return }
        let dir = try TestSupport.tempDir("render-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let pipeline = dir.appendingPathComponent("contracts.json")
        try Data("""
        // contracts pipeline (only the render stage matters to preview)
        {"name": "contracts", "folders": {"inbox": "in"},
         "seal": {"id": "contract-seal", "user": "clerk", "design": {"kind": "round", "organisation": "某某市某某有限公司", "name": "合同专用章"}},
         "stages": [{"kind": "ingest"},
                    {"kind": "render", "placement": {"anchor": {"text": "Party A (Seal)"}, "cross-page": {"pages": [1, 2]}}}, // seal + 骑缝章
                    {"kind": "sign"}]}
        """.utf8).write(to: pipeline)
        let input = RT.samples.appendingPathComponent("contract-en-libreoffice.pdf")
        let out = dir.appendingPathComponent("out")
        let refused = try TestSupport.run(bin, ["preview", input.path, "--pipeline", pipeline.path, "-o", out.path, "--dpi", "40"])
        #expect(refused.status == 2 && refused.err.contains("seal.design") && refused.err.contains("seal rebind contract-seal --design"), "\(refused.err)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        let cfg = dir.appendingPathComponent("render.json")
        try Data(#"{"design": {"kind": "round", "organisation": "某某市某某有限公司", "name": "合同专用章"}, "placement": {"anchor": {"text": "Party A (Seal)"}, "cross-page": {"pages": [1, 2]}}}"#.utf8).write(to: cfg)
        let r = try TestSupport.run(bin, ["preview", input.path, "--config", cfg.path, "-o", out.path, "--dpi", "40"])
        #expect(r.status == 0, "\(r.out) \(r.err)")
        let files = try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
        #expect(files == ["contract-en-libreoffice-page-1.png", "contract-en-libreoffice-page-2.png", "contract-en-libreoffice-page-3.png"])
        #expect(r.out.contains("cross-page slice 2/2 on page 2"))
        let page3 = try RasterImage(png: [UInt8](try Data(contentsOf: out.appendingPathComponent(files[2]))))
        #expect(page3.redCount() > 100)
    }

    @Test func configurationErrorsExitWith2AndNameTheKey() throws {
        guard FileManager.default.isExecutableFile(atPath: bin) else { Issue.record("sealbatch not built at \(bin)"); return }
        let dir = try TestSupport.tempDir("render-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = dir.appendingPathComponent("render.json")
        try Data(##"{"design": {"kind": "round", "organisation": "X", "colour": "#FF0000"}, "placement": {"page": "last"}}"##.utf8).write(to: cfg)
        let input = RT.samples.appendingPathComponent("contract-en-libreoffice.pdf")
        let r = try TestSupport.run(bin, ["preview", input.path, "--config", cfg.path, "-o", dir.path])
        #expect(r.status == 2)
        #expect(r.err.contains("design.colour"))
        let missing = try TestSupport.run(bin, ["preview", input.path, "-o", dir.path])
        #expect(missing.status != 0 && missing.err.contains("exactly one of"))
    }

    @Test func missingAnchorExitsWith1AndWarningsWith3() throws {
        guard FileManager.default.isExecutableFile(atPath: bin) else { Issue.record("sealbatch not built at \(bin)"); return }
        let dir = try TestSupport.tempDir("render-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = RT.samples.appendingPathComponent("contract-en-libreoffice.pdf")
        let design = dir.appendingPathComponent("d.json"), place = dir.appendingPathComponent("p.json")
        try Data(#"{"kind": "square", "characters": "张三之印"}"#.utf8).write(to: design)
        try Data(#"{"anchor": {"text": "Party C (Seal)"}}"#.utf8).write(to: place)
        let r = try TestSupport.run(bin, ["preview", input.path, "--design", design.path, "--placement", place.path, "-o", dir.path])
        #expect(r.status == 1 && r.err.contains("anchor-not-found"))
        try Data(#"{"anchor": {"text": "Party C (Seal)", "fallback": "last-page"}}"#.utf8).write(to: place)
        let w = try TestSupport.run(bin, ["preview", input.path, "--design", design.path, "--placement", place.path, "-o", dir.path])
        #expect(w.status == 3 && w.out.contains("warning: anchor text"))
    }
}
