import Foundation
import Governance
import Signing

/// A browser session: who logged in, the CSRF token every form and POST must carry, and its language.
public struct ConsoleSession: Sendable {
    /// Random id (the cookie value); a fresh one is made at login.
    public let id: String
    /// The authenticated user; nil for the pre-login session that only carries the login form's CSRF token.
    public var user: AuthenticatedUser?
    /// The CSRF token of this session (a hidden field on every form, `X-CSRF-Token` on every script POST).
    public let csrf: String
    /// Creation time.
    public let created: Date
    /// Last request.
    public var lastSeen: Date
}

/// Constant-time comparison of two strings (CSRF tokens).
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count, !x.isEmpty else { return false }
    var d: UInt8 = 0
    for i in x.indices { d |= x[i] ^ y[i] }
    return d == 0
}

/// Random hex of `n` bytes from the system's CSPRNG.
func randomToken(_ n: Int = 32) -> String { DetachedSignature.hex(DetachedSignature.randomBytes(n)) }

/// The console's sessions, in memory (a restart logs everyone out).
public actor SessionStore {
    var sessions: [String: ConsoleSession] = [:]
    /// Idle time after which a session ends.
    public let idleTimeout: TimeInterval
    /// Lifetime after which a session ends whatever its activity.
    public let absoluteTimeout: TimeInterval

    /// Creates an empty store.
    public init(idleTimeout: TimeInterval = 30 * 60, absoluteTimeout: TimeInterval = 12 * 3600) {
        self.idleTimeout = idleTimeout; self.absoluteTimeout = absoluteTimeout
    }

    /// A new session (anonymous when `user` is nil) with a fresh id and CSRF token.
    public func create(user: AuthenticatedUser?, now: Date = Date()) -> ConsoleSession {
        prune(now)
        let s = ConsoleSession(id: randomToken(), user: user, csrf: randomToken(), created: now, lastSeen: now)
        sessions[s.id] = s
        return s
    }

    /// The live session with this id (touching it), or nil when unknown or expired.
    public func get(_ id: String?, now: Date = Date()) -> ConsoleSession? {
        guard let id, var s = sessions[id] else { return nil }
        if now.timeIntervalSince(s.lastSeen) > idleTimeout || now.timeIntervalSince(s.created) > absoluteTimeout {
            sessions[id] = nil
            return nil
        }
        s.lastSeen = now
        sessions[id] = s
        return s
    }

    /// Ends a session.
    public func end(_ id: String?) { if let id { sessions[id] = nil } }

    /// Ends every session of a user (disabled, locked, credentials changed).
    public func endAll(user: String) { sessions = sessions.filter { $0.value.user?.id != user } }

    func prune(_ now: Date) {
        if sessions.count > 10_000 {
            sessions = sessions.filter { now.timeIntervalSince($0.value.lastSeen) <= idleTimeout }
        }
    }
}

/// Login throttling: at most `perAddressPerMinute` attempts from one address per minute, and an account
/// locked after `maxFailures` consecutive wrong passwords until `lockout` has passed or an administrator
/// unlocks it. A pure state machine over time (tested alone); the server keeps one in an actor.
public struct LoginThrottle: Sendable {
    /// Consecutive wrong passwords that lock an account.
    public var maxFailures = 5
    /// How long a locked account stays locked.
    public var lockout: TimeInterval = 15 * 60
    /// Attempts allowed from one client address per minute.
    public var perAddressPerMinute = 30

    struct Account { var failures = 0; var lockedUntil: Date? }
    var accounts: [String: Account] = [:]
    var attempts: [String: [Date]] = [:]

    /// Creates a throttle.
    public init(maxFailures: Int = 5, lockout: TimeInterval = 15 * 60, perAddressPerMinute: Int = 30) {
        self.maxFailures = maxFailures; self.lockout = lockout; self.perAddressPerMinute = perAddressPerMinute
    }

    /// What to do with a login attempt before the password is checked.
    public enum Gate: Equatable, Sendable {
        /// Check the password.
        case proceed
        /// Too many attempts from this address: refuse without checking (HTTP 429).
        case rateLimited
        /// The account is locked until this time: refuse without checking.
        case locked(until: Date)
    }

    /// Records an attempt from `address` for `user` and says whether to check the password.
    public mutating func gate(user: String, address: String, now: Date) -> Gate {
        var list = (attempts[address] ?? []).filter { now.timeIntervalSince($0) < 60 }
        if list.count >= perAddressPerMinute { attempts[address] = list; return .rateLimited }
        list.append(now)
        attempts[address] = list
        if let until = accounts[user]?.lockedUntil {
            if until > now { return .locked(until: until) }
            accounts[user] = Account()
        }
        return .proceed
    }

    /// Records a wrong password; returns the lock-out end when this failure locked the account.
    public mutating func failed(user: String, now: Date) -> Date? {
        var a = accounts[user] ?? Account()
        a.failures += 1
        if a.failures >= maxFailures {
            a.lockedUntil = now.addingTimeInterval(lockout)
            a.failures = 0
            accounts[user] = a
            return a.lockedUntil
        }
        accounts[user] = a
        return nil
    }

    /// Records a successful login (clears the failure count).
    public mutating func succeeded(user: String) { accounts[user] = nil }

    /// Unlocks an account (administrator action).
    public mutating func unlock(user: String) { accounts[user] = nil }

    /// The lock-out end of a locked account, if locked now.
    public func lockedUntil(user: String, now: Date) -> Date? {
        guard let u = accounts[user]?.lockedUntil, u > now else { return nil }
        return u
    }
}

/// The server's login throttle.
public actor LoginGuard {
    var throttle: LoginThrottle
    /// Creates a guard.
    public init(_ throttle: LoginThrottle) { self.throttle = throttle }
    /// See `LoginThrottle.gate`.
    public func gate(user: String, address: String, now: Date = Date()) -> LoginThrottle.Gate { throttle.gate(user: user, address: address, now: now) }
    /// See `LoginThrottle.failed`.
    public func failed(user: String, now: Date = Date()) -> Date? { throttle.failed(user: user, now: now) }
    /// See `LoginThrottle.succeeded`.
    public func succeeded(user: String) { throttle.succeeded(user: user) }
    /// See `LoginThrottle.unlock`.
    public func unlock(user: String) { throttle.unlock(user: user) }
    /// See `LoginThrottle.lockedUntil`.
    public func lockedUntil(user: String, now: Date = Date()) -> Date? { throttle.lockedUntil(user: user, now: now) }
}
