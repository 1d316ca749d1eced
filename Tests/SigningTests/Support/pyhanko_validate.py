#!/usr/bin/env python3
"""Validates many PDFs with the pyHanko API in ONE process (the CLI costs ~1 s per call).

Usage: pyhanko_validate.py TRUST_ROOT_PEM MODE FILE...
  MODE: none   -> no revocation checks (like --no-revocation-check)
        fetch  -> hard-fail revocation checks, fetching CRL/OCSP (loopback responders)
        ltv    -> revocation required, fetching disabled: only the file's DSS may supply it (B-LT check)
With PYHANKO_TIMING_FILE set, writes "IMPORT_SECONDS LOOP_SECONDS" there (the bench separates the two).
Prints one JSON object per file on stdout:
  {"file", "error", "signatures": [{"field","kind","intact","valid","trusted","bottom_line",
   "modification_level","docmdp_ok","coverage","timestamp_ok","ltv_ok"}]}
"""
import json, os, sys, time, traceback, asyncio
_t_start = time.monotonic()
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.keys import load_cert_from_pemder
from pyhanko_certvalidator import ValidationContext

root = load_cert_from_pemder(sys.argv[1])
mode = sys.argv[2]

def vc_for(reader):
    if mode == "none":
        return ValidationContext(trust_roots=[root], revocation_mode="soft-fail", allow_fetching=False)
    if mode == "fetch":
        return ValidationContext(trust_roots=[root], revocation_mode="hard-fail", allow_fetching=True)
    dss = DocumentSecurityStore.read_dss(reader)
    return dss.as_validation_context({"trust_roots": [root], "allow_fetching": False, "revocation_mode": "require"})

async def one(path):
    out = {"file": path, "error": None, "signatures": []}
    try:
        with open(path, "rb") as f:
            r = PdfFileReader(f, strict=False)
            if r.encrypted:
                # owner-password-only files open with the empty user password; PYHANKO_PDF_PASSWORD opens the others
                r.decrypt(os.environ.get("PYHANKO_PDF_PASSWORD", ""))
            for sig in r.embedded_regular_signatures:
                d = {"field": sig.field_name, "kind": "signature"}
                try:
                    vc = vc_for(r)
                    st = await async_validate_pdf_signature(sig, signer_validation_context=vc, ts_validation_context=vc)
                    d.update(intact=st.intact, valid=st.valid, trusted=st.trusted, bottom_line=st.bottom_line,
                             modification_level=st.modification_level.name if st.modification_level is not None else None,
                             docmdp_ok=st.docmdp_ok, coverage=st.coverage.name if st.coverage else None,
                             timestamp_ok=(st.timestamp_validity is not None and st.timestamp_validity.valid
                                           and st.timestamp_validity.intact and st.timestamp_validity.trusted),
                             revoked=bool(getattr(st, "revoked", False)))
                except Exception as e:
                    d.update(error=f"{type(e).__name__}: {e}", bottom_line=False)
                out["signatures"].append(d)
            for ts in r.embedded_timestamp_signatures:
                d = {"field": ts.field_name, "kind": "document-timestamp"}
                try:
                    vc = vc_for(r)
                    st = await async_validate_pdf_timestamp(ts, validation_context=vc)
                    d.update(intact=st.intact, valid=st.valid, trusted=st.trusted,
                             bottom_line=bool(st.intact and st.valid and st.trusted),
                             coverage=st.coverage.name if st.coverage else None)
                except Exception as e:
                    d.update(error=f"{type(e).__name__}: {e}", bottom_line=False)
                out["signatures"].append(d)
    except Exception as e:
        out["error"] = f"{type(e).__name__}: {e}"
    return out

async def main():
    t0 = time.monotonic()
    for p in sys.argv[3:]:
        print(json.dumps(await one(p)), flush=True)
    # PYHANKO_TIMING_FILE (bench/signing.sh): seconds spent importing pyHanko, and in the validation loop alone
    if os.environ.get("PYHANKO_TIMING_FILE"):
        with open(os.environ["PYHANKO_TIMING_FILE"], "w") as f:
            f.write(f"{t0 - _t_start} {time.monotonic() - t0}\n")

asyncio.run(main())
