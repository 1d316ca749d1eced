// Render module — see ../shared/DESIGN.md module map.
import CPoppler
let _cairoVersionCheck = cairo_version()
