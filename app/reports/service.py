"""Reports: taken from anyone (merged per client), reviewed by a key holder, and applied to the site."""

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time, geo
from app.changes import repository as feed
from app.database.connections import reader_in
from app.database.read_pool import Reader
from app.door import service as door
from app.inspections import service as inspections
from app.keys.service import Principal
from app.problems import InvalidParameter, NotFound
from app.reports import repository
from app.reports.schemas import ReportIn, ReportResolution
from app.sites import repository as sites_repository
from app.sites import service as sites
from app.vocabularies.closed import AccessMode, ReportStatus, ReportType, SiteStatus, VerificationMethod
from app.vocabularies.service import Vocabularies


def client_fingerprint(address: str | None) -> str:
    """Repeats from one client are merged; the stored fingerprint cannot be turned back into an address."""
    return hashlib.sha256(f"yizhan-report:{address or 'unknown'}".encode()).hexdigest()[:32]


async def report(conn: AsyncConnection, site_id: int, body: ReportIn, client: str) -> dict[str, Any]:
    """File a worker's report (a repeat of the client's open one of the type is merged into it); with a token, only
    the site's current door token, and the report is marked as from the door."""
    raw = await reader_in(conn)
    if await sites_repository.get(raw, site_id) is None:
        raise NotFound(f"no site with id {site_id}")
    if body.token is not None:
        await door.check_door_of(raw, body.token, site_id)
    lon, lat = (None, None)
    if body.lat is not None and body.lon is not None:
        lon, lat = geo.to_wgs84(body.lon, body.lat, body.coordsys)
    row = await repository.upsert_open(
        conn,
        {
            "site_id": site_id,
            "type": body.type,
            "note": body.note,
            "photo_url": body.photo_url,
            "lon": lon,
            "lat": lat,
            "client": client,
            "from_door": body.token is not None,
        },
    )
    return {**row._asdict(), "merged": not row.created}


async def queue(
    reader: Reader,
    principal: Principal,
    status: str,
    site_id: int | None,
    after: int,
    limit: int,
    overdue_on: dt.date | None = None,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """The reports the key may review, those on sites in its region (with `region`, of that region within it,
    descendants included): with where each reporter stood, which only a reviewer of the site is shown. A report is
    due as a call-back is (app.inspections.rules)."""
    if region is not None:
        await sites.check_key_covers(reader, principal, region)
    return await repository.page(reader, status, site_id, principal.region_prefix, after, limit, overdue_on, region)


# What an accepted report changes on the site when the reviewer does not say otherwise.
DEFAULT_CHANGES: dict[str, dict[str, Any]] = {
    ReportType.closed: {"status": SiteStatus.closed},
    ReportType.needs_app: {"access": AccessMode.app},
}


async def resolve(
    conn: AsyncConnection, principal: Principal, vocabularies: Vocabularies, report_id: int, body: ReportResolution
) -> dict[str, Any]:
    found = await repository.lock(conn, report_id)
    if found is None:
        raise NotFound(f"no report with id {report_id}")
    if found.status != ReportStatus.open:
        raise InvalidParameter("status", f"report {report_id} was already {found.status}")
    current = await sites.lock(conn, found.site_id)
    raw = await reader_in(conn)
    level_before = await inspections.star_level(raw, found.site_id)
    changes: dict[str, Any] = {}
    if body.status == ReportStatus.accepted:
        changes = dict(DEFAULT_CHANGES.get(found.type, {}))
        if body.site is not None:
            changes.update(sites.fields_of(body.site))
        if changes.get("status") == SiteStatus.closed:
            changes.setdefault("closed_on", china_time.today())
    # Either way someone has now checked the site.
    changes.update(last_verified_at=dt.datetime.now(dt.UTC), verified_by=VerificationMethod.inspection)
    await sites.change(conn, principal, vocabularies, found.site_id, current.region_adcode, changes, "site.")
    await repository.close(conn, report_id, body.status, body.resolution, principal.name)
    # An overdue report no longer lowers the star level: the feed says so, whether or not the record changed.
    if await inspections.star_level(raw, found.site_id) != level_before:
        await feed.record_in_use_change(raw, found.site_id, principal.name)
    resolved = await repository.one(raw, report_id)
    assert resolved is not None
    return resolved


async def month_counts(reader: Reader, adcode: str, kind: str, first: dt.date, next_first: dt.date) -> dict[str, int]:
    """Reports on the region's sites of a kind: opened and resolved in the month, overdue at its end (past their due
    date, app.inspections.rules)."""
    return await repository.month_counts(reader, adcode, kind, first, next_first)
