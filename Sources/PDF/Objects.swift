import Foundation

/// An indirect object reference `N G R` (ISO 32000-2 §7.3.10).
public struct ObjectRef: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Object number (1 ... 8,388,607 in conforming files).
    public var number: Int
    /// Generation number (0 ... 65,535).
    public var generation: Int
    /// Creates a reference.
    public init(_ number: Int, _ generation: Int = 0) { self.number = number; self.generation = generation }
    /// Creates a reference (labelled form).
    public init(number: Int, generation: Int) { self.number = number; self.generation = generation }
    public var description: String { "\(number) \(generation) R" }
    public static func < (a: ObjectRef, b: ObjectRef) -> Bool {
        a.number != b.number ? a.number < b.number : a.generation < b.generation
    }
}

/// A PDF name object (§7.3.5), kept as its decoded bytes (`#xx` escapes resolved).
public struct PDFName: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// Decoded bytes of the name, without the leading slash.
    public var bytes: [UInt8]
    /// Creates a name from its decoded bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }
    /// Creates a name from a Swift string (UTF-8).
    public init(_ string: String) { self.bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.bytes = Array(value.utf8) }
    /// The name as text (UTF-8, lossy).
    public var string: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { "/" + string }
}

/// A PDF string object (§7.3.4): raw bytes plus whether it was written in hex form.
public struct PDFString: Hashable, Sendable {
    /// The string's bytes (escapes resolved, hex decoded).
    public var bytes: [UInt8]
    /// True when the string is (or will be) written as `<hex>`.
    public var isHex: Bool
    /// Creates a string from bytes.
    public init(bytes: [UInt8], isHex: Bool = false) { self.bytes = bytes; self.isHex = isHex }
    /// Creates a string from text, encoded as PDFDocEncoding when possible, else UTF-16BE with BOM (§7.9.2.2).
    public init(text: String) {
        if let pdfDoc = PDFTextEncoding.encodePDFDoc(text) { self.bytes = pdfDoc }
        else { self.bytes = [0xFE, 0xFF] + text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }
        self.isHex = false
    }
    /// Decodes the bytes as a PDF text string (UTF-16BE/LE with BOM, UTF-8 with BOM, else PDFDocEncoding).
    public var text: String { PDFTextEncoding.decode(bytes) }
}

/// An ordered PDF dictionary (§7.3.7). Key order is kept so that written objects are stable.
public struct PDFDictionary: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// Entries in insertion (file) order.
    public private(set) var entries: [(key: PDFName, value: PDFObject)]

    /// An empty dictionary.
    public init() { entries = [] }
    /// A dictionary from ordered entries (later duplicates replace earlier ones).
    public init(_ pairs: [(PDFName, PDFObject)]) {
        entries = []
        for (k, v) in pairs { self[k] = v }
    }
    public init(dictionaryLiteral elements: (PDFName, PDFObject)...) { self.init(elements) }
    /// Entries known to have unique keys (the parser dedupes with a hash index).
    init(uniqueEntries: [(key: PDFName, value: PDFObject)]) { entries = uniqueEntries }

    /// Value for a key; setting `nil` removes the key. A `.null` value is the same as absence when read.
    public subscript(key: PDFName) -> PDFObject? {
        get {
            for e in entries where e.key == key { return e.value }
            return nil
        }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }
    /// Keys in order.
    public var keys: [PDFName] { entries.map(\.key) }
    /// Number of entries.
    public var count: Int { entries.count }
    /// True when the dictionary has no entries.
    public var isEmpty: Bool { entries.isEmpty }
    public func makeIterator() -> IndexingIterator<[(key: PDFName, value: PDFObject)]> { entries.makeIterator() }
    public static func == (a: PDFDictionary, b: PDFDictionary) -> Bool {
        guard a.entries.count == b.entries.count else { return false }
        for (x, y) in zip(a.entries, b.entries) where x.key != y.key || x.value != y.value { return false }
        return true
    }
    /// Shortcut: the value of `key` if it is a name.
    public func name(_ key: PDFName) -> PDFName? { self[key]?.nameValue }
    /// Shortcut: the value of `key` if it is an integer.
    public func int(_ key: PDFName) -> Int? { self[key]?.intValue }
}

/// A stream object (§7.3.8): its dictionary and its raw (still encoded) bytes.
public struct PDFStream: Sendable, Equatable {
    /// The stream dictionary. `/Length` is rewritten from `rawData` when the stream is serialized.
    public var dictionary: PDFDictionary
    let storage: StreamStorage

    /// A stream from encoded bytes (filters named in `dictionary` are assumed already applied).
    public init(dictionary: PDFDictionary, rawData: [UInt8]) {
        self.dictionary = dictionary
        self.storage = .bytes(rawData)
    }
    init(dictionary: PDFDictionary, source: ByteSource, range: Range<Int>) {
        self.dictionary = dictionary
        self.storage = .file(source, range)
    }
    /// A stream whose data is compressed with FlateDecode here.
    public static func flate(dictionary: PDFDictionary = PDFDictionary(), data: [UInt8]) -> PDFStream {
        var d = dictionary
        d["Filter"] = .name("FlateDecode")
        d["DecodeParms"] = nil
        return PDFStream(dictionary: d, rawData: Flate.deflate(data))
    }
    /// The raw encoded bytes (copied out of the file when the stream was read from one).
    public var rawData: [UInt8] {
        switch storage {
        case .bytes(let b): return b
        case .file(let src, let r): return src.bytes(r)
        }
    }
    /// Length of the raw encoded bytes.
    public var rawLength: Int {
        switch storage {
        case .bytes(let b): return b.count
        case .file(_, let r): return r.count
        }
    }
    /// Offset of the raw data in its file, when read from a file.
    public var fileRange: Range<Int>? {
        if case .file(_, let r) = storage { return r }
        return nil
    }
    /// The data with every filter in `/Filter` undone (FlateDecode with PNG/TIFF predictors, LZW,
    /// ASCIIHex, ASCII85, RunLength). Image-only filters (DCT, JPX, JBIG2, CCITT) throw `.unsupported`.
    public func decodedData() throws -> [UInt8] {
        try Filters.decode(rawData, dictionary: dictionary)
    }
    public static func == (a: PDFStream, b: PDFStream) -> Bool {
        a.dictionary == b.dictionary && a.rawData == b.rawData
    }
}

enum StreamStorage: Sendable {
    case bytes([UInt8])
    case file(ByteSource, Range<Int>)
}

/// A rectangle in PDF user space (§7.9.5), normalised so that `llx <= urx`, `lly <= ury`.
public struct PDFRect: Hashable, Sendable, CustomStringConvertible, Codable {
    public var llx: Double, lly: Double, urx: Double, ury: Double
    /// Creates a rectangle from two corners (normalised).
    public init(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double) {
        llx = min(x1, x2); urx = max(x1, x2); lly = min(y1, y2); ury = max(y1, y2)
    }
    /// Reads `[a b c d]`; nil unless it has four numbers.
    public init?(_ object: PDFObject?) {
        guard let a = object?.arrayValue, a.count == 4 else { return nil }
        let n = a.compactMap(\.numberValue)
        guard n.count == 4, n.allSatisfy({ $0.isFinite && abs($0) < 1e9 }) else { return nil }
        self.init(n[0], n[1], n[2], n[3])
    }
    /// Width (urx - llx).
    public var width: Double { urx - llx }
    /// Height (ury - lly).
    public var height: Double { ury - lly }
    /// Intersection with another rectangle (empty rectangles collapse to a zero-size one).
    public func intersection(_ o: PDFRect) -> PDFRect {
        let a = max(llx, o.llx), b = max(lly, o.lly)
        return PDFRect(a, b, max(a, min(urx, o.urx)), max(b, min(ury, o.ury)))
    }
    /// As a PDF array.
    public var object: PDFObject { .array([.number(llx), .number(lly), .number(urx), .number(ury)]) }
    public var description: String { "[\(fmt(llx)) \(fmt(lly)) \(fmt(urx)) \(fmt(ury))]" }
    private func fmt(_ d: Double) -> String { String(decoding: PDFSerializer.formatReal(d), as: UTF8.self) }
}

/// Reserved space for a signature in an update (see `IncrementalUpdate.write(to:)`).
public enum SignaturePlaceholder: Hashable, Sendable {
    /// `/Contents <00…00>` with room for `byteCount` bytes (written as 2·byteCount hex zeros).
    case contents(byteCount: Int)
    /// `/ByteRange [0 …]` written with fixed width, filled in place after the file is written.
    case byteRange
}

/// A PDF object (§7.3). Indirect objects appear as `.reference`; resolve them with `PDFDocument.resolve(_:)`.
public enum PDFObject: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int)
    case real(Double)
    case string(PDFString)
    case name(PDFName)
    case array([PDFObject])
    case dictionary(PDFDictionary)
    case stream(PDFStream)
    case reference(ObjectRef)
    /// A fixed-size hole that the writer fills after writing (signature `/Contents` and `/ByteRange`).
    case placeholder(SignaturePlaceholder)

    /// `/Contents` placeholder with room for a DER blob of `byteCount` bytes.
    public static func contentsPlaceholder(byteCount: Int) -> PDFObject { .placeholder(.contents(byteCount: byteCount)) }
    /// `/ByteRange` placeholder, filled by the writer.
    public static var byteRangePlaceholder: PDFObject { .placeholder(.byteRange) }

    /// A number: `.integer` when integral and in range, otherwise `.real`.
    public static func number(_ d: Double) -> PDFObject {
        if d.rounded() == d, abs(d) < 1e15 { return .integer(Int(d)) }
        return .real(d)
    }
    /// A literal string from bytes.
    public static func string(_ bytes: [UInt8]) -> PDFObject { .string(PDFString(bytes: bytes)) }
    /// A hex string from bytes.
    public static func hexString(_ bytes: [UInt8]) -> PDFObject { .string(PDFString(bytes: bytes, isHex: true)) }
    /// A text string (PDFDocEncoding or UTF-16BE).
    public static func text(_ s: String) -> PDFObject { .string(PDFString(text: s)) }

    public var intValue: Int? {
        switch self {
        case .integer(let i): return i
        case .real(let d) where d.rounded() == d && abs(d) < 9e15: return Int(d)
        default: return nil
        }
    }
    public var numberValue: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .real(let d): return d
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var nameValue: PDFName? { if case .name(let n) = self { return n }; return nil }
    public var stringValue: PDFString? { if case .string(let s) = self { return s }; return nil }
    public var arrayValue: [PDFObject]? { if case .array(let a) = self { return a }; return nil }
    /// The dictionary of a dictionary or of a stream.
    public var dictionaryValue: PDFDictionary? {
        switch self {
        case .dictionary(let d): return d
        case .stream(let s): return s.dictionary
        default: return nil
        }
    }
    public var streamValue: PDFStream? { if case .stream(let s) = self { return s }; return nil }
    public var referenceValue: ObjectRef? { if case .reference(let r) = self { return r }; return nil }
    public var isNull: Bool { if case .null = self { return true }; return false }

    /// The object in PDF syntax (streams include `stream … endstream`; placeholders as fixed-size holes).
    public func serialized() -> [UInt8] {
        var w = PDFSerializer()
        w.write(self)
        return w.out
    }
}

extension PDFObject: ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral, ExpressibleByArrayLiteral {
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(arrayLiteral elements: PDFObject...) { self = .array(elements) }
}
