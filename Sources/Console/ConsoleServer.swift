import Foundation
import Governance
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Mustache
import NIOCore
import Pipeline
import Signing

/// How `sealbatch serve` runs.
public struct ConsoleConfiguration: Sendable {
    /// Registry database.
    public var registryPath: String
    /// Audit checkpoint key (default `<registry>.audit-key.pem`).
    public var auditKeyPath: String?
    /// Pipeline files whose folders the console shows and feeds.
    public var pipelineFiles: [String] = []
    /// Listen address.
    public var host = "127.0.0.1"
    /// Listen port (0: any free port; the chosen one is printed).
    public var port = 8443
    /// TLS certificate chain (PEM) and key (PEM); both or neither.
    public var tlsCertificate: String?
    /// TLS private key (PEM).
    public var tlsKey: String?
    /// Trust anchors for the verify page (files or folders, as `sealbatch verify --trust`).
    public var trust: [String] = []
    /// Largest accepted upload in bytes.
    public var maxUpload = 20 << 20
    /// Consecutive wrong passwords that lock an account.
    public var maxFailures = 5
    /// How long a locked account stays locked (seconds).
    public var lockoutSeconds: TimeInterval = 15 * 60
    /// Login attempts allowed per client address per minute.
    public var loginRatePerMinute = 30
    /// Where stamping requests are kept (default `<registry>.console/`).
    public var dataDirectory: String?

    /// Creates a configuration.
    public init(registryPath: String) { self.registryPath = registryPath }

    var tls: Bool { tlsCertificate != nil }
}

/// The request context: Hummingbird's core storage plus the client address (for the login rate limit).
public struct ConsoleContext: RequestContext {
    /// Core storage.
    public var coreContext: CoreRequestContextStorage
    /// Client IP address.
    public let remote: String
    /// Creates a context for a request from a channel.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remote = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// The web console (`sealbatch serve`): pages per role over the registry, audit log, approval book and
/// pipeline folders, with every rule taken from Governance's `Policy`.
public final class ConsoleServer: Sendable {
    let config: ConsoleConfiguration
    let registry: Registry
    let book: ApprovalBook
    let sessions = SessionStore()
    let logins: LoginGuard
    let library: MustacheLibrary
    let pipelines: [ConsolePipeline]
    let requests: RequestStore
    let logger: Logger
    let chainStatus = ChainStatus()

    static let sessionCookie = "sb_session"

    /// Opens the registry and the pipelines.
    public init(_ config: ConsoleConfiguration, logger: Logger = Logger(label: "sealbatch.console")) throws {
        self.config = config
        self.logger = logger
        registry = try GovernanceWorkspace.open(registryPath: config.registryPath, auditKeyPath: config.auditKeyPath)
        book = ApprovalBook(registry: registry)
        logins = LoginGuard(LoginThrottle(maxFailures: config.maxFailures, lockout: config.lockoutSeconds,
                                          perAddressPerMinute: config.loginRatePerMinute))
        var lib = MustacheLibrary()
        for (name, text) in ConsoleTemplates.all { try lib.register(text, named: name) }
        library = lib
        pipelines = try config.pipelineFiles.map { try ConsolePipeline.load($0) }
        requests = try RequestStore(directory: URL(fileURLWithPath: config.dataDirectory ?? (config.registryPath + ".console")))
    }

    /// Runs until cancelled; `onListening` receives the URL once the socket is bound.
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        let router = Router(context: ConsoleContext.self)
        routes(router)
        let scheme = config.tls ? "https" : "http"
        let server: HTTPServerBuilder
        if let cert = config.tlsCertificate, let key = config.tlsKey {
            let tls = TLSConfiguration.makeServerConfiguration(certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            server = try .tls(.http1(), tlsConfiguration: tls)
        } else {
            server = .http1()
        }
        let host = config.host
        let app = Application(router: router, server: server,
                              configuration: .init(address: .hostname(host, port: config.port), serverName: "sealbatch"),
                              onServerRunning: { channel in
                                  let port = channel.localAddress?.port ?? 0
                                  onListening("\(scheme)://\(host):\(port)/")
                              }, logger: logger)
        try await app.runService()
    }

    // MARK: - Routing

    func routes(_ r: Router<ConsoleContext>) {
        r.get("/static/console.css") { _, _ in Self.text(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        r.get("/static/console.js") { _, _ in Self.text(ConsoleAssets.js, type: "text/javascript; charset=utf-8") }
        r.get("/lang") { req, _ in self.switchLanguage(req) }
        r.get("/login") { req, _ in await self.loginPage(req) }
        r.post("/login") { req, ctx in await self.login(req, ctx) }
        r.post("/logout") { req, ctx in await self.guarded(req, ctx, page: nil) { a in try await self.logout(a) } }
        r.get("/") { req, ctx in await self.guarded(req, ctx, page: .dashboard) { a in try self.dashboard(a) } }
        r.get("/api/dashboard") { req, ctx in await self.guarded(req, ctx, page: .dashboard, api: true) { a in try self.dashboardJSON(a) } }
        r.get("/events") { req, ctx in await self.guarded(req, ctx, page: .dashboard, api: true) { a in self.events(a) } }
        r.get("/audit") { req, ctx in await self.guarded(req, ctx, page: .audit) { a in try await self.auditPage(a) } }
        r.get("/api/audit") { req, ctx in await self.guarded(req, ctx, page: .audit, api: true) { a in try await self.auditExport(a, format: "json") } }
        r.get("/audit/export") { req, ctx in await self.guarded(req, ctx, page: .audit) { a in try await self.auditExport(a, format: a.query["format"] ?? "csv") } }
        r.get("/seals") { req, ctx in await self.guarded(req, ctx, page: .seals) { a in try self.sealsPage(a) } }
        r.get("/api/seals") { req, ctx in await self.guarded(req, ctx, page: .seals, api: true) { a in try self.sealsJSON(a) } }
        r.post("/seals/status") { req, ctx in await self.guarded(req, ctx, page: .seals) { a in try await self.sealStatus(a) } }
        r.post("/seals/register") { req, ctx in await self.guarded(req, ctx, page: .seals) { a in try await self.sealRegister(a) } }
        r.get("/users") { req, ctx in await self.guarded(req, ctx, page: .users) { a in try await self.usersPage(a) } }
        r.get("/api/users") { req, ctx in await self.guarded(req, ctx, page: .users, api: true) { a in try await self.usersJSON(a) } }
        r.post("/users/unlock") { req, ctx in await self.guarded(req, ctx, page: .users) { a in try await self.unlockUser(a) } }
        r.post("/users/status") { req, ctx in await self.guarded(req, ctx, page: .users) { a in try await self.userStatus(a) } }
        r.get("/organisations") { req, ctx in await self.guarded(req, ctx, page: .organisations) { a in try self.organisationsPage(a) } }
        r.get("/api/organisations") { req, ctx in await self.guarded(req, ctx, page: .organisations, api: true) { a in try self.organisationsJSON(a) } }
        r.post("/organisations") { req, ctx in await self.guarded(req, ctx, page: .organisations) { a in try await self.createOrganisation(a) } }
        r.get("/quarantine") { req, ctx in await self.guarded(req, ctx, page: .quarantine) { a in try self.quarantinePage(a) } }
        r.get("/api/quarantine") { req, ctx in await self.guarded(req, ctx, page: .quarantine, api: true) { a in try self.quarantineJSON(a) } }
        r.get("/quarantine/download") { req, ctx in await self.guarded(req, ctx, page: .quarantine) { a in try await self.quarantineDownload(a) } }
        r.post("/quarantine/requeue") { req, ctx in await self.guarded(req, ctx, page: .quarantine) { a in try await self.requeue(a) } }
        r.get("/verify") { req, ctx in await self.guarded(req, ctx, page: .verify) { a in try self.render(a, page: .verify, template: "verify", [:]) } }
        r.post("/verify") { req, ctx in await self.guarded(req, ctx, page: .verify, api: true) { a in try await self.verifyUpload(a) } }
        stampRoutes(r)
    }

    // MARK: - Guard: session, role, CSRF (fail closed)

    /// Everything a page handler gets once the session, role and CSRF checks passed.
    struct Acting: Sendable {
        var session: ConsoleSession
        var user: AuthenticatedUser
        var rights: ActorRights
        var seals: [Seal]
        var pages: [ConsolePage]
        var lang: ConsoleLanguage
        var request: Request
        var form: [String: String]
        var query: [String: String]
        var remote: String
        var api: Bool
        var organisation: String? { user.user.organisation }
    }

    /// A handler's refusal: status and message key.
    struct Refusal: Error { var status: HTTPResponse.Status; var key: String; var detail: String? = nil }

    func guarded(_ req: Request, _ ctx: ConsoleContext, page: ConsolePage?, api: Bool = false,
                 _ body: @Sendable (Acting) async throws -> Response) async -> Response {
        let lang = language(req)
        guard let session = await sessions.get(req.cookies[Self.sessionCookie]?.value), let user = session.user else {
            if api || req.method != .get { return Self.json(["error": "not logged in"], status: .unauthorized) }
            return Self.redirect("/login")
        }
        var acting: Acting
        do {
            guard let current = try registry.user(user.id), current.status == .active else {
                await sessions.endAll(user: user.id)
                return Self.redirect("/login")
            }
            let rights = try registry.rights(of: user.id)
            let seals = try registry.seals(organisation: current.organisation)
            let pages = ConsoleAccess.pages(rights: rights, seals: seals)
            acting = Acting(session: session, user: user, rights: rights, seals: seals, pages: pages, lang: lang, request: req,
                            form: [:], query: Self.parseForm(req.uri.query ?? ""), remote: ctx.remote, api: api)
            if let page, !pages.contains(page) {
                audit(AuditEntry(actor: user.id, action: "console.forbidden", organisation: current.organisation, outcome: .refused,
                                 reason: "not-authorised", detail: "\(req.method.rawValue) \(req.uri.path) is not a page of \(user.id)'s roles"))
                return errorPage(acting, status: .forbidden, key: "forbidden", detail: ConsoleText.t("forbidden-detail", lang))
            }
        } catch {
            // a role check that errors is a refusal
            logger.error("role check failed", metadata: ["error": "\(error)"])
            return Self.text("403 forbidden: the role check failed", type: "text/plain; charset=utf-8", status: .forbidden)
        }
        if req.method == .post {
            let token: String?
            let type = req.headers[.contentType] ?? ""
            if type.hasPrefix("application/x-www-form-urlencoded") {
                var r = req
                guard let buf = try? await r.collectBody(upTo: 1 << 20) else {
                    return errorPage(acting, status: .contentTooLarge, key: "upload-too-large", detail: "1 MiB")
                }
                acting.form = Self.parseForm(String(buffer: buf))
                acting.request = r
                token = acting.form["csrf"]
            } else {
                token = req.headers[HTTPField.Name("X-CSRF-Token")!]
            }
            let originOK = Self.sameOrigin(req)
            guard originOK, let token, constantTimeEqual(token, session.csrf) else {
                audit(AuditEntry(actor: user.id, action: "console.csrf", organisation: user.user.organisation, outcome: .refused,
                                 reason: "csrf", detail: "\(req.uri.path): \(originOK ? "missing or wrong CSRF token" : "cross-origin request")"))
                return errorPage(acting, status: .forbidden, key: "csrf-failed")
            }
        }
        do {
            return try await body(acting)
        } catch let r as Refusal {
            return errorPage(acting, status: r.status, key: r.key, detail: r.detail)
        } catch let e as GovernanceError {
            let status: HTTPResponse.Status = (e.code == .notAuthorised || e.code == .separationOfDuties) ? .forbidden : .badRequest
            return errorPage(acting, status: status, key: "refused", detail: e.description)
        } catch let e as ApprovalRefusal {
            return errorPage(acting, status: .badRequest, key: "refused", detail: e.description)
        } catch {
            logger.error("request failed", metadata: ["path": "\(req.uri.path)", "error": "\(error)"])
            return errorPage(acting, status: .internalServerError, key: "refused", detail: "\(error)")
        }
    }

    /// A POST whose Origin (or Referer) names another site is refused whatever token it carries.
    static func sameOrigin(_ req: Request) -> Bool {
        guard let host = req.head.authority else { return false }
        if let origin = req.headers[HTTPField.Name("Origin")!] {
            if origin == "null" { return false }
            guard let u = URL(string: origin), let h = u.host else { return false }
            return (u.port.map { "\(h):\($0)" } ?? h) == host
        }
        if let referer = req.headers[.referer], let u = URL(string: referer), let h = u.host {
            return (u.port.map { "\(h):\($0)" } ?? h) == host
        }
        return true
    }

    // MARK: - Login

    func language(_ req: Request) -> ConsoleLanguage {
        ConsoleLanguage.pick(cookie: req.cookies["lang"]?.value, acceptLanguage: req.headers[.acceptLanguage])
    }

    func cookie(_ name: String, _ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: config.tls, httpOnly: true, sameSite: .strict)
    }

    func switchLanguage(_ req: Request) -> Response {
        let to = ConsoleLanguage(rawValue: Self.parseForm(req.uri.query ?? "")["to"] ?? "") ?? .zh
        var back = "/"
        if let ref = req.headers[.referer], let u = URL(string: ref), u.host == nil || (req.head.authority.map { ($0.split(separator: ":").first.map(String.init)) == u.host } ?? false) {
            back = u.path.isEmpty ? "/" : u.path
            if let q = u.query { back += "?" + q }
        }
        var resp = Self.redirect(back.hasPrefix("/") && !back.hasPrefix("//") ? back : "/")
        resp.setCookie(cookie("lang", to.rawValue, maxAge: 365 * 86400))
        return resp
    }

    func loginPage(_ req: Request, status: HTTPResponse.Status = .ok, flashKey: String? = nil) async -> Response {
        if let s = await sessions.get(req.cookies[Self.sessionCookie]?.value), s.user != nil { return Self.redirect("/") }
        let pre = await sessions.create(user: nil)
        let lang = language(req)
        var ctx = base(lang: lang, csrf: pre.csrf, title: ConsoleText.t("login", lang), page: "login")
        if let flashKey { ctx["flash"] = ConsoleText.t(flashKey, lang) }
        ctx["body"] = library.render(ctx, withTemplate: "login") ?? ""
        var resp = Self.html(library.render(ctx, withTemplate: "layout") ?? "", status: status)
        resp.setCookie(cookie(Self.sessionCookie, pre.id))
        return resp
    }

    func login(_ req: Request, _ ctx: ConsoleContext) async -> Response {
        var r = req
        guard let buf = try? await r.collectBody(upTo: 64 << 10) else { return Self.text("request too large", type: "text/plain; charset=utf-8", status: .contentTooLarge) }
        let form = Self.parseForm(String(buffer: buf))
        let pre = await sessions.get(req.cookies[Self.sessionCookie]?.value)
        guard let pre, Self.sameOrigin(req), let token = form["csrf"], constantTimeEqual(token, pre.csrf) else {
            audit(AuditEntry(actor: form["user"] ?? "?", action: "console.csrf", outcome: .refused, reason: "csrf",
                             detail: "login form without a valid CSRF token from \(ctx.remote)"))
            return await loginPage(req, status: .forbidden, flashKey: "csrf-failed")
        }
        let userID = (form["user"] ?? "").trimmingCharacters(in: .whitespaces)
        let org = (try? registry.user(userID))??.organisation
        switch await logins.gate(user: userID, address: ctx.remote) {
        case .rateLimited:
            audit(AuditEntry(actor: userID, action: "console.login", organisation: org, outcome: .refused, reason: "rate-limited",
                             detail: "too many login attempts from \(ctx.remote)"))
            return await loginPage(req, status: .tooManyRequests, flashKey: "login-rate")
        case .locked(let until):
            audit(AuditEntry(actor: userID, action: "console.login", organisation: org, outcome: .refused, reason: "locked",
                             detail: "account locked until \(Self.iso(until)); password not checked (from \(ctx.remote))"))
            return await loginPage(req, status: .forbidden, flashKey: "login-locked")
        case .proceed: break
        }
        var password = Array((form["password"] ?? "").utf8)
        defer { for i in password.indices { password[i] = 0 } }
        let user: AuthenticatedUser
        do {
            user = try registry.authenticate(.password(user: userID, password: password))   // audits a failure (`auth`)
        } catch {
            if let until = await logins.failed(user: userID) {
                audit(AuditEntry(actor: userID, action: "console.lockout", organisation: org, outcome: .refused, reason: "locked-out",
                                 detail: "\(config.maxFailures) wrong passwords in a row: locked until \(Self.iso(until)) (from \(ctx.remote))"))
                return await loginPage(req, status: .forbidden, flashKey: "login-locked")
            }
            audit(AuditEntry(actor: userID, action: "console.login", organisation: org, outcome: .refused, reason: "authentication-failed",
                             detail: "wrong user or password from \(ctx.remote)"))
            return await loginPage(req, status: .unauthorized, flashKey: "login-failed")
        }
        await logins.succeeded(user: userID)
        await sessions.end(pre.id)
        let s = await sessions.create(user: user)       // a fresh id: no fixation
        audit(AuditEntry(actor: user.id, action: "console.login", organisation: user.user.organisation,
                         detail: "logged in with \(user.method) from \(ctx.remote)"))
        var resp = Self.redirect("/")
        resp.setCookie(cookie(Self.sessionCookie, s.id))
        return resp
    }

    func logout(_ a: Acting) async throws -> Response {
        await sessions.end(a.session.id)
        audit(AuditEntry(actor: a.user.id, action: "console.logout", organisation: a.organisation, detail: "logged out"))
        var resp = Self.redirect("/login")
        resp.setCookie(cookie(Self.sessionCookie, "", maxAge: 0))
        return resp
    }

    // MARK: - Audit of console actions

    /// Appends a console record to the registry's audit log and checkpoints when due. A record that cannot
    /// be written is logged loudly (the action it describes has already been refused or done).
    func audit(_ e: AuditEntry) {
        do { _ = try registry.audit.append(e) } catch {
            logger.error("audit record could not be written", metadata: ["action": "\(e.action)", "error": "\(error)"])
        }
        let log = registry.audit
        Task { try? await log.checkpointIfDue() }
    }

    // MARK: - Rendering

    func base(lang: ConsoleLanguage, csrf: String, title: String, page: String) -> [String: Any] {
        ["t": ConsoleText.strings(lang), "lang": lang.rawValue, "other_lang": lang == .zh ? "en" : "zh", "csrf": csrf,
         "title": title, "page": page]
    }

    func render(_ a: Acting, page: ConsolePage, template: String, _ data: [String: Any], status: HTTPResponse.Status = .ok,
                flash: String? = nil) throws -> Response {
        var ctx = base(lang: a.lang, csrf: a.session.csrf, title: ConsoleText.t("page-\(page.rawValue)", a.lang), page: page.rawValue)
        for (k, v) in data { ctx[k] = v }
        ctx["user"] = ["id": a.user.id, "roles": rolesText(a.rights),
                       "nav": a.pages.map { p in ["href": p.path, "id": p.rawValue, "label": ConsoleText.t("page-\(p.rawValue)", a.lang), "active": p == page] as [String: Any] }] as [String: Any]
        if let flash = flash ?? a.query["flash"].flatMap({ ConsoleText.table[$0] != nil ? ConsoleText.t($0, a.lang) : nil }) { ctx["flash"] = flash }
        ctx["body"] = library.render(ctx, withTemplate: template) ?? ""
        return Self.html(library.render(ctx, withTemplate: "layout") ?? "", status: status)
    }

    func rolesText(_ r: ActorRights) -> String {
        var parts = r.roles.map { $0.role.rawValue + ($0.organisation.map { "@\($0)" } ?? "") }
        parts += r.sealRights.map { "\($0.right.rawValue):\($0.seal)" }
        return parts.isEmpty ? "-" : parts.joined(separator: ", ")
    }

    func errorPage(_ a: Acting, status: HTTPResponse.Status, key: String, detail: String? = nil) -> Response {
        if a.api { return Self.json(["error": ConsoleText.t(key, .en), "detail": detail ?? ""], status: status) }
        var ctx = base(lang: a.lang, csrf: a.session.csrf, title: "\(status.code) · \(ConsoleText.t(key, a.lang))", page: "error")
        ctx["user"] = ["id": a.user.id, "roles": rolesText(a.rights),
                       "nav": a.pages.map { p in ["href": p.path, "id": p.rawValue, "label": ConsoleText.t("page-\(p.rawValue)", a.lang)] as [String: Any] }] as [String: Any]
        ctx["message"] = ConsoleText.t(key, a.lang)
        if let detail { ctx["detail"] = detail }
        ctx["body"] = library.render(ctx, withTemplate: "error") ?? ""
        return Self.html(library.render(ctx, withTemplate: "layout") ?? "", status: status)
    }

    static func html(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
        text(s, type: "text/html; charset=utf-8", status: status)
    }

    static func text(_ s: String, type: String, status: HTTPResponse.Status = .ok) -> Response {
        bytes(Array(s.utf8), type: type, status: status)
    }

    static func bytes(_ b: [UInt8], type: String, status: HTTPResponse.Status = .ok, filename: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-store",
                                   HTTPField.Name("X-Content-Type-Options")!: "nosniff",
                                   HTTPField.Name("X-Frame-Options")!: "DENY",
                                   HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'"]
        if let filename {
            let ascii = String(filename.unicodeScalars.map { ($0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" && $0 != ";") ? Character($0) : "_" })
            let encoded = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "download"
            headers[.contentDisposition] = "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: b)))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, filename: String? = nil) -> Response {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        let data = (try? e.encode(value)) ?? Data("{}".utf8)
        return bytes(Array(data), type: "application/json; charset=utf-8", status: status, filename: filename)
    }

    static func redirect(_ to: String) -> Response {
        Response(status: .seeOther, headers: [.location: to, .cacheControl: "no-store"])
    }

    static func parseForm(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in s.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func dec(_ x: Substring) -> String { String(x).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let k = dec(kv[0])
            if out[k] == nil { out[k] = kv.count > 1 ? dec(kv[1]) : "" }
        }
        return out
    }

    static func iso(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }

    static func shortTime(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: d) + "Z"
    }

    /// HTML-escapes text for the SVG the server builds (Mustache escapes everything else).
    static func esc(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }
}
