"""The door page, /d/{token}: where the QR code leads. It offers what the poster says: check in, rate, report a
problem (扫码入站 · 评价 · 反映问题). Served as HTML with every value escaped; its script is app/web/static/door.js."""

import html

from app.vocabularies.closed import Labelled, RatingTag, ReportType, WorkerGroup

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · 驿站</title>
<style>
body {{ font-family: "Noto Sans CJK SC", sans-serif; margin: 1rem; max-width: 32rem; }}
section {{ border-top: 1px solid #ccc; padding: .5rem 0; }}
button {{ font-size: 1.1rem; padding: .4rem 1rem; }}
#said {{ font-weight: bold; color: #060; }}
</style></head>
<body><main id="door" data-token="{token}" data-site="{site_id}">
<p class="kind">{kind}</p>
<h1>{name}</h1>
<p>{address}</p>
<p id="said" role="status"></p>
<section><h2>扫码入站 Check in</h2>
<select id="worker-group" aria-label="职业 Occupation"><option value="">职业（可不选）</option>{groups}</select>
<button id="check-in" type="button">签到 Check in</button></section>
<section><h2>评价 Rate</h2><form id="rate">
<select name="stars" aria-label="星级 Stars">{stars}</select>
<div>{tags}</div>
<textarea name="comment" maxlength="500" aria-label="留言 Comment"></textarea>
<button type="submit">提交评价 Rate</button></form></section>
<section><h2>反映问题 Report a problem</h2><form id="report">
<select name="type" aria-label="问题 Problem">{problems}</select>
<button type="submit">提交 Report</button></form></section>
</main><script src="/static/door.js"></script></body></html>"""


def _options(vocabulary: type[Labelled]) -> str:
    return "".join(f'<option value="{m.value}">{html.escape(m.zh)}</option>' for m in vocabulary)


def render(token: str, site: dict[str, str | int | None]) -> str:
    tags = "".join(
        f'<label><input type="checkbox" name="tags" value="{t.value}">{html.escape(t.zh)}</label> ' for t in RatingTag
    )
    stars = "".join(f'<option value="{n}">{"★" * n}</option>' for n in range(5, 0, -1))
    return PAGE.format(
        token=html.escape(token),
        site_id=int(str(site["id"])),
        kind=html.escape(str(site["kind_label"])),
        name=html.escape(str(site["name"])),
        address=html.escape(str(site["address"] or "")),
        groups=_options(WorkerGroup),
        stars=stars,
        tags=tags,
        problems=_options(ReportType),
    )
