"""The QR code as SVG or PNG, and the A5 poster printed for the station's door (a PDF)."""

import html
import io
from typing import Any

import segno

# Level M survives a poster's scuffs and glare (15 % of the code lost) and keeps a short URL's code small.
ERROR_CORRECTION = "m"
# The quiet zone readers need around a code, in modules (the standard's minimum is 4).
BORDER = 4
PNG_SCALE = 10

# What scanning does, as the poster tells the worker.
SCANNING_DOES = "扫码入站 · 评价 · 反映问题"
SCANNING_DOES_EN = "Scan to check in · rate · report a problem"


def qr(url: str) -> segno.QRCode:
    return segno.make(url, error=ERROR_CORRECTION, micro=False)


def svg(url: str) -> bytes:
    out = io.BytesIO()
    qr(url).save(out, kind="svg", scale=8, border=BORDER, xmldecl=True, title=url)
    return out.getvalue()


def png(url: str) -> bytes:
    out = io.BytesIO()
    qr(url).save(out, kind="png", scale=PNG_SCALE, border=BORDER)
    return out.getvalue()


def hours_text(expression: str | None) -> str:
    if expression is None:
        return "开放时间请咨询管理员"
    if expression.strip() == "24/7":
        return "24小时开放"
    return expression


POSTER_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><style>
@page {{ size: A5 portrait; margin: 12mm; }}
body {{ font-family: "Noto Sans CJK SC", "Noto Sans SC", sans-serif; text-align: center; color: #111; }}
.kind {{ font-size: 15pt; color: #b00; margin: 0; }}
h1 {{ font-size: 22pt; margin: 4mm 0 2mm; }}
.hours {{ font-size: 12pt; margin: 0 0 4mm; }}
.code {{ width: 85mm; height: 85mm; }}
.does {{ font-size: 18pt; font-weight: bold; margin: 4mm 0 1mm; }}
.does-en, .url {{ font-size: 9pt; color: #444; margin: 0; }}
</style></head><body>
<p class="kind">{kind}</p>
<h1>{name}</h1>
<p class="hours">开放时间 {hours}</p>
<img class="code" src="data:image/svg+xml;base64,{code}" alt="QR">
<p class="does">{does}</p>
<p class="does-en">{does_en}</p>
<p class="url">{url}</p>
</body></html>"""


def poster(site: dict[str, Any], url: str) -> bytes:
    """The A5 poster's PDF: a CPU-heavy step (app.compute.offload runs it), WeasyPrint imported where it runs."""
    import base64

    import weasyprint

    page = POSTER_HTML.format(
        kind=html.escape(site["kind_label"]),
        name=html.escape(site["name"]),
        hours=html.escape(hours_text(site["opening_hours"])),
        code=base64.b64encode(svg(url)).decode(),
        does=SCANNING_DOES,
        does_en=SCANNING_DOES_EN,
        url=html.escape(url),
    )
    pdf: bytes = weasyprint.HTML(string=page).write_pdf()
    return pdf
