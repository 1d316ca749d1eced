import Foundation
import TestSupport
import Testing
@testable import Token

@Suite("PIN safety", .serialized)
struct PINTests {
    @Test func wrongPINStopsAfterOneAttemptAndReportsTheTokensFlags() async throws {
        let info = try Fixture.devToken(.ecP256)
        let token = try await SealToken.open(info.configuration)
        await #expect { try await token.login(pin: PIN("999999")) } throws: { e in
            let t = e as? TokenError
            return t?.code == .pinIncorrect && t?.pinFlags?.contains(.countLow) == true
                && !(t?.description.contains("999999") ?? true) && (t?.description.contains("fewer tries") ?? false)
        }
        #expect(await token.presence == .needsLogin)
        // Signing does not silently try again.
        await #expect { try await token.sign([1]) } throws: { e in (e as? TokenError)?.code == .pinRequired }
        await token.close()
    }

    @Test func wrongPINFromAProviderIsAskedOnceForManyConcurrentSigners() async throws {
        let info = try Fixture.devToken(.ecP256)
        let provider = Fixture.CountingProvider("000000")
        let token = try await SealToken.open(info.configuration, pinProvider: provider)
        let failures = await withTaskGroup(of: TokenError.Code?.self) { g in
            for i in 0..<10 { g.addTask { do { _ = try await token.sign([UInt8(i)]); return nil } catch { return (error as? TokenError)?.code } } }
            var codes: [TokenError.Code?] = []
            for await c in g { codes.append(c) }
            return codes
        }
        #expect(failures.count == 10)
        #expect(failures.allSatisfy { $0 == .pinIncorrect })
        #expect(await provider.asked == 1)
        // A later document does not make the provider (or the token) try the wrong PIN again.
        await #expect(throws: TokenError.self) { try await token.sign([42]) }
        #expect(await provider.asked == 1)
        // An explicit login with the right PIN recovers.
        try await token.login(pin: Fixture.pin)
        #expect(token.verify(try await token.sign([7]), message: [7], algorithm: .ecdsa(.sha256)))
        await token.close()
    }

    @Test func lockedPINGivesAClearErrorWithoutTrying() async throws {
        let info = try Fixture.devToken(.ecP256)
        try Fixture.setTokenFlags(info, add: 0x40000)   // CKF_USER_PIN_LOCKED
        let token = try await SealToken.open(Fixture.freshConfiguration(info))
        #expect(try await token.pinFlags().contains(.locked))
        await #expect { try await token.login(pin: Fixture.pin) } throws: { e in
            let t = e as? TokenError
            return t?.code == .pinLocked && t?.ckr == nil && (t?.description.contains("locked") ?? false)
        }
        await token.close()
    }

    @Test func finalTryIsRefusedUnlessAllowed() async throws {
        let info = try Fixture.devToken(.ecP256)
        try Fixture.setTokenFlags(info, add: 0x20000 | 0x10000)   // FINAL_TRY | COUNT_LOW
        let refused = try await SealToken.open(Fixture.freshConfiguration(info))
        await #expect { try await refused.login(pin: Fixture.pin) } throws: { e in
            let t = e as? TokenError
            return t?.code == .finalTryRefused && t?.pinFlags?.contains(.finalTry) == true
        }
        await refused.close()
        let allowed = try await SealToken.open(Fixture.freshConfiguration(info, allowFinalTry: true))
        try await allowed.login(pin: Fixture.pin)
        #expect(await allowed.presence == .ready)
        await allowed.close()
    }

    @Test func pinIsNeverWrittenToTheWorkspace() throws {
        let secret = "s3cr3t-PIN-4711"
        let dir = try Fixture.tempDir("sealbatch-token")
        _ = try DevToken.create(in: dir, label: "nopin", keyType: .ecP256, pin: PIN(secret))
        let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: nil)!
        var files = 0
        for case let f as URL in e {
            guard let d = try? Data(contentsOf: f) else { continue }
            files += 1
            #expect(d.range(of: Data(secret.utf8)) == nil, "PIN found in \(f.lastPathComponent)")
        }
        #expect(files > 5)
    }

    @Test func pinFromFileDescriptorStripsTheNewline() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        _ = "4711\n".withCString { write(fds[1], $0, 5) }
        close(fds[1])
        let pin = try PINSource.fileDescriptor(fds[0]).read()
        close(fds[0])
        #expect(pin.count == 4)
        #expect(pin.withBytes { Array($0) } == Array("4711".utf8))
    }

    @Test func pinFileReadableByOthersIsRefused() throws {
        let dir = try Fixture.tempDir("sealbatch-pin")
        let f = dir.appendingPathComponent("pin")
        try Data("2468-PIN\n".utf8).write(to: f)
        chmod(f.path, 0o644)
        #expect { _ = try PINSource.file(f.path).read() } throws: { e in
            let t = e as? TokenError
            return t?.code == .pinSourceUnsafe && !(t?.description.contains("2468-PIN") ?? true)
        }
        chmod(f.path, 0o600)
        let pin = try PINSource.file(f.path).read()
        #expect(pin.withBytes { Array($0) } == Array("2468-PIN".utf8))
    }

    @Test func pinFromEnvironmentNeedsTheExplicitInsecureFlag() throws {
        #expect { _ = try PINSource.from(pinFD: nil, pinFile: nil, pinEnv: "SEAL_PIN", allowInsecureEnv: false) } throws: { e in
            (e as? TokenError)?.code == .pinSourceUnsafe
        }
        #expect(try PINSource.from(pinFD: nil, pinFile: nil, pinEnv: "SEAL_PIN", allowInsecureEnv: true) == .environment("SEAL_PIN"))
        #expect(try PINSource.from(pinFD: nil, pinFile: nil, pinEnv: nil, allowInsecureEnv: false) == .prompt)
        #expect(throws: TokenError.self) { try PINSource.from(pinFD: 3, pinFile: "/x", pinEnv: nil, allowInsecureEnv: false) }
        setenv("SEALBATCH_TEST_PIN", "1357", 1)
        defer { unsetenv("SEALBATCH_TEST_PIN") }
        let pin = try PINSource.environment("SEALBATCH_TEST_PIN").read()
        #expect(pin.withBytes { Array($0) } == Array("1357".utf8))
    }

    @Test func pinDuplicateIsIndependentAndErrorsCarryNoPIN() {
        let a = PIN("8642")
        let b = a.duplicate()
        #expect(b.withBytes { Array($0) } == Array("8642".utf8))
        _ = consume a
        #expect(b.count == 4)
        let e = TokenError(.pinIncorrect, "the PIN was wrong", ckr: 0xA0, pinFlags: [.countLow, .finalTry])
        #expect(e.description.contains("one try left"))
        #expect(e.description.contains("CKR_PIN_INCORRECT"))
    }
}
