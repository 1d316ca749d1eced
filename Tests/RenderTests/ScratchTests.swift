import Foundation
import Testing
import CPoppler
@testable import Render
import TestSupport

@Test func scratchFindRotated() throws {
    let url = TestSupport.packageRoot.appendingPathComponent("samples/contract-zh-reportlab-rotated.pdf")
    let f = try PopplerFile(url: url)
    for (page, rot, name) in [(2, 90, "甲方（盖章）"), (1, 0, "甲方（盖章）")] {
        let crop = try f.cropBox(page: page)
        let g = PageGeometry(crop: crop, rotation: rot)
        let hits = try f.find(name, page: page, geometry: g)
        print("page", page, "crop", crop, "hits", hits)
        try CLibraries.locked {
            let s = try f.renderPage(page, dpi: 72, geometry: g)
            let cr = cairo_create(s)!
            for h in hits {
                let r = g.displayRect(h)
                cairo_set_source_rgb(cr, 0, 0, 1); cairo_rectangle(cr, r.x, r.y, r.w, r.h); cairo_stroke(cr)
            }
            cairo_destroy(cr)
            cairo_surface_write_to_png(s, "/tmp/scratch-\(page).png")
            cairo_surface_destroy(s)
        }
    }
}
