// Benchmark driver for the PDF module, built by bench/pdf.sh outside the package (swiftc -O with
// Sources/PDF). usage: pdf-bench IN OUT — parses IN, appends an update with a signature hole
// (an empty signature field on page 1, 16 KB /Contents), fills the hole, then hashes the byte
// ranges by streaming. Prints "parse_append_s=… digest_s=… pages=… size=…".
import Foundation

@main
struct PDFBench {
    static func main() throws {
        let args = CommandLine.arguments
        guard args.count == 3 else {
            FileHandle.standardError.write(Data("usage: pdf-bench IN OUT\n".utf8))
            exit(2)
        }
        let input = URL(fileURLWithPath: args[1]), output = URL(fileURLWithPath: args[2])
        let t0 = Date()
        let doc = try PDFDocument(url: input)
        let pages = doc.pages
        let up = try IncrementalUpdate(document: doc)
        let sig = up.add(.dictionary(["Type": .name("Sig"), "Filter": .name("Adobe.PPKLite"), "SubFilter": .name("ETSI.CAdES.detached"),
                                      "ByteRange": .byteRangePlaceholder, "Contents": .contentsPlaceholder(byteCount: 16384)]))
        let page = pages[0]
        let field = up.add(.dictionary(["FT": .name("Sig"), "T": .text("Bench"), "V": .reference(sig), "Type": .name("Annot"),
                                        "Subtype": .name("Widget"), "Rect": [0, 0, 0, 0], "F": 132, "P": .reference(page.ref)]))
        var pd = page.dictionary
        pd["Annots"] = .array((doc.resolve(pd["Annots"] ?? .null).arrayValue ?? []) + [.reference(field)])
        up.replace(page.ref, with: .dictionary(pd))
        var cat = doc.catalog
        cat["AcroForm"] = .dictionary(["Fields": [.reference(field)], "SigFlags": 3])
        up.replace(doc.catalogRef!, with: .dictionary(cat))
        guard let hole = try up.write(to: output) else { fatalError("no hole") }
        try hole.fill(file: output, contents: [UInt8](repeating: 0x30, count: 2000))
        let t1 = Date()
        let digest = try ByteRange.digest(file: output, ranges: hole.byteRange, algorithm: .sha256)
        let t2 = Date()
        print(String(format: "parse_append_s=%.4f digest_s=%.4f pages=%d size=%d digest=%@", t1.timeIntervalSince(t0), t2.timeIntervalSince(t1),
                     pages.count, hole.fileSize, digest.prefix(4).map { String(format: "%02x", $0) }.joined()))
    }
}
