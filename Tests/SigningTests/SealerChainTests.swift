import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

/// The seal's chain from configuration and B-LT from an offline revocation folder (issue #14 item 5).
@Suite("Sealing: chains and offline revocation", .serialized)
struct SealerChainTests {
    /// A token that holds only the seal certificate (the common case).
    static func leafOnlyKey(_ pki: TestPKI) throws -> SoftwareKey {
        try SoftwareKey(keyPEM: pki.url("leaf.key"), certificatesPEM: [pki.url("leaf.crt")])
    }

    static func der(_ pem: URL) throws -> [UInt8] {
        try #require(try DetachedSignature.certificates(pemOrDER: Array(try Data(contentsOf: pem))).first).der
    }

    @Test func leafOnlyTokenIsSealedWithTheConfiguredChain() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let input = SealerTests.corpus("xref-classic-minimal-pyhanko.pdf")
        let bare = dir.appendingPathComponent("leaf-only.pdf"), chained = dir.appendingPathComponent("chained.pdf")
        _ = try await PAdESSealer().seal(input: input, output: bare, key: try Self.leafOnlyKey(pki), options: SealerTests.options())
        var o = SealerTests.options()
        o.chainDER = [try Self.der(pki.url("inter.crt")), try Self.der(pki.url("root.crt"))]
        _ = try await PAdESSealer().seal(input: input, output: chained, key: try Self.leafOnlyKey(pki), options: o)
        let ph = try Validators.pyhanko([bare, chained], root: pki.root)
        // without the intermediate no path reaches the root; with the configured chain it does
        #expect(ph[bare.path]?.signatures.first?.trusted != true)
        #expect(ph[chained.path]?.allPass == true, "\(String(describing: ph[chained.path]))")
        let ps = try Validators.pdfsig(chained, nssDir: try Validators.nssDB(in: pki.dir, root: pki.root))
        #expect(ps.first.map { $0.valid && $0.trusted } == true, "\(ps.map(\.raw))")
    }

    @Test func longTermLevelFromAnOfflineRevocationFolderOnly() async throws {
        guard try SealerTests.tools() else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let folder = dir.appendingPathComponent("revocation")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for f in ["inter.crl", "root.crl"] {
            try FileManager.default.copyItem(at: pki.dir.appendingPathComponent("crl/\(f)"), to: folder.appendingPathComponent(f))
        }
        let input = SealerTests.corpus("xrefstream-minimal-pyhanko.pdf")
        var o = SealerTests.options(.bLT, pki: pki)
        o.chainDER = [try Self.der(pki.url("inter.crt")), try Self.der(pki.url("root.crt"))]
        let cache = RevocationCache(offlineFolder: folder, fetch: false)
        o.revocationCache = cache
        let out = dir.appendingPathComponent("b-lt-offline.pdf")
        let res = try await PAdESSealer().seal(input: input, output: out, key: try Self.leafOnlyKey(pki), options: o)
        #expect(res.level == .bLT)
        #expect(await cache.fetchCount == 0, "nothing fetched: the folder supplied every CRL")
        let ltv = try Validators.pyhanko([out], root: pki.root, mode: "ltv")
        #expect(ltv[out.path]?.allPass == true, "not valid from the DSS alone: \(String(describing: ltv[out.path]))")

        // An empty folder and no fetching: refused, naming the certificate and what to configure.
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        o.revocationCache = RevocationCache(offlineFolder: empty, fetch: false)
        do {
            _ = try await PAdESSealer().seal(input: input, output: dir.appendingPathComponent("refused.pdf"), key: try Self.leafOnlyKey(pki), options: o)
            Issue.record("sealed B-LT without revocation data")
        } catch let e as SigningError {
            #expect(e.code == .revocationUnavailable)
            #expect(e.message.contains("revocation-folder") && e.message.contains(empty.path) && e.message.contains("serial"), "\(e.message)")
        }
        // No chain at all: the error says to configure it.
        o.chainDER = []
        o.revocationCache = RevocationCache(offlineFolder: folder, fetch: false)
        do {
            _ = try await PAdESSealer().seal(input: input, output: dir.appendingPathComponent("nochain.pdf"), key: try Self.leafOnlyKey(pki), options: o)
            Issue.record("sealed B-LT without the chain")
        } catch let e as SigningError {
            #expect(e.code == .revocationUnavailable && e.message.contains("chain"), "\(e.message)")
        }
    }
}
