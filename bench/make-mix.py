#!/usr/bin/env python3
"""Makes the third-party documents of the realistic-mix bench (bench/realistic-mix.sh), once, into a cache folder:

  contract-{2,30,300,600}p-libreoffice.pdf   LibreOffice Writer (soffice --convert-to pdf from a generated flat
                                             ODT): bilingual contract text, one article per page, the signature
                                             block "甲方（盖章）" / "Party A (Seal):" on the last page only
  contract-600p-no-anchor-libreoffice.pdf    the same 600 pages without a signature block (the fallback case)
  scan-{4,12}p-ghostscript.pdf               Ghostscript pdfwrite of 300 dpi JPEG page images (a scanner's output:
                                             one large image per page, no text)

usage: make-mix.py CACHE_DIR     (prints nothing when the cache is complete)
"""
import os, random, shutil, subprocess, sys, tempfile
from xml.sax.saxutils import escape

VERSION = "mix-v1"
cache = sys.argv[1]
os.makedirs(cache, exist_ok=True)
stamp = os.path.join(cache, "VERSION")
CONTRACTS = [(2, True), (30, True), (300, True), (600, True), (600, False)]
SCANS = [4, 12]

def name_contract(pages, anchor):
    return f"contract-{pages}p-libreoffice.pdf" if anchor else f"contract-{pages}p-no-anchor-libreoffice.pdf"

wanted = [name_contract(p, a) for p, a in CONTRACTS] + [f"scan-{n}p-ghostscript.pdf" for n in SCANS]
if os.path.exists(stamp) and open(stamp).read().strip() == VERSION and all(os.path.exists(os.path.join(cache, w)) for w in wanted):
    sys.exit(0)

rnd = random.Random(15)
WORDS_EN = ("the parties agree that the supplier shall deliver the goods described in the schedule within thirty days "
            "of the order and the purchaser shall pay the price stated in the invoice by bank transfer any dispute "
            "arising from this contract shall be settled by negotiation failing which it shall be submitted to the "
            "court of the place where the contract was signed").split()
HANZI = "本合同双方经友好协商就货物买卖事宜达成如下条款供方应按期交付需方应按约付款如有争议双方协商解决协商不成提交合同签订地人民法院诉讼"

def para_en(n):
    w = [rnd.choice(WORDS_EN) for _ in range(n)]
    return " ".join(w).capitalize() + "."

def para_zh(n):
    return "".join(rnd.choice(HANZI) for _ in range(n)) + "。"

def fodt(pages, anchor):
    body = []
    for p in range(1, pages + 1):
        style = "Break" if p > 1 else "Standard"
        body.append(f'<text:p text:style-name="{style}"><text:span text:style-name="B">第 {p} 条 Article {p}</text:span></text:p>')
        for _ in range(3):
            body.append(f"<text:p>{escape(para_en(55))}</text:p>")
            body.append(f"<text:p>{escape(para_zh(70))}</text:p>")
        if p == pages and anchor:
            body.append('<text:p>Party A (Seal):                    Party B (Seal):</text:p>')
            body.append('<text:p>甲方（盖章）                    乙方（盖章）</text:p>')
            body.append('<text:p>Date / 日期: 2026-12-03</text:p>')
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:font-face-decls>
  <style:font-face style:name="Noto Serif CJK SC" svg:font-family="'Noto Serif CJK SC'" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"/>
 </office:font-face-decls>
 <office:styles>
  <style:default-style style:family="paragraph">
   <style:paragraph-properties fo:margin-bottom="0.2cm"/>
   <style:text-properties fo:font-size="10.5pt" style:font-name-asian="Noto Serif CJK SC" style:font-size-asian="10.5pt"/>
  </style:default-style>
  <style:style style:name="Standard" style:family="paragraph"/>
 </office:styles>
 <office:automatic-styles>
  <style:style style:name="Break" style:family="paragraph"><style:paragraph-properties fo:break-before="page"/></style:style>
  <style:style style:name="B" style:family="text"><style:text-properties fo:font-weight="bold" style:font-weight-asian="bold"/></style:style>
 </office:automatic-styles>
 <office:body><office:text>
{chr(10).join(body)}
 </office:text></office:body>
</office:document>
"""

tmp = tempfile.mkdtemp(prefix="sealbatch-mix-")
try:
    profile = "file://" + os.path.join(tmp, "lo-profile")   # a private LibreOffice profile: no clash with other users
    srcs = []
    todo = [(p, a) for p, a in CONTRACTS if not os.path.exists(os.path.join(cache, name_contract(p, a)))]
    for pages, anchor in todo:
        base = name_contract(pages, anchor)[:-4]
        src = os.path.join(tmp, base + ".fodt")
        open(src, "w", encoding="utf-8").write(fodt(pages, anchor))
        srcs.append(src)
    if srcs:
        subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf", "--outdir", tmp] + srcs,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=1800)
    for pages, anchor in todo:
        n = name_contract(pages, anchor)
        got = subprocess.run(["pdfinfo", os.path.join(tmp, n)], capture_output=True, text=True, check=True).stdout
        count = int([l.split()[1] for l in got.splitlines() if l.startswith("Pages:")][0])
        if count != pages:
            sys.exit(f"make-mix: {n} has {count} pages, not {pages} (layout changed: shorten the articles)")
        shutil.move(os.path.join(tmp, n), os.path.join(cache, n))

    # Scans: the 30-page contract's pages rendered at 300 dpi, with paper grain, as JPEG, put back into a PDF by Ghostscript.
    from PIL import Image, ImageFilter
    src30 = os.path.join(cache, name_contract(30, True))
    for pages in SCANS:
        if os.path.exists(os.path.join(cache, f"scan-{pages}p-ghostscript.pdf")):
            continue
        d = os.path.join(tmp, f"scan{pages}")
        os.makedirs(d)
        subprocess.run(["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pgmraw", "-r300", f"-dLastPage={pages}",
                        "-o", os.path.join(d, "p%03d.pgm"), src30], check=True)
        ps = ["<</PageSize [595 842]>> setpagedevice"]
        for i in range(1, pages + 1):
            img = Image.open(os.path.join(d, f"p{i:03d}.pgm")).convert("RGB")
            noise = Image.effect_noise(img.size, 24).convert("RGB")
            img = Image.blend(img, noise, 0.12).rotate(0.4, fillcolor=(250, 250, 245)).filter(ImageFilter.SMOOTH)
            jpg = os.path.join(d, f"p{i:03d}.jpg")
            img.save(jpg, quality=88)
            w, h = img.size
            ps.append(f"gsave 595 {w} div 842 {h} div scale ({jpg}) viewJPEG grestore showpage")
        import glob
        found = sorted(glob.glob("/usr/share/ghostscript/*/lib/viewjpeg.ps"))
        if not found:
            sys.exit("make-mix: Ghostscript's viewjpeg.ps is not installed")
        viewjpeg = found[-1]
        out = os.path.join(d, "scan.pdf")
        subprocess.run(["gs", "-q", "-dNOSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=pdfwrite", "-dPassThroughJPEGImages=true",
                        "-o", out, viewjpeg, "-c", " ".join(ps)], check=True)
        shutil.move(out, os.path.join(cache, f"scan-{pages}p-ghostscript.pdf"))
    open(stamp, "w").write(VERSION + "\n")
finally:
    shutil.rmtree(tmp, ignore_errors=True)
