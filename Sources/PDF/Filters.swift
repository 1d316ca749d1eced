import Foundation
import CZlib

/// zlib (RFC 1950) inflate/deflate through the CZlib shim.
enum Flate {
    /// Inflates; on a corrupt or truncated stream returns what could be decoded (like most readers),
    /// throwing only when nothing could be decoded. `limit` caps the output size.
    static func inflate(_ input: [UInt8], limit: Int = Filters.maxDecodedSize) throws -> [UInt8] {
        if input.isEmpty { return [] }
        var strm = z_stream()
        var rc = inflateInit_(&strm, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw PDFError(.damaged, "cannot start zlib") }
        defer { inflateEnd(&strm) }
        var out = [UInt8]()
        out.reserveCapacity(min(limit, max(1024, input.count * 4)))
        let chunk = 64 * 1024
        var buf = [UInt8](repeating: 0, count: chunk)
        var triedRaw = false
        var inputCopy = input
        return try inputCopy.withUnsafeMutableBufferPointer { inp -> [UInt8] in
            strm.next_in = inp.baseAddress
            strm.avail_in = UInt32(inp.count)
            while true {
                let produced: Int = buf.withUnsafeMutableBufferPointer { b in
                    strm.next_out = b.baseAddress
                    strm.avail_out = UInt32(chunk)
                    rc = CZlib.inflate(&strm, Z_NO_FLUSH)
                    return chunk - Int(strm.avail_out)
                }
                out.append(contentsOf: buf[0..<produced])
                if out.count > limit { throw PDFError(.unsupported, "decoded stream is larger than \(limit) bytes") }
                if rc == Z_STREAM_END { break }
                if rc == Z_BUF_ERROR && strm.avail_in == 0 { break } // truncated input: keep what we have
                if rc == Z_DATA_ERROR && out.isEmpty && !triedRaw {
                    // Some writers omit the zlib header: retry as raw deflate.
                    triedRaw = true
                    inflateEnd(&strm)
                    strm = z_stream()
                    guard inflateInit2_(&strm, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { break }
                    strm.next_in = inp.baseAddress
                    strm.avail_in = UInt32(inp.count)
                    continue
                }
                if rc != Z_OK {
                    if out.isEmpty { throw PDFError(.damaged, "corrupt FlateDecode data") }
                    break
                }
            }
            return out
        }
    }

    /// Deflates with the default level.
    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var destLen = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(destLen))
        let rc = out.withUnsafeMutableBufferPointer { o in
            input.withUnsafeBufferPointer { i in
                compress2(o.baseAddress, &destLen, i.baseAddress, uLong(input.count), Z_DEFAULT_COMPRESSION)
            }
        }
        precondition(rc == Z_OK, "zlib compress2 failed")
        out.removeSubrange(Int(destLen)...)
        return out
    }
}

/// Stream filters (§7.4) for reading.
enum Filters {
    /// Largest decoded stream we produce (guards against decompression bombs).
    static let maxDecodedSize = 1 << 28

    static func decode(_ data: [UInt8], dictionary d: PDFDictionary) throws -> [UInt8] {
        var filters: [PDFName] = []
        var parms: [PDFDictionary?] = []
        switch d["Filter"] {
        case .name(let n)?: filters = [n]
        case .array(let a)?: filters = a.compactMap(\.nameValue)
        default: return data
        }
        switch d["DecodeParms"] ?? d["DP"] {
        case .dictionary(let p)?: parms = [p]
        case .array(let a)?: parms = a.map(\.dictionaryValue)
        default: break
        }
        var cur = data
        for (i, f) in filters.enumerated() {
            let p = i < parms.count ? parms[i] : nil
            switch f.string {
            case "FlateDecode", "Fl": cur = try predict(try Flate.inflate(cur), p)
            case "LZWDecode", "LZW": cur = try predict(lzw(cur, earlyChange: p?.int("EarlyChange") ?? 1), p)
            case "ASCIIHexDecode", "AHx": cur = asciiHex(cur)
            case "ASCII85Decode", "A85": cur = try ascii85(cur)
            case "RunLengthDecode", "RL": cur = runLength(cur)
            case "Crypt": continue
            default: throw PDFError(.unsupported, "stream filter /\(f.string) is not decoded by sealbatch")
            }
        }
        return cur
    }

    /// PNG (10–15) and TIFF (2) predictors (§7.4.4.4).
    static func predict(_ data: [UInt8], _ p: PDFDictionary?) throws -> [UInt8] {
        guard let p, let pred = p.int("Predictor"), pred > 1 else { return data }
        let colors = max(1, min(p.int("Colors") ?? 1, 32))
        let bpc = max(1, min(p.int("BitsPerComponent") ?? 8, 16))
        let columns = max(1, min(p.int("Columns") ?? 1, 1 << 24))
        let bpp = max(1, (colors * bpc + 7) / 8)
        // A row can never be longer than the data (guards against absurd /Columns).
        let rowLen = max(1, min((colors * bpc * columns + 7) / 8, max(1, data.count)))
        if pred == 2 {
            guard bpc == 8 else { throw PDFError(.unsupported, "TIFF predictor with \(bpc) bits per component") }
            var out = data
            var r = 0
            while rowLen > bpp && r + rowLen <= out.count {
                for i in bpp..<rowLen { out[r + i] = out[r + i] &+ out[r + i - bpp] }
                r += rowLen
            }
            return out
        }
        guard pred >= 10 else { throw PDFError(.unsupported, "predictor \(pred)") }
        var out = [UInt8]()
        out.reserveCapacity(data.count)
        var prev = [UInt8](repeating: 0, count: rowLen)
        var row = [UInt8](repeating: 0, count: rowLen)
        var i = 0
        while i < data.count {
            let type = data[i]; i += 1
            let n = min(rowLen, data.count - i)
            for k in 0..<rowLen { row[k] = k < n ? data[i + k] : 0 }
            i += n
            switch type {
            case 0: break
            case 1: for k in bpp..<max(bpp, rowLen) { row[k] = row[k] &+ row[k - bpp] }
            case 2: for k in 0..<rowLen { row[k] = row[k] &+ prev[k] }
            case 3:
                for k in 0..<rowLen {
                    let left = k >= bpp ? Int(row[k - bpp]) : 0
                    row[k] = row[k] &+ UInt8((left + Int(prev[k])) / 2)
                }
            case 4:
                for k in 0..<rowLen {
                    let a = k >= bpp ? Int(row[k - bpp]) : 0, b = Int(prev[k]), c = k >= bpp ? Int(prev[k - bpp]) : 0
                    let pp = a + b - c
                    let pa = abs(pp - a), pb = abs(pp - b), pc = abs(pp - c)
                    let v = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                    row[k] = row[k] &+ UInt8(v)
                }
            default: break // unknown row type: take the row as is
            }
            out.append(contentsOf: row[0..<n])
            swap(&prev, &row)
        }
        return out
    }

    static func asciiHex(_ d: [UInt8]) -> [UInt8] {
        var out = [UInt8](); var hi: UInt8? = nil
        for b in d {
            if b == 0x3E { break }
            guard let v = hexValue(b) else { continue }
            if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
        }
        if let h = hi { out.append(h << 4) }
        return out
    }

    static func ascii85(_ d: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](); var group: [UInt32] = []
        var i = 0
        if d.count >= 2 && d[0] == 0x3C && d[1] == 0x7E { i = 2 }
        func flush(_ g: [UInt32]) {
            var v: UInt32 = 0
            var gg = g
            while gg.count < 5 { gg.append(84) }
            for c in gg { v = v &* 85 &+ c }
            let bytes = [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
            out.append(contentsOf: bytes[0..<(g.count - 1)])
        }
        while i < d.count {
            let b = d[i]; i += 1
            if b == 0x7E { break }
            if isWhite(b) { continue }
            if b == 0x7A && group.isEmpty { out.append(contentsOf: [0, 0, 0, 0]); continue }
            guard b >= 0x21 && b <= 0x75 else { throw PDFError(.damaged, "invalid ASCII85 data") }
            group.append(UInt32(b - 0x21))
            if group.count == 5 { flush(group); group = [] }
        }
        if group.count > 1 { flush(group) }
        return out
    }

    static func runLength(_ d: [UInt8]) -> [UInt8] {
        var out = [UInt8](); var i = 0
        while i < d.count {
            let l = Int(d[i]); i += 1
            if l == 128 { break }
            if l < 128 {
                let n = min(l + 1, d.count - i)
                out.append(contentsOf: d[i..<(i + n)]); i += n
            } else if i < d.count {
                out.append(contentsOf: [UInt8](repeating: d[i], count: 257 - l)); i += 1
                if out.count > maxDecodedSize { break }
            }
        }
        return out
    }

    static func lzw(_ d: [UInt8], earlyChange: Int) throws -> [UInt8] {
        var out = [UInt8]()
        var table: [[UInt8]] = (0..<256).map { [UInt8($0)] } + [[], []]
        var codeLen = 9
        var bitBuf = 0, bitCount = 0
        var prev: [UInt8]? = nil
        var i = 0
        while true {
            while bitCount < codeLen && i < d.count { bitBuf = (bitBuf << 8) | Int(d[i]); i += 1; bitCount += 8 }
            if bitCount < codeLen { break }
            let code = (bitBuf >> (bitCount - codeLen)) & ((1 << codeLen) - 1)
            bitCount -= codeLen
            bitBuf &= (1 << bitCount) - 1
            if code == 256 { table = Array(table[0..<258]); codeLen = 9; prev = nil; continue }
            if code == 257 { break }
            var entry: [UInt8]
            if code < table.count { entry = table[code] }
            else if code == table.count, let p = prev { entry = p + [p[0]] }
            else { throw PDFError(.damaged, "invalid LZW code") }
            out.append(contentsOf: entry)
            if out.count > maxDecodedSize { throw PDFError(.unsupported, "decoded stream is larger than \(maxDecodedSize) bytes") }
            if let p = prev, table.count < 4096 { table.append(p + [entry[0]]) }
            prev = entry
            let n = table.count + earlyChange
            codeLen = n >= 2048 ? 12 : n >= 1024 ? 11 : n >= 512 ? 10 : 9
        }
        return out
    }
}
