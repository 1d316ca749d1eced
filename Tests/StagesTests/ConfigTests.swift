import Foundation
import Pipeline
import Stages
import TestSupport
import Testing

@Suite struct StagesConfigTests {
    func error(_ json: String) -> PipelineError? {
        do { _ = try PipelineConfig.decode(Data(json.utf8), baseDir: URL(fileURLWithPath: "/tmp"), registry: StandardStages.registry()); return nil }
        catch let e as PipelineError { return e } catch { return PipelineError(.io, "\(error)") }
    }
    let head = #""name": "x", "folders": {"root": "r"}, "governance": {"registry": "g.sqlite"}, "token": {"config": "t.json"}, "seal": {"id": "s", "user": "u"}"#

    @Test func shippedPipelinesLoad() throws {
        let dir = TestSupport.packageRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files == ["contracts-nightly.json", "demo.json", "verify-outgoing.json"])
        for f in files {
            let c = try PipelineConfig.load(from: dir.appendingPathComponent(f), registry: StandardStages.registry())
            #expect(!c.stages.isEmpty, "\(f)")
        }
        let demo = try PipelineConfig.load(from: dir.appendingPathComponent("demo.json"), registry: StandardStages.registry())
        #expect(demo.stages.map(\.kind) == ["ingest", "approval", "render", "sign", "verify", "archive"])
        #expect(demo.folders.inbox.path.hasSuffix("demo-out/inbox"))
    }

    @Test func signBeforeApprovalIsRejectedAtLoad() {
        let e = error("{\(head), \"stages\": [{\"kind\": \"ingest\"}, {\"kind\": \"render\"}, {\"kind\": \"sign\"}, {\"kind\": \"approval\"}]}")
        #expect(e?.code == .impossibleOrder)
        #expect(e?.path == "stages[2].kind")
        #expect(e?.message.contains("approved") == true)
    }

    @Test func signWithoutRenderIsRejectedAtLoad() {
        let e = error("{\(head), \"stages\": [{\"kind\": \"ingest\"}, {\"kind\": \"approval\"}, {\"kind\": \"sign\"}]}")
        #expect(e?.path == "stages[2].kind")
        #expect(e?.message.contains("render") == true)
    }

    @Test func timestampLevelNeedsTSA() {
        let e = error("{\(head), \"stages\": [{\"kind\": \"ingest\"}, {\"kind\": \"approval\"}, {\"kind\": \"render\"}, {\"kind\": \"sign\", \"level\": \"B-T\"}]}")
        #expect(e?.path == "stages[3].tsa")
        let l = error("{\(head), \"stages\": [{\"kind\": \"ingest\"}, {\"kind\": \"approval\"}, {\"kind\": \"render\"}, {\"kind\": \"sign\", \"level\": \"B-Z\"}]}")
        #expect(l?.path == "stages[3].level")
    }

    @Test func renderVisibleIsPreferredOrRequiredAndNotWithInvisible() {
        func stages(_ render: String) -> String {
            "{\(head), \"stages\": [{\"kind\": \"ingest\"}, {\"kind\": \"approval\"}, {\"kind\": \"render\", \(render)}, {\"kind\": \"sign\"}]}"
        }
        #expect(error(stages(#""visible": "required""#)) == nil)
        #expect(error(stages(#""visible": "preferred", "invisible": true"#)) == nil)
        let bad = error(stages(#""visible": "always""#))
        #expect(bad?.path == "stages[2].visible" && bad?.message.contains("required") == true, "\(String(describing: bad))")
        let both = error(stages(#""visible": "required", "invisible": true"#))
        #expect(both?.path == "stages[2].visible" && both?.message.contains("invisible") == true, "\(String(describing: both))")
    }

    @Test func unknownKeysInSectionsAndPlacementNameTheirPath() {
        let s = error(#"{"name": "x", "folders": {"root": "r"}, "seal": {"id": "s", "user": "u", "colour": "red"}, "stages": [{"kind": "ingest"}]}"#)
        #expect(s?.code == .unknownKey)
        #expect(s?.path == "seal.colour")
        let t = error(#"{"name": "x", "folders": {"root": "r"}, "token": {"config": "t.json", "pin": "1234"}, "stages": [{"kind": "ingest"}]}"#)
        #expect(t?.path == "token.pin")
        let p = error("{\(head), \"stages\": [{\"kind\": \"ingest\"}, {\"kind\": \"render\", \"placement\": {\"corner\": \"middle\"}}]}")
        #expect(p?.path?.hasPrefix("stages[1].placement") == true)
        let v = error("{\(head), \"stages\": [{\"kind\": \"ingest\"}, {\"kind\": \"verify\", \"revocation\": \"maybe\"}]}")
        #expect(v?.path == "stages[1].revocation")
    }
}
