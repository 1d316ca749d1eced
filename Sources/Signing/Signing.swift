// Signing module — see ../shared/DESIGN.md module map.
import COpenSSL
let _sslCheck = OpenSSL_version_num()
