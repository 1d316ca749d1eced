import ArgumentParser
import Foundation

/// The output formats of the command line (docs/cli.md). Every command that prints a report or a listing
/// takes `--format` with the subset of these that applies to it: one of the `FormatChoice` enums below, so
/// `--help` and the error for a wrong value list exactly the values that command accepts.
enum OutputFormat: String, CaseIterable, Sendable {
    case text, json, csv, junit
}

/// The values one command's `--format` accepts. `table`, the old name of `text` in the listing commands,
/// is still read (deprecated; not listed).
protocol FormatChoice: ExpressibleByArgument, CaseIterable, RawRepresentable where RawValue == String {}

extension FormatChoice {
    var format: OutputFormat { OutputFormat(rawValue: rawValue) ?? .text }

    init?(argument: String) {
        let a = argument.lowercased()
        if let v = Self(rawValue: a == "table" ? "text" : a) { self = v } else { return nil }
    }

    static var allValueStrings: [String] { allCases.map(\.rawValue) }
    var defaultValueDescription: String { rawValue }
}

/// `--format text|json`
enum TextOrJSON: String, FormatChoice { case text, json }
/// `--format text|json|csv` (listings)
enum ListingFormat: String, FormatChoice { case text, json, csv }
/// `--format text|json|junit` (verification)
enum VerifyFormat: String, FormatChoice { case text, json, junit }

/// `--json`, the old spelling of `--format json`: still works, not shown in `--help`, says it is deprecated.
struct DeprecatedJSONFlag: ParsableArguments {
    @Flag(name: .customLong("json"), help: .hidden)
    var json = false

    /// The format to use: `--json` wins over the default of `--format`.
    func resolve(_ format: TextOrJSON) -> TextOrJSON {
        guard json else { return format }
        CLIMessage.warnDeprecated("--json", use: "--format json")
        return .json
    }
}

extension CLIMessage {
    /// One line on standard error when an old option spelling is used; the command then runs as usual.
    static func warnDeprecated(_ old: String, use new: String) {
        FileHandle.standardError.write(Data("sealbatch: warning: deprecated-option: \(old) is an old spelling: use \(new)\n".utf8))
    }
}

/// A hidden old option name kept working beside the new one (`--password-fd` for `--new-password-fd`, …).
/// Returns the value given under either name; both at once is a usage error.
func aliased<T>(_ new: T?, _ old: T?, old oldName: String, new newName: String) throws -> T? {
    if old != nil {
        if new != nil { throw ValidationError("\(oldName) is an old spelling of \(newName): give only \(newName)") }
        CLIMessage.warnDeprecated(oldName, use: newName)
        return old
    }
    return new
}

/// The JSON the command line prints: kebab-case keys everywhere (`first-bad-record`, `covers-whole-file`), as in
/// reason.json and the pipeline files, sorted, ISO 8601 dates. Only keys that are Swift property names
/// (`camelCase` identifiers) are rewritten; keys already in kebab-case (`next-step-zh-CN`) and data used as
/// keys (file names, reason codes, ids with other characters) are written as they are.
enum CLIJSON {
    /// `coversWholeFile` → `covers-whole-file`, `certificateSHA256` → `certificate-sha256`.
    static func kebab(_ key: String) -> String {
        guard let first = key.unicodeScalars.first, ("a"..."z").contains(first),
              key.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }),
              key.unicodeScalars.contains(where: { ("A"..."Z").contains($0) }) else { return key }
        let chars = Array(key)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c.isUppercase {
                let prev = chars[i - 1]
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if prev.isLowercase || prev.isNumber || (prev.isUppercase && nextIsLower) { out.append("-") }
                out.append(Character(c.lowercased()))
            } else {
                out.append(c)
            }
        }
        return out
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init(intValue: Int) { self.stringValue = "\(intValue)"; self.intValue = intValue }
    }

    static func encoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .iso8601
        e.keyEncodingStrategy = .custom { path in
            let last = path.last!
            return last.intValue != nil ? last : Key(stringValue: kebab(last.stringValue))
        }
        return e
    }

    static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
        try encoder(pretty: pretty).encode(value)
    }

    static func string<T: Encodable>(_ value: T, pretty: Bool = true) throws -> String {
        String(decoding: try encode(value, pretty: pretty), as: UTF8.self)
    }
}
