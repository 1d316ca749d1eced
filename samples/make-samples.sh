#!/usr/bin/env bash
# Regenerates the sample contracts in samples/ (committed; each < 200 KB) with real producers:
# LibreOffice headless (CJK and English contracts from HTML sources written below) and reportlab
# (rotated, landscape and cropped pages). Usage: samples/make-samples.sh [OUTDIR]  (default: samples/)
# Needs: soffice (libreoffice-writer-nogui), python3 with reportlab, fonts-noto-cjk, fonts-droid-fallback.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
OUT="$(mkdir -p "${1:-$HERE}" && cd "${1:-$HERE}" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# ---- 1. Chinese purchase contract (LibreOffice, Noto Serif CJK SC, 2 pages) ----
{
cat <<'HTML'
<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>采购合同</title>
<style>
@page { size: 210mm 297mm; margin: 25mm 25mm 25mm 25mm; }
body { font-family: "Noto Serif CJK SC"; font-size: 12pt; line-height: 160%; }
h1 { text-align: center; font-size: 20pt; }
p { text-indent: 2em; margin: 0 0 6pt 0; }
table.sig { width: 100%; margin-top: 24pt; }
table.sig td { width: 50%; vertical-align: top; padding: 4pt 0; }
</style></head><body>
<h1>采购合同</h1>
<p style="text-indent:0">合同编号：CG-2024-0815</p>
<p style="text-indent:0">甲方（采购方）：某某市某某有限公司</p>
<p style="text-indent:0">乙方（供货方）：某某省某某贸易有限公司</p>
<p>根据《中华人民共和国民法典》及有关法律法规的规定，甲乙双方本着平等互利、诚实信用的原则，经友好协商，就甲方向乙方采购办公设备事宜达成如下协议，以资共同遵守。</p>
HTML
for i in 一 二 三 四 五 六; do
cat <<HTML
<p style="text-indent:0"><b>第${i}条</b></p>
<p>乙方应按照本合同附件所列的品名、规格、数量和质量标准向甲方交付货物。货物的包装应符合国家标准或行业标准，能够保证货物在运输、装卸和储存过程中不受损坏。乙方应在约定的交货期限内将货物送达甲方指定地点，并承担运输费用及运输途中的一切风险。甲方应在收到货物后七个工作日内组织验收，验收合格后按约定支付货款。</p>
HTML
done
cat <<'HTML'
<p>本合同一式两份，甲乙双方各执一份，具有同等法律效力。本合同自双方签字盖章之日起生效。</p>
<table class="sig" width="100%" cellpadding="0"><tr>
<td width="50%">甲方（盖章）：<br/><br/>法定代表人（签字）：<br/><br/>日期：2024 年 8 月 15 日</td>
<td width="50%">乙方（盖章）：<br/><br/>法定代表人（签字）：<br/><br/>日期：2024 年 8 月 15 日</td>
</tr></table>
</body></html>
HTML
} > "$WORK/contract-zh-libreoffice.html"

# ---- 2. English service agreement (LibreOffice, Liberation Serif, 2 pages) ----
{
cat <<'HTML'
<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Service Agreement</title>
<style>
@page { size: 210mm 297mm; margin: 25mm; }
body { font-family: "Liberation Serif"; font-size: 12pt; line-height: 150%; }
h1 { text-align: center; font-size: 18pt; }
table.sig { width: 100%; margin-top: 24pt; }
table.sig td { width: 50%; vertical-align: top; }
</style></head><body>
<h1>SERVICE AGREEMENT</h1>
<p>Agreement No. SA-2024-0815</p>
<p>This Service Agreement is made between Example Trading (Shanghai) Co., Ltd. ("Party A") and Sample Consulting Ltd. ("Party B").</p>
HTML
for i in 1 2 3 4 5 6 7 8; do
cat <<HTML
<p><b>Clause ${i}.</b> Party B shall provide the services described in Schedule ${i} with due care and skill, in accordance with good industry practice and all applicable laws. Party A shall pay the fees set out in the Schedule within thirty (30) days of receiving a valid invoice. Either party may terminate this Agreement by giving the other party not less than sixty (60) days' written notice.</p>
HTML
done
cat <<'HTML'
<p>IN WITNESS WHEREOF the parties have executed this Agreement on the date written below.</p>
<table class="sig" width="100%"><tr>
<td width="50%">Party A (Seal):<br/><br/>Authorised signatory:<br/><br/>Date: 15 August 2024</td>
<td width="50%">Party B (Seal):<br/><br/>Authorised signatory:<br/><br/>Date: 15 August 2024</td>
</tr></table>
</body></html>
HTML
} > "$WORK/contract-en-libreoffice.html"

for f in contract-zh-libreoffice contract-en-libreoffice; do
  soffice --headless -env:UserInstallation="file://$WORK/lo-profile" \
    --convert-to pdf:writer_web_pdf_Export --outdir "$WORK" "$WORK/$f.html" >/dev/null 2>&1
  cp "$WORK/$f.pdf" "$OUT/$f.pdf"
done

# ---- 3. reportlab contract: portrait, landscape, /Rotate 90 and a CropBox inset ----
python3 - "$WORK/contract-zh-reportlab.pdf" <<'PY'
import sys
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

pdfmetrics.registerFont(TTFont("DroidSansFallback", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"))
c = canvas.Canvas(sys.argv[1], pagesize=A4, invariant=1)
c.setTitle("技术服务合同（样例）")

def body(c, w, h, title, lines, y0):
    c.setFont("DroidSansFallback", 18); c.drawCentredString(w / 2, h - y0, title)
    c.setFont("DroidSansFallback", 11)
    y = h - y0 - 14 * mm
    for ln in lines:
        c.drawString(25 * mm, y, ln); y -= 7 * mm
    return y

def cn(n):
    d = "〇一二三四五六七八九"
    return d[n] if n < 10 else ("十" if n < 20 else d[n // 10] + "十") + (d[n % 10] if n % 10 else "")

clause = "乙方应按约定完成技术服务，并对服务成果的质量负责；甲方应按期支付服务费用。"
# Page 1: portrait A4, ordinary.
body(c, *A4, "技术服务合同", ["合同编号：技服字第〇九〇一号", "甲方：某某市某某有限公司", "乙方：某某科技发展有限公司"] + [f"第{cn(i)}条  " + clause for i in range(1, 12)], 30 * mm)
c.showPage()
# Page 2: landscape A4 (MediaBox wider than tall), a price table.
c.setPageSize(landscape(A4))
w, h = landscape(A4)
y = body(c, w, h, "附件一：服务费用明细", [f"（{cn(i)}）技术咨询服务第{cn(i)}阶段 ……………… 人民币{cn(i)}仟元整" for i in range(1, 9)], 25 * mm)
c.setFont("DroidSansFallback", 12)
c.drawString(w - 120 * mm, 30 * mm, "甲方（盖章）：")
c.showPage()
# Page 3: portrait content with a CropBox inset 10 mm on every side; qpdf then sets /Rotate 90
# (viewers show it landscape). The signature block is at the end of the text.
c.setPageSize(A4)
w, h = A4
c.setCropBox((10 * mm, 10 * mm, w - 10 * mm, h - 10 * mm))
y = body(c, w, h, "第三页（旋转页）", [f"第{cn(i)}条  " + clause for i in range(12, 20)], 30 * mm)
c.setFont("DroidSansFallback", 12)
c.drawString(30 * mm, y - 10 * mm, "甲方（盖章）：")
c.drawString(110 * mm, y - 10 * mm, "乙方（盖章）：")
c.drawString(30 * mm, y - 20 * mm, "日期：二〇二四年九月一日")
c.showPage()
c.save()
PY

# ---- 4. reportlab English: /Rotate 270 landscape page with "Party A (Seal)" ----
python3 - "$WORK/agreement-en-reportlab.pdf" <<'PY'
import sys
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas
c = canvas.Canvas(sys.argv[1], pagesize=A4, invariant=1)
w, h = A4
for p in (1, 2):
    c.setFont("Times-Bold", 16); c.drawCentredString(w / 2, h - 30 * mm, f"LICENCE AGREEMENT - page {p}")
    c.setFont("Times-Roman", 11)
    y = h - 45 * mm
    for i in range(1, 16):
        c.drawString(25 * mm, y, f"{i}. The Licensee may use the Software on the terms of this clause {i} only."); y -= 7 * mm
    if p == 2:
        c.drawString(25 * mm, y - 10 * mm, "Party A (Seal):")
        c.drawString(110 * mm, y - 10 * mm, "Party B (Seal):")
    c.showPage()
c.save()
PY
# Rotations are applied by qpdf (a second real producer), as scanners and office tools often do.
qpdf "$WORK/contract-zh-reportlab.pdf" --rotate=+90:3 --deterministic-id "$OUT/contract-zh-reportlab-rotated.pdf"
qpdf "$WORK/agreement-en-reportlab.pdf" --rotate=+270:2 --deterministic-id "$OUT/agreement-en-reportlab-rotate270.pdf"
ls -l "$OUT"/*.pdf
