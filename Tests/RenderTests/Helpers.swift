import Foundation
import Testing
@testable import Render
import TestSupport

/// Shared helpers for Render tests: sample paths, pixel geometry, golden comparison.
enum RT {
    static let samples = TestSupport.packageRoot.appendingPathComponent("samples")
    static let goldenDir = TestSupport.packageRoot.appendingPathComponent("Tests/RenderTests/Golden")

    static var contractZH: SealDesign {
        .round(RoundSeal(organisation: "某某市某某有限公司", name: "合同专用章", code: "1101080012345"))
    }
    static var invoiceOval: SealDesign {
        .oval(OvalSeal(organisation: "某某市某某有限公司", name: "发票专用章", taxNumber: "91110108MA01234567"))
    }
    static var personal: SealDesign { .square(SquareSeal(characters: "张三之印")) }

    /// Pixels per millimetre at a dpi.
    static func pxPerMM(_ dpi: Double) -> Double { dpi / 25.4 }

    /// Fraction of sample points on a circle (centre cx, cy; radius r; angles in degrees clockwise
    /// from 12 o'clock) that have red ink within ±band pixels radially.
    static func inkAlongArc(_ img: RasterImage, cx: Double, cy: Double, rInner: Double, rOuter: Double,
                            fromDeg: Double, toDeg: Double, steps: Int) -> [Bool] {
        (0..<steps).map { i in
            for sub in 0..<12 {   // the whole angular bin, not one ray: thin strokes count
                let a = (fromDeg + (toDeg - fromDeg) * (Double(i) + (Double(sub) + 0.5) / 12) / Double(steps)) * .pi / 180
                var r = rInner
                while r <= rOuter {
                    let x = Int(cx + r * sin(a)), y = Int(cy - r * cos(a))
                    if x >= 0, y >= 0, x < img.width, y < img.height, img.isRed(x: x, y: y) { return true }
                    r += 0.5
                }
            }
            return false
        }
    }

    /// Compares `image` with the reviewed golden PNG `name`. Writes the actual image and a diff
    /// image beside each other in a temp folder on failure (path in the failure message).
    /// `SEALBATCH_UPDATE_GOLDENS=1` rewrites the golden instead.
    static func expectMatchesGolden(_ image: RasterImage, _ name: String, tolerance: Double = 0.004,
                                    sourceLocation: SourceLocation = #_sourceLocation) throws {
        let url = goldenDir.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["SEALBATCH_UPDATE_GOLDENS"] == "1" {
            try FileManager.default.createDirectory(at: goldenDir, withIntermediateDirectories: true)
            try Data(try image.png()).write(to: url)
            return
        }
        let golden = try RasterImage(png: [UInt8](try Data(contentsOf: url)))
        let sameSize = golden.width == image.width && golden.height == image.height
        let (fraction, diff) = image.difference(to: golden)
        if !sameSize || fraction > tolerance {
            let dir = try TestSupport.tempDir("render-golden")
            try Data(try image.png()).write(to: dir.appendingPathComponent("actual-" + name))
            try Data(try diff.png()).write(to: dir.appendingPathComponent("diff-" + name))
            Issue.record("\(name): \(sameSize ? String(format: "%.3f%% pixels differ", fraction * 100) : "size \(image.width)×\(image.height) vs golden \(golden.width)×\(golden.height)"); actual and diff images in \(dir.path)",
                         sourceLocation: sourceLocation)
        }
    }
}
