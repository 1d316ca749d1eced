import Pipeline

/// A command's one-line summary in the reader's language: Chinese under a Chinese locale (`LC_ALL`,
/// `LC_MESSAGES`, `LANG`, as for the clerk texts), else English. ArgumentParser reads a command's
/// configuration once, before any option is parsed, so `--lang` cannot choose it; option texts stay English.
/// Used for the commands clerks and approvers run (stamp, preview, approve, verify, report, run).
func localizedSummary(_ english: String, zh chinese: String) -> String {
    ClerkLanguage.choose() == .zhCN ? chinese : english
}
