import ArgumentParser
import Foundation
import Render
import Stages

/// `sealbatch preview FILE (--pipeline P | --config F | --design D --placement P) [--pages …] -o DIR`:
/// renders the pages as they will look after sealing to PNG, without touching the token.
struct PreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: localizedSummary("Render pages as they will look after sealing (PNG), without the token.", zh: "预览盖章后的页面效果（PNG 图片），不需要插入印章密钥。"),
        discussion: """
        With --pipeline the registered seal's design (the pipeline's registry and seal.id, as run draws it) and \
        the placement of its `render` stage are used; otherwise the design and placement come from one \
        JSON file {"design": …, "placement": …} (--config), or from two files (--design, --placement). \
        See docs/render.md for the JSON. Writes DIR/<name>-page-<n>.png and prints where each seal went. \
        Exit codes: 0 ok, 1 the document could not be previewed, 2 configuration error, 3 done with warnings.
        """)

    @Argument(help: "The PDF to preview (never modified).")
    var file: String

    @Option(help: "Pipeline JSON: the design and placement of its `render` stage are used.")
    var pipeline: String?

    @Option(help: "JSON file with {\"design\": …, \"placement\": …}.")
    var config: String?

    @Option(help: "Seal design JSON file.")
    var design: String?

    @Option(help: "Placement JSON file.")
    var placement: String?

    @Option(help: "Pages to render: \"sealed\" (default: pages that get a seal), \"all\", or a list like 1,3-4.")
    var pages: String = "sealed"

    @Option(help: "Resolution of the PNGs.")
    var dpi: Double = 100

    @Option(name: [.short, .customLong("output")], help: "Output folder (created if needed).")
    var output: String

    func validate() throws {
        let sources = [pipeline != nil, config != nil, design != nil || placement != nil].filter { $0 }.count
        if sources != 1 { throw ValidationError("give exactly one of --pipeline, --config, or --design with --placement") }
        if (design == nil) != (placement == nil) { throw ValidationError("--design and --placement go together") }
        if !(20...600).contains(dpi) { throw ValidationError("--dpi must be within 20…600") }
    }

    func run() throws {
        let settings: RenderSettings
        do { settings = try loadSettings() } catch let e as ConfigProblem {
            CLIMessage.write("invalid-settings", e.message)
            throw ExitCode(2)
        }
        let url = URL(fileURLWithPath: file)
        let result: PreviewResult
        do {
            let count = try pageCount(url)
            let list: [Int]?
            do { list = try pageList(count: count) } catch let e as ConfigProblem {
                CLIMessage.write("invalid-pages", e.message)
                throw ExitCode(2)
            }
            result = try Preview.render(fileURL: url, settings: settings, pages: list, dpi: dpi)
        } catch let e as RenderError {
            CLIMessage.write(e)
            throw ExitCode([.invalidDesign, .invalidPlacement, .fontNotFound, .imageUnreadable].contains(e.code) ? 2 : 1)
        }
        let dir = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let base = url.deletingPathExtension().lastPathComponent
        for p in result.pages {
            let out = dir.appendingPathComponent("\(base)-page-\(p.pageIndex + 1).png")
            try Data(p.png).write(to: out)
            print("wrote \(out.path)")
        }
        for w in result.placements {
            let what = w.slice.map { "cross-page slice \($0.index + 1)/\($0.count)" } ?? "seal"
            print(String(format: "%@ on page %d at [%.1f %.1f %.1f %.1f] pt", what, w.pageIndex + 1, w.rect.llx, w.rect.lly, w.rect.urx, w.rect.ury))
        }
        for w in result.warnings { print("warning: \(w)") }
        if !result.warnings.isEmpty { throw ExitCode(3) }
    }

    struct ConfigProblem: Error { let message: String }

    private func pageCount(_ url: URL) throws -> Int {
        guard FileManager.default.isReadableFile(atPath: url.path) else {
            throw RenderError(.documentUnreadable, "file not found or not readable", file: url.lastPathComponent)
        }
        return try Preview.pageCount(fileURL: url)
    }

    /// 0-based pages, or nil for "sealed".
    private func pageList(count: Int) throws -> [Int]? {
        switch pages {
        case "sealed": return nil
        case "all": return Array(0..<count)
        default:
            var out: [Int] = []
            for part in pages.split(separator: ",") {
                let ends = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard (1...2).contains(ends.count), let a = ends.first!, let b = ends.last!, a >= 1, b >= a else {
                    throw ConfigProblem(message: "--pages '\(pages)' is not \"sealed\", \"all\" or a list like 1,3-4")
                }
                out += (a...b).map { $0 - 1 }
            }
            return out
        }
    }

    private func loadSettings() throws -> RenderSettings {
        if let pipeline { return try Self.settings(fromPipeline: URL(fileURLWithPath: pipeline)) }
        if let config {
            let url = URL(fileURLWithPath: config)
            let s: RenderSettings = try Self.decode(RenderSettings.self, try Self.readJSON(url), what: config)
            return RenderSettings(design: Self.resolveImage(s.design, base: url), placement: s.placement)
        }
        let d = URL(fileURLWithPath: design!), p = URL(fileURLWithPath: placement!)
        let sd: SealDesign = try Self.decode(SealDesign.self, try Self.readJSON(d), what: design!)
        let sp: PlacementSpec = try Self.decode(PlacementSpec.self, try Self.readJSON(p), what: placement!)
        return RenderSettings(design: Self.resolveImage(sd, base: d), placement: sp)
    }

    /// The `render` stage of a pipeline: the registered seal's design (the pipeline's `governance`
    /// registry and `seal.id`, as `run` draws it) and the stage's `placement` (else bottom-right of the
    /// last page, as the pipeline does). A pipeline that still carries a design is refused, as `run` refuses it.
    static func settings(fromPipeline url: URL) throws -> RenderSettings {
        let root = try JSONSerialization.jsonObject(with: try readJSON(url))
        guard let obj = root as? [String: Any], let stages = obj["stages"] as? [Any] else {
            throw ConfigProblem(message: "\(url.path): not a pipeline file (no \"stages\" array)")
        }
        guard let (i, stage) = stages.enumerated().compactMap({ (i, s) in
            (s as? [String: Any]).flatMap { $0["kind"] as? String == "render" ? (i, $0) : nil }
        }).first else {
            throw ConfigProblem(message: "\(url.path): the pipeline has no \"render\" stage")
        }
        let sealObj = obj["seal"] as? [String: Any]
        let sealID = sealObj?["id"] as? String
        if stage["design"] != nil { throw ConfigProblem(message: "\(url.path): stages[\(i)].design: " + SealSection.designMoved(sealID ?? "SEAL")) }
        if sealObj?["design"] != nil { throw ConfigProblem(message: "\(url.path): seal.design: " + SealSection.designMoved(sealID ?? "SEAL")) }
        guard let sealID, let user = sealObj?["user"] as? String else {
            throw ConfigProblem(message: "\(url.path): seal: name the registered seal (\"seal\": {\"id\": …, \"user\": …}); its design is drawn")
        }
        guard let gov = obj["governance"] as? [String: Any], let registry = gov["registry"] as? String else {
            throw ConfigProblem(message: "\(url.path): governance.registry: the seal's design is read from the registry; name it")
        }
        let runtime = StagesRuntime(token: nil, seal: SealSection(id: sealID, user: user),
                                    governance: GovernanceSection(registry: registry, auditKey: gov["audit-key"] as? String),
                                    baseDir: url.deletingLastPathComponent())
        let d: SealDesign
        do { d = try runtime.registeredDesign() }
        catch let e as StageRejection { throw ConfigProblem(message: "\(url.path): \(e.message)") }
        catch { throw ConfigProblem(message: "\(url.path): the registered design of seal \(sealID) cannot be read: \(error)") }
        let placementJSON: Any = stage["placement"] ?? ["corner": "bottom-right"]
        let p = try decode(PlacementSpec.self, try JSONSerialization.data(withJSONObject: placementJSON), what: "\(url.path): stages[\(i)].placement")
        return RenderSettings(design: d, placement: p)
    }

    static func decode<T: Decodable>(_ t: T.Type, _ data: Data, what: String) throws -> T {
        do { return try JSONDecoder().decode(t, from: data) } catch {
            throw ConfigProblem(message: "\(what): \(describeDecodingError(error))")
        }
    }

    static func resolveImage(_ d: SealDesign, base: URL) -> SealDesign {
        if case .image(let i) = d { return .image(i.resolved(against: base.deletingLastPathComponent())) }
        return d
    }

    /// Reads a JSON file, dropping `//` line comments outside strings (pipeline files allow them).
    static func readJSON(_ url: URL) throws -> Data {
        let bytes: [UInt8]
        do { bytes = [UInt8](try Data(contentsOf: url)) } catch {
            throw ConfigProblem(message: "cannot read \(url.path): \(error.localizedDescription)")
        }
        var out: [UInt8] = []
        var inString = false, escaped = false, i = 0
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                out.append(b)
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
            } else if b == 0x22 {
                inString = true; out.append(b)
            } else if b == 0x2F, i + 1 < bytes.count, bytes[i + 1] == 0x2F {
                while i < bytes.count, bytes[i] != 0x0A { i += 1 }
                continue
            } else {
                out.append(b)
            }
            i += 1
        }
        return Data(out)
    }
}
