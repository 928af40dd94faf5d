"""Rules of the register: reading a site, and every write to one.

POST/PATCH/DELETE /v1/sites and an accepted report pass the same checks here before anything is written: the
vocabularies, the fields that may not be cleared (SiteFields), and the key's region against both where the site
is and where it is going. Bulk imports (app.sites.bulk) check the same rules per row, so that every row gets an
outcome of its own.
"""

import datetime as dt
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.db import Reader, act_as, reader_in
from app.errors import Forbidden, NotFound, PreconditionFailed, PreconditionRequired, database_errors
from app.keys.service import Principal
from app.sites import repository
from app.sites.schemas import SiteCreate, SiteFields
from app.vocabularies.service import amenities as amenity_vocabulary
from app.vocabularies.service import site_kinds


async def get(reader: Reader, site_id: int) -> asyncpg.Record:
    row = await repository.get(reader, site_id)
    if row is None:
        raise NotFound(f"no site with id {site_id}")
    return row


def etag(site_id: int, version: int) -> str:
    return f'"{site_id}-{version}"'


def _expected_version(site_id: int, if_match: str | None) -> int:
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag you read, so a concurrent edit is not overwritten")
    tag = if_match.strip().removeprefix("W/")
    prefix = f'"{site_id}-'
    if not (tag.startswith(prefix) and tag.endswith('"') and tag[len(prefix) : -1].isdigit()):
        raise PreconditionFailed(f"If-Match {if_match} is not an ETag of site {site_id}")
    return int(tag[len(prefix) : -1])


def fields_of(body: SiteFields) -> dict[str, Any]:
    """The fields a request sets, its coordinates in WGS-84. A new site takes the defaults of what it leaves out
    (source "api" …); an edit changes only what it names."""
    if isinstance(body, SiteCreate):
        fields = body.model_dump(exclude_none=True, exclude={"coordsys"})
    else:
        fields = body.model_dump(exclude_unset=True, exclude={"coordsys"})
    if "lat" in fields:
        fields["lon"], fields["lat"] = geo.to_wgs84(fields["lon"], fields["lat"], body.coordsys)
    return fields


def forbid_outside(principal: Principal, region: str | None, what: str) -> None:
    if not principal.may_write_in(region):
        raise Forbidden(f"this key writes only in regions {principal.region_prefix}*; {what} is in {region}")


async def check(conn: AsyncConnection, principal: Principal, fields: dict[str, Any], field_prefix: str = "") -> None:
    """The checks of every write of `fields`: the key's region where they put the site, and the vocabularies.
    `field_prefix` names the fields as the request nested them ("site." in a report)."""
    if "lat" in fields and principal.region_prefix is not None:
        [region] = await repository.regions_of(conn, [(fields["lon"], fields["lat"])])
        forbid_outside(principal, region, "the new location")
    reader = await reader_in(conn)
    if "kind" in fields:
        await site_kinds.check(reader, f"{field_prefix}kind", [fields["kind"]])
    if fields.get("amenities"):
        await amenity_vocabulary.check(reader, f"{field_prefix}amenities", fields["amenities"])


async def create(conn: AsyncConnection, principal: Principal, body: SiteCreate) -> asyncpg.Record:
    fields = fields_of(body)
    await check(conn, principal, fields)
    await act_as(conn, principal.name)
    with database_errors():
        site_id = await repository.insert(conn, fields)
    return await get(await reader_in(conn), site_id)


async def lock(conn: AsyncConnection, site_id: int) -> Any:
    """The site's version and region, locked until the transaction ends; NotFound if absent or deleted."""
    current = await repository.lock(conn, site_id)
    if current is None:
        raise NotFound(f"no site with id {site_id}")
    return current


async def change(
    conn: AsyncConnection,
    principal: Principal,
    site_id: int,
    current_region: str | None,
    fields: dict[str, Any],
    field_prefix: str = "",
) -> None:
    """Write `fields` (WGS-84) to a site locked with `lock`, after the checks of every write and of the key's
    region where the site is now."""
    forbid_outside(principal, current_region, "the site")
    await check(conn, principal, fields, field_prefix)
    await act_as(conn, principal.name)
    with database_errors():
        await repository.apply(conn, site_id, fields)


async def _lock_version(conn: AsyncConnection, site_id: int, if_match: str | None) -> Any:
    """Lock the site after checking the client edits the current version."""
    expected = _expected_version(site_id, if_match)
    current = await lock(conn, site_id)
    if current.version != expected:
        raise PreconditionFailed(f"site {site_id} is at version {current.version}, not {expected}; read it again")
    return current


async def update(
    conn: AsyncConnection, principal: Principal, site_id: int, body: SiteFields, if_match: str | None
) -> asyncpg.Record:
    current = await _lock_version(conn, site_id, if_match)
    await change(conn, principal, site_id, current.region_adcode, fields_of(body))
    return await get(await reader_in(conn), site_id)


async def delete(conn: AsyncConnection, principal: Principal, site_id: int, if_match: str | None) -> None:
    """Soft delete: the row stays (and its history), marked deleted; reads and the nearest search skip it."""
    current = await _lock_version(conn, site_id, if_match)
    await change(conn, principal, site_id, current.region_adcode, {"deleted_at": dt.datetime.now(dt.UTC)})
