// libFuzzer target for the PDF parser. Built by fuzz/pdf.sh only, outside the package build:
// swiftc compiles this file together with Sources/PDF into one module with -sanitize=fuzzer.
// Every input must either parse or fail with a PDFError — never crash, hang or allocate wildly.

@_cdecl("LLVMFuzzerTestOneInput")
public func pdfFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let buffer = UnsafeRawBufferPointer(start: data, count: size)
    let src = ByteSource(bytes: buffer)
    // 1. The whole document API.
    if let doc = try? PDFDocument(source: src, url: nil) {
        let pages = doc.pages
        for p in pages.prefix(8) { _ = try? doc.contentData(of: p) }
        for f in doc.signatureFields { if let br = f.byteRange { _ = doc.coverage(of: br) }; _ = doc.coverage(of: f) }
        _ = doc.docMDPPermission
        _ = doc.info
        _ = doc.revisions
        _ = doc.isLinearized
        _ = doc.version
        try? doc.checkSealable()
    }
    // 2. The object parser on raw bytes, with a serializer round trip of what it reads.
    var p = Parser(src, at: 0)
    var n = 0
    while n < 64, p.lex.pos < src.count {
        let before = p.lex.pos
        guard let o = try? p.parseObject() else { break }
        let text = o.serialized()
        var q = Parser(text.withUnsafeBytes { ByteSource(bytes: $0) }, at: 0)
        _ = try? q.parseObject()
        if p.lex.pos <= before { break }
        n += 1
    }
    // 3. Filters on raw bytes.
    let bytes = [UInt8](buffer.prefix(4096))
    _ = try? Filters.predict(bytes, ["Predictor": 12, "Columns": 5])
    _ = try? Filters.ascii85(bytes)
    _ = try? Filters.lzw(bytes, earlyChange: 1)
    _ = Filters.runLength(bytes)
    _ = try? Flate.inflate(bytes, limit: 1 << 24)
    return 0
}
