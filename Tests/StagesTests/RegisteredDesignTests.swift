import Foundation
import Governance
import Logging
@testable import Pipeline
import Render
import Signing
import Stages
import TestSupport
import Testing
import Token

/// The registered seal is the one definition of how the seal looks: `preview --pipeline` and `run`
/// draw the registry's design; a pipeline that still carries a design is refused; a seal whose stored
/// design is an old registry's free text refuses to stamp (no default design).
@Suite(.serialized) struct RegisteredDesignTests {
    var bin: String { TestSupport.sealbatchBinary.path }

    func engine(_ config: PipelineConfig) throws -> Engine {
        let shared = SharedObjects()
        let stages = try config.makeStages(registry: StandardStages.registry(), shared: shared)
        return Engine(config: config, stages: stages, journal: try Journal(url: config.journal), logger: quietLogger,
                      metricsFactory: PrometheusRegistry())
    }

    /// `seal on page 3 at [a b c d] pt` lines of `sealbatch preview`, as `page 3 at [a b c d]`.
    func previewPlacements(_ out: String) -> [String] {
        out.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("seal on ") else { return nil }
            return String(line.dropFirst("seal on ".count)).replacingOccurrences(of: " pt", with: "")
        }
    }

    @Test func previewAndRunDrawTheSameRegisteredDesign() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("registered-design")
        let inbox = root.appendingPathComponent("inbox")
        let docs = try SamplePDFs.make(in: inbox, count: 1, prefix: "design")
        let manifest = try world.approve(docs)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("approvals"), withIntermediateDirectories: true)
        try Data(manifest.fileBytes()).write(to: root.appendingPathComponent("approvals/batch.json"))
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(world.pipelineJSON().utf8).write(to: cfg)

        // preview reads the registry named by the pipeline: the registered 38 mm seal (107.7 pt)
        let staged = root.appendingPathComponent("preview-input.pdf")
        try FileManager.default.copyItem(at: docs[0], to: staged)
        let p = try TestSupport.run(bin, ["preview", staged.path, "--pipeline", cfg.path, "-o", root.appendingPathComponent("preview").path, "--dpi", "40"])
        #expect(p.status == 0, "\(p.out) \(p.err)")
        let previewed = previewPlacements(p.out)
        #expect(previewed.count == 1, "\(p.out)")
        let registered = try #require(try world.registry.seal(SealWorld.sealID)).design
        guard case .design(let d) = registered else { Issue.record("the world's seal has no design: \(registered)"); return }
        #expect(abs(d.sizeMM.width - 38) < 0.01)
        if let first = previewed.first {
            let nums = first.split(whereSeparator: { "[] ".contains($0) }).compactMap { Double($0) }
            #expect(nums.count == 5 && abs((nums[3] - nums[1]) - 38 * 72 / 25.4) < 0.2, "\(first)")
        }

        // run seals with the same design at the same place
        let summary = try await engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry())).run(mode: .once)
        #expect(summary.delivered == 1, "\(summary.table())")
        let receipts = try FileManager.default.subpathsOfDirectory(atPath: root.appendingPathComponent("archive").path).filter { $0.hasSuffix("receipt.json") }
        #expect(receipts.count == 1)
        if let r = receipts.first {
            let receipt = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("archive").appendingPathComponent(r))) as? [String: Any]
            let placed = receipt?["placements"] as? [String]
            #expect(placed == previewed, "run \(placed ?? []) vs preview \(previewed)")
        }
    }

    @Test func aPipelineThatStillCarriesADesignIsRefusedEverywhere() throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util") else { return }
        let world = try SealWorld.shared()
        let root = try TestSupport.tempDir("pipeline-design")
        for (label, json) in [
            ("seal.design", world.pipelineJSON().replacingOccurrences(of: #""user": "clerk"}"#,
                                                                      with: #""user": "clerk", "design": {"kind": "round", "organisation": "X"}}"#)),
            ("stages[2].design", world.pipelineJSON().replacingOccurrences(of: #"{"kind": "render", "placement": {"corner": "bottom-right"}}"#,
                                                                           with: #"{"kind": "render", "placement": {"corner": "bottom-right"}, "design": {"kind": "round", "organisation": "X"}}"#)),
        ] {
            #expect(json != world.pipelineJSON(), "the test pipeline changed shape")
            let cfg = root.appendingPathComponent("\(label).json")
            try Data(json.utf8).write(to: cfg)
            // run: refused when the pipeline is read, naming the key and where the design goes
            #expect {
                _ = try engine(try PipelineConfig.load(from: cfg, registry: StandardStages.registry()))
            } throws: { e in
                let text = "\(e)"
                return text.contains(label) && text.contains("seal rebind \(SealWorld.sealID) --design")
            }
            // check and preview say the same
            let check = try TestSupport.run(bin, ["check", cfg.path])
            #expect(check.status != 0 && (check.out + check.err).contains("seal rebind"), "\(check.out) \(check.err)")
            let preview = try TestSupport.run(bin, ["preview", TestSupport.packageRoot.appendingPathComponent("samples/contract-en-libreoffice.pdf").path,
                                                    "--pipeline", cfg.path, "-o", root.appendingPathComponent("out").path])
            #expect(preview.status == 2 && preview.err.contains(label) && preview.err.contains("seal rebind"), "\(preview.err)")
        }
    }

    /// A registry written before designs were typed holds free text (`round`): that seal refuses to
    /// stamp with a message saying how to give it a design; nothing is sealed with a default design.
    @Test func anOldFreeTextAppearanceFailsClosed() async throws {
        guard try TestSupport.haveTool("python3"), try TestSupport.haveTool("softhsm2-util"), try TestSupport.haveTool("sqlite3") else { return }
        let world = try SealWorld.shared()
        let id = "old-style-\(UInt32.random(in: 0...UInt32.max))"
        try world.registry.registerSeal(id: id, name: "旧章", kind: .contract, organisation: "acme",
                                        certificateDER: try DevToken.derFromPEM(world.token.certificate), tokenURI: world.token.keyURI.description,
                                        design: .round(RoundSeal(organisation: "ACME 有限公司")), as: world.sadmin)
        try world.registry.grantSealRight(.use, on: id, to: "clerk", as: world.sadmin)
        let sql = try TestSupport.run("/usr/bin/env", ["sqlite3", world.registryPath, "UPDATE seal SET appearance = 'round' WHERE id = '\(id)';"])
        #expect(sql.status == 0, "\(sql.err)")
        let stored = try #require(try world.registry.seal(id)).design
        guard case .unusable(let text, let problem) = stored else { Issue.record("old text read as a design: \(stored)"); return }
        #expect(text == "round" && problem.contains("not a seal design"))
        #expect { _ = try stored.usable(seal: id) } throws: { "\($0)".contains("seal rebind \(id) --design") }

        let root = try TestSupport.tempDir("old-design")
        let cfg = root.appendingPathComponent("pipeline.json")
        try Data(world.pipelineJSON().replacingOccurrences(of: "\"id\": \"\(SealWorld.sealID)\"", with: "\"id\": \"\(id)\"").utf8).write(to: cfg)
        let preview = try TestSupport.run(bin, ["preview", TestSupport.packageRoot.appendingPathComponent("samples/contract-en-libreoffice.pdf").path,
                                                "--pipeline", cfg.path, "-o", root.appendingPathComponent("out").path])
        #expect(preview.status == 2 && preview.err.contains("no usable design") && preview.err.contains("seal rebind \(id) --design"), "\(preview.err)")
        let check = try TestSupport.run(bin, ["check", cfg.path])
        #expect(check.status != 0 && (check.out + check.err).contains("seal-design-invalid"), "\(check.out) \(check.err)")

        // a rebind with a design makes it usable again
        try world.registry.rebindSeal(id, design: .round(RoundSeal(organisation: "ACME 有限公司", name: "合同专用章")), as: world.sadmin)
        guard case .design = try #require(try world.registry.seal(id)).design else { Issue.record("rebind did not store the design"); return }
    }
}
