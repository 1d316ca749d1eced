import Foundation
import Governance
import SealModel
import Testing

/// The registry stores a typed, checked design; what an old registry stored is read without guessing.
@Suite struct RegisteredDesignTests {
    @Test func aDesignRoundTripsThroughItsStoredJSON() throws {
        let d = SealDesign.round(RoundSeal(diameterMM: 42, organisation: "ACME 贸易有限公司", name: "合同专用章", code: "3101150012345"))
        let stored = try RegisteredDesign.design(d).stored()
        #expect(RegisteredDesign(stored: stored) == .design(d))
    }

    @Test func oldFreeTextIsUnusableNotADefault() throws {
        for old in ["round", "default", "contract.json", "", #"{"kind": "round", "organisation": "X", "diameter-mm": 400}"#, "{not json"] {
            let r = RegisteredDesign(stored: old)
            guard case .unusable(let text, let problem) = r else { Issue.record("'\(old)' was read as \(r)"); continue }
            #expect(text == old && !problem.isEmpty)
            #expect(try r.stored() == old, "the old text is kept as it was")
            #expect { _ = try r.usable(seal: "s") } throws: { ($0 as? GovernanceError)?.detail.contains("seal rebind s --design") == true }
        }
        // a JSON design stored by an older version (not canonical) is still a design
        #expect(RegisteredDesign(stored: #"{"kind":"square","characters":"张三之印"}"#) == .design(.square(SquareSeal(characters: "张三之印"))))
    }

    @Test func faultsNameTheirJSONPath() {
        let cases: [(String, String)] = [
            (#"{"kind": "oval", "organisation": "X", "height-mm": 5}"#, "design.height-mm"),
            (#"{"kind": "round", "organisation": "X", "rim-width-mm": -1}"#, "design.rim-width-mm"),
            (#"{"kind": "image", "file": "", "width-mm": 30}"#, "design.file"),
            (#"{"kind": "round", "organisation": 7}"#, "design.organisation"),
            (#"{"kind": "round", "organisation": "X", "extra": 1}"#, "design.extra"),
            (#"[1, 2]"#, "design"),
        ]
        for (json, path) in cases {
            #expect { _ = try SealDesign.validated(json: Data(json.utf8)) } throws: { e in
                guard let e = e as? SealDesignError else { return false }
                return e.path == path && e.description.hasPrefix(path + ": ")
            }
        }
    }
}
