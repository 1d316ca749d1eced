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
