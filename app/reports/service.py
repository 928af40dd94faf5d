"""Reports: taken from anyone (merged per client), reviewed by a key holder, and applied to the site."""

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.db import Reader, act_as, reader_in
from app.errors import InvalidParameter, NotFound
from app.partners.keys import Principal
from app.reports import repository
from app.reports.schemas import ReportIn, ReportResolution
from app.sites import repository as sites


def client_fingerprint(address: str | None) -> str:
    """Repeats from one client are merged; the stored fingerprint cannot be turned back into an address."""
    return hashlib.sha256(f"yizhan-report:{address or 'unknown'}".encode()).hexdigest()[:32]


async def report(writer: AsyncConnection, site_id: int, body: ReportIn, client: str) -> dict[str, Any]:
    if await sites.get(await reader_in(writer), site_id) is None:
        raise NotFound(f"no site with id {site_id}")
    lon, lat = (None, None)
    if body.lat is not None and body.lon is not None:
        lon, lat = geo.to_wgs84(body.lon, body.lat, body.coordsys)
    row = await repository.upsert_open(
        writer,
        {
            "site_id": site_id,
            "type": body.type,
            "note": body.note,
            "photo_url": body.photo_url,
            "lon": lon,
            "lat": lat,
            "client": client,
        },
    )
    return {**row._asdict(), "merged": not row.created}


async def queue(reader: Reader, status: str, site_id: int | None, after: int, limit: int) -> list[dict[str, Any]]:
    return await repository.page(reader, status, site_id, after, limit)


# What an accepted report changes on the site when the reviewer does not say otherwise.
DEFAULT_CHANGES: dict[str, dict[str, Any]] = {
    "closed": {"status": "closed"},
    "needs_app": {"access": "app"},
}


async def resolve(
    writer: AsyncConnection, principal: Principal, report_id: int, body: ReportResolution
) -> dict[str, Any]:
    found = await repository.lock(writer, report_id)
    if found is None:
        raise NotFound(f"no report with id {report_id}")
    if found.status != "open":
        raise InvalidParameter("status", f"report {report_id} was already {found.status}")
    current = await sites.lock(writer, found.site_id)
    if current is None:
        raise NotFound(f"the site of report {report_id} no longer exists")
    if not principal.may_write_in(current.region_adcode):
        raise InvalidParameter("report", f"the site is outside this key's region {principal.region_prefix}*")
    await act_as(writer, principal.name)
    changes: dict[str, Any] = {}
    if body.status == "accepted":
        changes = dict(DEFAULT_CHANGES.get(found.type, {}))
        if body.site is not None:
            patch = body.site.model_dump(exclude_unset=True, exclude={"coordsys"})
            if "lat" in patch:
                patch["lon"], patch["lat"] = geo.to_wgs84(patch["lon"], patch["lat"], body.site.coordsys)
            changes.update(patch)
        if changes.get("status") == "closed":
            changes.setdefault("closed_on", dt.date.today())
    # Either way someone has now checked the site.
    changes.update(last_verified_at=dt.datetime.now(dt.UTC), verified_by="inspection")
    await sites.apply(writer, found.site_id, changes)
    await repository.close(writer, report_id, body.status, body.resolution, principal.name)
    resolved = await repository.one(await reader_in(writer), report_id)
    assert resolved is not None
    return resolved
