import Foundation
import TestSupport
import Testing
@testable import Token

/// The virtual smart card (vicc) plugged into vpcd's first reader. Starting it = card inserted,
/// killing it = card removed. A file lock keeps parallel test processes off the shared reader.
final class VirtualCard: @unchecked Sendable {
    static let reader = "Virtual PCD 00 00"
    private var process: Subprocess?
    private let lockFD: Int32

    init() throws {
        lockFD = open("/tmp/sealbatch-vicc.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
        guard lockFD >= 0 else { throw TokenError(.pcscFailed, "cannot open the vicc lock file") }
        flock(lockFD, LOCK_EX)
    }

    deinit {
        remove()
        flock(lockFD, LOCK_UN)
        close(lockFD)
    }

    func insert() throws {
        guard process == nil else { return }
        var env = ProcessInfo.processInfo.environment
        env["PYTHONPATH"] = "/usr/lib/python3/site-packages/virtualsmartcard"
        process = try Subprocess(TestSupport.which("python3") ?? "/usr/bin/python3",
                                 ["/usr/bin/vicc", "-t", "iso7816", "-P", "35963"], environment: env)
    }

    func remove() {
        guard let p = process else { return }
        p.killAndWait()
        process = nil
    }

    /// Starts pcscd when needed (scripts/pcsc-up.sh) and checks that vpcd's reader is there.
    static func stackAvailable() throws -> Bool {
        guard try TestSupport.haveTool("pcscd"), try TestSupport.haveTool("vicc"), try TestSupport.haveTool("python3") else { return false }
        let up = try TestSupport.run("bash", [TestSupport.packageRoot.appendingPathComponent("scripts/pcsc-up.sh").path])
        #expect(up.status == 0, "\(up.err)")
        for _ in 0..<50 {
            if (try? PCSC.readers())?.contains(where: { $0.name == reader }) == true { return true }
            usleep(100_000)
        }
        Issue.record("pcscd runs but has no '\(reader)' reader (is vsmartcard-vpcd installed?)")
        return false
    }
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(_ seconds: Double = 15, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [PCSCEvent] = []
    func append(_ e: PCSCEvent) { lock.lock(); events.append(e); lock.unlock() }
    var all: [PCSCEvent] { lock.lock(); defer { lock.unlock() }; return events }
}

actor Progress {
    var done = 0
    var failed = 0
    func ok() { done += 1 }
    func fail() { failed += 1 }
}

@Suite("Token presence through PC/SC (pcscd + vpcd + vicc)", .serialized)
struct PresenceTests {
    @Test func startingAndKillingViccIsSeenAsInsertAndRemoval() async throws {
        guard try VirtualCard.stackAvailable() else { return }
        let card = try VirtualCard()
        card.remove()
        let log = EventLog()
        let monitor = PCSCMonitor { log.append($0) }
        monitor.start()
        defer { monitor.stop() }
        #expect(await eventually { log.all.contains(.readerAdded(VirtualCard.reader)) })
        try card.insert()
        let inserted = await eventually {
            log.all.contains { if case .cardInserted(VirtualCard.reader, let atr) = $0 { return !atr.isEmpty } else { return false } }
        }
        #expect(inserted)
        let status = try PCSC.readers().first { $0.name == VirtualCard.reader }
        #expect(status?.cardPresent == true)
        #expect(status?.atr.isEmpty == false)
        card.remove()
        #expect(await eventually { log.all.contains(.cardRemoved(VirtualCard.reader)) })
        #expect(try PCSC.readers().first { $0.name == VirtualCard.reader }?.cardPresent == false)
    }

    @Test func batchPausesOnRemovalAndResumesOnReinsertionWithZeroFailures() async throws {
        guard try VirtualCard.stackAvailable() else { return }
        let card = try VirtualCard()
        try card.insert()
        #expect(await eventually { (try? PCSC.readers())?.first { $0.name == VirtualCard.reader }?.cardPresent == true })

        let info = try Fixture.devToken(.ecP256, label: "presence")
        var config = info.configuration
        config.presenceReader = VirtualCard.reader
        let provider = Fixture.CountingProvider(Fixture.pinText)
        let token = try await SealToken.open(config, pinProvider: provider)
        #expect(await token.presence == .needsLogin)

        let changes = await token.presenceChanges()
        let seen = Task { () -> [TokenPresence] in
            var out: [TokenPresence] = []
            for await p in changes { out.append(p) }
            return out
        }
        let total = 150
        let progress = Progress()
        let batch = Task { () -> [[UInt8]] in
            var sigs: [[UInt8]] = []
            for i in 0..<total {
                do {
                    sigs.append(try await token.sign(Array("doc \(i)".utf8), algorithm: .ecdsa(.sha256)))
                    await progress.ok()
                } catch {
                    await progress.fail()
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            return sigs
        }
        #expect(await eventually { await progress.done >= 20 })
        card.remove()
        #expect(await eventually { await token.presence == .absent })
        let pausedAt = await progress.done
        try await Task.sleep(for: .milliseconds(600))
        #expect(await progress.done == pausedAt, "signing went on while the token was out")
        #expect(pausedAt < total)

        try card.insert()
        let sigs = await batch.value
        #expect(await progress.failed == 0)
        #expect(sigs.count == total)
        for (i, s) in sigs.enumerated() {
            #expect(token.verify(s, message: Array("doc \(i)".utf8), algorithm: .ecdsa(.sha256)))
        }
        #expect(await provider.reasons == [.initialLogin, .reinserted])
        let stats = await token.stats
        #expect(stats.removals == 1)
        #expect(stats.logins == 2)
        #expect(stats.count == total)
        await token.close()
        card.remove()
        let states = await seen.value
        // needsLogin → loggingIn → ready → absent → … → ready → closed
        #expect(states.first == .needsLogin)
        #expect(states.last == .closed)
        #expect(states.contains(.absent))
        if let gone = states.firstIndex(of: .absent) { #expect(states[gone...].contains(.ready)) }
    }
}
