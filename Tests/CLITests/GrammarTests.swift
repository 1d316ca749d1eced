import Foundation
import Testing
import TestSupport

/// The command-line grammar of docs/cli.md, held against the built binary: every subcommand's `--help`
/// (walked through ArgumentParser's own description of the command tree, `--experimental-dump-help`).
@Suite struct GrammarTests {
    let bin = TestSupport.sealbatchBinary.path

    /// One command of the tree with the options `--help` shows.
    struct Command {
        var path: [String]
        var texts: [String]          // abstract, discussion and every shown argument's help, as written
        var shown: [[String: Any]]   // the shown arguments
        var hidden: [[String: Any]]
    }

    func commands() throws -> [Command] {
        let r = try TestSupport.run(bin, ["--experimental-dump-help"])
        #expect(r.status == 0, "\(r.err)")
        let root = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        var out: [Command] = []
        func walk(_ c: [String: Any], _ path: [String]) {
            let name = c["commandName"] as? String ?? ""
            let p = path.isEmpty ? [] : path + [name]
            let args = c["arguments"] as? [[String: Any]] ?? []
            let shown = args.filter { ($0["shouldDisplay"] as? Bool) ?? true }
            let texts = [c["abstract"] as? String ?? "", c["discussion"] as? String ?? ""]
                + shown.flatMap { [$0["abstract"] as? String ?? "", $0["discussion"] as? String ?? ""] }
            out.append(Command(path: p, texts: texts, shown: shown, hidden: args.filter { !(($0["shouldDisplay"] as? Bool) ?? true) }))
            for s in c["subcommands"] as? [[String: Any]] ?? [] where (s["commandName"] as? String) != "help" { walk(s, p.isEmpty ? [""] : p) }
        }
        walk(try #require(root["command"] as? [String: Any]), [])
        // the root has path [] and its children were given [""] as a prefix: drop it
        return out.map { var c = $0; c.path = c.path.filter { !$0.isEmpty }; return c }
    }

    static func longNames(_ arg: [String: Any]) -> [String] {
        (arg["names"] as? [[String: Any]] ?? []).compactMap { ($0["kind"] as? String) == "short" ? nil : $0["name"] as? String }
    }

    @Test func everySubcommandsHelpFollowsTheGrammar() throws {
        let all = try commands()
        #expect(all.count > 40, "the walk found \(all.count) commands")
        let allowedFormats: Set<String> = ["text", "json", "csv", "junit"]
        var formatOptions = 0
        for c in all {
            let where_ = c.path.isEmpty ? "sealbatch" : "sealbatch " + c.path.joined(separator: " ")
            let help = try TestSupport.run(bin, c.path + ["--help"])
            #expect(help.status == 0, "\(where_) --help: \(help.err)")
            // no --json (format is --format json), no option named after a format
            #expect(!help.out.contains("--json"), "\(where_) --help shows --json")
            for a in c.shown {
                let names = Self.longNames(a)
                for n in names {
                    #expect(!["json", "csv", "junit", "table", "text", "output-format"].contains(n), "\(where_): --\(n) is a format flag; use --format")
                    #expect(!(n.hasSuffix("-format") && n != "format"), "\(where_): --\(n): the format option is --format")
                }
                if names.contains("format") {
                    formatOptions += 1
                    let values = Set(a["allValues"] as? [String] ?? [])
                    #expect(!values.isEmpty && values.isSubset(of: allowedFormats), "\(where_) --format values \(values)")
                    #expect(values.contains("text") || values.contains("json"), "\(where_) --format \(values)")
                }
                if names.contains("output") {
                    let shorts = (a["names"] as? [[String: Any]] ?? []).filter { ($0["kind"] as? String) == "short" }.compactMap { $0["name"] as? String }
                    #expect(shorts == ["o"], "\(where_): --output is also -o")
                }
            }
            // the help text as written: a line break inside a paragraph comes out as a ragged break in
            // the middle of a sentence once ArgumentParser wraps it
            for t in c.texts {
                let lines = t.components(separatedBy: "\n")
                for (a, b) in zip(lines, lines.dropFirst()) where !a.trimmingCharacters(in: .whitespaces).isEmpty && !b.trimmingCharacters(in: .whitespaces).isEmpty {
                    let listItem = b.first == " " || b.hasPrefix("-") || b.hasPrefix("•") || b.first?.isNumber == true
                    #expect(listItem || a.hasSuffix(":"), "\(where_): help breaks a line mid-paragraph: '…\(a.suffix(30))' / '\(b.prefix(30))…'")
                }
            }
            // no Swift type or case names in what a person reads
            let typeNames = try Regex(#"\b(Optional|String|Int|Int32|Int64|UInt8|Double|Bool|Array|Dictionary|Data|Date)\b|<[A-Z][a-z]+[A-Za-z0-9]*>|\b[a-z]+[A-Z][a-z]+[A-Za-z]*\b"#)
            let allowedCamel: Set<String> = ["pyHanko", "sealbatch"]
            for line in help.out.components(separatedBy: "\n") {
                for m in line.matches(of: typeNames) {
                    let w = String(line[m.range])
                    #expect(allowedCamel.contains(w), "\(where_) --help shows a type or case name: \(w) in '\(line)'")
                }
            }
            // a help line is never wider than the terminal width ArgumentParser wraps to
            for line in help.out.components(separatedBy: "\n") where !line.hasPrefix("USAGE:") && !line.hasPrefix("  sealbatch ") {
                #expect(line.count <= 100, "\(where_): long help line '\(line)'")
            }
        }
        #expect(formatOptions >= 11, "\(formatOptions) --format options found")
        // one meaning per option name: the help text of each shown long name is the same kind of thing
        var meanings: [String: Set<String>] = [:]
        for c in all { for a in c.shown { for n in Self.longNames(a) { meanings[n, default: []].insert(a["valueName"] as? String ?? "") } } }
        #expect(meanings["key"].map { $0.allSatisfy { $0 == "file.p12" } } ?? true, "--key is a PKCS#12 file everywhere: \(meanings["key"] ?? [])")
        #expect(meanings["token-uri"].map { !$0.isEmpty } ?? false)
        for c in all {
            for a in c.shown where Self.longNames(a).contains("password-fd") {
                #expect((a["abstract"] as? String ?? "").contains("local-account password"),
                        "sealbatch \(c.path.joined(separator: " ")): --password-fd is the acting user's password; a new one is --new-password-fd")
            }
        }
    }

    /// The old spellings still work (hidden, with a warning), and give what the new ones give.
    @Test func deprecatedSpellingsStillWork() throws {
        let pdf = TestSupport.corpusDir.appendingPathComponent("xref-classic-minimal-pyhanko.pdf").path
        let new = try TestSupport.run(bin, ["inspect", "--format", "json", pdf])
        let old = try TestSupport.run(bin, ["inspect", "--json", pdf])
        #expect(new.status == 0 && old.status == 0)
        #expect(old.out == new.out && new.out.hasPrefix("{"))
        #expect(old.err.contains("sealbatch: warning: deprecated-option: --json") && old.err.contains("--format json"))
        #expect(!new.err.contains("deprecated"))

        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reg = dir.appendingPathComponent("r.sqlite").path
        // org init: the administrator's new password, under its old name --password-fd
        let initOld = try TestSupport.run(bin, ["org", "init", "--user", "root", "--set-password", "--password-fd", "0", "--registry", reg],
                                          stdin: Data("root password 1\n".utf8))
        #expect(initOld.status == 0, "\(initOld.err)")
        #expect(initOld.err.contains("--password-fd is an old spelling: use --new-password-fd"))
        let created = try TestSupport.run(bin, ["org", "create", "acme", "--name", "ACME", "--as", "root", "--password-fd", "0", "--registry", reg],
                                          stdin: Data("root password 1\n".utf8))
        #expect(created.status == 0, "the password set through the old name is the one that logs in: \(created.err)")
        // --format table is --format text
        let table = try TestSupport.run(bin, ["org", "list", "--format", "table", "--registry", reg])
        let text = try TestSupport.run(bin, ["org", "list", "--format", "text", "--registry", reg])
        #expect(table.status == 0 && table.out == text.out && text.out.contains("acme"))
        let csv = try TestSupport.run(bin, ["org", "list", "--format", "csv", "--registry", reg])
        #expect(csv.out.hasPrefix("id,name,created"))
        let junit = try TestSupport.run(bin, ["org", "list", "--format", "junit", "--registry", reg])
        #expect(junit.status == 2 && junit.err.contains("'text', 'json' or 'csv'"), "\(junit.err)")
        // giving both names is refused
        let both = try TestSupport.run(bin, ["org", "init", "--user", "x", "--set-password", "--password-fd", "0", "--new-password-fd", "0",
                                             "--registry", dir.appendingPathComponent("r2.sqlite").path], stdin: Data("x\n".utf8))
        #expect(both.status == 2 && both.err.contains("give only --new-password-fd"), "\(both.err)")

        // token status --key URI is --token-uri URI
        let module = dir.appendingPathComponent("missing.so").path
        let uri = "pkcs11:token=x;object=y;type=private"
        let keyOld = try TestSupport.run(bin, ["token", "status", "--module", module, "--key", uri])
        let keyNew = try TestSupport.run(bin, ["token", "status", "--module", module, "--token-uri", uri])
        #expect(keyNew.status == 2 && keyNew.err.contains("sealbatch: invalid-configuration: module"), "\(keyNew.err)")
        #expect(keyOld.status == keyNew.status && keyOld.err.hasSuffix(keyNew.err) && keyOld.err.contains("use --token-uri"))
    }

    /// Under a Chinese locale the summaries of the commands clerks and approvers use are Chinese (in the
    /// command list and in each command's own help); under any other locale they are English.
    @Test func clerkCommandSummariesAreChineseUnderAChineseLocale() throws {
        let zh = ["LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"]
        let en = ["LC_ALL": "", "LC_MESSAGES": "", "LANG": "C.UTF-8"]
        let expected: [(String, String, String)] = [
            ("stamp", "加盖电子印章", "Seal one approved document"),
            ("preview", "预览盖章后的页面效果", "Render pages as they will look"),
            ("approve", "批准在文件上用印", "Approve the use of a seal"),
            ("verify", "验证 PDF 文件上的签名和印章", "Verify the signatures and seals"),
            ("report", "汇总流水线日志", "Summarise a pipeline's journal"),
            ("run", "运行盖章流水线", "Run a pipeline"),
        ]
        let listZH = try TestSupport.run(bin, ["--help"], env: zh)
        let listEN = try TestSupport.run(bin, ["--help"], env: en)
        #expect(listZH.status == 0 && listZH.out.contains("OVERVIEW: 为 PDF 文件批量加盖单位的电子公章。"), "\(listZH.out)")
        #expect(listEN.out.contains("OVERVIEW: Apply an organisation's electronic official seal"))
        for (command, chinese, english) in expected {
            let own = try TestSupport.run(bin, [command, "--help"], env: zh)
            #expect(own.status == 0 && own.out.hasPrefix("OVERVIEW: ") && own.out.contains(chinese), "\(command): \(own.out.prefix(200))")
            #expect(!own.out.contains(english))
            #expect(listZH.out.contains(chinese), "sealbatch --help lists \(command) in Chinese")
            let ownEN = try TestSupport.run(bin, [command, "--help"], env: en)
            #expect(ownEN.out.contains(english) && !ownEN.out.contains(chinese), "\(command) in English under LANG=C.UTF-8")
        }
        // LC_ALL wins over LANG, as POSIX says
        let lcAll = try TestSupport.run(bin, ["stamp", "--help"], env: ["LC_ALL": "zh_CN.UTF-8", "LANG": "en_GB.UTF-8"])
        #expect(lcAll.out.contains("加盖电子印章"))
        // the governance commands for administrators stay English
        #expect(try TestSupport.run(bin, ["org", "--help"], env: zh).out.range(of: #"\p{Han}"#, options: .regularExpression) == nil)
    }

    /// Every JSON the command line prints has kebab-case keys (docs/cli.md), as reason.json does.
    @Test func jsonKeysAreKebabCaseEverywhere() throws {
        func keys(_ o: Any, _ acc: inout Set<String>) {
            if let d = o as? [String: Any] { for (k, v) in d { acc.insert(k); keys(v, &acc) } }
            else if let a = o as? [Any] { for v in a { keys(v, &acc) } }
        }
        let kebab = try Regex(#"^[a-z0-9]+(-[a-z0-9]+)*(-zh-CN)?$"#)
        func check(_ args: [String], stdin: String? = nil, _ expected: [String]) throws {
            let r = try TestSupport.run(bin, args, stdin: stdin.map { Data($0.utf8) })
            #expect(r.status == 0 || r.status == 1, "\(args): \(r.err)")
            var acc = Set<String>()
            keys(try JSONSerialization.jsonObject(with: r.stdout, options: [.fragmentsAllowed]), &acc)
            #expect(!acc.isEmpty, "\(args)")
            for k in acc { #expect(k.wholeMatch(of: kebab) != nil, "\(args.prefix(2)): key '\(k)' is not kebab-case") }
            for k in expected { #expect(acc.contains(k), "\(args.prefix(2)): no key '\(k)' in \(acc.sorted())") }
        }
        let corpus = TestSupport.corpusDir
        try check(["inspect", "--format", "json", corpus.appendingPathComponent("signed-twice-xrefstream-pyhanko.pdf").path],
                  ["page-count", "covers-whole-file", "sub-filter", "byte-range", "media-box"])
        try check(["verify", "--format", "json", "--no-fetch", corpus.appendingPathComponent("signed-twice-xrefstream-pyhanko.pdf").path],
                  ["validation-time", "sub-indication", "certificate-path", "covers-whole-file"])
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let reg = dir.appendingPathComponent("r.sqlite").path
        let made = try TestSupport.run(bin, ["org", "init", "--user", "root", "--set-password", "--new-password-fd", "0", "--registry", reg],
                                       stdin: Data("root password 1\n".utf8))
        #expect(made.status == 0, "\(made.err)")
        let org = try TestSupport.run(bin, ["org", "create", "acme", "--name", "ACME", "--as", "root", "--password-fd", "0", "--registry", reg],
                                      stdin: Data("root password 1\n".utf8))
        #expect(org.status == 0, "\(org.err)")
        try check(["org", "list", "--format", "json", "--registry", reg], ["created-at"])
        try check(["user", "list", "--format", "json", "--registry", reg], ["seal-rights"])
        try check(["audit", "verify", "--format", "json", "--registry", reg], ["records-checked", "last-checkpointed-seq"])
        try check(["audit", "query", "--format", "json", "--as", "root", "--password-fd", "0", "--registry", reg], stdin: "root password 1\n",
                  ["prev-hash", "documents-before"])
    }

    /// `token list --format json` lists each token's objects with the URI to use, in kebab-case keys.
    @Test func tokenListAsJSON() throws {
        guard try TestSupport.haveTool("softhsm2-util") else { return }
        let dir = try TestSupport.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let pin = dir.appendingPathComponent("pin")
        FileManager.default.createFile(atPath: pin.path, contents: Data("123456\n".utf8), attributes: [.posixPermissions: 0o600])
        let made = try TestSupport.run(bin, ["token", "init-dev", "--dir", dir.appendingPathComponent("tok").path, "--label", "grammar",
                                             "--key-type", "ec-p256", "--pin-file", pin.path])
        #expect(made.status == 0, "\(made.err)")
        let config = dir.appendingPathComponent("tok/token.json").path
        let r = try TestSupport.run(bin, ["token", "list", "--token-config", config, "--objects", "--format", "json"])
        #expect(r.status == 0, "\(r.err)")
        let obj = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let slots = (obj["modules"] as? [[String: Any]] ?? []).flatMap { $0["slots"] as? [[String: Any]] ?? [] }
        let token = try #require(slots.compactMap { $0["token"] as? [String: Any] }.first { $0["label"] as? String == "grammar" })
        let objects = token["objects"] as? [[String: Any]] ?? []
        #expect(objects.contains { $0["private-key-uri"] as? String == "pkcs11:token=grammar;object=seal;type=private" }, "\(objects)")
        #expect(token["login-required"] as? Bool == true && token["sign-mechanisms"] != nil)
        let text = try TestSupport.run(bin, ["token", "list", "--token-config", config, "--objects"])
        #expect(text.out.contains("key: pkcs11:token=grammar;object=seal;type=private") && !text.out.hasPrefix("{"))
    }
}
