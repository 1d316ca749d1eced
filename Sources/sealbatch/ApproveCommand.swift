import ArgumentParser
import Foundation
import Governance
import PDF
import Signing
import Stages
import Token

/// `sealbatch approve` — the approver lists documents and signs an approval manifest.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: localizedSummary("Approve the use of a seal on documents: create and sign an approval manifest.", zh: "批准在文件上用印：生成并签署用印审批单。"),
        discussion: "The approver signs with the key on their own USB key (--as USER --login-token-config FILE, PIN from --login-pin-fd or the prompt), or with a PKCS#12 file (--as USER --key FILE.p12, the weaker option). The manifest lists each file's SHA-256, name and page count; only those exact bytes may be stamped.")

    @OptionGroup var reg: GovRegistryOptions
    @OptionGroup var auth: GovAuthOptions
    @Argument(help: "Documents to approve.") var files: [String]
    @Option(help: "Seal id.") var seal: String
    @Option(help: "The user who asked for the seal.") var requester: String
    @Option(help: "Purpose of the use.") var purpose: String
    @Option(help: "Expiry: a date (2026-12-31, 2026-12-31T18:00:00Z) or a duration from now (+7d, 12h).") var validUntil: String = "+7d"
    @Option(help: "How many of the listed documents may be stamped (default: all).") var uses: Int?
    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the signed manifest.", valueName: "file")) var output: String

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one document") }
        if auth.key == nil && auth.loginTokenConfig == nil {
            throw ValidationError("approving signs the manifest: give your token (--login-token-config FILE) or --key FILE.p12")
        }
        if auth.key != nil && auth.loginTokenConfig != nil { throw ValidationError("give either --login-token-config or --key, not both") }
    }

    func run() async throws {
        let registry = try reg.open()
        try await GovCLI.run(registry) {
            var docs: [ApprovalManifest.Document] = []
            for f in files {
                let url = URL(fileURLWithPath: f)
                guard FileManager.default.isReadableFile(atPath: f) else { throw GovCLI.Failure(2, "cannot read \(f)") }
                let sha = DetachedSignature.hex(try DetachedSignature.sha256(fileAt: url))
                // page count from the PDF module (memory-mapped); nil when the file cannot be read as a PDF
                let pages = (try? PDFDocument(url: url)).map(\.pageCount)
                docs.append(ApprovalManifest.Document(sha256: sha, name: url.lastPathComponent, pages: pages))
            }
            guard let user = auth.user else { throw GovCLI.Failure(2, "say who approves with --as USER") }
            let book = ApprovalBook(registry: registry)
            let expiry = try GovCLI.date(validUntil, option: "--valid-until")
            let signed: SignedApprovalManifest
            if let tokenConfig = auth.loginTokenConfig {
                // One token session: the login challenge and the manifest are signed by the same key.
                let config: TokenConfiguration
                do { config = try TokenConfiguration.load(from: URL(fileURLWithPath: tokenConfig)) } catch {
                    throw GovCLI.Failure(2, "cannot read the token configuration \(tokenConfig): \(error)")
                }
                let token = try await SealToken.open(config)
                do {
                    let source = try PINSource.from(pinFD: auth.loginPinFd, pinFile: nil, pinEnv: nil, allowInsecureEnv: false)
                    try await token.login(pin: try source.read(prompt: "PIN of your token: "))
                    let challenge = registry.challenge(for: user)
                    let actor = try registry.authenticate(.tokenSignedChallenge(user: user, challenge: challenge, signature: try await token.sign(challenge)))
                    signed = try await book.approve(documents: docs, seal: seal, purpose: purpose, requester: requester,
                                                    validUntil: expiry, uses: uses, key: try TokenKey(token: token), as: actor)
                } catch {
                    await token.close()
                    throw error
                }
                await token.close()
            } else {
                guard let identity = try auth.identity() else { throw GovCLI.Failure(2, "give --key FILE.p12") }
                let actor = try registry.authenticate(.identity(user: user, identity))
                signed = try book.approve(documents: docs, seal: seal, purpose: purpose, requester: requester,
                                          validUntil: expiry, uses: uses, identity: identity, as: actor)
            }
            let out = URL(fileURLWithPath: output)
            try Data(signed.fileBytes()).write(to: out, options: .atomic)
            GovCLI.print("approval \(signed.manifest.id): \(docs.count) document(s), seal \(seal), \(signed.manifest.uses) use(s), valid until \(GovCLI.iso(signed.manifest.validUntil)) → \(output)")
        }
    }
}
