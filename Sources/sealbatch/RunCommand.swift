import ArgumentParser
import Foundation
import Logging
import Metrics
import PDF
import Pipeline
import Stages
import Token

/// `sealbatch run PIPELINE` — runs a pipeline: `--once` drains the inbox and exits; without it the
/// inbox is watched until SIGTERM/SIGINT (documents in flight finish first).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: localizedSummary("Run a pipeline (pipelines/*.json): drain the inbox once, or watch it as a daemon.", zh: "运行盖章流水线（pipelines/*.json）：处理一次收件文件夹，或作为后台服务持续监视。"),
        discussion: """
        Exit codes: 0 every document delivered; 1 some documents quarantined or the batch stopped (e.g. the \
        token refused the PIN); 2 configuration error (also: the token does not hold the registered seal's \
        certificate and key; nothing is sealed, audited seal.key-mismatch); 3 finished with warnings. \
        Progress goes to stderr (a bar on a terminal, plain lines otherwise); the summary table to stdout. \
        The first SIGTERM/SIGINT stops taking new documents and finishes those in flight; a second exits at once \
        (the journal resolves everything on the next start).
        """)

    @Argument(help: "Pipeline file (JSON with // comments).")
    var pipeline: String
    @Flag(help: "Drain the inbox (and anything an interrupted run left) and exit.")
    var once = false
    @Option(name: .customLong("metrics-port"), help: "Serve Prometheus metrics on 127.0.0.1:PORT (0 = any free port; overrides metrics.port).")
    var metricsPort: Int?
    @Option(name: .customLong("summary-json"), help: "Also write the run summary as JSON to this file.")
    var summaryJSON: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "notice"
    @Flag(name: .customLong("no-progress"), help: "No progress output.")
    var noProgress = false
    @Option(name: .customLong("audit-witness"), help: ArgumentHelp("Also write audit checkpoints to this witness (files on another file system, or 'syslog'; comma separated). Overrides governance.audit-witness and $SEALBATCH_AUDIT_WITNESS.", valueName: "path"))
    var auditWitness: String?
    @OptionGroup var pin: PINOptions
    @Option(name: .customLong("pdf-password-fd"), help: ArgumentHelp("Read the password of PDFs that need one to open from this open file descriptor (overrides the pipeline's pdf-password-file).", valueName: "fd"))
    var pdfPasswordFD: Int32?

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .notice
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let registry = StandardStages.registry()
        let config: PipelineConfig
        let stages: [BuiltStage]
        let shared = SharedObjects()
        do {
            config = try PipelineConfig.load(from: URL(fileURLWithPath: pipeline), registry: registry)
            stages = try config.makeStages(registry: registry, shared: shared)
        } catch let e as PipelineError {
            CLIMessage.write(e.code.rawValue, "\(pipeline): \(e)")
            throw ExitCode(2)
        }
        let env = StageEnvironment(sections: config.sections, baseDir: config.baseDir, folders: config.folders, shared: shared)
        let runtime = try StandardStages.runtime(env)
        if pin.pinFD != nil || pin.pinFile != nil || pin.pinEnv != nil { runtime.pinSourceOverride = try pin.source() }
        // The password of encrypted inputs that need one (read once, before anything is claimed; never logged).
        let pdfPassword: PDFPassword?
        do {
            let source = try pdfPasswordFD.map { PDFPasswordSource.fileDescriptor($0) } ?? PDFPasswordSource.from(sections: config.sections, baseDir: config.baseDir)
            pdfPassword = try source?.read()
        } catch let e as PipelineError {
            CLIMessage.write(e)
            throw ExitCode(2)
        }
        var logger = Logger(label: "sealbatch.run")
        logger.logLevel = level
        runtime.logger = logger
        // The checks of `sealbatch check`, before anything is opened for writing or created: a pipeline whose
        // registry, audit key, seal, trust anchors or folders are missing or broken does not start (exit 2).
        var preflight = PipelineCheck.Report(pipeline: pipeline)
        await PipelineCheck.check(config: config, stages: stages, runtime: runtime, mode: .runStart, auditWitness: auditWitness, into: &preflight)
        CheckCommand.printText(preflight, okLines: false)
        if !preflight.ok { throw ExitCode(2) }

        let prometheus = PrometheusRegistry()
        MetricsSystem.bootstrap(prometheus)
        var server: MetricsServer?
        if let port = metricsPort ?? config.metrics.port ?? (once ? nil : nil) {
            do {
                server = try MetricsServer(port: port, registry: prometheus)
                FileHandle.standardError.write(Data("metrics: http://127.0.0.1:\(server!.port)/metrics\n".utf8))
            } catch {
                CLIMessage.write("metrics", "the metrics endpoint could not start: \(error)")
                throw ExitCode(2)
            }
        }
        defer { server?.stop() }

        let journal: Journal
        do { journal = try Journal(url: config.journal) } catch {
            CLIMessage.write("journal", "the journal \(config.journal.path) cannot be opened: \(error)")
            throw ExitCode(2)
        }
        let shutdown = ShutdownSignal()
        SignalHandling.install(shutdown) { sig in
            FileHandle.standardError.write(Data("\nsealbatch: \(sig == 15 ? "SIGTERM" : "SIGINT") received; finishing documents in flight (send again to exit at once)\n".utf8))
        }
        let progress = noProgress ? nil : TerminalProgress()
        // The registered seal is the only key that may seal: a token whose certificate is not the seal's
        // refuses the run before anything is claimed (exit 2, audited `seal.key-mismatch`).
        if stages.contains(where: { $0.stage is SignStage }) {
            do { try await runtime.checkSealCertificate() } catch {
                CLIMessage.write(error)
                if let registry = runtime.registryIfOpen { do { try await GovCLI.checkpoint(registry) } catch { _ = GovCLI.exit(error) } }
                throw ExitCode(2)
            }
        }
        let engine = Engine(config: config, stages: stages, journal: journal, logger: logger, shutdown: shutdown,
                            progress: progress, metricsFactory: prometheus)
        let summary: RunSummary
        do { summary = try await PDFPassword.$current.withValue(pdfPassword) { try await engine.run(mode: once ? .once : .watch) } }
        catch let e as PipelineError {
            progress?.finish()
            CLIMessage.write(e)
            throw ExitCode(2)
        }
        progress?.finish()
        var out = summary.table()
        if let key = try? await runtime.keyIfOpen() { // statistics for the summary only (nil: the token never opened)
            let u = key.usage
            out += String(format: "\ntoken: %d signatures, busy %.1f s (%.0f%% of the time between first and last signature)", u.signatures, u.busySeconds, u.utilisation * 100)
            if let token = key.token {
                // Token events for `sealbatch report`: logins, removals, failed signatures.
                let stats = await token.stats
                out += String(format: "; inside the module %.1f ms per signature on average (max %.1f ms)", stats.averageMilliseconds, stats.maxMilliseconds)
                // informational events for `sealbatch report`; the documents' own transitions are journalled with `try`
                for _ in 0..<stats.logins { try? journal.recordEvent(docID: nil, kind: "token", detail: "login") }
                for _ in 0..<stats.removals { try? journal.recordEvent(docID: nil, kind: "token", detail: "token removed") }
                for _ in 0..<stats.failures { try? journal.recordEvent(docID: nil, kind: "token", detail: "signature failed") }
            }
        }
        var checkpointFailed = false
        if let registry = runtime.registryIfOpen {
            do { try await GovCLI.checkpoint(registry) } catch { _ = GovCLI.exit(error); checkpointFailed = true }
        }
        print(out)
        if let summaryJSON {
            try CLIJSON.encode(summary).write(to: URL(fileURLWithPath: summaryJSON))
        }
        // a seal-key mismatch found at the first signature (the token's key is not its certificate's) is a
        // configuration error like one found before the run
        if let refusal = runtime.bindingFailure {
            CLIMessage.write(refusal, next: refusal.nextStep)
            throw ExitCode(2)
        }
        if checkpointFailed { throw ExitCode(2) }
        if !once, let code = summary.stopCode, TokenFaultWait.codes.contains(code), !shutdown.isRequested {
            // A daemon waits out a token fault instead of exiting into a restart loop (see TokenFaultWait).
            let pinFile = TokenFaultWait.pinFile(options: pin, runtime: runtime, baseDir: config.baseDir)
            FileHandle.standardError.write(Data("sealbatch: waiting for the token to be fixed (\(code)); \(summary.returnedToInbox) documents are back in the inbox. Resumes when \(pinFile.map { "the PIN file \($0.path) or " } ?? "")the token configuration changes\(code == "pin-incorrect" ? "" : ", or when the token can be opened again"); SIGTERM stops.\n".utf8))
            if case .resume(let why) = await TokenFaultWait.wait(code: code, pinFile: pinFile, tokenConfig: TokenFaultWait.tokenConfig(runtime: runtime, baseDir: config.baseDir),
                                                                 shutdown: shutdown) {
                FileHandle.standardError.write(Data("sealbatch: \(why): starting again\n".utf8))
                server?.stop()
                let failure = TokenFaultWait.reexec()
                FileHandle.standardError.write(Data("sealbatch: cannot start again: \(failure)\n".utf8))
            }
        }
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }
}
