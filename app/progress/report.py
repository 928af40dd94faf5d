"""The monthly report a county or city union hands in (月调度): the figures against each target with the change since
last month, the sites opened, closed and suspended in the month, the children ranked behind first, the largest gaps,
the workers' reports, and a small map — gathered here from the progress series, the coverage answers, the register
and the reports, then written as a PDF (app.progress.report_pdf) or an XLSX (app.progress.report_xlsx)."""

import datetime as dt
from typing import Any

from app import china_time
from app.coverage import figures as coverage_figures
from app.coverage import gaps as coverage_gaps
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.database.read_pool import Reader
from app.inspections.rules import REPORT_DUE_DAYS
from app.problems import InvalidParameter
from app.progress import figures, repository, series
from app.progress.periods import By, default_from, month_end, next_month, periods
from app.progress.report_map import svg
from app.reports import service as reports
from app.vocabularies import repository as vocabularies

LARGEST_GAPS = 5


def _change(now: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """Each figure's change since the previous month (None where either is unknown)."""
    return {
        field: None
        if before is None or now[field] is None or before[field] is None
        else round(now[field] - before[field], 4)
        for field in figures.FIGURES
    }


async def gather(reader: Reader, kept: CoverageKept, adcode: str, month: dt.date, ev: Evaluation) -> dict[str, Any]:
    """Everything the report shows, for the month (its first day) and the kind."""
    last_day = month_end(month)
    today = china_time.today()
    if last_day >= today:
        raise InvalidParameter(
            "month", f"{month:%Y-%m} has not ended: its report is made from {last_day + dt.timedelta(1)}"
        )
    year = periods(default_from(last_day, By.month), last_day, By.month, today)
    region = await series.progress(reader, kept, adcode, ev, year)
    children = await series.children_progress(reader, kept, adcode, ev, year)
    on_last_day = figures.on(ev, last_day)
    row = await coverage_figures.region_coverage(reader, kept, adcode, on_last_day)
    found_gaps = (await coverage_gaps.gaps(reader, kept, adcode, on_last_day))["features"]
    names = {c["region"]: c["name"] for c in children["items"]} | {adcode: region["name"]}
    outlines = await repository.outlines(reader, adcode)
    points = await repository.serving_points(reader, adcode, ev.kind, last_day)
    kinds = {k["code"]: k for k in await vocabularies.labelled(reader, "site_kinds")}
    sites = await repository.month_sites(reader, adcode, ev.kind, month, next_month(month))
    current, previous = region["periods"][-1], (region["periods"][-2] if len(region["periods"]) > 1 else None)
    child_rows = []
    for child in children["items"]:
        now, before = child["periods"][-1], (child["periods"][-2] if len(child["periods"]) > 1 else None)
        child_rows.append(
            {
                "region": child["region"],
                "name": child["name"],
                **{field: now[field] for field in figures.FIGURES},
                "change": _change(now, before),
                "standing": child["standing"],
            }
        )
    shares = {c["region"]: c["covered_area_share"] for c in child_rows} or {adcode: current["covered_area_share"]}
    kind = kinds.get(ev.kind, {"zh": ev.kind, "en": ev.kind})
    return {
        "region": adcode,
        "name": region["name"],
        "kind": ev.kind,
        "kind_zh": kind["zh"],
        "kind_en": kind["en"],
        "month": f"{month:%Y-%m}",
        "measured_on": last_day.isoformat(),
        "rule": row["rule_label"],
        "population_source": row["population_source"],
        "headline": {**current, "change": _change(current, previous)},
        "targets": {t["id"]: t for t in region["targets"]},
        "series": region["periods"],
        "children": child_rows,
        "sites": {change: [s for s in sites if s["change"] == change] for change in ("opened", "closed", "suspended")},
        "gaps": [
            {**g["properties"], "region_name": names.get(g["properties"]["region"], g["properties"]["region"])}
            for g in found_gaps[:LARGEST_GAPS]
        ],
        "reports": {
            **await reports.month_counts(reader, adcode, ev.kind, month, next_month(month)),
            "overdue_after_days": REPORT_DUE_DAYS,
        },
        "map": {
            "outlines": outlines,
            "shares": shares,
            "sites": points,
            "gaps": [g["geometry"] for g in found_gaps],
        },
        "made_at": china_time.now().isoformat(timespec="seconds"),
    }


def map_svg(report: dict[str, Any], legend: tuple[str, str, str]) -> str:
    drawn = report["map"]
    return svg(drawn["outlines"], drawn["shares"], drawn["sites"], drawn["gaps"], legend)
