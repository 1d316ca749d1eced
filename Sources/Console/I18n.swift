import Foundation

/// The console's two languages.
public enum ConsoleLanguage: String, Sendable, CaseIterable {
    /// 简体中文.
    case zh
    /// English.
    case en

    /// The language from the `lang` cookie, else the first supported one in `Accept-Language`, else Chinese.
    public static func pick(cookie: String?, acceptLanguage: String?) -> ConsoleLanguage {
        if let c = cookie, let l = ConsoleLanguage(rawValue: c) { return l }
        for part in (acceptLanguage ?? "").split(separator: ",") {
            let tag = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            if tag.hasPrefix("zh") { return .zh }
            if tag.hasPrefix("en") { return .en }
        }
        return .zh
    }
}

/// Every label and message of the console, in Chinese and English.
public enum ConsoleText {
    static let table: [String: (en: String, zh: String)] = [
        "app": ("sealbatch seal office", "sealbatch 用印管理台"),
        "login": ("Log in", "登录"),
        "logout": ("Log out", "退出"),
        "user-id": ("User", "用户名"),
        "password": ("Password", "密码"),
        "login-failed": ("Wrong user or password.", "用户名或密码错误。"),
        "login-locked": ("This account is locked after too many wrong passwords. Try again later or ask an administrator to unlock it.", "密码错误次数过多，账户已锁定。请稍后再试，或请管理员解锁。"),
        "login-rate": ("Too many login attempts from this address. Wait a minute.", "此地址登录尝试过多，请一分钟后再试。"),
        "lang-switch": ("中文", "English"),
        "page-dashboard": ("Dashboard", "总览"),
        "page-stamp": ("Stamp", "用印"),
        "page-approvals": ("Approvals", "审批"),
        "page-audit": ("Audit log", "审计日志"),
        "page-seals": ("Seals", "印章"),
        "page-users": ("Users", "用户"),
        "page-organisations": ("Organisations", "组织"),
        "page-quarantine": ("Quarantine", "隔离区"),
        "page-verify": ("Verify", "验证"),
        "signed-in-as": ("Signed in as", "当前用户"),
        "roles": ("Roles", "角色"),
        "pipelines": ("Pipelines", "流水线"),
        "pipeline": ("Pipeline", "流水线"),
        "inbox": ("Inbox", "待处理"),
        "work": ("In progress", "处理中"),
        "outbox": ("Sealed", "已盖章"),
        "quarantined": ("Quarantined", "已隔离"),
        "no-pipelines": ("No pipeline configured (start with --pipeline FILE).", "未配置流水线（用 --pipeline FILE 启动）。"),
        "latest-uses": ("Latest seal uses (live)", "最新用印记录（实时）"),
        "history": ("Uses per day per seal (last 14 days)", "每日各印章用印次数（近 14 天）"),
        "time": ("Time", "时间"),
        "seal": ("Seal", "印章"),
        "user": ("User", "用户"),
        "action": ("Action", "操作"),
        "outcome": ("Outcome", "结果"),
        "document": ("Document", "文件"),
        "document-hash": ("Document SHA-256", "文件 SHA-256"),
        "detail": ("Detail", "详情"),
        "approval": ("Approval", "审批单"),
        "since": ("From", "起始"),
        "until": ("To", "截止"),
        "filter": ("Filter", "筛选"),
        "any": ("any", "全部"),
        "export-csv": ("Export CSV", "导出 CSV"),
        "export-json": ("Export JSON", "导出 JSON"),
        "records": ("records", "条记录"),
        "audit-scope-own": ("You see your own records only (the audit log of the organisation is for its seal administrator).", "您只能查看本人的记录（组织审计日志仅限印章管理员查看）。"),
        "chain": ("Audit chain", "审计链"),
        "chain-ok": ("intact", "完整"),
        "chain-checked": ("checked", "检查于"),
        "id": ("Id", "编号"),
        "name": ("Name", "名称"),
        "kind": ("Kind", "类型"),
        "status": ("Status", "状态"),
        "valid-until": ("Valid until", "有效期至"),
        "token-uri": ("Token key (PKCS#11 URI)", "令牌密钥（PKCS#11 URI）"),
        "appearance": ("Design (JSON, see docs/render.md)", "印模设计（JSON，见 docs/render.md）"),
        "certificate-pem": ("Seal certificate (PEM)", "印章证书（PEM）"),
        "register-seal": ("Register a seal", "登记印章"),
        "register": ("Register", "登记"),
        "suspend": ("Suspend", "暂停"),
        "reactivate": ("Reactivate", "恢复"),
        "revoke": ("Revoke", "吊销"),
        "grants": ("Rights", "授权"),
        "organisation": ("Organisation", "组织"),
        "locked": ("locked", "已锁定"),
        "unlock": ("Unlock", "解锁"),
        "disable": ("Disable", "停用"),
        "enable": ("Enable", "启用"),
        "create-organisation": ("Create an organisation", "创建组织"),
        "create": ("Create", "创建"),
        "trust-anchors": ("Trust anchors", "信任锚"),
        "subject": ("Subject", "主题"),
        "reason": ("Reason", "原因"),
        "next-step": ("Next step", "下一步"),
        "requeue": ("Re-queue", "重新排队"),
        "download": ("Download original", "下载原件"),
        "no-quarantine": ("Nothing in quarantine.", "隔离区为空。"),
        "verify-intro": ("Upload any PDF: the report is the same as `sealbatch verify`.", "上传任意 PDF：报告与 `sealbatch verify` 相同。"),
        "verify-button": ("Verify", "验证"),
        "verify-json": ("Download JSON report", "下载 JSON 报告"),
        "upload-pdf": ("PDF file", "PDF 文件"),
        "upload-too-large": ("The file is larger than the upload limit", "文件超过上传上限"),
        "not-a-pdf": ("This file is not a PDF (it does not start with %PDF-).", "此文件不是 PDF（不以 %PDF- 开头）。"),
        "forbidden": ("You may not open this page.", "您无权打开此页面。"),
        "forbidden-detail": ("Your roles do not include this page. The refusal is recorded in the audit log.", "您的角色不包含此页面。此次拒绝已记入审计日志。"),
        "csrf-failed": ("The form has expired or did not come from this console. Reload the page and try again.", "表单已过期或并非来自本控制台。请刷新页面后重试。"),
        "done": ("Done.", "已完成。"),
        "refused": ("Refused", "已拒绝"),
        "back": ("Back", "返回"),
        "stamp-intro": ("Upload a document or pick one from a pipeline inbox, click where the seal goes, then ask for approval.", "上传文件或从流水线待处理中选择，点击盖章位置，然后提交审批。"),
        "upload": ("Upload", "上传"),
        "pick-inbox": ("Or pick from an inbox", "或从待处理中选择"),
        "pick": ("Pick", "选择"),
        "my-requests": ("My requests", "我的申请"),
        "place-hint": ("Click on the page where the seal goes.", "在页面上点击盖章位置。"),
        "page": ("Page", "页"),
        "pages": ("pages", "页"),
        "purpose": ("Purpose", "用途"),
        "approver": ("Approver", "审批人"),
        "submit-request": ("Submit the stamping request", "提交用印申请"),
        "requester": ("Requester", "申请人"),
        "pending": ("pending", "待审批"),
        "approved": ("approved", "已批准"),
        "rejected": ("rejected", "已驳回"),
        "stamped": ("stamped", "已盖章"),
        "queued": ("queued for stamping", "已排队盖章"),
        "placed": ("placed", "已定位"),
        "draft": ("draft", "草稿"),
        "approve-upload": ("Approve: upload the manifest signed offline with `sealbatch approve`", "批准：上传用 `sealbatch approve` 离线签署的审批单"),
        "approve-command": ("Command to sign it offline", "离线签署命令"),
        "approve": ("Approve", "批准"),
        "reject": ("Reject", "驳回"),
        "no-requests": ("No requests.", "暂无申请。"),
        "preview": ("Preview", "预览"),
        "position": ("Position", "位置"),
        "uses": ("Uses", "次数"),
        "download-document": ("Download the document", "下载文件"),
    ]

    /// The translation table for a language, as a Mustache context (`{{t.key}}`).
    public static func strings(_ lang: ConsoleLanguage) -> [String: String] {
        var d: [String: String] = [:]
        for (k, v) in table { d[k.replacingOccurrences(of: "-", with: "_")] = lang == .zh ? v.zh : v.en }
        return d
    }

    /// One label.
    public static func t(_ key: String, _ lang: ConsoleLanguage) -> String {
        guard let v = table[key] else { return key }
        return lang == .zh ? v.zh : v.en
    }
}
