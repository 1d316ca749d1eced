import Foundation

/// Document information (§14.3.3 Info dictionary, and the XMP dc:title).
public struct DocumentInfo: Sendable, Equatable, Codable {
    public var title: String?
    public var author: String?
    public var subject: String?
    public var keywords: String?
    public var creator: String?
    public var producer: String?
    public var creationDate: String?
    public var modificationDate: String?
    /// dc:title from the catalog's XMP /Metadata stream.
    public var xmpTitle: String?
}

extension PDFDocument {
    /// The Info dictionary's entries and the XMP title.
    public var info: DocumentInfo {
        var i = DocumentInfo()
        if let d = resolve(trailer, "Info")?.dictionaryValue {
            func t(_ k: PDFName) -> String? { resolve(d, k)?.stringValue?.text }
            i.title = t("Title"); i.author = t("Author"); i.subject = t("Subject"); i.keywords = t("Keywords")
            i.creator = t("Creator"); i.producer = t("Producer")
            i.creationDate = t("CreationDate"); i.modificationDate = t("ModDate")
        }
        if case .stream(let s)? = resolve(catalog, "Metadata"), let x = try? s.decodedData() {
            i.xmpTitle = XMP.title(x)
        }
        return i
    }
}

enum XMP {
    /// First rdf:li inside dc:title.
    static func title(_ x: [UInt8]) -> String? {
        guard let t = find(x, Array("<dc:title".utf8), from: 0),
              let end = find(x, Array("</dc:title>".utf8), from: t) else { return nil }
        var p = t
        if let li = find(x, Array("<rdf:li".utf8), from: t), li < end { p = li }
        guard let gt = x[p..<end].firstIndex(of: 0x3E) else { return nil }
        var stop = end
        if let close = find(x, Array("</rdf:li>".utf8), from: gt), close < end { stop = close }
        let raw = String(decoding: x[(gt + 1)..<stop], as: UTF8.self)
        let s = raw.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&").trimmingCharacters(in: .whitespacesAndNewlines)
        return s.isEmpty ? nil : s
    }

    static func find(_ h: [UInt8], _ n: [UInt8], from: Int) -> Int? {
        guard n.count <= h.count else { return nil }
        var i = from
        while i + n.count <= h.count {
            if h[i] == n[0] && Array(h[i..<(i + n.count)]) == n { return i }
            i += 1
        }
        return nil
    }
}
