"""Progress against targets (SPEC §1, §3): a region's figures at the end of each period, as the coverage answers
give them `as_of` that day, each target's line and where the figure stands against it (app.targets.standing); the
same for each child region, ranked behind first. A month published (closed) shows its published figures, and the
register's revised ones beside them where a later correction changed them."""

from typing import Any

import asyncpg

from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.coverage.regions import find_region
from app.database.read_pool import Reader
from app.progress import figures, repository
from app.progress.periods import Period
from app.targets import repository as targets_repository
from app.targets.standing import RANK, Line, standing


def _line(target: asyncpg.Record | dict[str, Any]) -> Line:
    return Line(target["starts_on"], target["start_value"], target["due_on"], target["value"])


def _target(target: asyncpg.Record) -> dict[str, Any]:
    keys = ("id", "measure", "value", "due_on", "starts_on", "start_value", "note", "set_by")
    return {key: target[key] for key in keys}


def _differs(published: dict[str, Any], revised: dict[str, Any]) -> bool:
    return any(published[field] != revised[field] for field in figures.FIGURES)


def point(
    period: Period,
    revised: dict[str, Any],
    published: asyncpg.Record | None,
    targets: list[asyncpg.Record],
) -> dict[str, Any]:
    """One period's figures (the published ones for a published month), the revised ones where they differ, and
    where each target stands on the period's last day."""
    shown = {field: published[field] for field in figures.FIGURES} if published is not None else revised
    standings = []
    for target in targets:
        found = standing(_line(target), period.ends_on, shown[figures.MEASURED[target["measure"]]])
        standings.append(
            {
                "target_id": target["id"],
                "measure": target["measure"],
                "value": target["value"],
                "line": None if found.line is None else round(found.line, 4),
                "actual": shown[figures.MEASURED[target["measure"]]],
                "status": found.status,
                "needed_per_month": None if found.needed_per_month is None else round(found.needed_per_month, 4),
                "shortfall": round(found.shortfall, 4),
            }
        )
    return {
        "period": period.label,
        "starts_on": period.starts_on.isoformat(),
        "ends_on": period.ends_on.isoformat(),
        "partial": period.partial,
        **shown,
        "published_at": published["published_at"].isoformat() if published is not None else None,
        "revised": revised if published is not None and _differs(dict(published), revised) else None,
        "targets": standings,
    }


def latest_standing(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The worst standing of the last period (behind before on track before met; the farthest behind first)."""
    if not points or not points[-1]["targets"]:
        return None
    measured = [t for t in points[-1]["targets"] if t["status"] is not None]
    if not measured:
        return None
    worst = min(measured, key=lambda t: (RANK[t["status"]], -t["shortfall"]))
    return {k: worst[k] for k in ("target_id", "measure", "status", "shortfall", "line", "actual", "needed_per_month")}


def rank_key(series: dict[str, Any]) -> tuple[int, float, str]:
    found = series["standing"]
    if found is None:
        return (RANK[None], 0.0, series["region"])
    return (RANK[found["status"]], -found["shortfall"], series["region"])


async def _series(
    reader: Reader,
    regions: list[tuple[str, str]],
    ev: Evaluation,
    periods: list[Period],
    by_period: list[dict[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    adcodes = [adcode for adcode, _ in regions]
    targets = await targets_repository.of_regions(reader, adcodes, ev.kind)
    months = [p.month for p in periods if p.month is not None]
    published = await repository.published(reader, adcodes, ev.kind, months)
    found = []
    for adcode, name in regions:
        own = [t for t in targets if t["region"] == adcode]
        points = [
            point(period, by_period[i][adcode], published.get((adcode, period.month)) if period.month else None, own)
            for i, period in enumerate(periods)
        ]
        found.append(
            {
                "region": adcode,
                "name": name,
                "targets": [_target(t) for t in own],
                "standing": latest_standing(points),
                "periods": points,
            }
        )
    return found


async def progress(
    reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation, periods: list[Period]
) -> dict[str, Any]:
    """The region's figures and standings over the periods."""
    region = await find_region(reader, adcode)
    by_period = [
        {adcode: await figures.region_figures(reader, kept, adcode, figures.on(ev, p.ends_on))} for p in periods
    ]
    [series] = await _series(reader, [(adcode, region["name"])], ev, periods, by_period)
    return {"kind": ev.kind, **series}


async def children_progress(
    reader: Reader, kept: CoverageKept, adcode: str, ev: Evaluation, periods: list[Period]
) -> dict[str, Any]:
    """Each child region's figures and standings over the periods, ranked behind first (the farthest behind the
    line first, then on track, then met, then those without a target)."""
    region = await find_region(reader, adcode)
    by_period: list[dict[str, dict[str, Any]]] = []
    names: dict[str, str] = {}
    for p in periods:
        rows = await figures.child_figures(reader, kept, adcode, figures.on(ev, p.ends_on))
        names.update({child: name for child, name, _ in rows})
        by_period.append({child: found for child, _, found in rows})
    items = await _series(reader, list(names.items()), ev, periods, by_period)
    return {"region": adcode, "name": region["name"], "kind": ev.kind, "items": sorted(items, key=rank_key)}
