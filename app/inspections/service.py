"""Inspections: recorded by an inspector's key (the `inspect` scope) within its region; each sets the site's star
level by app.inspections.rules, and a failed one may suspend the site (through the register's own write path, so
the change is checked, versioned and in the change feed like any other)."""

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.changes import repository as changes
from app.database.connections import reader_in
from app.database.read_pool import Reader
from app.inspections import repository, rules
from app.inspections.schemas import InspectionIn
from app.keys.service import Principal
from app.problems import Forbidden, InvalidParameter
from app.sites import service as sites
from app.vocabularies.closed import SiteStatus
from app.vocabularies.service import Vocabularies

MAX_DUE = 5_000


def shown(row: Any) -> dict[str, Any]:
    """An inspection as the API shows it: its scores together, with their total."""
    record = dict(row)
    scores = {d: record.pop(d) for d in rules.DIMENSIONS}
    return {**record, "scores": scores, "total": round(rules.total(scores), 1)}


async def record(
    conn: AsyncConnection, principal: Principal, vocabularies: Vocabularies, site_id: int, body: InspectionIn
) -> dict[str, Any]:
    current = await sites.lock(conn, site_id)
    if not principal.may_write_in(current.region_adcode):
        raise Forbidden(sites.outside_region(principal, "site", current.region_adcode).reason())
    today = china_time.today()
    inspected_on = body.inspected_on or today
    if inspected_on > today:
        raise InvalidParameter("inspected_on", "in the future")
    scores = body.scores.model_dump()
    passed = rules.passed(scores)
    if body.suspend and passed:
        raise InvalidParameter("suspend", "only a failed inspection can suspend the site")
    raw = await reader_in(conn)
    level_before = await star_level(raw, site_id)
    row = await repository.insert(
        raw,
        {
            "site_id": site_id,
            "inspected_on": inspected_on,
            "unannounced": body.unannounced,
            **scores,
            "level": rules.level(scores),
            "passed": passed,
            "notes": body.notes,
            "photo_urls": body.photo_urls,
            "inspector": body.inspector,
            "recorded_by": principal.name,
            "suspended": body.suspend,
            "suspension_reason": body.suspension_reason if body.suspend else None,
        },
    )
    if body.suspend:
        await sites.change(
            conn, principal, vocabularies, site_id, current.region_adcode, {"status": SiteStatus.suspended}
        )
    if await star_level(raw, site_id) != level_before:
        await changes.record_in_use_change(raw, site_id, principal.name)
    return shown(row)


async def star_level(reader: Reader, site_id: int) -> int | None:
    """The site's star level today (China date)."""
    found = await repository.standing(reader, site_id, china_time.today())
    return int(found["star_level"]) if found["star_level"] is not None else None


async def standing(reader: Reader, site_id: int, today: dt.date) -> dict[str, Any]:
    row = await repository.standing(reader, site_id, today)
    return {
        "star_level": row["star_level"],
        "inspected_level": row["inspected_level"],
        "lowered": row["star_level"] is not None and row["star_level"] < row["inspected_level"],
        "last_inspected_on": row["last_inspected_on"],
    }


async def inspections(reader: Reader, site_id: int, today: dt.date, limit: int) -> dict[str, Any]:
    await sites.get(reader, site_id)
    items = [shown(r) for r in await repository.page(reader, site_id, limit)]
    return {"standing": await standing(reader, site_id, today), "items": items}


async def due(reader: Reader, principal: Principal, region: str, on: dt.date) -> dict[str, Any]:
    """The sites of `region` overdue for inspection on `on`, or never inspected; the key must cover the region."""
    await sites.check_key_covers(reader, principal, region)
    items = await repository.due(reader, region, on, rules.INSPECTION_INTERVAL_MONTHS, MAX_DUE)
    return {"region": region, "on": on, "items": items}
