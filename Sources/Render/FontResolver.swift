import CPoppler
import Foundation

/// Serialises every call into Cairo, fontconfig and poppler-glib: the libraries are used from one
/// thread at a time (the shape of GRDB's serial-queue actor, kept synchronous for callers).
enum CLibraries {
    static let lock = NSRecursiveLock()
    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// A font chosen through fontconfig that covers a given text.
public struct ResolvedFont: Sendable, Equatable {
    /// Family name as fontconfig reports it (e.g. "Noto Serif CJK SC").
    public let family: String
    /// Font file and face index inside it.
    public let file: String
    public let index: Int32
}

/// Finds seal fonts through fontconfig and checks with `FcCharSet` that every character is covered,
/// so a seal never shows empty boxes.
public enum FontResolver {
    /// Song/serif CJK families tried, in order, when a design names no font.
    public static let defaultFamilies = ["Noto Serif CJK SC", "Noto Serif CJK TC", "Source Han Serif SC",
                                         "Source Han Serif CN", "AR PL UMing CN", "SimSun", "NSimSun", "Songti SC"]

    /// Returns the first font among `family` (or the defaults) that covers every character of `text`.
    /// Throws `fontNotFound` naming the uncovered characters otherwise.
    public static func resolve(family: String?, text: String, bold: Bool = true) throws -> ResolvedFont {
        try CLibraries.locked {
            let candidates = family.map { [$0] } ?? defaultFamilies
            var missingReport: [String] = []
            for fam in candidates {
                guard let (font, missing) = match(family: fam, text: text, bold: bold) else { continue }
                if missing.isEmpty { return font }
                missingReport.append("\(fam) lacks \(missing.prefix(10).map { String($0) }.joined())")
            }
            let tried = candidates.joined(separator: ", ")
            let why = missingReport.isEmpty ? "none of [\(tried)] is installed" : missingReport.joined(separator: "; ")
            throw RenderError(.fontNotFound,
                "no installed font covers the seal text (\(why)); install a Song/serif CJK font such as "
                + "Noto Serif CJK SC (Debian: apt-get install fonts-noto-cjk) or name one in the design's \"font\"")
        }
    }

    /// Matches one family; nil if fontconfig substitutes another family. Returns uncovered characters.
    private static func match(family: String, text: String, bold: Bool) -> (ResolvedFont, [Character])? {
        guard let pat = FcPatternCreate() else { return nil }
        defer { FcPatternDestroy(pat) }
        _ = FcPatternAddString(pat, "family", family)
        _ = FcPatternAddInteger(pat, "weight", bold ? 200 : 80)   // FC_WEIGHT_BOLD / REGULAR
        _ = FcConfigSubstitute(nil, pat, FcMatchPattern)
        FcDefaultSubstitute(pat)
        var result = FcResultNoMatch
        guard let m = FcFontMatch(nil, pat, &result) else { return nil }
        defer { FcPatternDestroy(m) }
        // Accept only a real match of the requested family (fontconfig always returns *something*).
        var famName: String?
        var i: Int32 = 0
        while true {
            var s: UnsafeMutablePointer<FcChar8>?
            if FcPatternGetString(m, "family", i, &s) != FcResultMatch { break }
            if let s, let name = String(validatingCString: UnsafeRawPointer(s).assumingMemoryBound(to: CChar.self)),
               name.caseInsensitiveCompare(family) == .orderedSame {
                famName = name
                break
            }
            i += 1
        }
        guard let famName else { return nil }
        var fileP: UnsafeMutablePointer<FcChar8>?
        guard FcPatternGetString(m, "file", 0, &fileP) == FcResultMatch, let fileP else { return nil }
        let file = String(cString: UnsafeRawPointer(fileP).assumingMemoryBound(to: CChar.self))
        var index: Int32 = 0
        _ = FcPatternGetInteger(m, "index", 0, &index)
        var cs: OpaquePointer?
        var missing: [Character] = []
        if FcPatternGetCharSet(m, "charset", 0, &cs) == FcResultMatch, let cs {
            for ch in text where !ch.isWhitespace {
                for u in ch.unicodeScalars where FcCharSetHasChar(cs, u.value) == 0 {
                    missing.append(ch)
                    break
                }
            }
        } else {
            missing = Array(text)
        }
        return (ResolvedFont(family: famName, file: file, index: index), missing)
    }

    /// A Cairo font face for a resolved font (caller destroys it). Must be called under the lock.
    static func cairoFace(_ font: ResolvedFont) -> OpaquePointer? {
        guard let pat = FcPatternCreate() else { return nil }
        defer { FcPatternDestroy(pat) }
        _ = FcPatternAddString(pat, "file", font.file)
        _ = FcPatternAddInteger(pat, "index", font.index)
        return cairo_ft_font_face_create_for_pattern(pat)
    }
}
