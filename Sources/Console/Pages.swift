import Foundation
import Governance
import HTTPTypes
import Hummingbird
import NIOCore
import Pipeline
import Render
import Signing

/// One seal use as the dashboard shows it.
struct UseRow: Codable, Sendable {
    var seq: Int64
    var time: String
    var seal: String
    var actor: String
    var outcome: String
    var sha: String
    var detail: String

    init(_ r: AuditRecord) {
        seq = r.seq; time = ConsoleServer.shortTime(r.time); seal = r.entry.seal ?? ""; actor = r.entry.actor
        outcome = r.entry.outcome.rawValue; sha = r.entry.documentsBefore.first ?? ""; detail = r.entry.detail
    }
    var dict: [String: Any] { ["seq": seq, "time": time, "seal": seal, "actor": actor, "outcome": outcome, "sha": sha, "detail": detail] }
}

/// The audit chain's verification as the audit page shows it. `AuditLog.verify` reads and hashes every
/// record and checks every checkpoint (seconds at 100 000 records, bench/console.sh), so the page shows the
/// latest result with the time it was made, redone when older than `maxAge`; concurrent pages share one
/// verification. `sealbatch audit verify` remains the full check on demand.
actor ChainStatus {
    struct Result: Sendable { var verification: AuditVerification; var at: Date }
    let maxAge: TimeInterval
    var last: Result?
    init(maxAge: TimeInterval = 60) { self.maxAge = maxAge }

    func current(_ verify: @Sendable () throws -> AuditVerification) throws -> Result {
        if let last, Date().timeIntervalSince(last.at) < maxAge { return last }
        let r = Result(verification: try verify(), at: Date())
        last = r
        return r
    }
}

/// Pipeline counts as the dashboard shows them.
struct CountRow: Codable, Sendable {
    var name: String
    var inbox, work, outbox, quarantine: Int
    var dict: [String: Any] { ["name": name, "inbox": inbox, "work": work, "outbox": outbox, "quarantine": quarantine] }
}

extension ConsoleServer {
    // MARK: - Dashboard

    func countRows() -> [CountRow] {
        pipelines.map { p in let c = p.counts(); return CountRow(name: p.name, inbox: c.inbox, work: c.work, outbox: c.outbox, quarantine: c.quarantine) }
    }

    /// Seal uses (`stamp` records) the user may see: the organisation's for its seal administrator, their own
    /// for everyone else (`Registry.auditRecords`, the CLI's rule).
    func uses(_ a: Acting, since: Date? = nil, afterSeq: Int64? = nil) throws -> [AuditRecord] {
        try registry.auditRecords(AuditQuery(action: "stamp", since: since, afterSeq: afterSeq), as: a.user)
    }

    func dashboard(_ a: Acting) throws -> Response {
        let now = Date()
        let recent = try uses(a, since: now.addingTimeInterval(-14 * 86400))
        let rows = countRows()
        return try render(a, page: .dashboard, template: "dashboard", [
            "pipelines": rows.map(\.dict), "has_pipelines": !rows.isEmpty,
            "uses": recent.suffix(20).reversed().map { UseRow($0).dict },
            "chart": Self.historyChart(recent, now: now, lang: a.lang),
        ])
    }

    func dashboardJSON(_ a: Acting) throws -> Response {
        struct Out: Encodable { var pipelines: [CountRow]; var uses: [UseRow] }
        let recent = try uses(a, since: Date().addingTimeInterval(-14 * 86400))
        return Self.json(Out(pipelines: countRows(), uses: recent.suffix(20).reversed().map(UseRow.init)))
    }

    /// Server-Sent Events: `use` for every new seal use the user may see (polled every 200 ms), `counts`
    /// every 2 s. Ends when the session ends or the client goes away.
    func events(_ a: Acting) -> Response {
        let start = (try? registry.store.lastAuditRecord()?.seq) ?? 0
        let sessionID = a.session.id
        let body = ResponseBody { writer in
            var last = start
            var tick = 0
            try await writer.write(ByteBuffer(string: "retry: 1000\n: connected\n\n"))
            while !Task.isCancelled {
                guard await self.sessions.get(sessionID) != nil else { break }
                let fresh = (try? self.uses(a, afterSeq: last)) ?? []
                for r in fresh {
                    last = max(last, r.seq)
                    let data = try JSONEncoder().encode(UseRow(r))
                    try await writer.write(ByteBuffer(string: "event: use\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                }
                if let head = try? self.registry.store.lastAuditRecord()?.seq { last = max(last, head) }
                if tick % 10 == 0 {
                    let data = try JSONEncoder().encode(self.countRows())
                    try await writer.write(ByteBuffer(string: "event: counts\ndata: \(String(decoding: data, as: UTF8.self))\n\n"))
                }
                tick += 1
                try await Task.sleep(nanoseconds: 200_000_000)
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store"], body: body)
    }

    /// Uses per day per seal over the last 14 days as an inline SVG bar chart.
    static func historyChart(_ records: [AuditRecord], now: Date, lang: ConsoleLanguage) -> String {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let today = cal.startOfDay(for: now)
        let days = (0..<14).reversed().map { cal.date(byAdding: .day, value: -$0, to: today)! }
        var counts: [String: [Int]] = [:]
        for r in records where r.entry.outcome == .ok {
            let d = cal.startOfDay(for: r.time)
            guard let i = days.firstIndex(of: d) else { continue }
            counts[r.entry.seal ?? "?", default: Array(repeating: 0, count: 14)][i] += 1
        }
        let seals = counts.keys.sorted()
        let colours = ["#c0392b", "#2c7fb8", "#27ae60", "#8e44ad", "#d35400", "#16a085"]
        let maxTotal = max(1, (0..<14).map { i in seals.reduce(0) { $0 + counts[$1]![i] } }.max() ?? 1)
        let w = 640.0, h = 200.0, left = 30.0, bottom = 24.0, barW = (w - left) / 14.0 - 4
        var svg = "<svg id=\"history\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(w)) \(Int(h + 40))\" width=\"\(Int(w))\" height=\"\(Int(h + 40))\" role=\"img\">"
        svg += "<line x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w)\" y2=\"\(h - bottom)\" stroke=\"#888\"/>"
        svg += "<text x=\"2\" y=\"12\" font-size=\"10\">\(maxTotal)</text>"
        let f = DateFormatter(); f.dateFormat = "MM-dd"; f.timeZone = cal.timeZone
        for (i, d) in days.enumerated() {
            let x = left + Double(i) * (barW + 4)
            var y = h - bottom
            for (si, s) in seals.enumerated() {
                let n = counts[s]![i]
                guard n > 0 else { continue }
                let bh = (h - bottom - 16) * Double(n) / Double(maxTotal)
                y -= bh
                svg += "<rect class=\"bar\" data-seal=\"\(esc(s))\" data-day=\"\(f.string(from: d))\" data-count=\"\(n)\" x=\"\(Int(x))\" y=\"\(Int(y))\" width=\"\(Int(barW))\" height=\"\(max(1, Int(bh)))\" fill=\"\(colours[si % colours.count])\"><title>\(esc(s)) \(f.string(from: d)): \(n)</title></rect>"
            }
            svg += "<text x=\"\(Int(x))\" y=\"\(Int(h - 8))\" font-size=\"9\">\(f.string(from: d))</text>"
        }
        for (si, s) in seals.enumerated() {
            let x = left + Double(si) * 160
            svg += "<rect x=\"\(Int(x))\" y=\"\(Int(h + 10))\" width=\"10\" height=\"10\" fill=\"\(colours[si % colours.count])\"/><text x=\"\(Int(x) + 14)\" y=\"\(Int(h + 19))\" font-size=\"11\">\(esc(s))</text>"
        }
        if seals.isEmpty { svg += "<text x=\"\(Int(left + 10))\" y=\"\(Int(h / 2))\" font-size=\"12\">0</text>" }
        return svg + "</svg>"
    }

    // MARK: - Audit

    /// The audit filters of the request (seal, user, document hash prefix, days, outcome), all applied by the
    /// store's SQL query; whether the user sees only their own records.
    func auditQuery(_ a: Acting) -> (query: AuditQuery, ownOnly: Bool) {
        let q = a.query
        func day(_ s: String?) -> Date? {
            guard let s, !s.isEmpty else { return nil }
            let f = ISO8601DateFormatter(); f.formatOptions = [.withFullDate]
            return f.date(from: s)
        }
        var query = AuditQuery(seal: q["seal"].flatMap { $0.isEmpty ? nil : $0 }, user: q["user"].flatMap { $0.isEmpty ? nil : $0 },
                               since: day(q["since"]))
        if let u = day(q["until"]) { query.until = u.addingTimeInterval(86400) }
        if let sha = q["sha256"]?.lowercased().trimmingCharacters(in: .whitespaces), !sha.isEmpty { query.document = sha }
        if let o = q["outcome"], !o.isEmpty {
            // an unknown outcome matches nothing, as the filter did before it moved into SQL
            query.outcome = AuditOutcome(rawValue: o)
            if query.outcome == nil { query.limit = 0 }
        }
        let ownOnly = !ConsoleAccess.allows(.readAudit, rights: a.rights, target: ActionTarget(organisation: a.organisation))
        return (query, ownOnly)
    }

    /// Every record matching the request's filters, oldest first (export).
    func auditRecords(_ a: Acting) throws -> [AuditRecord] {
        try registry.auditRecords(auditQuery(a).query, as: a.user)
    }

    func auditPage(_ a: Acting) async throws -> Response {
        var (query, ownOnly) = auditQuery(a)
        let shown = 500
        var latest = query
        latest.newestFirst = true
        latest.limit = min(query.limit ?? shown, shown)
        let recs = try registry.auditRecords(latest, as: a.user)          // the latest 500, newest first
        query.limit = nil
        let count = latest.limit == 0 ? 0 : try registry.auditCount(query, as: a.user)
        var chain = "-"
        if !ownOnly {
            let s = try await chainStatus.current { try self.registry.audit.verify() }
            let v = s.verification
            chain = (v.ok ? ConsoleText.t("chain-ok", a.lang) + " (\(v.recordsChecked))" : "\(v.problem?.rawValue ?? "?"): \(v.detail)")
                + " · " + ConsoleText.t("chain-checked", a.lang) + " " + Self.shortTime(s.at)
        }
        let q = a.query
        let passOn = ["seal", "user", "sha256", "since", "until", "outcome"].compactMap { k in
            q[k].flatMap { $0.isEmpty ? nil : "\(k)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
        }.joined(separator: "&")
        return try render(a, page: .audit, template: "audit", [
            "q": ["seal": q["seal"] ?? "", "user": q["user"] ?? "", "sha256": q["sha256"] ?? "", "since": q["since"] ?? "", "until": q["until"] ?? ""],
            "outcomes": AuditOutcome.allCases.map { ["v": $0.rawValue, "sel": q["outcome"] == $0.rawValue] as [String: Any] },
            "query": passOn, "own_only": ownOnly, "count": count, "chain": chain,
            "records": recs.map { r -> [String: Any] in
                ["seq": r.seq, "time": Self.shortTime(r.time), "actor": r.entry.actor, "action": r.entry.action, "seal": r.entry.seal ?? "",
                 "outcome": r.entry.outcome.rawValue, "reason": r.entry.reason ?? "", "detail": r.entry.detail]
            },
        ])
    }

    func auditExport(_ a: Acting, format: String) async throws -> Response {
        let recs = try auditRecords(a)
        audit(AuditEntry(actor: a.user.id, action: "audit.export", organisation: a.organisation,
                         detail: "\(recs.count) records exported as \(format == "csv" ? "CSV" : "JSON")"))
        if format == "csv" {
            func cell(_ c: String) -> String {
                c.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + c.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : c
            }
            let header = ["seq", "time", "actor", "action", "organisation", "seal", "outcome", "reason", "documents-before", "documents-after", "approval", "token-serial", "detail", "prev-hash", "hash"]
            let rows = recs.map { r in
                [String(r.seq), Self.iso(r.time), r.entry.actor, r.entry.action, r.entry.organisation ?? "", r.entry.seal ?? "", r.entry.outcome.rawValue,
                 r.entry.reason ?? "", r.entry.documentsBefore.joined(separator: " "), r.entry.documentsAfter.joined(separator: " "),
                 r.entry.approval ?? "", r.entry.tokenSerial ?? "", r.entry.detail, r.prevHash, r.hash]
            }
            let text = ([header] + rows).map { $0.map(cell).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
            return Self.bytes(Array(text.utf8), type: "text/csv; charset=utf-8", filename: "audit.csv")
        }
        return Self.json(recs, filename: a.api ? nil : "audit.json")
    }

    // MARK: - Seals

    func sealRows(_ a: Acting) throws -> [[String: Any]] {
        try a.seals.map { s in
            let grants = try registry.store.sealGrants(seal: s.id).map { "\($0.right.rawValue): \($0.user)" }.joined(separator: ", ")
            return ["id": s.id, "name": s.name, "kind": s.kind.rawValue, "status": s.status.rawValue, "until": Self.shortTime(s.validUntil),
                    "grants": grants, "active": s.status == .active, "revoked": s.status == .revoked, "csrf": a.session.csrf]
        }
    }

    func sealsPage(_ a: Acting, flash: String? = nil) throws -> Response {
        try render(a, page: .seals, template: "seals", ["seals": try sealRows(a), "kinds": SealKind.allCases.map(\.rawValue)], flash: flash)
    }

    func sealsJSON(_ a: Acting) throws -> Response {
        struct S: Encodable { var id, name, kind, status, organisation: String; var validUntil: Date }
        return Self.json(a.seals.map { S(id: $0.id, name: $0.name, kind: $0.kind.rawValue, status: $0.status.rawValue, organisation: $0.organisation, validUntil: $0.validUntil) })
    }

    func sealStatus(_ a: Acting) async throws -> Response {
        guard let id = a.form["seal"], let st = SealStatus(rawValue: a.form["status"] ?? "") else { throw Refusal(status: .badRequest, key: "refused") }
        try registry.setSealStatus(id, st, as: a.user)     // authorised, audited by Governance
        try await registry.audit.checkpointIfDue()
        return Self.redirect("/seals?flash=done")
    }

    func sealRegister(_ a: Acting) async throws -> Response {
        let f = a.form
        guard let id = f["id"], let name = f["name"], let kind = SealKind(rawValue: f["kind"] ?? ""), let uri = f["token-uri"],
              let pem = f["certificate"], let org = a.organisation else { throw Refusal(status: .badRequest, key: "refused") }
        let cert: DetachedSignature.Certificate
        do { cert = try DetachedSignature.Certificate(pemOrDER: Array(pem.utf8)) } catch {
            throw Refusal(status: .badRequest, key: "refused", detail: "the certificate is not readable: \(error)")
        }
        let design: SealDesign
        do { design = try SealDesign.validated(json: Data((f["design"] ?? "").utf8), at: "design") } catch let e as SealDesignError {
            throw Refusal(status: .badRequest, key: "refused", detail: "the seal design is refused: \(e.description)")
        }
        try registry.registerSeal(id: id, name: name, kind: kind, organisation: org, certificateDER: cert.der, tokenURI: uri,
                                  design: design, as: a.user)
        try await registry.audit.checkpointIfDue()
        return Self.redirect("/seals?flash=done")
    }

    // MARK: - Users and organisations

    func visibleUsers(_ a: Acting) throws -> [User] {
        // platform administrators (no organisation) see every user; system administrators their organisation's
        try registry.users(organisation: a.organisation)
    }

    func usersPage(_ a: Acting) async throws -> Response {
        var rows: [[String: Any]] = []
        for u in try visibleUsers(a) {
            let roles = try registry.store.roleGrants(user: u.id).map { $0.role.rawValue } + (try registry.store.sealGrants(user: u.id).map { "\($0.right.rawValue):\($0.seal)" })
            let locked = await logins.lockedUntil(user: u.id) != nil
            rows.append(["id": u.id, "name": u.name, "org": u.organisation ?? "-", "roles": roles.joined(separator: ", "), "status": u.status.rawValue,
                         "active": u.status == .active, "locked": locked, "csrf": a.session.csrf])
        }
        return try render(a, page: .users, template: "users", ["users": rows])
    }

    func usersJSON(_ a: Acting) async throws -> Response {
        struct U: Encodable { var id, name: String; var organisation: String?; var roles: [String]; var status: String; var locked: Bool }
        var out: [U] = []
        for u in try visibleUsers(a) {
            out.append(U(id: u.id, name: u.name, organisation: u.organisation, roles: try registry.store.roleGrants(user: u.id).map(\.role.rawValue),
                         status: u.status.rawValue, locked: await logins.lockedUntil(user: u.id) != nil))
        }
        return Self.json(out)
    }

    /// Unlocks a locked-out account: allowed to whoever `Policy` lets manage that user.
    func unlockUser(_ a: Acting) async throws -> Response {
        guard let id = a.form["user"], let u = try registry.user(id) else { throw Refusal(status: .notFound, key: "refused") }
        guard ConsoleAccess.allows(.manageUser, rights: a.rights, target: ActionTarget(organisation: u.organisation)) else {
            audit(AuditEntry(actor: a.user.id, action: "console.unlock", organisation: u.organisation, outcome: .refused, reason: "not-authorised",
                             detail: "\(a.user.id) may not unlock \(id)"))
            throw Refusal(status: .forbidden, key: "forbidden")
        }
        await logins.unlock(user: id)
        audit(AuditEntry(actor: a.user.id, action: "console.unlock", organisation: u.organisation, detail: "account \(id) unlocked"))
        return Self.redirect("/users?flash=done")
    }

    func userStatus(_ a: Acting) async throws -> Response {
        guard let id = a.form["user"], let st = UserStatus(rawValue: a.form["status"] ?? "") else { throw Refusal(status: .badRequest, key: "refused") }
        try registry.setUserStatus(id, st, as: a.user)
        if st == .disabled { await sessions.endAll(user: id) }
        try await registry.audit.checkpointIfDue()
        return Self.redirect("/users?flash=done")
    }

    func organisationsPage(_ a: Acting) throws -> Response {
        let orgs = try registry.organisations().map { o -> [String: Any] in
            let anchors = ((try? registry.trustAnchors(organisation: o.id)) ?? []).map { $0.subject }
            return ["id": o.id, "name": o.name, "anchors": anchors]
        }
        return try render(a, page: .organisations, template: "organisations", ["orgs": orgs])
    }

    func organisationsJSON(_ a: Acting) throws -> Response {
        Self.json(try registry.organisations())
    }

    func createOrganisation(_ a: Acting) async throws -> Response {
        guard let id = a.form["id"], let name = a.form["name"] else { throw Refusal(status: .badRequest, key: "refused") }
        try registry.createOrganisation(id: id, name: name, as: a.user)
        try await registry.audit.checkpointIfDue()
        return Self.redirect("/organisations?flash=done")
    }

    // MARK: - Quarantine

    struct QuarantineItem: Encodable {
        var pipeline: String, name: String, code: String, message: String, next: String, time: String, sha256: String?
    }

    func quarantineItems() -> [QuarantineItem] {
        var out: [QuarantineItem] = []
        for p in pipelines {
            for n in ConsolePipeline.documents(in: p.folders.quarantine) {
                let reasonURL = p.folders.quarantine.appendingPathComponent(n + ".reason.json")
                let r = (try? Data(contentsOf: reasonURL)).flatMap { try? JSONDecoder().decode(QuarantineReason.self, from: $0) }
                out.append(QuarantineItem(pipeline: p.name, name: n, code: r?.code ?? "unknown", message: r?.message ?? "",
                                          next: r?.nextStep ?? "", time: r?.time ?? "", sha256: r?.sha256))
            }
        }
        return out
    }

    func quarantinePage(_ a: Acting) throws -> Response {
        let items = quarantineItems().map { i -> [String: Any] in
            ["pipeline": i.pipeline, "name": i.name, "code": i.code, "message": i.message,
             "next": ClerkText.nextStep(i.code, english: i.next, a.lang == .zh ? .zhCN : .en), "time": i.time, "csrf": a.session.csrf,
             "pipeline_q": i.pipeline.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "",
             "name_q": i.name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""]
        }
        return try render(a, page: .quarantine, template: "quarantine", ["items": items])
    }

    func quarantineJSON(_ a: Acting) throws -> Response { Self.json(quarantineItems()) }

    func quarantined(_ a: Acting, _ params: [String: String]) throws -> (ConsolePipeline, URL) {
        guard let p = pipelines.first(where: { $0.name == params["pipeline"] }), let name = params["name"],
              let url = ConsolePipeline.safeFile(name, in: p.folders.quarantine), !name.hasSuffix(".reason.json") else {
            audit(AuditEntry(actor: a.user.id, action: "console.download", organisation: a.organisation, outcome: .refused, reason: "not-found",
                             detail: "no quarantined file \(params["name"] ?? "?") in pipeline \(params["pipeline"] ?? "?")"))
            throw Refusal(status: .notFound, key: "refused", detail: "no such quarantined document")
        }
        return (p, url)
    }

    func quarantineDownload(_ a: Acting) async throws -> Response {
        let (p, url) = try quarantined(a, a.query)
        let bytes = Array(try Data(contentsOf: url))
        audit(AuditEntry(actor: a.user.id, action: "quarantine.download", organisation: a.organisation, seal: p.seal,
                         documentsBefore: [DetachedSignature.hex(DetachedSignature.sha256(bytes))], detail: "\(url.lastPathComponent) downloaded from \(p.name)"))
        return Self.bytes(bytes, type: "application/pdf", filename: url.lastPathComponent)
    }

    /// Moves a quarantined original back into its pipeline's inbox (the reason file is kept beside it as
    /// `.requeued-<time>-<name>.reason.json`).
    func requeue(_ a: Acting) async throws -> Response {
        let (p, url) = try quarantined(a, a.form)
        let dest = p.folders.inbox.appendingPathComponent(url.lastPathComponent)
        guard !FileManager.default.fileExists(atPath: dest.path) else {
            throw Refusal(status: .conflict, key: "refused", detail: "\(url.lastPathComponent) is already in the inbox")
        }
        let bytes = Array(try Data(contentsOf: url))
        try FileManager.default.moveItem(at: url, to: dest)
        let reason = url.deletingLastPathComponent().appendingPathComponent(url.lastPathComponent + ".reason.json")
        if FileManager.default.fileExists(atPath: reason.path) {
            try? FileManager.default.moveItem(at: reason, to: reason.deletingLastPathComponent().appendingPathComponent(".requeued-\(Int(Date().timeIntervalSince1970))-\(reason.lastPathComponent)"))
        }
        audit(AuditEntry(actor: a.user.id, action: "quarantine.requeue", organisation: a.organisation, seal: p.seal,
                         documentsBefore: [DetachedSignature.hex(DetachedSignature.sha256(bytes))], detail: "\(url.lastPathComponent) re-queued into \(p.name)'s inbox"))
        return Self.redirect("/quarantine?flash=done")
    }

    // MARK: - Uploads and verify

    /// Reads an upload (raw body) up to the limit; refuses too large and non-PDF bodies with a clear message.
    func readPDFUpload(_ a: Acting) async throws -> [UInt8] {
        if let len = a.request.headers[.contentLength].flatMap(Int.init), len > config.maxUpload {
            throw Refusal(status: .contentTooLarge, key: "upload-too-large", detail: "\(len) > \(config.maxUpload) bytes")
        }
        var r = a.request
        let buf: ByteBuffer
        do { buf = try await r.collectBody(upTo: config.maxUpload) } catch {
            throw Refusal(status: .contentTooLarge, key: "upload-too-large", detail: "> \(config.maxUpload) bytes")
        }
        let bytes = Array(buffer: buf)
        guard bytes.count >= 5, bytes.prefix(1024).starts(with: Array("%PDF-".utf8)) || Self.findPDFHeader(bytes) else {
            throw Refusal(status: .unsupportedMediaType, key: "not-a-pdf")
        }
        return bytes
    }

    static func findPDFHeader(_ b: [UInt8]) -> Bool {
        let head = Array(b.prefix(1024)), sig = Array("%PDF-".utf8)
        guard head.count >= sig.count else { return false }
        for i in 0...(head.count - sig.count) where Array(head[i..<(i + sig.count)]) == sig { return true }
        return false
    }

    /// The name the uploader gave the file (`X-File-Name`, percent-encoded), for display only: control
    /// characters removed, at most 120 characters, `upload.pdf` when absent. It is never used as a path —
    /// uploads are written under a fixed name — and pages show it as text (escaped or `textContent`).
    static func uploadName(_ req: Request) -> String {
        let raw = req.headers[HTTPField.Name("X-File-Name")!].flatMap { $0.removingPercentEncoding } ?? ""
        var kept = String.UnicodeScalarView()
        for u in raw.unicodeScalars where u.value >= 0x20 && u.value != 0x7f && !(0x80...0x9f).contains(u.value) { kept.append(u) }
        let n = String(kept).trimmingCharacters(in: .whitespaces)
        return n.isEmpty ? "upload.pdf" : String(n.prefix(120))
    }

    /// A display name reduced to a plain base name that is safe as a file name in a folder: the last
    /// `/`- or `\\`-separated part, without leading dots, `document.pdf` when nothing is left.
    static func safeFileName(_ display: String) -> String {
        var n = String(display.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last ?? "")
        while n.hasPrefix(".") { n.removeFirst() }
        n = n.trimmingCharacters(in: .whitespaces)
        return n.isEmpty ? "document.pdf" : n
    }

    func verifyUpload(_ a: Acting) async throws -> Response {
        let bytes = try await readPDFUpload(a)
        let name = Self.uploadName(a.request)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sealbatch-verify-\(randomToken(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("upload.pdf")
        try Data(bytes).write(to: file)
        var options = Verifier.Options()
        options.fetchRevocation = false
        let verifier = try Verifier(trust: config.trust.map { URL(fileURLWithPath: $0) }, options: options)
        var report = await verifier.verify(urls: [file])
        // The report names the file as the uploader did, not the temporary copy.
        for i in report.files.indices { report.files[i].path = name }
        let json = try report.json()
        audit(AuditEntry(actor: a.user.id, action: "console.verify", organisation: a.organisation,
                         documentsBefore: [DetachedSignature.hex(DetachedSignature.sha256(bytes))],
                         outcome: .ok, detail: "verified \(name): \(report.passed ? "passed" : "failed")"))
        let text = report.text()
        var out = "{\"passed\":\(report.passed),\"text\":"
        out += String(decoding: try JSONEncoder().encode(text), as: UTF8.self)
        out += ",\"report\":" + String(decoding: json, as: UTF8.self) + "}"
        return Self.bytes(Array(out.utf8), type: "application/json; charset=utf-8")
    }
}
