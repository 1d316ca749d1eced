import Foundation
import PDF
import Testing
import TestSupport
@testable import Signing

@Suite("Sealing")
struct SealerTests {
    static func corpus(_ name: String) -> URL { TestSupport.corpusDir.appendingPathComponent(name) }

    @Test func sealedMinimalPDFIsAcceptedByPyHankoAndPdfsig() async throws {
        guard try TestSupport.haveTool("openssl"), try TestSupport.haveTool("pdfsig"), try TestSupport.haveTool("certutil") else { return }
        let pki = try TestPKI.get()
        let dir = try TestSupport.tempDir()
        let out = dir.appendingPathComponent("sealed.pdf")
        var opts = SealOptions(name: "Records Office Seal", reason: "Approved", location: "Shanghai", contactInfo: "records@example.org")
        opts.fieldName = "Seal1"
        let res = try await PAdESSealer().seal(input: Self.corpus("xref-classic-minimal-pyhanko.pdf"), output: out, key: try pki.key(), options: opts)
        #expect(res.byteRange[0] == 0)
        let ph = try Validators.pyhanko([out], root: pki.root)
        #expect(ph[out.path]?.allPass == true, "\(String(describing: ph[out.path]))")
        let ps = try Validators.pdfsig(out, nssDir: try Validators.nssDB(in: pki.dir, root: pki.root))
        #expect(ps.count == 1 && ps[0].valid && ps[0].trusted && ps[0].total, "\(ps.map(\.raw))")
    }
}
