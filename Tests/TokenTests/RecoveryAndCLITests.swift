import Foundation
import TestSupport
import Testing
@testable import Token

@Suite("Session loss and the token command line", .serialized)
struct RecoveryAndCLITests {
    @Test func lostSessionMakesSignersWaitAndRecoversWithoutFailures() async throws {
        let info = try Fixture.devToken(.ecP256)
        let provider = Fixture.CountingProvider(Fixture.pinText)
        var config = info.configuration
        config.pollInterval = 0.05
        let token = try await SealToken.open(config, pinProvider: provider)
        #expect(token.verify(try await token.sign([0]), message: [0], algorithm: .ecdsa(.sha256)))
        // Pull every session out from under the actor, as a token reset or a re-plug would.
        let (slot, _) = try SealToken.findToken(module: token.module, uri: config.key)
        token.module.closeAllSessions(slot: slot)
        let sigs = try await withThrowingTaskGroup(of: (UInt8, [UInt8]).self) { g in
            for i in 1...20 { g.addTask { (UInt8(i), try await token.sign([UInt8(i)])) } }
            var out: [(UInt8, [UInt8])] = []
            for try await r in g { out.append(r) }
            return out
        }
        #expect(sigs.count == 20)
        for (i, s) in sigs { #expect(token.verify(s, message: [i], algorithm: .ecdsa(.sha256))) }
        #expect(await provider.reasons == [.initialLogin, .reinserted])
        let stats = await token.stats
        #expect(stats.removals == 1)
        #expect(stats.failures == 0)
        #expect(stats.count == 21)
        await token.close()
    }

    @Test func signWaitsWhileTheReaderHasNoCardAndCanBeCancelled() async throws {
        let info = try Fixture.devToken(.ecP256)
        var config = info.configuration
        config.presenceReader = "sealbatch test reader that does not exist"
        let token = try await SealToken.open(config, pinProvider: Fixture.CountingProvider(Fixture.pinText))
        #expect(await token.presence == .absent)
        let waiting = Task { try await token.sign([1]) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(await token.stats.count == 0)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiting.value }
        await token.close()
    }

    @Test func cliInitDevThenTestSignVerifiesAndAWrongPINExitsTwoWithoutEchoingIt() throws {
        let bin = TestSupport.sealbatchBinary
        guard FileManager.default.isExecutableFile(atPath: bin.path) else {
            if TestSupport.toolsRequired { Issue.record("sealbatch binary not built at \(bin.path)") }
            return
        }
        let dir = try Fixture.tempDir("sealbatch-token-cli")
        let pinFile = dir.appendingPathComponent("pin")
        try Data("7391\n".utf8).write(to: pinFile)
        chmod(pinFile.path, 0o600)
        let ws = dir.appendingPathComponent("dev").path
        let made = try TestSupport.run(bin.path, ["token", "init-dev", "--dir", ws, "--key-type", "ec-p256", "--pin-file", pinFile.path])
        #expect(made.status == 0, "\(made.err)")
        #expect(made.out.contains("NOT FOR PRODUCTION"))
        let conf = dir.appendingPathComponent("dev/token.json").path
        let signed = try TestSupport.run(bin.path, ["token", "test-sign", "--token-config", conf, "--pin-file", pinFile.path])
        #expect(signed.status == 0, "\(signed.err)")
        #expect(signed.out.contains("verifies with the certificate's public key"))

        let wrong = dir.appendingPathComponent("wrong")
        try Data("wrong-1111\n".utf8).write(to: wrong)
        chmod(wrong.path, 0o600)
        let bad = try TestSupport.run(bin.path, ["token", "test-sign", "--token-config", conf, "--pin-file", wrong.path])
        #expect(bad.status == 2)
        #expect(bad.err.contains("tried once"))
        #expect(!bad.err.contains("wrong-1111") && !bad.out.contains("wrong-1111"))

        let status = try TestSupport.run(bin.path, ["token", "status", "--token-config", conf])
        #expect(status.status == 0)
        #expect(status.out.contains("EC P-256") && status.out.contains("CKM_ECDSA"))
        #expect(status.out.contains("fewer tries left"))

        let list = try TestSupport.run(bin.path, ["token", "list", "--softhsm-conf", dir.appendingPathComponent("dev/softhsm2.conf").path,
                                                  "--module", "/usr/lib/softhsm/libsofthsm2.so"])
        #expect(list.status == 0)
        #expect(list.out.contains("PC/SC readers:"))
        #expect(list.out.contains("token 'sealbatch-dev'"))
        #expect(list.out.contains("CKM_ECDSA"))
    }
}
