"""Closing a month (月调度): the region's and its children's figures at the month's end are published and kept;
later corrections of the register change what the progress answer shows as revised, never what was published."""

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.coverage.regions import find_region
from app.database.connections import reader_in
from app.database.read_pool import Reader
from app.keys.service import Principal
from app.problems import Conflict, Forbidden, InvalidParameter
from app.progress import figures, repository
from app.progress.periods import month_end


async def close(
    conn: AsyncConnection,
    reader: Reader,
    principal: Principal,
    kept: CoverageKept,
    adcode: str,
    month: dt.date,
    ev: Evaluation,
) -> dict[str, Any]:
    """Publish the month's figures. `reader` is the primary's read pool (it sees every correction committed), on
    which the children's figures are computed side by side; the transaction `conn` only writes them."""
    region = await find_region(reader, adcode)
    if not principal.may_write_in(adcode):
        message = f"{adcode} is outside this key's region {principal.region_prefix}*"
        raise Forbidden(f"adcode: {message}", errors=[{"field": "adcode", "message": message}])
    last_day = month_end(month)
    if last_day >= china_time.today():
        raise InvalidParameter("month", f"{month:%Y-%m} has not ended: it is closed from {last_day + dt.timedelta(1)}")
    if await repository.is_published(await reader_in(conn), adcode, ev.kind, month):
        raise Conflict(f"{month:%Y-%m} was already closed for {adcode} ({ev.kind}); published figures stay")
    on_last_day = figures.on(ev, last_day)
    rows = [(adcode, region["name"], await figures.region_figures(reader, kept, adcode, on_last_day))]
    if region["has_children"]:
        rows += await figures.child_figures(reader, kept, adcode, on_last_day)
    published = [
        {"region": code, "kind": ev.kind, "month": month, "closed_for": adcode, "by": principal.name, **found}
        for code, _, found in rows
    ]
    await repository.publish(conn, published)
    return {
        "region": adcode,
        "kind": ev.kind,
        "month": f"{month:%Y-%m}",
        "measured_on": last_day.isoformat(),
        "published_by": principal.name,
        "items": [{"region": code, "name": name, **found} for code, name, found in rows],
    }
