import Foundation
import Testing
import TestSupport
@testable import PDF

/// Inputs built to hit overflow, recursion and allocation limits: each must parse or fail with a
/// PDFError, never trap. Also replays fuzzer crashers kept in Fixtures/fuzz-*.
@Suite struct HostileInputTests {
    func mustNotCrash(_ bytes: [UInt8]) {
        if let d = try? PDFDocument(bytes: bytes) {
            for p in d.pages.prefix(8) { _ = try? d.contentData(of: p) }
            for f in d.signatureFields { _ = d.coverage(of: f) }
            _ = d.docMDPPermission; _ = d.info; _ = d.revisions; _ = d.isLinearized
        }
    }

    static let base = "1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"

    @Test(arguments: [
        "startxref\n9223372036854775807\n%%EOF",
        "xref\n9223372036854775800 3\n0000000000 65535 f \n0000000009 00000 n \n0000000050 00000 n \ntrailer <</Root 1 0 R/Prev 9223372036854775807>>\nstartxref\n100\n%%EOF",
        "xref\n0 2\n9223372036854775807 00000 n \n0000000009 00000 n \ntrailer <</Root 1 0 R/Size 2>>\nstartxref\n98\n%%EOF",
        "3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 1e999999 99999999999999999999999999999]/Rotate 99999999999999999999>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF",
        "3 0 obj <</Type/Page/Contents 4 0 R/MediaBox[0 0 1 1]>> endobj\n4 0 obj <</Length 5 0 R/Filter/FlateDecode/DecodeParms<</Predictor 2/Colors 32/Columns 16777216>>>>stream\nxx\nendstream endobj\n5 0 obj 4 0 R endobj\ntrailer <</Root 1 0 R>>\n%%EOF",
        "3 0 obj <</Type/Page/Annots[6 0 R]>> endobj\n6 0 obj <</FT/Sig/T(a)/V<</ByteRange[9223372036854775807 9223372036854775807 0 1]/Contents<00>>>>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF",
        "9 0 obj <</Type/ObjStm/N 9223372036854775807/First 9223372036854775807/Length 3>>stream\n1 0\nendstream endobj\n3 0 obj 3 0 R endobj\ntrailer <</Root 1 0 R/Encrypt<</Filter/Standard/V 4/R 4/Length -9223372036854775807>>>>\n%%EOF",
        "7 0 obj <</Type/XRef/W[8 8 8]/Index[9223372036854775807 5 0 9223372036854775807]/Size 5/Length 48>>stream\n" + String(repeating: "\u{7f}", count: 48) + "\nendstream endobj\nstartxref\n96\n%%EOF",
    ])
    func overflowingNumbersDoNotTrap(_ tail: String) {
        mustNotCrash(Array(("%PDF-1.7\n" + Self.base + tail).utf8))
    }

    @Test func deeplyNestedArraysAreRejectedNotRecursedForever() {
        let deep = String(repeating: "[", count: 20_000)
        mustNotCrash(Array(("%PDF-1.7\n1 0 obj " + deep + "\nendobj\ntrailer <</Root 1 0 R>>\n%%EOF").utf8))
        var p = Parser(Array(deep.utf8).withUnsafeBytes { ByteSource(bytes: $0) }, at: 0)
        #expect(throws: PDFError.self) { _ = try p.parseObject() }
    }

    @Test func hugeDictionaryParsesInLinearTime() throws {
        var s = "<<"
        for i in 0..<200_000 { s += "/k\(i) \(i)" }
        s += ">>"
        var p = Parser(Array(s.utf8).withUnsafeBytes { ByteSource(bytes: $0) }, at: 0)
        let d = try #require(try p.parseObject().dictionaryValue)
        #expect(d.count == 200_000)
    }

    @Test func chainedIndirectLengthsAndSelfReferencesTerminate() {
        var s = "%PDF-1.7\n" + Self.base + "3 0 obj <</Type/Page/MediaBox[0 0 1 1]/Contents 10 0 R>> endobj\n"
        for i in 10..<2000 { s += "\(i) 0 obj <</Length \(i + 1) 0 R>>stream\nx\nendstream endobj\n" }
        s += "trailer <</Root 1 0 R/Info 5000 0 R>>\n5000 0 obj 5000 0 R endobj\n%%EOF"
        mustNotCrash(Array(s.utf8))
    }

    @Test func decompressionBombIsCapped() {
        let bomb = Flate.deflate([UInt8](repeating: 0, count: 8 << 20))
        #expect(bomb.count < 20_000)
        #expect(throws: PDFError.self) { _ = try Flate.inflate(bomb, limit: 1 << 20) }
        #expect(Filters.maxDecodedSize <= 1 << 28)
    }

    @Test func fuzzerCrashersStayFixed() throws {
        let dir = TestSupport.packageRoot.appendingPathComponent("Tests/PDFTests/Fixtures")
        // The folder must be readable and hold the README that explains it; every crasher a fuzzer found
        // is kept here as fuzz-<kind>-<sha1>.pdf after its fix.
        let listing = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(listing.contains("README.md"), "Tests/PDFTests/Fixtures lost its README")
        let files = listing.filter { $0.hasPrefix("fuzz-") }
        for f in files { mustNotCrash([UInt8](try Data(contentsOf: dir.appendingPathComponent(f)))) }
    }
}
