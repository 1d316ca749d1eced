import Foundation
import Pipeline
import Stages

/// A pipeline the console watches: its folders, its approvals folder and its seal.
public struct ConsolePipeline: Sendable {
    /// Pipeline name.
    public var name: String
    /// Hot folder, work area, outbox, quarantine, archive.
    public var folders: Folders
    /// Where the approval stage reads signed manifests (nil: the pipeline has no approvals folder).
    public var approvals: URL?
    /// The seal the pipeline stamps with.
    public var seal: String?

    /// Loads a pipeline file with the standard stages.
    public static func load(_ path: String) throws -> ConsolePipeline {
        let c = try PipelineConfig.load(from: URL(fileURLWithPath: path), registry: StandardStages.registry())
        var approvals: URL? = nil
        if let st = c.stages.first(where: { $0.kind == "approval" }), case .string(let m)? = st.settings["manifests"] {
            approvals = m.hasPrefix("/") ? URL(fileURLWithPath: m) : c.baseDir.appendingPathComponent(m).standardizedFileURL
        }
        var seal: String? = nil
        if case .object(let s)? = c.sections["seal"], case .string(let id)? = s["id"] { seal = id }
        return ConsolePipeline(name: c.name, folders: c.folders, approvals: approvals, seal: seal)
    }

    /// Document files (not hidden, not reason files, not the journal) directly in a folder.
    static func documents(in dir: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { n in
            !n.hasPrefix(".") && !n.hasSuffix(".reason.json") && !n.hasPrefix("journal.sqlite") &&
                ((try? FileManager.default.attributesOfItem(atPath: dir.appendingPathComponent(n).path)[.type] as? FileAttributeType) == .typeRegular)
        }.sorted()
    }

    /// Counts per folder.
    public func counts() -> (inbox: Int, work: Int, outbox: Int, quarantine: Int) {
        (Self.documents(in: folders.inbox).count, Self.documents(in: folders.work).count,
         Self.documents(in: folders.outbox).count, Self.documents(in: folders.quarantine).count)
    }

    /// A plain file name that names a file directly inside `dir` (no separators, no `..`, no hidden
    /// files, no symbolic links out), or nil.
    public static func safeFile(_ name: String, in dir: URL) -> URL? {
        guard !name.isEmpty, name.count <= 255, !name.contains("/"), !name.contains("\\"), !name.contains("\0"),
              !name.hasPrefix("."), name != ".." else { return nil }
        let url = dir.appendingPathComponent(name)
        let resolved = url.resolvingSymlinksInPath().standardizedFileURL
        guard resolved.deletingLastPathComponent().path == dir.resolvingSymlinksInPath().standardizedFileURL.path else { return nil }
        guard (try? FileManager.default.attributesOfItem(atPath: url.path)[.type] as? FileAttributeType) == .typeRegular else { return nil }
        return url
    }
}
