#!/usr/bin/env python3
"""Makes peer-signed inputs with pyHanko: a plain PAdES signature or a DocMDP certification.

Usage: pyhanko_sign.py KEY CERT CHAIN_PEM IN OUT FIELD [certify-P]
"""
import sys
from pyhanko.sign import signers, fields
from pyhanko.sign.fields import MDPPerm
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

key, cert, chain, src, dst, field = sys.argv[1:7]
certify = int(sys.argv[7]) if len(sys.argv) > 7 else None
signer = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))
meta = signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES,
                                    certify=certify is not None,
                                    docmdp_permissions=MDPPerm(certify) if certify else MDPPerm.FILL_FORMS)
with open(src, "rb") as f:
    w = IncrementalPdfFileWriter(f, strict=False)
    with open(dst, "wb") as out:
        signers.sign_pdf(w, meta, signer=signer, output=out)
