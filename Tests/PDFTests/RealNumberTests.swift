import Foundation
import Testing
@testable import PDF

/// Re-serialised reals must read back as the same value: validators (pyHanko) diff a page dictionary
/// that gained /Annots value by value against the earlier revision.
@Suite struct RealNumberTests {
    @Test(arguments: ["595.303937007874", "841.889763779528", "0.1", "-12.5", "0.000123", "1e-7"])
    func realsSurviveReserialisationExactly(_ text: String) throws {
        let d = try #require(Double(text))
        let out = String(decoding: PDFSerializer.formatReal(d), as: UTF8.self)
        #expect(!out.contains("e") && !out.contains("E"), "PDF reals have no exponent: \(out)")
        #expect(Double(out) == d, "\(text) became \(out)")
    }
}

@Suite struct RealNumberLexingTests {
    /// Reals are read correctly rounded, as any other reader (Python, strtod) reads them.
    @Test(arguments: ["595.303937007874", "841.889763779528", "0.1", "-12.5", ".000123", "-.5", "5.", "0.30000000000000004", "123456789.123456789"])
    func realsAreReadCorrectlyRounded(_ text: String) throws {
        var p = Parser(Array(text.utf8).withUnsafeBytes { ByteSource(bytes: $0) }, at: 0)
        let v = try #require(try p.parseObject().numberValue)
        let expected = Double(text.hasPrefix(".") ? "0" + text : text.hasPrefix("-.") ? "-0" + text.dropFirst() : text.hasSuffix(".") ? text + "0" : text)!
        #expect(v == expected)
        #expect(Double(String(decoding: PDFSerializer.formatReal(v), as: UTF8.self)) == expected)
    }
}
