import ArgumentParser
import Foundation
import Signing

/// `sealbatch verify`: checks every signature of every file; exit 0 only when all pass.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: localizedSummary("Verify the signatures and seals of PDF files (ETSI EN 319 102-1 indications).", zh: "验证 PDF 文件上的签名和印章（按 ETSI EN 319 102-1 给出结论）。"),
        discussion: """
        Reports per signature: signer, seal name, claimed and time-stamped signing time, method and PAdES level, \
        byte-range coverage, integrity, cryptographic validity, certificate path, revocation, and changes made \
        after signing. Exit codes: 0 every signature of every file is TOTAL-PASSED and nothing was changed after \
        the newest signature; 3 every signature is TOTAL-PASSED but later changes were made that its permissions \
        allow (a form filled in, validation data added); 1 a signature failed or a file could not be read; \
        2 usage error. JSON output follows the schema "sealbatch.verify/2" (docs/signing.md).
        """)

    @Option(name: .long, help: ArgumentHelp("Trust anchor certificate file or directory of PEM/DER certificates (repeatable).", valueName: "FILE|DIR"))
    var trust: [String] = []

    @Option(name: .long, help: "Output format.")
    var format: VerifyFormat = .text

    @Option(name: .long, help: ArgumentHelp("Require at least this PAdES level: B-B, B-T, B-LT or B-LTA.", valueName: "LEVEL"))
    var level: String?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the report to this file instead of standard output.", valueName: "FILE"))
    var output: String?

    @Flag(name: .long, help: "Do not check revocation at all.")
    var noRevocationCheck = false

    @Flag(name: .long, help: "Use only revocation data embedded in the files (no CRL/OCSP fetching).")
    var noFetch = false

    @Flag(name: .long, help: "Missing revocation data makes a signature INDETERMINATE (default: only revoked fails).")
    var requireRevocation = false

    @Option(name: .long, help: ArgumentHelp("Verification policy (JSON): which key usages and extended key usages a document signer's certificate must have (docs/signing.md).", valueName: "FILE"))
    var policy: String?

    @Argument(help: "PDF files to verify.")
    var files: [String] = []

    func usage(_ message: String) -> ExitCode {
        CLIMessage.write("usage", message)
        return ExitCode(2)
    }

    func run() async throws {
        guard !files.isEmpty else { throw usage("no files given (usage: sealbatch verify [--trust FILE|DIR] [--format text|json|junit] [--level B-B|B-T|B-LT|B-LTA] FILE…)") }
        var options = Verifier.Options()
        if let level {
            guard let l = PAdESLevel(rawValue: level.uppercased()) else { throw usage("--level must be one of B-B, B-T, B-LT, B-LTA (got \(level))") }
            options.requiredLevel = l
        }
        if noRevocationCheck && requireRevocation { throw usage("--no-revocation-check and --require-revocation exclude each other") }
        options.revocation = noRevocationCheck ? .off : (requireRevocation ? .hardFail : .softFail)
        options.fetchRevocation = !noFetch
        options.revocationCache = RevocationCache()
        if let policy {
            struct PolicyFile: Decodable {
                var signer: SignerCertificatePolicy?
                enum CodingKeys: String, CodingKey { case signer }
            }
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: policy))
                if let signer = try JSONDecoder().decode(PolicyFile.self, from: data).signer { options.signerPolicy = signer }
            } catch {
                throw usage("cannot read the verification policy \(policy): \(error.localizedDescription)")
            }
        }
        let verifier: Verifier
        do { verifier = try Verifier(trust: trust.map { URL(fileURLWithPath: $0) }, options: options) } catch let e as SigningError {
            throw usage("cannot read trust anchors: \(e.message) (\(e.file ?? ""))")
        }
        let report = await verifier.verify(urls: files.map { URL(fileURLWithPath: $0) })
        let data: Data
        switch format {
        case .text: data = Data(report.text().utf8)
        case .json: data = try report.json() + Data("\n".utf8)
        case .junit: data = Data(report.junit().utf8)
        }
        if let output {
            do { try data.write(to: URL(fileURLWithPath: output), options: .atomic) } catch { throw usage("cannot write \(output): \(error.localizedDescription)") }
        } else {
            FileHandle.standardOutput.write(data)
        }
        if !report.passed { throw ExitCode(1) }
        if !report.untouched { throw ExitCode(3) }
    }
}
