import ArgumentParser
import Foundation

/// The one place where errors become text and exit codes.
///
/// sealbatch's documented exit codes: 0 success, 1 some documents failed or failed verification,
/// 2 usage or configuration error, 3 finished with warnings. ArgumentParser reports usage errors as
/// EX_USAGE (64); they are mapped to 2 here so scripts and CI see one convention.
extension Sealbatch {
    static func main() async {
        await runMain(arguments: Array(CommandLine.arguments.dropFirst()))
    }

    static func runMain(arguments: [String]) async {
        do {
            var command = try parseAsRoot(arguments)
            do {
                if var asyncCommand = command as? AsyncParsableCommand {
                    try await asyncCommand.run()
                } else {
                    try command.run()
                }
            } catch let e where CLIMessage.isOurs(e) {
                // An error of ours that no command turned into text: the one error shape (CLIMessage).
                throw GovCLI.exit(e)
            }
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                let toStdout = code == .success
                let line = message.hasSuffix("\n") ? message : message + "\n"
                FileHandle(fileDescriptor: toStdout ? 1 : 2).write(Data(line.utf8))
            }
            Foundation.exit(mapped(code.rawValue))
        }
    }

    /// Maps ArgumentParser's codes onto sealbatch's: EX_USAGE (64) and other sysexits become 2.
    static func mapped(_ raw: Int32) -> Int32 {
        switch raw {
        case 0, 1, 2, 3: return raw
        case 64...78: return 2
        default: return raw
        }
    }
}
