#!/usr/bin/env python3
"""Seals many PDFs with pyHanko the way a records office would (a visible seal on the last page, PAdES
B-B), for the corpus table (ours vs pyHanko). Encrypted inputs are opened with the empty user password.

Usage: pyhanko_seal_corpus.py KEY CERT CHAIN_PEM OUTDIR FILE...
Prints one JSON object per file: {"file", "output", "error"}.
"""
import json, os, sys
from pyhanko.sign import signers, fields
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

key, cert, chain, outdir = sys.argv[1:5]
signer = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))
for src in sys.argv[5:]:
    out = os.path.join(outdir, os.path.basename(src))
    res = {"file": src, "output": out, "error": None}
    try:
        with open(src, "rb") as f:
            w = IncrementalPdfFileWriter(f, strict=False)
            if w.prev.encrypted:
                w.encrypt("")
            meta = signers.PdfSignatureMetadata(field_name="PyHankoSeal", subfilter=fields.SigSeedSubFilter.PADES)
            spec = fields.SigFieldSpec("PyHankoSeal", on_page=-1, box=(400, 60, 513, 173))
            with open(out, "wb") as o:
                signers.sign_pdf(w, meta, signer=signer, output=o, new_field_spec=spec)
    except Exception as e:
        res["error"] = f"{type(e).__name__}: {e}"
        try: os.unlink(out)
        except OSError: pass
    print(json.dumps(res), flush=True)
