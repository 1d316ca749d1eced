import Foundation
import Pipeline
import Testing

@Suite struct ConfigTests {
    func load(_ json: String) throws -> PipelineConfig {
        try PipelineConfig.decode(Data(json.utf8), baseDir: URL(fileURLWithPath: "/srv/sealbatch"), registry: Bench.registry())
    }
    func error(_ json: String) -> PipelineError? {
        do { _ = try load(json); return nil } catch let e as PipelineError { return e } catch { return nil }
    }

    @Test func decodesCommentedPipelineWithDefaults() throws {
        let c = try load(Bench.pipelineJSON(settle: 1.5, extra: #""token": {"label": "x"},"#))
        #expect(c.name == "test")
        #expect(c.folders.inbox.path == "/srv/sealbatch/inbox")
        #expect(c.journal.path == "/srv/sealbatch/work/journal.sqlite")
        #expect(c.watch.settleSeconds == 1.5)
        #expect(c.watch.pattern == "*.pdf")
        #expect(c.stages.map(\.kind) == ["checksum", "gate", "append", "check"])
        #expect(c.stages[2].concurrency == 2)
        #expect(c.sections["token"] == .object(["label": .string("x")]))
        let built = try c.makeStages(registry: Bench.registry())
        #expect(built[2].serialized)
        #expect(built[0].concurrency == 2)
    }

    @Test func rejectsUnknownTopLevelKeyWithItsPath() {
        let e = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "checksum"}], "colour": "red"}"#)
        #expect(e?.code == .unknownKey)
        #expect(e?.path == "colour")
    }

    @Test func rejectsUnknownNestedKeyWithItsPath() {
        let e = error(#"{"name": "x", "folders": {"root": "r"}, "watch": {"settle": 2}, "stages": [{"kind": "checksum"}]}"#)
        #expect(e?.code == .unknownKey)
        #expect(e?.path == "watch.settle")
        let f = error(#"{"name": "x", "folders": {"root": "r", "inbx": "i"}, "stages": [{"kind": "checksum"}]}"#)
        #expect(f?.path == "folders.inbx")
    }

    @Test func rejectsUnknownStageSettingWithItsPath() {
        let e = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "checksum"}, {"kind": "gate"}, {"kind": "append", "delay": 3}]}"#)
        #expect(e?.code == .unknownKey)
        #expect(e?.path == "stages[2].delay")
        #expect(e?.message.contains("delay-ms") == true)
    }

    @Test func rejectsImpossibleOrderNamingTheStage() {
        let e = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "checksum"}, {"kind": "append"}, {"kind": "gate"}]}"#)
        #expect(e?.code == .impossibleOrder)
        #expect(e?.path == "stages[1].kind")
        #expect(e?.message.contains("'approved'") == true)
        #expect(e?.message.contains("gate") == true)
    }

    @Test func rejectsDuplicateStage() {
        let e = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "checksum"}, {"kind": "checksum"}]}"#)
        #expect(e?.code == .impossibleOrder)
        #expect(e?.path == "stages[1].kind")
    }

    @Test func rejectsUnknownStageKindAndBadNumbers() {
        let e = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "shred"}]}"#)
        #expect(e?.code == .unknownStage)
        #expect(e?.path == "stages[0].kind")
        let c = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "checksum", "concurrency": 0}]}"#)
        #expect(c?.path == "stages[0].concurrency")
        let t = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "checksum", "concurrency": "two"}]}"#)
        #expect(t?.code == .typeMismatch)
        #expect(t?.path == "stages[0].concurrency")
        let w = error(#"{"name": "x", "folders": {"root": "r"}, "watch": {"settle-seconds": "soon"}, "stages": [{"kind": "checksum"}]}"#)
        #expect(w?.code == .typeMismatch)
        #expect(w?.path == "watch.settle-seconds")
        let d = error(#"{"name": "x", "folders": {"root": "r"}, "stages": [{"kind": "checksum"}, {"kind": "gate"}, {"kind": "append", "delay-ms": "x"}]}"#)
        #expect(d?.path == "stages[2].delay-ms")
    }

    @Test func rejectsMissingAndSharedFolders() {
        let m = error(#"{"name": "x", "folders": {"inbox": "a"}, "stages": [{"kind": "checksum"}]}"#)
        #expect(m?.code == .missingKey)
        #expect(m?.path == "folders.work")
        let s = error(#"{"name": "x", "folders": {"root": "r", "outbox": "r/inbox"}, "stages": [{"kind": "checksum"}]}"#)
        #expect(s?.code == .invalidValue)
        #expect(s?.path == "folders.outbox")
        let n = error(#"{"folders": {"root": "r"}, "stages": [{"kind": "checksum"}]}"#)
        #expect(n?.path == "name")
    }

    @Test func reportsSyntaxErrors() {
        let e = error(#"{"name": "x", "#)
        #expect(e?.code == .syntax)
    }

    @Test func stripsCommentsButNotSlashesInStrings() throws {
        let data = stripJSONComments(Data(#"{"a": "http://x/*y*/", /* c */ "b": 1 // end"#.utf8) + Data("\n}".utf8))
        let v = try JSONDecoder().decode(JSONValue.self, from: data)
        #expect(v == .object(["a": .string("http://x/*y*/"), "b": .number(1)]))
    }
}
