import ArgumentParser
import Foundation
import Governance
import Logging
import Pipeline
import Render
import Signing
import Stages
import Token

/// `sealbatch stamp FILE -o OUT --seal ID --approval MANIFEST` — one document through the pipeline's
/// stages (ingest, approval, render, sign, verify) and the same audit record.
struct StampCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stamp",
        abstract: localizedSummary("Seal one approved document through the same checks and audit as the pipeline.", zh: "对一份已批准的文件加盖电子印章，检查和审计与流水线相同。"),
        discussion: """
        The stamping user (--as, with --key or a password) must be an official-seal user with the use right on \
        the seal; the document's exact bytes must be listed in the approval manifest. The original is never \
        modified; OUT is written to a temporary name, fsynced and renamed. \
        Documents above --max-size-mb (default 2048 MB) are refused (too-large) before anything is read. \
        Exit codes: 0 stamped; 1 refused (reason code on stderr); 2 usage or configuration error.
        """)

    func validate() throws {
        guard maxSizeMB > 0, maxSizeMB <= 1 << 30 else { throw ValidationError("--max-size-mb: a number of megabytes above 0") }
        let a = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path
        let b = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
        guard a != b else { throw ValidationError("-o names the document itself; the original is never modified: choose another output") }
    }

    @Argument(help: "The PDF to stamp.") var file: String
    @Option(name: .shortAndLong, help: "Where to write the sealed PDF.") var output: String
    @Option(help: "Seal id.") var seal: String
    @Option(help: ArgumentHelp("Signed approval manifest listing the document.", valueName: "file")) var approval: String?
    @Option(name: .customLong("token-config"), help: "Token configuration file (token.json).") var tokenConfig: String
    @Option(help: "PAdES level: B-B, B-T, B-LT or B-LTA.") var level: String = "B-B"
    @Option(help: "Time-stamp authority URL (repeatable).") var tsa: [String] = []
    @Option(help: ArgumentHelp("Placement as JSON, e.g. '{\"anchor\": {\"text\": \"甲方（盖章）\"}}'.", valueName: "json")) var placement: String?
    @Option(help: .hidden) var design: String? // gone: stamp draws the registered seal's design
    @Option(help: "Trust anchor for the final verification (default: the seal chain's root).") var trust: [String] = []
    @Option(help: "Keep a sealed copy and receipt under this archive folder.") var archive: String?
    @Option(name: .customLong("max-size-mb"), help: ArgumentHelp("Refuse documents larger than this many MB (too-large).", valueName: "MB"))
    var maxSizeMB: Int = IngestStage.defaultMaxBytes >> 20
    @OptionGroup var reg: GovRegistryOptions
    @OptionGroup var auth: GovAuthOptions
    @OptionGroup var pin: PINOptions
    @Option(name: .customLong("pdf-password-fd"), help: ArgumentHelp("Read the password of a PDF that needs one to open from this open file descriptor (e.g. --pdf-password-fd 4 4<pwfile).", valueName: "fd"))
    var pdfPasswordFD: Int32?

    func run() async throws {
        let registry: Registry
        do { registry = try reg.open() } catch { throw GovCLI.exit(error) }
        let user: AuthenticatedUser
        do { user = try await auth.authenticate(registry) } catch { throw GovCLI.exit(error) }
        if design != nil { throw ValidationError(SealSection.designMoved(seal).replacingOccurrences(of: "a pipeline", with: "stamp --design")) }
        let runtime = StagesRuntime(token: TokenSection(config: tokenConfig), seal: SealSection(id: seal, user: user.id),
                                    governance: nil, baseDir: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        runtime.use(registry: registry)
        if pin.pinFD != nil || pin.pinFile != nil || pin.pinEnv != nil { runtime.pinSourceOverride = try pin.source() }
        var manifest: SignedApprovalManifest?
        if let approval {
            do { manifest = try SignedApprovalManifest.parse(Array(try Data(contentsOf: URL(fileURLWithPath: approval)))) }
            catch { CLIMessage.write("approval-unreadable", "\(approval): \(error)"); throw ExitCode(2) }
        }
        var stamper = Stamper(runtime: runtime, manifest: manifest)
        guard let l = PAdESLevel(rawValue: level.uppercased()) else { throw ValidationError("--level: B-B, B-T, B-LT or B-LTA") }
        stamper.level = l
        stamper.tsa = try tsa.map { guard let u = URL(string: $0) else { throw ValidationError("--tsa: not a URL: \($0)") }; return u }
        if let placement {
            do { stamper.placement = try JSONDecoder().decode(PlacementSpec.self, from: Data(placement.utf8)) }
            catch { throw ValidationError("--placement: \(error)") }
        }
        stamper.trust = trust.map { URL(fileURLWithPath: $0) }
        stamper.archive = archive.map { URL(fileURLWithPath: $0) }
        stamper.maxBytes = maxSizeMB << 20
        if let pdfPasswordFD {
            do { stamper.pdfPassword = try PDFPasswordSource.fileDescriptor(pdfPasswordFD).read() }
            catch let e as PipelineError { CLIMessage.write(e); throw ExitCode(2) }
        }
        do {
            let out = try await stamper.stamp(input: URL(fileURLWithPath: file), output: URL(fileURLWithPath: output))
            let grant = out.job.facts[StageFacts.grant]
            print("stamped \(file) -> \(output) (seal \(seal), approval \(grant?.approval ?? "-"), sha256 \(out.outputSHA256))")
            do { try await GovCLI.checkpoint(registry) } catch { throw GovCLI.exit(error) }
        } catch let r as StageRejection {
            CLIMessage.write(r.code.rawValue, r.message, next: r.nextStep)
            do { try await GovCLI.checkpoint(registry) } catch { throw GovCLI.exit(error) }
            throw ExitCode(r.routing == .stopBatch ? 2 : 1)
        } catch let e as PipelineError {
            CLIMessage.write(e)
            throw ExitCode(2)
        }
    }
}
