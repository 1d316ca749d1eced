import CPKCS11
import Foundation
import Logging

/// Counts and times of the signatures an actor made.
public struct SigningStats: Sendable, CustomStringConvertible {
    /// Signatures made.
    public internal(set) var count: Int = 0
    /// Sign attempts that failed (not counting waits for a removed token).
    public internal(set) var failures: Int = 0
    /// Times the token went away during the run.
    public internal(set) var removals: Int = 0
    /// Logins (initial and after reinsertion).
    public internal(set) var logins: Int = 0
    /// Sum of token time for all signatures (ms).
    public internal(set) var totalMilliseconds: Double = 0
    /// Slowest signature (ms).
    public internal(set) var maxMilliseconds: Double = 0
    /// Average token time per signature (ms).
    public var averageMilliseconds: Double { count == 0 ? 0 : totalMilliseconds / Double(count) }

    mutating func record(_ ms: Double) {
        count += 1; totalMilliseconds += ms; maxMilliseconds = max(maxMilliseconds, ms)
    }

    public var description: String {
        String(format: "%d signatures, avg %.2f ms, max %.2f ms, %d failed, %d removals", count, averageMilliseconds, maxMilliseconds, failures, removals)
    }
}

/// Where the token stands right now.
public enum TokenPresence: String, Sendable, Hashable {
    /// Present and logged in: signatures go through.
    case ready
    /// Present, not logged in (waiting for a PIN).
    case needsLogin
    /// Present, a login is in progress.
    case loggingIn
    /// Removed (card out of the reader, or the module lost the token): signatures wait.
    case absent
    /// Closed for good.
    case closed
}

/// The only path to the seal token. Every PKCS#11 call runs serialised on one session; the user logs
/// in once per run; every signature is timed and counted. When the token goes away mid-batch,
/// `sign` calls wait (they do not fail) until the token is back and logged in again.
///
/// The actor uses Swift's default executor: an uncontended call runs on the caller's thread without a
/// thread hop (a serial Dispatch-queue executor measured 18–37 % CPU overhead against SoftHSM's P-256).
/// Because the actor is serial, a slow hardware token occupies at most one cooperative thread at a time.
public actor SealToken {

    /// The configuration it was opened with.
    public nonisolated let configuration: TokenConfiguration
    /// The loaded module.
    public nonisolated let module: PKCS11Module
    /// The signing certificate (DER).
    public nonisolated let certificateDER: [UInt8]
    /// Other certificates on the token (DER), ordered from the leaf's issuer up to the root; any
    /// certificates not on that path follow.
    public nonisolated let chainDER: [[UInt8]]
    /// The key's algorithm (from the certificate's public key).
    public nonisolated let keyAlgorithm: KeyAlgorithm
    /// The key's SubjectPublicKeyInfo (DER).
    public nonisolated let publicKeyDER: [UInt8]

    /// Label and serial of the token as found at open.
    public nonisolated let tokenLabel: String
    public nonisolated let tokenSerial: String

    private var slot: UInt
    private var session: PKCS11Session?
    private var key: CK_OBJECT_HANDLE = 0
    /// Whether the key needs a context-specific login before each signature.
    public private(set) var alwaysAuthenticate = false
    private var mechanisms: Set<UInt>
    private var plans: [SigningAlgorithm: SigningPlan] = [:]
    private var retainedPIN: PINBox?
    private var pinProvider: (any PINProvider)?
    private var present: Bool
    private var loggedIn = false
    private var loggingIn = false
    private var everLoggedIn = false
    private var closed = false
    /// The last failed login through the provider: sticky, so a wrong PIN is never tried again by itself.
    private var loginFailure: TokenError?
    private var waiters: [UInt64: CheckedContinuation<Void, Error>] = [:]
    private var nextWaiter: UInt64 = 0
    private var monitorTask: Task<Void, Never>?
    private var pollTask: Task<Void, Never>?
    private var pcsc: PCSCMonitor?
    /// Counts and times.
    public private(set) var stats = SigningStats()
    private var presenceListeners: [UUID: AsyncStream<TokenPresence>.Continuation] = [:]
    private var lastPublished: TokenPresence?
    private let logger: Logger

    /// Opens the token named by `configuration`: loads the module, finds the token and the certificate.
    /// Does not log in (see `login(pin:)`, or give a `pinProvider` and the first `sign` asks it).
    public static func open(_ configuration: TokenConfiguration, pinProvider: (any PINProvider)? = nil,
                            logger: Logger = Logger(label: "sealbatch.token")) async throws -> SealToken {
        let module = try PKCS11Module.load(path: configuration.module, environment: configuration.moduleEnvironment)
        let (slot, info) = try findToken(module: module, uri: configuration.key)
        let session = try module.openSession(slot: slot)
        let certs = try Self.readCertificates(session: session, configuration: configuration)
        let mechs = Set(try module.mechanisms(slot).filter(\.canSign).map(\.type))
        let token = SealToken(configuration: configuration, module: module, slot: slot, info: info, session: session,
                              certificate: certs.cert, chain: certs.chain, keyAlgorithm: certs.algorithm, spki: certs.spki,
                              mechanisms: mechs, pinProvider: pinProvider, logger: logger)
        await token.startPresenceMonitoring()
        return token
    }

    private init(configuration: TokenConfiguration, module: PKCS11Module, slot: UInt, info: TokenInfo, session: PKCS11Session,
                 certificate: [UInt8], chain: [[UInt8]], keyAlgorithm: KeyAlgorithm, spki: [UInt8], mechanisms: Set<UInt>,
                 pinProvider: (any PINProvider)?, logger: Logger) {
        self.configuration = configuration; self.module = module; self.slot = slot
        self.tokenLabel = info.label; self.tokenSerial = info.serial
        self.session = session; self.certificateDER = certificate; self.chainDER = chain
        self.keyAlgorithm = keyAlgorithm; self.publicKeyDER = spki; self.mechanisms = mechanisms
        self.pinProvider = pinProvider; self.logger = logger
        self.present = configuration.presenceReader == nil
    }

    deinit {
        pcsc?.stop()
        monitorTask?.cancel()
        pollTask?.cancel()
        session?.close()
        for c in waiters.values { c.resume(throwing: TokenError(.closed, "the token actor went away")) }
        for c in presenceListeners.values { c.finish() }
    }

    /// Finds the slot whose token matches the URI's token attributes.
    static func findToken(module: PKCS11Module, uri: PKCS11URI) throws -> (UInt, TokenInfo) {
        var seen: [String] = []
        for s in try module.slots(tokenPresent: true) {
            guard let t = try? module.tokenInfo(s) else { continue }
            seen.append("'\(t.label)' (serial \(t.serial))")
            if uri.matches(token: t, slot: try? module.slotInfo(s)) { return (s, t) }
        }
        throw TokenError(.tokenNotFound, "no token matches \(uri); tokens present: " + (seen.isEmpty ? "none" : seen.joined(separator: ", ")))
    }

    struct CertificateSet { var cert: [UInt8]; var chain: [[UInt8]]; var algorithm: KeyAlgorithm; var spki: [UInt8] }

    static func certificateTemplate(for uri: PKCS11URI) -> [P11Attribute] {
        var t: [P11Attribute] = [.ulong(UInt(CKA_CLASS), UInt(CKO_CERTIFICATE))]
        if let id = uri.id { t.append(.bytes(UInt(CKA_ID), id)) }
        if let o = uri.object { t.append(.string(UInt(CKA_LABEL), o)) }
        return t
    }

    static func readCertificates(session: PKCS11Session, configuration: TokenConfiguration) throws -> CertificateSet {
        let certURI = configuration.certificate ?? configuration.key
        var found = try session.findObjects(certificateTemplate(for: certURI))
        if found.isEmpty, configuration.certificate == nil, certURI.id != nil, certURI.object != nil {
            // Label and id both given for the key: accept a certificate matching the id alone.
            var byID = certURI; byID.object = nil
            found = try session.findObjects(certificateTemplate(for: byID))
        }
        guard let certHandle = found.first, let der = try session.attribute(certHandle, UInt(CKA_VALUE)) else {
            throw TokenError(.certificateNotFound, "the token has no certificate for \(certURI); store the seal certificate on the token with the key's id")
        }
        var chain: [[UInt8]] = []
        for h in try session.findObjects([.ulong(UInt(CKA_CLASS), UInt(CKO_CERTIFICATE))]) where h != certHandle {
            if let v = try session.attribute(h, UInt(CKA_VALUE)), v != der { chain.append(v) }
        }
        let parts = try DER.certificateParts(der)
        let alg = try keyAlgorithm(spki: parts.spki)
        return CertificateSet(cert: der, chain: orderChain(leafIssuer: parts.issuer, chain), algorithm: alg, spki: parts.spki)
    }

    /// Orders certificates issuer-first from the leaf upwards (leaf's issuer, its issuer, …);
    /// certificates that are not on the path follow in their original order.
    static func orderChain(leafIssuer: [UInt8], _ certs: [[UInt8]]) -> [[UInt8]] {
        var rest = certs.compactMap { c in (try? DER.certificateParts(c)).map { (c, $0.subject, $0.issuer) } }
        var ordered: [[UInt8]] = []
        var want = leafIssuer
        while let i = rest.firstIndex(where: { $0.1 == want }) {
            let (c, subject, issuer) = rest.remove(at: i)
            ordered.append(c)
            if issuer == subject { break }
            want = issuer
        }
        return ordered + rest.map(\.0) + certs.filter { c in (try? DER.certificateParts(c)) == nil }
    }

    /// RSA modulus size or EC curve from a SubjectPublicKeyInfo.
    static func keyAlgorithm(spki: [UInt8]) throws -> KeyAlgorithm {
        let (top, _) = try DER.read(spki[...])
        let parts = try DER.children(top.content)
        guard parts.count == 2 else { throw TokenError(.keyUnsupported, "malformed public key in the certificate") }
        let algId = try DER.children(parts[0].content)
        let oid = Array(algId.first?.all ?? [])
        if oid == [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] {
            let bits = parts[1].content.dropFirst()
            let (rsaKey, _) = try DER.read(bits)
            let ints = try DER.children(rsaKey.content)
            guard let first = ints.first, first.tag == 0x02 else { throw TokenError(.keyUnsupported, "malformed RSA public key in the certificate") }
            let mod = first.content.drop(while: { $0 == 0 })
            return .rsa(bits: mod.count * 8 - (mod.first.map { $0.leadingZeroBitCount } ?? 0))
        }
        if oid == [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01], algId.count == 2, let c = ECCurve(ecParams: Array(algId[1].all)) {
            return .ec(curve: c)
        }
        throw TokenError(.keyUnsupported, "the certificate's key is neither RSA nor EC P-256/P-384/P-521")
    }

    // MARK: - Login

    /// Logs the user in (once per run). Reads the token's PIN flags first: refuses a locked PIN and
    /// refuses to spend the final try unless the configuration allows it. One attempt, never retried.
    public func login(pin: consuming PIN) throws {
        guard !closed else { throw TokenError(.closed, "the token actor is closed") }
        if !present { throw TokenError(.tokenRemoved, "the token is not present; insert it before logging in") }
        do {
            try performLogin(pin: pin)
            loginFailure = nil
        } catch {
            failWaiters(error)
            throw error
        }
    }

    private func performLogin(pin: consuming PIN) throws {
        if session == nil { session = try module.openSession(slot: slot) }
        guard let session else { throw TokenError(.closed, "no session") }
        let info = try module.tokenInfo(slot)
        let flags = info.pinFlags
        if flags.contains(.locked) {
            throw TokenError(.pinLocked, "the token's user PIN is locked; nothing was tried. Unblock it with the security officer PIN or the vendor tool", pinFlags: flags)
        }
        if flags.contains(.finalTry) && !configuration.allowFinalTry {
            throw TokenError(.finalTryRefused, "the token has one PIN try left; refusing to spend it. Re-run with --allow-final-try (or allow-final-try in the configuration) if you are sure of the PIN", pinFlags: flags)
        }
        if flags.contains(.countLow) {
            logger.warning("the token reports fewer PIN tries left (an earlier PIN was wrong); trying once", metadata: ["token": "\(tokenLabel)"])
        }
        try session.login(.user, pin: pin)
        do {
            try findKey(session: session)
        } catch {
            session.logout()
            throw error
        }
        if alwaysAuthenticate { retainedPIN = PINBox(pin) } else { retainedPIN = nil }
        loggedIn = true
        everLoggedIn = true
        stats.logins += 1
        publishPresence()
        logger.info("token logged in", metadata: ["token": "\(tokenLabel)", "serial": "\(tokenSerial)", "alwaysAuthenticate": "\(alwaysAuthenticate)"])
        resumeWaitersIfReady()
    }

    private func findKey(session: PKCS11Session) throws {
        let uri = configuration.key
        var t: [P11Attribute] = [.ulong(UInt(CKA_CLASS), UInt(CKO_PRIVATE_KEY))]
        if let id = uri.id { t.append(.bytes(UInt(CKA_ID), id)) }
        if let o = uri.object { t.append(.string(UInt(CKA_LABEL), o)) }
        let found = try session.findObjects(t)
        guard let k = found.first else {
            throw TokenError(.keyNotFound, "no private key matches \(uri) on token '\(tokenLabel)'")
        }
        if found.count > 1 {
            throw TokenError(.keyNotFound, "\(found.count) private keys match \(uri); add id= or object= to pick one")
        }
        key = k
        alwaysAuthenticate = (try? session.boolAttribute(k, UInt(CKA_ALWAYS_AUTHENTICATE))) ?? false
        if let canSign = try? session.boolAttribute(k, UInt(CKA_SIGN)), canSign == false {
            throw TokenError(.keyUnsupported, "the key \(uri) is not allowed to sign (CKA_SIGN is false)")
        }
    }

    /// Closes the session (which ends the login) and stops watching; the actor cannot be used afterwards.
    /// Pending signers fail with `.closed`.
    public func close() {
        closed = true
        monitorTask?.cancel(); pollTask?.cancel()
        pcsc?.stop(); pcsc = nil
        // Closing the session ends the login once no other session of this process is open on the
        // token (PKCS#11 login state is per application, so an explicit C_Logout would also log out
        // another actor on the same token).
        session?.close()
        session = nil
        retainedPIN = nil
        loggedIn = false
        failWaiters(TokenError(.closed, "the token was closed"))
        publishPresence()
    }

    // MARK: - State

    /// Current presence/login state.
    public var presence: TokenPresence {
        if closed { return .closed }
        if !present { return .absent }
        if loggedIn { return .ready }
        return loggingIn ? .loggingIn : .needsLogin
    }

    /// A stream of presence changes (current state first), for status displays ("waiting for the token").
    /// Ends when the actor is closed.
    public func presenceChanges() -> AsyncStream<TokenPresence> {
        let (stream, cont) = AsyncStream<TokenPresence>.makeStream(bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        presenceListeners[id] = cont
        cont.yield(presence)
        cont.onTermination = { _ in Task { await self.removeListener(id) } }
        return stream
    }

    private func removeListener(_ id: UUID) { presenceListeners[id] = nil }

    private func publishPresence() {
        let p = presence
        guard p != lastPublished else { return }
        lastPublished = p
        for c in presenceListeners.values { c.yield(p) }
        if p == .closed { for c in presenceListeners.values { c.finish() }; presenceListeners.removeAll() }
    }

    /// The token's PIN flags right now.
    public func pinFlags() throws -> PINFlags { try module.tokenInfo(slot).pinFlags }

    /// The plan (mechanism) used for an algorithm, or why there is none.
    public func plan(for algorithm: SigningAlgorithm) throws -> SigningPlan {
        if let p = plans[algorithm] { return p }
        let p = try SigningPlan.choose(algorithm, key: keyAlgorithm, available: mechanisms)
        plans[algorithm] = p
        return p
    }

    /// Waits until the token is present and logged in. Asks the PIN provider when one is set and a
    /// login is needed. Throws `.pinRequired` when no login can happen without the caller.
    public func waitUntilReady() async throws {
        while true {
            if closed { throw TokenError(.closed, "the token was closed") }
            if present && loggedIn { return }
            if present && !loggedIn && !loggingIn {
                if let loginFailure {
                    throw TokenError(loginFailure.code, loginFailure.message + "; not retrying: log in again explicitly", ckr: loginFailure.ckr, pinFlags: loginFailure.pinFlags, context: loginFailure.context)
                }
                if pinProvider != nil {
                    startProviderLogin(reason: everLoggedIn ? .reinserted : .initialLogin)
                } else if !everLoggedIn {
                    throw TokenError(.pinRequired, "the token is not logged in; supply the PIN (prompt, --pin-fd or --pin-file)")
                }
            }
            try Task.checkCancellation()
            nextWaiter += 1
            let id = nextWaiter
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in waiters[id] = c }
            } onCancel: {
                Task { await self.cancelWaiter(id) }
            }
        }
    }

    private func startProviderLogin(reason: PINRequestReason) {
        guard let provider = pinProvider, !loggingIn else { return }
        loggingIn = true
        publishPresence()
        Task { await self.providerLogin(provider, reason: reason) }
    }

    private func providerLogin(_ provider: any PINProvider, reason: PINRequestReason) async {
        defer { loggingIn = false; publishPresence() }
        do {
            let flags = (try? module.tokenInfo(slot).pinFlags) ?? []
            let pin = try await provider.pin(for: PINRequest(tokenLabel: tokenLabel, tokenSerial: tokenSerial, reason: reason, flags: flags))
            guard present, !closed else { resumeWaitersIfReady(); return }
            try performLogin(pin: pin)
        } catch let e as TokenError where e.code == .tokenRemoved {
            logger.warning("token went away during login; waiting for it")
            tokenWentAway()
        } catch {
            logger.error("token login failed", metadata: ["error": "\(error)"])
            loginFailure = (error as? TokenError) ?? TokenError(.pinSourceFailed, "the PIN could not be obtained: \(error)")
            // Never retried: signers get the error; the next call to login(pin:) or sign may try again.
            failWaiters(error)
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        waiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    private func resumeWaitersIfReady() {
        guard present && loggedIn else { return }
        let w = waiters; waiters.removeAll()
        for c in w.values { c.resume() }
    }

    private func wakeWaiters() {
        let w = waiters; waiters.removeAll()
        for c in w.values { c.resume() }
    }

    private func failWaiters(_ error: Error) {
        let w = waiters; waiters.removeAll()
        for c in w.values { c.resume(throwing: error) }
    }

    // MARK: - Signing

    /// Signs `message` (the token or we hash it, per the chosen mechanism). ECDSA returns a DER
    /// ECDSA-Sig-Value; RSA-PSS uses MGF1 with the same hash and salt = hash length.
    /// Waits (does not fail) while the token is removed.
    public func sign(_ message: [UInt8], algorithm: SigningAlgorithm) async throws -> [UInt8] {
        let plan = try self.plan(for: algorithm)
        let input = plan.input(for: message)
        while true {
            // Fast path without an async call when the token is ready (the common case in a batch).
            if !(present && loggedIn && !closed) { try await waitUntilReady() }
            let start = DispatchTime.now().uptimeNanoseconds
            do {
                let raw = try signOnce(plan, input)
                let out = try plan.output(raw)
                stats.record(Double(DispatchTime.now().uptimeNanoseconds &- start) / 1e6)
                return out
            } catch let e as TokenError where e.code == .tokenRemoved || (e.ckr == UInt(CKR_USER_NOT_LOGGED_IN) && !alwaysAuthenticate) {
                logger.warning("token went away during a signature; waiting for it", metadata: ["error": "\(e)"])
                tokenWentAway()
                continue
            } catch {
                stats.failures += 1
                throw error
            }
        }
    }

    /// Signs with the default algorithm for the key.
    public func sign(_ message: [UInt8]) async throws -> [UInt8] {
        try await sign(message, algorithm: keyAlgorithm.defaultSigningAlgorithm)
    }

    private func signOnce(_ plan: SigningPlan, _ input: [UInt8]) throws -> [UInt8] {
        guard let session else { throw TokenError(.tokenRemoved, "no session") }
        try session.signInit(mechanism: plan.mechanism, key: key)
        if alwaysAuthenticate {
            guard let box = retainedPIN else { throw TokenError(.pinRequired, "the key needs the PIN before every signature and none is held") }
            try session.login(.contextSpecific, pin: box.pin)
        }
        return try session.signFinal(input)
    }

    // MARK: - Presence

    private func tokenWentAway() {
        defer { publishPresence() }
        guard present || loggedIn else { return }
        if present { stats.removals += 1 }
        loggedIn = false
        if let session { session.close() }
        session = nil
        if configuration.presenceReader == nil {
            present = false
            startPolling()
        } else {
            // The reader says whether the card is there; if it still is, the session was lost: log in again.
            if present, pinProvider != nil { startProviderLogin(reason: .reinserted) }
        }
    }

    private func cardRemoved() {
        defer { publishPresence() }
        guard present else { return }
        logger.warning("token removed; signatures wait until it is back", metadata: ["reader": "\(configuration.presenceReader ?? "")"])
        stats.removals += 1
        present = false
        loggedIn = false
        if let session { session.logout(); session.close() }
        session = nil
    }

    private func cardInserted() {
        defer { publishPresence() }
        guard !present, !closed else { return }
        logger.info("token inserted", metadata: ["reader": "\(configuration.presenceReader ?? "")"])
        present = true
        reattach()
    }

    /// After the token is back: find its slot again (IDs can change) and log in through the provider.
    private func reattach() {
        do {
            let (s, info) = try Self.findToken(module: module, uri: configuration.key)
            guard info.serial == tokenSerial else {
                logger.error("a different token was inserted", metadata: ["serial": "\(info.serial)"])
                present = false
                return
            }
            slot = s
            session = try module.openSession(slot: s)
        } catch {
            logger.warning("token not usable yet", metadata: ["error": "\(error)"])
            present = false
            if configuration.presenceReader == nil { startPolling() }
            return
        }
        if pinProvider != nil, !waiters.isEmpty || everLoggedIn { startProviderLogin(reason: .reinserted) }
        wakeWaiters()
    }

    /// Without a PC/SC reader: poll the module (slot events where supported, else the slot list).
    private func startPolling() {
        guard pollTask == nil else { return }
        let interval = configuration.pollInterval
        pollTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                guard let self else { return }
                if await self.pollOnce() { break }
            }
        }
    }

    private func pollOnce() -> Bool {
        defer { publishPresence() }
        if present { pollTask = nil; return true }
        _ = try? module.pollSlotEvent()
        guard (try? Self.findToken(module: module, uri: configuration.key)) != nil else { return false }
        pollTask = nil
        present = true
        reattach()
        return true
    }

    /// Without a PC/SC reader: watch the slot (PKCS#11 slot events where the module has them,
    /// else the slot's token-present flag) so a removal is noticed even between signatures.
    private func startSlotWatch() {
        let interval = configuration.pollInterval
        monitorTask = Task { [weak self] in
            var eventsSupported = true
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(Int(max(interval, 0.05) * 1000)))
                guard let self else { return }
                eventsSupported = await self.checkSlot(useEvents: eventsSupported)
            }
        }
    }

    /// One look at the slot; returns whether slot events are supported.
    private func checkSlot(useEvents: Bool) -> Bool {
        guard present, !closed else { return useEvents }
        var supported = useEvents
        if useEvents {
            do {
                guard try module.pollSlotEvent() != nil else { return true }
            } catch {
                supported = false
            }
        }
        if let info = try? module.slotInfo(slot), !info.tokenPresent {
            logger.warning("token removed from its slot; signatures wait until it is back", metadata: ["slot": "\(slot)"])
            tokenWentAway()
        }
        return supported
    }

    private func startPresenceMonitoring() {
        guard let reader = configuration.presenceReader else { startSlotWatch(); return }
        let (stream, cont) = AsyncStream<PCSCEvent>.makeStream()
        let monitor = PCSCMonitor { event in cont.yield(event) }
        pcsc = monitor
        // Initial state: ask PC/SC synchronously so the first sign sees the truth.
        if let readers = try? PCSC.readers(), let r = readers.first(where: { $0.name == reader }) {
            present = r.cardPresent
        } else {
            present = false
        }
        monitorTask = Task { [weak self] in
            for await e in stream {
                guard let self else { return }
                await self.handle(e)
            }
        }
        monitor.start()
    }

    private func handle(_ e: PCSCEvent) {
        guard let reader = configuration.presenceReader else { return }
        switch e {
        case .cardInserted(let r, _) where r == reader: cardInserted()
        case .cardRemoved(let r) where r == reader: cardRemoved()
        case .readerRemoved(let r) where r == reader: cardRemoved()
        case .serviceUnavailable: cardRemoved()
        default: break
        }
    }

    /// Checks a signature against the certificate's public key (libcrypto). For self-checks after
    /// signing and for tests; `signature` is what `sign` returned (DER for ECDSA).
    public nonisolated func verify(_ signature: [UInt8], message: [UInt8], algorithm: SigningAlgorithm) -> Bool {
        let kind: Int32 = switch algorithm { case .rsaPKCS1v15: 1; case .rsaPSS: 2; case .ecdsa: 3 }
        let rc = publicKeyDER.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                signature.withUnsafeBufferPointer { sg in
                    sb_verify(kind, algorithm.hash.bits, k.baseAddress, k.count, m.baseAddress, m.count, sg.baseAddress, sg.count)
                }
            }
        }
        return rc == 1
    }

    /// The signing mechanisms the token offers (CKF_SIGN), as found at open.
    public var signingMechanisms: [String] { mechanisms.sorted().map(PKCS11.name(ofMechanism:)) }

    /// Test hook: pretend the token offers only these mechanisms.
    func limitMechanisms(to allowed: Set<UInt>) {
        mechanisms = mechanisms.intersection(allowed)
        plans.removeAll()
    }

    /// Replaces the PIN provider (e.g. the CLI's prompt).
    public func setPINProvider(_ provider: (any PINProvider)?) { pinProvider = provider }
}

/// Holds a PIN for the run (keys with CKA_ALWAYS_AUTHENTICATE need it before every signature).
final class PINBox: @unchecked Sendable {
    let pin: PIN
    init(_ pin: consuming PIN) { self.pin = pin }
}
