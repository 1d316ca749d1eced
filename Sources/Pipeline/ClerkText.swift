import Foundation

/// The language of clerk- and approver-facing text. English is the reference; Simplified Chinese is for
/// the offices that work in it. Reason codes and English messages stay as they are in every file we write
/// (they are what scripts match on); the Chinese next step is added beside them.
public enum ClerkLanguage: String, Sendable, CaseIterable {
    case en, zhCN = "zh-CN"

    /// `--lang` if given (`zh`, `zh-CN`, `zh_CN.UTF-8`, `en`), else `LC_ALL`, `LC_MESSAGES`, `LANG` in that
    /// order, as POSIX says; anything that is not Chinese is English.
    public static func choose(_ option: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) -> ClerkLanguage {
        let raw = option ?? ["LC_ALL", "LC_MESSAGES", "LANG"].lazy.compactMap { environment[$0] }.first { !$0.isEmpty } ?? ""
        return raw.lowercased().hasPrefix("zh") ? .zhCN : .en
    }
}

/// Clerk-facing texts in Chinese, keyed by the stable reason code.
public enum ClerkText {
    /// The next step for a reason code in Chinese, or nil for a code without a translation.
    public static func nextStepZH(_ code: String) -> String? { nextStepsZH[code] }

    /// The next step to show: the English one as given, or the Chinese one for the code when there is one.
    public static func nextStep(_ code: String, english: String, _ lang: ClerkLanguage) -> String {
        lang == .zhCN ? (nextStepsZH[code] ?? english) : english
    }

    static let nextStepsZH: [String: String] = [
        "not-a-pdf": "请发件人重新导出完整的 PDF，再放入收件文件夹。",
        "truncated": "请发件人重新导出完整的 PDF，再放入收件文件夹。",
        "damaged": "请发件人重新导出完整的 PDF，再放入收件文件夹。",
        "unreadable": "请发件人重新导出完整的 PDF，再放入收件文件夹。",
        "encrypted": "请发件人提供未加密的副本（去掉密码），再放入收件文件夹。",
        "encrypted-password-required": "请发件人提供未加密的副本（去掉密码），再放入收件文件夹。",
        "earlier-signature-broken": "此 PDF 中已有的签名已失效（签名后文件被改动）。请发件人提供完好的已签名副本；只有管理员可以允许在失效签名之上盖章。",
        "visible-seal-not-allowed": "作者对此 PDF 做了认证签名：新加可见印章会破坏认证，而文件中没有空的签名域。请作者提供带空签名域的副本，或允许加盖不可见印章。",
        "certified-no-changes": "作者对此 PDF 做了禁止任何修改的认证，无法盖章。请作者提供未认证的副本。",
        "unsupported": "请将文件交给管理员人工处理。",
        "too-large": "请将文件交给管理员人工处理（文件超过大小上限）。",
        "not-approved": "请审批人将这份文件列入审批单，然后把原件从隔离区复制回收件文件夹。",
        "document-altered": "文件在审批后被改动。请取得审批过的版本，或为此版本重新审批。",
        "approval-expired": "请审批人为此文件重新审批，然后把原件复制回收件文件夹。",
        "approval-revoked": "请审批人为此文件重新审批，然后把原件复制回收件文件夹。",
        "approval-used-up": "请审批人为此文件重新审批，然后把原件复制回收件文件夹。",
        "approval-invalid": "请审批人为此文件重新审批，然后把原件复制回收件文件夹。",
        "replay": "此文件已按其审批盖过章；请查看发件文件夹和归档。",
        "not-allowed": "请公章管理员检查印章状态和用章人的权限。",
        "seal-not-usable": "请公章管理员检查印章状态和用章人的权限。",
        "approval-storage": "登记库或其审计日志无法读写（只读、磁盘已满、检查点密钥或见证不可用）；没有盖章也没有交付，文件已回到收件文件夹。请运行 `sealbatch check 流水线文件`，按提示修复后再运行。",
        "audit-unavailable": "登记库或其审计日志无法读写（只读、磁盘已满、检查点密钥或见证不可用）；没有盖章也没有交付，文件已回到收件文件夹。请运行 `sealbatch check 流水线文件`，按提示修复后再运行。",
        "archive": "请报告管理员；然后把原件复制回收件文件夹。",
        "placement": "在此文件上找不到盖章位置；请调整流水线的位置设置或文件本身。",
        "render": "请报告管理员（印章样式或字体问题）。",
        "signing": "请连同文件编号报告管理员；然后把原件复制回收件文件夹。",
        "token-error": "请连同文件编号报告管理员；然后把原件复制回收件文件夹。",
        "tsa-unavailable": "时间戳服务没有响应；请稍后把原件复制回收件文件夹。",
        "token-locked": "印章 USB key 拒绝了 PIN。不要重试：请保管人检查 PIN 和 USB key。",
        "pin-incorrect": "印章 USB key 拒绝了 PIN。不要重试：请保管人检查 PIN 和 USB key。",
        "verify-failed": "印章未通过验证；请连同文件编号报告管理员。",
        "seal-key-mismatch": "USB key 中不是登记的印章密钥；没有盖章。请插入该印章自己的 USB key，或请公章管理员检查印章登记。",
        "duplicate": "如果这份副本是误放的，无需处理；否则请查看发件文件夹和归档。",
        "stage-error": "请连同文件编号报告管理员。",
        "delivery-record": "请连同文件编号报告管理员。",
        "crash-loop": "请连同文件编号报告管理员；此文件可能触发了程序故障。",
    ]
}

extension QuarantineReason {
    enum WrittenKeys: String, CodingKey {
        case code, message, stage, time, nextStep = "next-step", nextStepZH = "next-step-zh-CN", document, documentID = "document-id", sha256, pipeline
    }

    /// Writes the reason file: the stable code, the English message and next step, and the next step in
    /// Chinese for the code (`next-step-zh-CN`) when there is one.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: WrittenKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
        try c.encode(stage, forKey: .stage)
        try c.encode(time, forKey: .time)
        try c.encode(nextStep, forKey: .nextStep)
        try c.encodeIfPresent(ClerkText.nextStepZH(code), forKey: .nextStepZH)
        try c.encode(document, forKey: .document)
        try c.encode(documentID, forKey: .documentID)
        try c.encodeIfPresent(sha256, forKey: .sha256)
        try c.encode(pipeline, forKey: .pipeline)
    }
}
