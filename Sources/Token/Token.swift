// Token module — see ../shared/DESIGN.md module map.
import CPKCS11
import CPCSC
let _p11Check = CKR_OK
