import Foundation
import Testing
@testable import Render

@Suite struct DesignConfigTests {
    func decode(_ json: String) throws -> SealDesign { try JSONDecoder().decode(SealDesign.self, from: Data(json.utf8)) }

    @Test func decodesTheIssueExample() throws {
        let d = try decode(##"{"kind":"round","diameter-mm":40,"organisation":"某某市某某有限公司","name":"合同专用章","code":"1101080012345","color":"#E60012","font":"Noto Serif CJK SC"}"##)
        guard case .round(let r) = d else { Issue.record("not round"); return }
        #expect(r.diameterMM == 40 && r.name == "合同专用章" && r.code == "1101080012345" && r.font == "Noto Serif CJK SC")
        #expect(r.color == .officialRed && r.inkTexture == false)
    }

    @Test func rejectsUnknownKeysNamingThePath() throws {
        #expect { try decode(#"{"kind":"round","organisation":"X","diameter":40}"#) } throws: { e in
            describeDecodingError(e).contains("diameter") && describeDecodingError(e).contains("unknown key")
        }
        #expect { try decode(#"{"kind":"hexagon","organisation":"X"}"#) } throws: { describeDecodingError($0).contains("kind") }
        #expect { try decode(#"{"kind":"oval","organisation":"X","color":"red"}"#) } throws: { describeDecodingError($0).contains("color") }
    }

    @Test func everyKindRoundTripsThroughJSON() throws {
        var o = OvalSeal(organisation: "某某公司", name: "发票专用章", taxNumber: "91110108MA01234567")
        o.inkTexture = true
        for d in [RT.contractZH, SealDesign.oval(o), RT.personal, .image(ImageSeal(file: "seal.png", widthMM: 38, heightMM: 38))] {
            let back = try JSONDecoder().decode(SealDesign.self, from: JSONEncoder().encode(d))
            #expect(back == d)
        }
    }

    @Test func validateRejectsImpossibleSizes() {
        #expect { try SealDesign.round(RoundSeal(diameterMM: 400, organisation: "X")).validate() } throws: { $0 is SealDesignError }
        #expect { try SealDesign.square(SquareSeal(characters: "张三之印章")).validate() } throws: { $0 is SealDesignError }
        #expect { try SealDesign.round(RoundSeal(organisation: "  ")).validate() } throws: { $0 is SealDesignError }
    }

    @Test func placementSpecRejectsUnknownKeysAndEmptySpecs() throws {
        let ok = try JSONDecoder().decode(PlacementSpec.self, from: Data(#"{"anchor":{"text":"甲方（盖章）","occurrence":-1,"fallback":"last-page"},"cross-page":{"pages":"all"}}"#.utf8))
        #expect(ok.anchor?.occurrence == -1 && ok.anchor?.fallback == .lastPage && ok.crossPage?.edge == .right)
        #expect { try JSONDecoder().decode(PlacementSpec.self, from: Data(#"{"anchor":{"text":"x","nth":2}}"#.utf8)) } throws: {
            describeDecodingError($0).hasPrefix("anchor.nth")
        }
        #expect { try PlacementSpec().validate() } throws: { ($0 as? RenderError)?.code == .invalidPlacement }
        #expect { try JSONDecoder().decode(PlacementSpec.self, from: Data(#"{"page":0}"#.utf8)) } throws: { _ in true }
    }
}
