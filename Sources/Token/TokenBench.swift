import CPKCS11
import Foundation

/// Measures signatures per second straight through the module and through the `SealToken` actor,
/// in the same process, on the same token and key, in alternating rounds (for `make bench`).
public enum TokenBench {
    /// One measurement.
    public struct Result: Sendable, Codable {
        public let algorithm: String
        public let mechanism: String
        public let signatures: Int
        /// Signatures per second calling C_SignInit/C_Sign directly on a session.
        public let directPerSecond: Double
        /// Signatures per second through `SealToken.sign` from one caller (sequential).
        public let actorPerSecond: Double
        /// Signatures per second through the actor from 8 concurrent callers.
        public let actorConcurrentPerSecond: Double
        /// Signatures per CPU-second of this process (user + system), direct. Unlike wall-clock rates
        /// this hardly depends on what else the machine is doing.
        public let directPerCPUSecond: Double
        /// Signatures per CPU-second of this process, through the actor (includes the hops' CPU).
        public let actorPerCPUSecond: Double
        /// (direct − actor) / direct per CPU-second, in percent: the actor's CPU overhead.
        public var cpuOverheadPercent: Double { (directPerCPUSecond - actorPerCPUSecond) / directPerCPUSecond * 100 }
        /// Median over rounds of (actor rate / direct rate), each ratio taken from two back-to-back
        /// rounds: the figure least moved by load from other processes and by the token's own drift.
        public let pairedRatio: Double
        /// (1 − pairedRatio), in percent: the actor's wall-clock overhead.
        public var overheadPercent: Double { (1 - pairedRatio) * 100 }
    }

    /// Runs `count` signatures each way, split over `rounds` alternating rounds; reports median round rates.
    public static func run(configuration: TokenConfiguration, pin: consuming PIN, count: Int = 2000, rounds: Int = 40,
                           algorithm: SigningAlgorithm? = nil) async throws -> Result {
        let token = try await SealToken.open(configuration)
        defer { Task { await token.close() } }
        let directPIN = pin.duplicate()
        try await token.login(pin: pin)
        let alg = algorithm ?? token.keyAlgorithm.defaultSigningAlgorithm
        let plan = try await token.plan(for: alg)

        // Direct path: own session, own key handle, same mechanism and input preparation.
        let module = try PKCS11Module.load(path: configuration.module, environment: configuration.moduleEnvironment)
        let (slot, _) = try SealToken.findToken(module: module, uri: configuration.key)
        let session = try module.openSession(slot: slot)
        defer { session.close() }
        try session.login(.user, pin: directPIN.duplicate())
        var t: [P11Attribute] = [.ulong(UInt(CKA_CLASS), UInt(CKO_PRIVATE_KEY))]
        if let id = configuration.key.id { t.append(.bytes(UInt(CKA_ID), id)) }
        if let o = configuration.key.object { t.append(.string(UInt(CKA_LABEL), o)) }
        guard let key = try session.findObjects(t).first else { throw TokenError(.keyNotFound, "bench: key not found") }
        let always = await token.alwaysAuthenticate

        let message = [UInt8](repeating: 0x5a, count: 32)
        let per = max(1, count / rounds)
        // Warm-up both paths.
        for _ in 0..<20 {
            try session.signInit(mechanism: plan.mechanism, key: key)
            if always { try session.login(.contextSpecific, pin: directPIN.duplicate()) }
            _ = try plan.output(try session.signFinal(plan.input(for: message)))
            _ = try await token.sign(message, algorithm: alg)
        }
        // Alternating rounds (order swapped every round); the median round rate of each path is
        // reported, so load from other processes hits both paths alike.
        var directRates: [Double] = [], actorRates: [Double] = []
        var directCPU = 0.0, actorCPU = 0.0
        func cpuSeconds() -> Double {
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        }
        // The direct loop runs on a Dispatch thread of its own, as the actor's work does, so both
        // paths get the same kind of thread from the scheduler.
        let directQueue = DispatchQueue(label: "sealbatch.bench.direct")
        let pinBox = PINBox(directPIN)
        func directRound() async throws {
            let cpu0 = cpuSeconds()
            defer { directCPU += cpuSeconds() - cpu0 }
            let t: Double = try await withCheckedThrowingContinuation { c in
                directQueue.async {
                    do {
                        let start = DispatchTime.now().uptimeNanoseconds
                        for _ in 0..<per {
                            try session.signInit(mechanism: plan.mechanism, key: key)
                            if always { try session.login(.contextSpecific, pin: pinBox.pin) }
                            _ = try plan.output(try session.signFinal(plan.input(for: message)))
                        }
                        c.resume(returning: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                    } catch { c.resume(throwing: error) }
                }
            }
            directRates.append(Double(per) / t)
        }
        func actorRound() async throws {
            let cpu0 = cpuSeconds()
            defer { actorCPU += cpuSeconds() - cpu0 }
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<per { _ = try await token.sign(message, algorithm: alg) }
            let t = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            actorRates.append(Double(per) / t)
        }
        for r in 0..<rounds {
            if r % 2 == 0 { try await directRound(); try await actorRound() } else { try await actorRound(); try await directRound() }
        }
        let ratios = zip(actorRates, directRates).map { $0 / $1 }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        // Concurrent callers through the actor.
        let start = DispatchTime.now().uptimeNanoseconds
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<8 {
                g.addTask { for _ in 0..<(per * rounds / 8) { _ = try await token.sign(message, algorithm: alg) } }
            }
            try await g.waitForAll()
        }
        let concTime = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Result(algorithm: alg.description, mechanism: plan.description, signatures: per * rounds,
                      directPerSecond: median(directRates), actorPerSecond: median(actorRates),
                      actorConcurrentPerSecond: Double(per * rounds / 8 * 8) / concTime,
                      directPerCPUSecond: Double(per * rounds) / directCPU, actorPerCPUSecond: Double(per * rounds) / actorCPU,
                      pairedRatio: median(ratios))
    }
}
