#!/usr/bin/env python3
"""Writes a PDF of large images (a big scan): PAGES pages, each one uncompressed RGB image of about
TOTAL/PAGES bytes of noise (incompressible, like a high-resolution colour scan after JPEG), A4 pages.
usage: make-big-pdf.py OUT TOTAL_MB [PAGES]   (bench/bigfile.sh: 1024 MB, 16 pages)"""
import os, sys

out, total_mb = sys.argv[1], int(sys.argv[2])
pages = int(sys.argv[3]) if len(sys.argv) > 3 else 16
per_page = (total_mb << 20) // pages
width = 4096
height = max(1, per_page // (width * 3))
size = width * height * 3
chunk = os.urandom(1 << 22)  # 4 MiB of noise, rotated per page so pages differ

offsets = {}
tmp = out + ".partial"
with open(tmp, "wb") as f:
    def obj(n, body):
        offsets[n] = f.tell()
        f.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    # 1 catalog, 2 pages, then per page i: page 3+3i, content 4+3i, image 5+3i
    kids = b" ".join(b"%d 0 R" % (3 + 3 * i) for i in range(pages))
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages, kids))
    for i in range(pages):
        p, c, im = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
        obj(p, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (im, c))
        content = b"q 595 0 0 842 0 0 cm /Im0 Do Q\n"
        obj(c, b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
        offsets[im] = f.tell()
        f.write(b"%d 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n"
                % (im, width, height, size))
        rot = (i * 977) % len(chunk)
        piece = chunk[rot:] + chunk[:rot]
        left = size
        while left > 0:
            n = min(left, len(piece))
            f.write(piece[:n]); left -= n
        f.write(b"\nendstream\nendobj\n")
    n = 3 + 3 * pages
    xref = f.tell()
    f.write(b"xref\n0 %d\n0000000000 65535 f \n" % n)
    for k in range(1, n):
        f.write(b"%010d 00000 n \n" % offsets[k])
    f.write(b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (n, os.urandom(16).hex().encode(), os.urandom(16).hex().encode(), xref))
os.rename(tmp, out)
