// PDF module — see ../shared/DESIGN.md module map.
import CZlib
let _zlibVersionCheck = String(cString: zlibVersion())
