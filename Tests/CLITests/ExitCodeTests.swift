import Foundation
import Testing
import TestSupport

/// The documented exit codes hold for the built binary: 0 ok, 1 rejected/failed, 2 usage.
@Suite struct ExitCodeTests {
    let bin = TestSupport.sealbatchBinary.path

    @Test func unknownOptionIsAUsageErrorWithExitTwo() throws {
        let r = try TestSupport.run(bin, ["--no-such-option"])
        #expect(r.status == 2)
        #expect(r.err.contains("Unknown option"))
    }

    @Test func missingArgumentIsAUsageErrorWithExitTwo() throws {
        let r = try TestSupport.run(bin, ["inspect"])
        #expect(r.status == 2)
    }

    @Test func helpExitsZeroAndListsTheCommands() throws {
        let r = try TestSupport.run(bin, ["--help"])
        #expect(r.status == 0)
        for c in ["inspect", "verify", "token", "run", "stamp", "approve", "audit"] {
            #expect(r.out.contains(c), "help lists \(c)")
        }
    }

    @Test func readablePDFExitsZeroAndNotAPDFExitsOne() throws {
        let ok = try TestSupport.run(bin, ["inspect", TestSupport.corpusDir.appendingPathComponent("xref-classic-minimal-pyhanko.pdf").path])
        #expect(ok.status == 0)
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let junk = dir.appendingPathComponent("letter.pdf")
        try Data("Dear clerk, this is not a PDF.\n".utf8).write(to: junk)
        let bad = try TestSupport.run(bin, ["inspect", junk.path])
        #expect(bad.status == 1)
        #expect(!(bad.out + bad.err).isEmpty, "a rejection says why")
    }

    @Test func verifyOfAnUnsignedDocumentDoesNotPass() throws {
        let r = try TestSupport.run(bin, ["verify", TestSupport.corpusDir.appendingPathComponent("xref-classic-minimal-pyhanko.pdf").path])
        #expect(r.status != 0)
    }
}
