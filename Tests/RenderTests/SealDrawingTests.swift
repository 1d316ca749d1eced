import Foundation
import Testing
@testable import Render
import TestSupport

@Suite struct SealDrawingTests {
    @Test func drawsRoundSealToPNG() throws {
        let designs: [(String, SealDesign)] = [
            ("round", .round(RoundSeal(organisation: "某某市某某有限公司", name: "合同专用章", code: "1101080012345"))),
            ("round-latin", .round(RoundSeal(diameterMM: 42, organisation: "Shanghai Example International Trading Co., Ltd.", name: "CONTRACT SEAL", code: "91310000MA1K00000X"))),
            ("round-long", .round(RoundSeal(organisation: "北京市海淀区某某科技发展股份有限公司", name: "合同专用章"))),
            ("oval", .oval(OvalSeal(organisation: "某某市某某有限公司", name: "发票专用章", taxNumber: "91110108MA01234567"))),
            ("square", .square(SquareSeal(characters: "张三之印"))),
            ("square2", .square(SquareSeal(characters: "李四"))),
        ]
        for (n, d) in designs {
            let png = try SealRenderer.png(design: d, dpi: 200)
            try Data(png).write(to: URL(fileURLWithPath: "/tmp/render-\(n).png"))
        }
    }
}
