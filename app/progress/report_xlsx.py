"""The monthly report as an XLSX: the PDF's tables, one sheet each, with Chinese headers (English with `lang=en`),
figures as numbers (shares as fractions 0–1, as the API gives them) and text guarded by app.formats.spreadsheets."""

from typing import Any

from app.formats.spreadsheets import to_xlsx_sheets
from app.progress.figures import FIGURES
from app.progress.report_text import WORDS, measure_label, status_label
from app.vocabularies.closed import TargetMeasure


def xlsx(report: dict[str, Any], lang: str) -> bytes:
    w = WORDS[lang]
    count, area, people = (measure_label(m, lang) for m in TargetMeasure)
    head = report["headline"]
    revised = head["revised"] or {}
    headline = [
        [measure_label(m, lang), head[f], head["change"][f], revised.get(f)]
        for f, m in zip(FIGURES, TargetMeasure, strict=True)
    ]
    targets = []
    for standing in head["targets"]:
        target = report["targets"][standing["target_id"]]
        targets.append(
            [
                measure_label(standing["measure"], lang),
                target["value"],
                target["due_on"],
                standing["line"],
                standing["actual"],
                status_label(standing["status"], lang),
                standing["needed_per_month"],
            ]
        )
    children = [
        [
            c["region"],
            c["name"],
            c["site_count"],
            c["change"]["site_count"],
            c["covered_area_share"],
            c["covered_population_share"],
            status_label(c["standing"]["status"] if c["standing"] else None, lang),
            c["standing"]["shortfall"] if c["standing"] else None,
        ]
        for c in report["children"]
    ]
    series = [
        [p["period"], p["site_count"], p["covered_area_share"], p["covered_population_share"], bool(p["published_at"])]
        for p in report["series"]
    ]
    sites = [
        [w[change], s["id"], s["name"], s["region_name"], s["address"], s["on_date"]]
        for change in ("opened", "closed", "suspended")
        for s in report["sites"][change]
    ]
    gaps = [[g["region"], g["region_name"], g["area_km2"], g["population"]] for g in report["gaps"]]
    r = report["reports"]
    reports = [
        [w["reports_opened"], r["opened"]],
        [w["reports_resolved"], r["resolved"]],
        [w["reports_overdue"].format(days=r["overdue_after_days"]), r["overdue"]],
    ]
    kind = report["kind_zh"] if lang == "zh" else report["kind_en"]
    about = [
        [w["title"].format(name=report["name"], kind=kind), ""],
        [w["month"], report["month"]],
        [w["measured_on"], report["measured_on"]],
        [w["rule"], report["rule"]],
        [w["sources"], w["source_register"].format(day=report["measured_on"])],
        ["", w["source_coverage"].format(region=report["region"], kind=report["kind"], day=report["measured_on"])],
        ["", w["source_population"].format(population=report["population_source"] or "—")],
        ["", w["source_published"]],
        [w["made_at"], report["made_at"]],
    ]
    return to_xlsx_sheets(
        [
            (w["headline"], [w["figure"], w["this_month"], w["change"], w["revised"]], headline),
            (
                w["targets"],
                [w["figure"], w["target"], w["due_on"], w["line"], w["actual"], w["status"], w["needed"]],
                targets,
            ),
            (
                w["children"],
                ["adcode", w["region"], count, w["change"], area, people, w["standing"], w["shortfall"]],
                children,
            ),
            (w["series"], [w["period"], count, area, people, w["published"]], series),
            (w["sites"], [w["change_type"], "id", w["name"], w["region"], w["address"], w["date"]], sites),
            (w["gaps"], ["adcode", w["region"], w["area"], w["people"]], gaps),
            (w["reports"], [w["figure"], w["this_month"]], reports),
            (w["sources"], ["", ""], about),
        ]
    )
