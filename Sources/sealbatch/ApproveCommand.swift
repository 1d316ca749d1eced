import ArgumentParser
import Foundation
import Governance
import PDF
import Signing

/// `sealbatch approve` — the approver lists documents and signs an approval manifest.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approve the use of a seal on documents: create and sign an approval manifest.",
        discussion: "The approver signs with their PKCS#12 key (--as USER --key FILE.p12). The manifest lists each file's SHA-256, name and page count; only those exact bytes may be stamped.")

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
        if auth.key == nil { throw ValidationError("approving signs the manifest: give --key FILE.p12") }
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
            guard let identity = try auth.identity() else { throw GovCLI.Failure(2, "give --key FILE.p12") }
            guard let user = auth.user else { throw GovCLI.Failure(2, "say who approves with --as USER") }
            let actor = try registry.authenticate(.identity(user: user, identity))
            let book = ApprovalBook(registry: registry)
            let signed = try book.approve(documents: docs, seal: seal, purpose: purpose, requester: requester,
                                          validUntil: try GovCLI.date(validUntil, option: "--valid-until"), uses: uses, identity: identity, as: actor)
            let out = URL(fileURLWithPath: output)
            try Data(signed.fileBytes()).write(to: out, options: .atomic)
            GovCLI.print("approval \(signed.manifest.id): \(docs.count) document(s), seal \(seal), \(signed.manifest.uses) use(s), valid until \(GovCLI.iso(signed.manifest.validUntil)) → \(output)")
        }
    }
}
