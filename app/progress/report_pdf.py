"""The monthly report as an A4 PDF: HTML written here, laid out by WeasyPrint with the CJK font the project installs
(fonts-noto-cjk), the map inline as SVG. Nothing is fetched: every resource is in the document."""

from html import escape
from typing import Any

from app.progress.figures import FIGURES
from app.progress.report import map_svg
from app.progress.report_text import WORDS, measure_label, shown, status_label
from app.vocabularies.closed import TargetMeasure

MEDIA_TYPE = "application/pdf"

STYLE = """
@page { size: A4; margin: 14mm 13mm 16mm;
        @bottom-center { content: counter(page) " / " counter(pages); font-size: 8pt; color: #666; } }
html { font-family: "Noto Sans CJK SC", "Noto Sans CJK", sans-serif; font-size: 9pt; color: #222; }
/* One weight of the CJK font: each weight embedded is another subset of a 20 MB font to make. */
h1, h2, h3, b, strong { font-weight: normal; }
h1 { font-size: 16pt; margin: 0 0 2mm; color: #8e1b10; }
h2 { font-size: 11pt; margin: 5mm 0 2mm; border-bottom: 0.6pt solid #1f4e9c; color: #1f4e9c; }
.meta { color: #555; margin-bottom: 2mm; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 0.4pt solid #bbb; padding: 1mm 1.5mm; text-align: left; }
th { background: #eef3fb; font-weight: normal; color: #1f4e9c; }
td.n { text-align: right; white-space: nowrap; }
.behind { color: #b03a2e; } .on_track { color: #1e7b34; } .met { color: #1f4e9c; }
.map { text-align: center; margin: 2mm 0; } .map svg { width: 150mm; height: auto; }
.sources { font-size: 7.5pt; color: #555; } .sources li { margin: 0.5mm 0; }
.revised { color: #b03a2e; font-size: 8pt; }
"""


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None, empty: str = "") -> str:
    if not rows:
        return f"<p>{escape(empty)}</p>"
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(status: str | None, lang: str) -> str:
    return f'<span class="{escape(status or "")}">{escape(status_label(status, lang))}</span>'


def html(report: dict[str, Any], lang: str) -> str:
    w = WORDS[lang]
    kind = report["kind_zh"] if lang == "zh" else report["kind_en"]
    title = w["title"].format(name=report["name"], kind=kind)
    head = report["headline"]
    measures = {field: TargetMeasure(m) for field, m in zip(FIGURES, TargetMeasure, strict=True)}
    headline_rows = []
    for field in FIGURES:
        revised = head["revised"][field] if head["revised"] is not None else None
        value = shown(head[field], measures[field])
        if revised is not None and revised != head[field]:
            value += f' <span class="revised">({escape(w["revised"])} {shown(revised, measures[field])})</span>'
        headline_rows.append(
            [escape(measure_label(measures[field], lang)), value, shown(head["change"][field], measures[field], True)]
        )
    target_rows = []
    for standing in head["targets"]:
        target = report["targets"][standing["target_id"]]
        measure = standing["measure"]
        target_rows.append(
            [
                escape(measure_label(measure, lang)),
                shown(target["value"], measure),
                escape(str(target["due_on"])),
                shown(standing["line"], measure),
                shown(standing["actual"], measure),
                _status(standing["status"], lang),
                shown(standing["needed_per_month"], measure),
            ]
        )
    child_rows = []
    for child in report["children"]:
        found = child["standing"]
        child_rows.append(
            [
                escape(child["name"]),
                shown(child["site_count"], TargetMeasure.active_sites),
                shown(child["change"]["site_count"], TargetMeasure.active_sites, True),
                shown(child["covered_area_share"], TargetMeasure.area_share),
                shown(child["covered_population_share"], TargetMeasure.population_share),
                _status(found["status"] if found else None, lang),
                f"{100 * found['shortfall']:.1f} %" if found and found["shortfall"] else "—",
            ]
        )
    series_rows = [
        [
            escape(p["period"]),
            shown(p["site_count"], TargetMeasure.active_sites),
            shown(p["covered_area_share"], TargetMeasure.area_share),
            shown(p["covered_population_share"], TargetMeasure.population_share),
            " ".join(_status(t["status"], lang) for t in p["targets"]) or "—",
            escape(w["published"]) if p["published_at"] else "",
        ]
        for p in report["series"]
    ]
    site_rows = [
        [
            escape(w[change]),
            escape(s["name"]),
            escape(s["region_name"]),
            escape(s["address"] or ""),
            escape(str(s["on_date"])),
        ]
        for change in ("opened", "closed", "suspended")
        for s in report["sites"][change]
    ]
    gap_rows = [
        [escape(g["region_name"]), f"{g['area_km2']:.1f}", "—" if g["population"] is None else f"{g['population']:,}"]
        for g in report["gaps"]
    ]
    r = report["reports"]
    report_rows = [
        [escape(w["reports_opened"]), str(r["opened"])],
        [escape(w["reports_resolved"]), str(r["resolved"])],
        [escape(w["reports_overdue"].format(days=r["overdue_after_days"])), str(r["overdue"])],
    ]
    day = report["measured_on"]
    sources = [
        w["source_register"].format(day=day),
        w["source_coverage"].format(region=report["region"], kind=report["kind"], day=day),
        w["source_published"],
    ]
    if report["population_source"]:
        sources.insert(2, w["source_population"].format(population=report["population_source"]))
    legend = (w["share_legend"], w["gap_legend"], w["site_legend"])
    count, area, people = (measure_label(m, lang) for m in TargetMeasure)
    tables = {
        "headline": _table([w["figure"], w["this_month"], w["change"]], headline_rows, {1, 2}),
        "targets": _table(
            [w["figure"], w["target"], w["due_on"], w["line"], w["actual"], w["status"], w["needed"]],
            target_rows,
            {1, 3, 4, 6},
            w["no_target"],
        ),
        "children": _table(
            [w["region"], count, w["change"], area, people, w["standing"], w["shortfall"]],
            child_rows,
            {1, 2, 3, 4, 6},
            w["none"],
        ),
        "series": _table([w["period"], count, area, people, w["status"], ""], series_rows, {1, 2, 3}),
        "sites": _table(
            [w["change_type"], w["name"], w["region"], w["address"], w["date"]], site_rows, None, w["none"]
        ),
        "gaps": _table([w["region"], w["area"], w["people"]], gap_rows, {1, 2}, w["none"]),
        "reports": _table([w["figure"], w["this_month"]], report_rows, {1}),
    }
    return f"""<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<title>{escape(title)} {escape(report["month"])}</title><style>{STYLE}</style></head><body>
<h1>{escape(title)}</h1>
<div class="meta">{escape(w["month"])}：{escape(report["month"])} · {escape(w["measured_on"])}：{escape(day)} ·
{escape(w["rule"])}：{escape(report["rule"])}</div>
<h2>{escape(w["headline"])}</h2>
{tables["headline"]}
<h2>{escape(w["targets"])}</h2>
{tables["targets"]}
<h2>{escape(w["map"])}</h2>
<div class="map">{map_svg(report, legend)}</div>
<h2>{escape(w["children"])}</h2>
{tables["children"]}
<h2>{escape(w["series"])}</h2>
{tables["series"]}
<h2>{escape(w["sites"])}</h2>
{tables["sites"]}
<h2>{escape(w["gaps"])}</h2>
{tables["gaps"]}
<h2>{escape(w["reports"])}</h2>
{tables["reports"]}
<h2>{escape(w["sources"])}</h2>
<ul class="sources">{"".join(f"<li>{escape(s)}</li>" for s in sources)}
<li>{escape(w["made_at"])}：{escape(report["made_at"])}</li></ul>
</body></html>"""


def pdf(document: str) -> bytes:
    """The PDF of the report's HTML: a step for a worker process (app.compute.offload), seconds of layout."""
    from weasyprint import HTML

    rendered: bytes = HTML(string=document).write_pdf()
    return rendered
