import Foundation
import Governance
import HTTPTypes
import Hummingbird
import NIOCore
import Render
import Signing

/// A stamping request made in the console: a document, where the seal goes, for which seal and purpose.
public struct StampRequest: Codable, Sendable {
    /// Status of a request.
    public enum Status: String, Codable, Sendable {
        /// Uploaded, no position yet.
        case draft
        /// Position chosen.
        case placed
        /// Waiting for the approver.
        case pending
        /// Approved; document and manifest are in the pipeline's inbox and approvals folders.
        case queued
        /// Rejected by the approver (with a reason).
        case rejected
    }
    /// Request id.
    public var id: String
    /// File name as uploaded (display only; the stored file is `document.pdf`).
    public var name: String
    /// SHA-256 of the document.
    public var sha256: String
    /// Page count.
    public var pages: Int
    /// Who asked.
    public var requester: String
    /// Their organisation.
    public var organisation: String?
    /// Seal asked for.
    public var seal: String?
    /// Purpose.
    public var purpose: String?
    /// 1-based page of the seal.
    public var page: Int?
    /// Seal centre from the page's top-left corner, millimetres.
    public var xMM: Double?
    /// Seal centre from the page's top-left corner, millimetres.
    public var yMM: Double?
    /// State.
    public var status: Status
    /// Rejection reason.
    public var reason: String?
    /// Approval (manifest) id once approved.
    public var approval: String?
    /// Who decided.
    public var decidedBy: String?
    /// Creation time.
    public var created: Date
    /// Last change.
    public var updated: Date
}

/// Stamping requests on disk: `<dir>/requests/<id>/{request.json,document.pdf}`.
public final class RequestStore: Sendable {
    let dir: URL
    let lock = NSLock()

    /// Opens (and creates) the store.
    public init(directory: URL) throws {
        dir = directory.appendingPathComponent("requests")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func folder(_ id: String) -> URL? {
        guard id.count == 32, id.allSatisfy({ $0.isHexDigit }) else { return nil }
        return dir.appendingPathComponent(id)
    }

    /// The document of a request.
    public func documentURL(_ id: String) -> URL? { folder(id).map { $0.appendingPathComponent("document.pdf") } }

    /// Creates a request.
    public func create(name: String, bytes: [UInt8], pages: Int, requester: String, organisation: String?) throws -> StampRequest {
        let id = randomToken(16)
        let f = folder(id)!
        try FileManager.default.createDirectory(at: f, withIntermediateDirectories: true)
        try Data(bytes).write(to: f.appendingPathComponent("document.pdf"))
        let now = Date()
        let r = StampRequest(id: id, name: name, sha256: DetachedSignature.hex(DetachedSignature.sha256(bytes)), pages: pages,
                             requester: requester, organisation: organisation, status: .draft, created: now, updated: now)
        try save(r)
        return r
    }

    /// Saves a request.
    public func save(_ r: StampRequest) throws {
        let e = JSONEncoder(); e.dateEncodingStrategy = .iso8601; e.outputFormatting = [.prettyPrinted, .sortedKeys]
        lock.lock(); defer { lock.unlock() }
        try e.encode(r).write(to: folder(r.id)!.appendingPathComponent("request.json"), options: .atomic)
    }

    /// One request.
    public func get(_ id: String) -> StampRequest? {
        guard let f = folder(id), let d = try? Data(contentsOf: f.appendingPathComponent("request.json")) else { return nil }
        let dec = JSONDecoder(); dec.dateDecodingStrategy = .iso8601
        return try? dec.decode(StampRequest.self, from: d)
    }

    /// Every request, newest first.
    public func all() -> [StampRequest] {
        let ids = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return ids.compactMap(get).sorted { $0.created > $1.created }
    }
}

extension ConsoleServer {
    static let previewDPI = 72.0

    func stampRoutes(_ r: Router<ConsoleContext>) {
        r.get("/stamp") { req, ctx in await self.guarded(req, ctx, page: .stamp) { a in try self.stampPage(a) } }
        r.get("/api/requests") { req, ctx in await self.guarded(req, ctx, page: .stamp, api: true) { a in Self.json(self.requests.all().filter { $0.requester == a.user.id }) } }
        r.post("/stamp/upload") { req, ctx in await self.guarded(req, ctx, page: .stamp, api: true) { a in try await self.stampUpload(a) } }
        r.post("/stamp/pick") { req, ctx in await self.guarded(req, ctx, page: .stamp) { a in try await self.stampPick(a) } }
        r.get("/stamp/r/:id") { req, ctx in await self.guarded(req, ctx, page: nil) { a in try self.requestPage(a, ctx.parameters.get("id") ?? "") } }
        r.get("/stamp/r/:id/page/:n") { req, ctx in
            await self.guarded(req, ctx, page: nil) { a in try self.pagePNG(a, ctx.parameters.get("id") ?? "", ctx.parameters.get("n") ?? "") }
        }
        r.get("/stamp/r/:id/document.pdf") { req, ctx in await self.guarded(req, ctx, page: nil) { a in try self.requestDocument(a, ctx.parameters.get("id") ?? "") } }
        r.post("/stamp/r/:id/place") { req, ctx in await self.guarded(req, ctx, page: .stamp) { a in try self.place(a, ctx.parameters.get("id") ?? "") } }
        r.post("/stamp/r/:id/submit") { req, ctx in await self.guarded(req, ctx, page: .stamp) { a in try await self.submit(a, ctx.parameters.get("id") ?? "") } }
        r.get("/approvals") { req, ctx in await self.guarded(req, ctx, page: .approvals) { a in try self.approvalsPage(a) } }
        r.get("/api/approvals") { req, ctx in await self.guarded(req, ctx, page: .approvals, api: true) { a in Self.json(self.inbox(a)) } }
        r.post("/approvals/:id/approve") { req, ctx in await self.guarded(req, ctx, page: .approvals, api: true) { a in try await self.approve(a, ctx.parameters.get("id") ?? "") } }
        r.post("/approvals/:id/reject") { req, ctx in await self.guarded(req, ctx, page: .approvals) { a in try await self.reject(a, ctx.parameters.get("id") ?? "") } }
    }

    func statusLabel(_ r: StampRequest, _ lang: ConsoleLanguage) -> String {
        switch r.status {
        case .draft: return ConsoleText.t("draft", lang)
        case .placed: return ConsoleText.t("placed", lang)
        case .pending: return ConsoleText.t("pending", lang)
        case .rejected: return ConsoleText.t("rejected", lang)
        case .queued:
            let stamped = ((try? registry.audit.query(AuditQuery(action: "stamp", since: r.updated.addingTimeInterval(-60)))) ?? [])
                .contains { $0.entry.outcome == .ok && $0.entry.documentsBefore.contains(r.sha256) }
            return ConsoleText.t(stamped ? "stamped" : "queued", lang)
        }
    }

    func stampPage(_ a: Acting) throws -> Response {
        var inbox: [[String: Any]] = []
        for p in pipelines { for n in ConsolePipeline.documents(in: p.folders.inbox) { inbox.append(["pipeline": p.name, "name": n, "csrf": a.session.csrf]) } }
        let mine = requests.all().filter { $0.requester == a.user.id }.map { r -> [String: Any] in
            ["id": r.id, "name": r.name, "seal": r.seal ?? "", "status_label": statusLabel(r, a.lang), "time": Self.shortTime(r.updated)]
        }
        return try render(a, page: .stamp, template: "stamp", ["inbox": inbox, "has_inbox": !inbox.isEmpty, "requests": mine])
    }

    func newRequest(_ a: Acting, name: String, bytes: [UInt8]) throws -> StampRequest {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sealbatch-console-\(randomToken(8)).pdf")
        try Data(bytes).write(to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let pages: Int
        do { pages = try Preview.pageCount(fileURL: tmp) } catch { throw Refusal(status: .unprocessableContent, key: "not-a-pdf", detail: "\(error)") }
        let r = try requests.create(name: name, bytes: bytes, pages: pages, requester: a.user.id, organisation: a.organisation)
        audit(AuditEntry(actor: a.user.id, action: "console.upload", organisation: a.organisation, documentsBefore: [r.sha256],
                         detail: "\(name) (\(pages) pages) uploaded for stamping, request \(r.id)"))
        return r
    }

    func stampUpload(_ a: Acting) async throws -> Response {
        let bytes = try await readPDFUpload(a)
        let r = try newRequest(a, name: Self.uploadName(a.request), bytes: bytes)
        return Self.json(["id": r.id, "url": "/stamp/r/\(r.id)"])
    }

    /// Takes a document out of a pipeline's inbox (so the hot folder does not quarantine it as unapproved)
    /// into a new request.
    func stampPick(_ a: Acting) async throws -> Response {
        guard let p = pipelines.first(where: { $0.name == a.form["pipeline"] }), let name = a.form["name"],
              let url = ConsolePipeline.safeFile(name, in: p.folders.inbox) else { throw Refusal(status: .notFound, key: "refused", detail: "no such inbox file") }
        let bytes = Array(try Data(contentsOf: url))
        guard Self.findPDFHeader(bytes) else { throw Refusal(status: .unsupportedMediaType, key: "not-a-pdf") }
        let r = try newRequest(a, name: name, bytes: bytes)
        try FileManager.default.removeItem(at: url)
        audit(AuditEntry(actor: a.user.id, action: "console.pick", organisation: a.organisation, seal: p.seal, documentsBefore: [r.sha256],
                         detail: "\(name) taken from \(p.name)'s inbox into request \(r.id)"))
        return Self.redirect("/stamp/r/\(r.id)")
    }

    /// The request if the acting user may see it: its requester, or an approver of its seal (by `Policy`),
    /// or a seal administrator of its organisation.
    func visibleRequest(_ a: Acting, _ id: String) throws -> StampRequest {
        guard let r = requests.get(id) else { throw Refusal(status: .notFound, key: "refused", detail: "no such request") }
        if r.requester == a.user.id { return r }
        if let seal = r.seal, r.status != .draft && r.status != .placed,
           ConsoleAccess.allows(.approve, rights: a.rights, target: ActionTarget(organisation: r.organisation, seal: seal, requester: r.requester)) { return r }
        if ConsoleAccess.allows(.manageSeal, rights: a.rights, target: ActionTarget(organisation: r.organisation)) { return r }
        audit(AuditEntry(actor: a.user.id, action: "console.forbidden", organisation: a.organisation, outcome: .refused, reason: "not-authorised",
                         detail: "request \(id) is not visible to \(a.user.id)"))
        throw Refusal(status: .forbidden, key: "forbidden")
    }

    func requestPage(_ a: Acting, _ id: String) throws -> Response {
        let r = try visibleRequest(a, id)
        let editable = r.requester == a.user.id && (r.status == .draft || r.status == .placed)
        let sizes = (try? Preview.displayedPageSizes(fileURL: requests.documentURL(r.id)!)) ?? []
        let seals = ConsoleAccess.stampSeals(rights: a.rights, seals: a.seals).map { ["id": $0.id, "name": $0.name] }
        let placed = r.page != nil
        return try render(a, page: .stamp, template: "request", [
            "id": r.id, "name": r.name, "sha": r.sha256, "pages": r.pages, "status_label": statusLabel(r, a.lang), "reason": r.reason ?? "",
            "has_reason": !(r.reason ?? "").isEmpty, "editable": editable, "placed": placed, "v": Int(r.updated.timeIntervalSince1970),
            "place_page": r.page ?? 0, "place_x": String(format: "%.1f", (r.xMM ?? 0) * 72 / 25.4), "place_y": String(format: "%.1f", (r.yMM ?? 0) * 72 / 25.4),
            "seals": seals,
            "page_list": (1...max(1, r.pages)).map { n -> [String: Any] in
                let s = sizes.indices.contains(n - 1) ? sizes[n - 1] : (595, 842)
                return ["n": n, "id": r.id, "w": Int(s.0 * Self.previewDPI / 72), "h": Int(s.1 * Self.previewDPI / 72),
                        "placed": placed && r.page == n, "v": Int(r.updated.timeIntervalSince1970)]
            },
        ])
    }

    /// The preview draws the registered seal's design, as the pipeline will; a seal without a usable
    /// design shows no seal (the refusal says why) rather than a made-up one.
    func design(for r: StampRequest) throws -> SealDesign {
        let seal: Seal?
        if let id = r.seal { seal = try registry.seal(id) } else {
            seal = ConsoleAccess.stampSeals(rights: try registry.rights(of: r.requester), seals: try registry.seals(organisation: r.organisation)).first
        }
        guard let seal else { throw Refusal(status: .notFound, key: "refused") }
        return try seal.design.usable(seal: seal.id)
    }

    func pagePNG(_ a: Acting, _ id: String, _ file: String) throws -> Response {
        let r = try visibleRequest(a, id)
        guard file.hasSuffix(".png"), let n = Int(file.dropLast(4)), n >= 1, n <= r.pages, let url = requests.documentURL(r.id) else {
            throw Refusal(status: .notFound, key: "refused")
        }
        let withSeal = a.query["seal"] == "1" && r.page == n
        let png: [UInt8]
        if withSeal, let x = r.xMM, let y = r.yMM {
            let spec = PlacementSpec(page: .number(n), corner: .topLeft, xMM: x, yMM: y)
            png = try Preview.render(fileURL: url, settings: RenderSettings(design: try design(for: r), placement: spec), pages: [n - 1], dpi: Self.previewDPI).pages.first?.png ?? []
        } else {
            png = try Preview.renderPlain(fileURL: url, pages: [n - 1], dpi: Self.previewDPI).first?.png ?? []
        }
        return Self.bytes(png, type: "image/png")
    }

    func requestDocument(_ a: Acting, _ id: String) throws -> Response {
        let r = try visibleRequest(a, id)
        return Self.bytes(Array(try Data(contentsOf: requests.documentURL(r.id)!)), type: "application/pdf", filename: r.name)
    }

    func place(_ a: Acting, _ id: String) throws -> Response {
        var r = try visibleRequest(a, id)
        guard r.requester == a.user.id, r.status == .draft || r.status == .placed else { throw Refusal(status: .conflict, key: "refused", detail: "the request can no longer be changed") }
        guard let page = a.form["page"].flatMap(Int.init), page >= 1, page <= r.pages,
              let x = a.form["x"].flatMap(Double.init), let y = a.form["y"].flatMap(Double.init), x.isFinite, y.isFinite, x >= 0, y >= 0 else {
            throw Refusal(status: .badRequest, key: "refused", detail: "page, x and y (millimetres from the top-left corner) are required")
        }
        r.page = page; r.xMM = x; r.yMM = y; r.status = .placed; r.updated = Date()
        try requests.save(r)
        return Self.redirect("/stamp/r/\(r.id)")
    }

    func submit(_ a: Acting, _ id: String) async throws -> Response {
        var r = try visibleRequest(a, id)
        guard r.requester == a.user.id, r.status == .placed else { throw Refusal(status: .conflict, key: "refused", detail: "place the seal first") }
        guard let seal = a.form["seal"], let purpose = a.form["purpose"]?.trimmingCharacters(in: .whitespacesAndNewlines), !purpose.isEmpty else {
            throw Refusal(status: .badRequest, key: "refused", detail: "seal and purpose are required")
        }
        guard let s = try registry.seal(seal) else { throw Refusal(status: .notFound, key: "refused", detail: "no seal \(seal)") }
        try registry.authorise(.stamp, ActionTarget(organisation: s.organisation, seal: seal), actor: a.user)   // Policy, audited refusal
        r.seal = seal; r.purpose = purpose; r.status = .pending; r.updated = Date()
        try requests.save(r)
        audit(AuditEntry(actor: a.user.id, action: "console.request", organisation: s.organisation, seal: seal, documentsBefore: [r.sha256],
                         detail: "stamping request \(r.id) for \(r.name) (page \(r.page ?? 0)): \(purpose)"))
        return Self.redirect("/stamp/r/\(r.id)")
    }

    func inbox(_ a: Acting) -> [StampRequest] {
        requests.all().filter { r in
            guard let seal = r.seal, r.status != .draft, r.status != .placed else { return false }
            return ConsoleAccess.allows(.approve, rights: a.rights, target: ActionTarget(organisation: r.organisation, seal: seal, requester: r.requester))
        }
    }

    func approvalsPage(_ a: Acting) throws -> Response {
        let rows = inbox(a).map { r -> [String: Any] in
            let quoted = (r.purpose ?? "").replacingOccurrences(of: "'", with: "'\\''")
            let command = "sealbatch approve '\(r.name.replacingOccurrences(of: "'", with: "'\\''"))' --seal \(r.seal ?? "") --requester \(r.requester) --purpose '\(quoted)' --as \(a.user.id) --key \(a.user.id).p12 --registry \(config.registryPath) -o approval-\(r.id.prefix(8)).json"
            return ["id": r.id, "name": r.name, "pages": r.pages, "sha": r.sha256, "requester": r.requester, "seal": r.seal ?? "", "purpose": r.purpose ?? "",
                    "status_label": statusLabel(r, a.lang), "pending": r.status == .pending, "place_page": r.page ?? 1,
                    "v": Int(r.updated.timeIntervalSince1970), "command": command, "csrf": a.session.csrf]
        }
        return try render(a, page: .approvals, template: "approvals", ["requests": rows])
    }

    /// Approves a pending request with a manifest signed offline by this approver (`sealbatch approve`): the
    /// manifest must list the document's exact hash for the request's seal and requester; the approval book
    /// verifies and registers it; then the document goes into the pipeline's inbox and the manifest into its
    /// approvals folder, and the hot folder stamps it.
    func approve(_ a: Acting, _ id: String) async throws -> Response {
        var r = try visibleRequest(a, id)
        guard r.status == .pending, let seal = r.seal else { throw Refusal(status: .conflict, key: "refused", detail: "the request is not pending") }
        try registry.authorise(.approve, ActionTarget(organisation: r.organisation, seal: seal, requester: r.requester), actor: a.user)
        var req = a.request
        guard let buf = try? await req.collectBody(upTo: 1 << 20) else { throw Refusal(status: .contentTooLarge, key: "upload-too-large", detail: "1 MiB") }
        let signed = try SignedApprovalManifest.parse(Array(buffer: buf))
        let m = signed.manifest
        guard m.documents.contains(where: { $0.sha256 == r.sha256 }) else {
            throw Refusal(status: .badRequest, key: "refused", detail: "the manifest does not list this document (sha256 \(r.sha256))")
        }
        guard m.seal == seal, m.requester == r.requester, m.approver == a.user.id else {
            throw Refusal(status: .badRequest, key: "refused", detail: "the manifest is for seal \(m.seal), requester \(m.requester), approver \(m.approver); this request needs \(seal), \(r.requester), \(a.user.id)")
        }
        try book.register(signed)          // verifies signature, signer, right; audited (approval.register)
        guard let p = pipelines.first(where: { $0.seal == seal && $0.approvals != nil }) ?? pipelines.first(where: { $0.approvals != nil }),
              let approvals = p.approvals else {
            throw Refusal(status: .conflict, key: "refused", detail: "no pipeline with an approvals folder is configured for seal \(seal) (start serve with --pipeline)")
        }
        try FileManager.default.createDirectory(at: approvals, withIntermediateDirectories: true)
        try Data(signed.fileBytes()).write(to: approvals.appendingPathComponent("console-\(m.id).json"), options: .atomic)
        let fileName = Self.safeFileName(r.name)
        var dest = p.folders.inbox.appendingPathComponent(fileName)
        if FileManager.default.fileExists(atPath: dest.path) { dest = p.folders.inbox.appendingPathComponent("\(r.id.prefix(8))-\(fileName)") }
        let tmp = p.folders.inbox.appendingPathComponent(".console-\(r.id).part")
        try FileManager.default.copyItem(at: requests.documentURL(r.id)!, to: tmp)
        try FileManager.default.moveItem(at: tmp, to: dest)
        r.status = .queued; r.approval = m.id; r.decidedBy = a.user.id; r.updated = Date()
        try requests.save(r)
        audit(AuditEntry(actor: a.user.id, action: "console.approve", organisation: r.organisation, seal: seal, documentsBefore: [r.sha256], approval: m.id,
                         detail: "request \(r.id) approved with manifest \(m.id); \(dest.lastPathComponent) queued in \(p.name)"))
        try await registry.audit.checkpointIfDue()
        return Self.json(["status": "queued", "approval": m.id, "pipeline": p.name])
    }

    func reject(_ a: Acting, _ id: String) async throws -> Response {
        var r = try visibleRequest(a, id)
        guard r.status == .pending, let seal = r.seal else { throw Refusal(status: .conflict, key: "refused", detail: "the request is not pending") }
        try registry.authorise(.approve, ActionTarget(organisation: r.organisation, seal: seal, requester: r.requester), actor: a.user)
        let reason = (a.form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw Refusal(status: .badRequest, key: "refused", detail: "a reason is required") }
        r.status = .rejected; r.reason = reason; r.decidedBy = a.user.id; r.updated = Date()
        try requests.save(r)
        audit(AuditEntry(actor: a.user.id, action: "console.reject", organisation: r.organisation, seal: seal, documentsBefore: [r.sha256],
                         outcome: .refused, reason: "rejected", detail: "request \(r.id) rejected: \(reason)"))
        return Self.redirect("/approvals?flash=done")
    }
}
