import Foundation
import Pipeline
@testable import Stages
import Testing

/// Every reason a stage can give a clerk has a Chinese next step, and no translation is left over for a
/// code that no longer exists.
@Suite struct ClerkTextTests {
    @Test func everyStageReasonCodeHasAChineseNextStep() {
        for code in StageRejection.Code.allCases {
            let zh = ClerkText.nextStepZH(code.rawValue)
            #expect(zh != nil, "no Chinese next step for \(code.rawValue)")
            #expect(zh.map { $0.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) } } == true, "\(code.rawValue): \(zh ?? "")")
        }
        #expect(ClerkText.nextStep("not-approved", english: "x", .en) == "x")
        #expect(ClerkText.nextStep("not-approved", english: "x", .zhCN).contains("审批"))
        #expect(ClerkText.nextStep("no-such-code", english: "x", .zhCN) == "x", "an untranslated code keeps the English text")
    }
}
