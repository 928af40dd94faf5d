"""Rules of the register: reading a site, and every write to one.

POST/PATCH/DELETE /v1/sites, an accepted report and bulk imports (for all their rows at once, each row getting an
outcome of its own) pass the same checks here before anything is written: the fields that may not be cleared
(SiteFields), the vocabularies, and the key's region against both where the site is and where it is going.
"""

import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.database.connections import act_as, reader_in
from app.database.read_pool import Reader
from app.keys.service import Principal
from app.problems import Forbidden, InvalidParameter, NotFound, PreconditionFailed, PreconditionRequired
from app.problems.database import database_errors
from app.regions import repository as region_repository
from app.sites import repository
from app.sites.schemas import SiteCreate, SiteFields
from app.vocabularies.service import Vocabularies


def _found(row: asyncpg.Record | None, site_id: int) -> asyncpg.Record:
    if row is None:
        raise NotFound(f"no site with id {site_id}")
    return row


async def get(reader: Reader, site_id: int) -> asyncpg.Record:
    return _found(await repository.get(reader, site_id), site_id)


async def get_for_worker(reader: Reader, site_id: int, today: dt.date) -> asyncpg.Record:
    """The site with what a worker's view of it reads (app.sites.worker_view), serving or not on `today`."""
    return _found(await repository.get_for_worker(reader, site_id, today), site_id)


def etag(site_id: int, version: int, representation: bytes | None = None) -> str:
    """The site's ETag: its version, which If-Match compares. A read's names the bytes sent as well (a digest):
    its open status and trust flags change with the clock and with reports while the version stands, and a 304
    must not keep a status that has changed."""
    if representation is None:
        return f'"{site_id}-{version}"'
    return f'"{site_id}-{version}-{hashlib.blake2b(representation, digest_size=_DIGEST_BYTES).hexdigest()}"'


_DIGEST_BYTES = 8
# An ETag of `etag`, with or without a read's digest: (site id, version).
_ETAG = re.compile(f'"([0-9]+)-([0-9]+)(?:-[0-9a-f]{{{2 * _DIGEST_BYTES}}})?"')


def _expected_versions(site_id: int, if_match: str | None) -> set[int] | None:
    """The versions If-Match names (RFC 9110 §13.1.1: one ETag or a list), or None for `*`: any current one.

    A read's ETag names a version too: what a write must not overwrite is a newer version, not a newer open
    status."""
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag you read, so a concurrent edit is not overwritten")
    if if_match.strip() == "*":
        return None
    versions = set()
    for tag in (t.strip().removeprefix("W/") for t in if_match.split(",")):
        named = _ETAG.fullmatch(tag)
        if named is None or named[1] != str(site_id):
            raise PreconditionFailed(f"If-Match {if_match} is not an ETag of site {site_id}")
        versions.add(int(named[2]))
    return versions


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


@dataclass(frozen=True, slots=True)
class Write:
    """A write to check: its fields (WGS-84) and, for a site that exists, the region it is in now."""

    fields: dict[str, Any]
    exists: bool = False
    current_region: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    field: str
    message: str
    forbidden: bool  # the key's region (403), else an invalid value (422)

    def reason(self) -> str:
        return f"{self.field}: {self.message}"


async def refusals(
    conn: AsyncConnection,
    principal: Principal,
    vocabularies: Vocabularies,
    writes: Sequence[Write],
    field_prefix: str = "",
) -> list[list[Refusal]]:
    """The checks of every write, for many writes at once (a bulk import's rows, or one request's write): the key's
    region where the site is and where the fields put it, and the vocabularies. `field_prefix` names the fields as
    the request nested them ("site." in a report)."""
    reader = await reader_in(conn)
    kinds, amenities = await vocabularies.site_kinds.codes(reader), await vocabularies.amenities.codes(reader)
    # Where each moved site would be derived into, as the register's trigger will derive it.
    moved = [i for i, w in enumerate(writes) if "lat" in w.fields] if principal.region_prefix is not None else []
    regions = await repository.regions_of(conn, [(writes[i].fields["lon"], writes[i].fields["lat"]) for i in moved])
    new_region = dict(zip(moved, regions, strict=True))
    found = []
    for i, write in enumerate(writes):
        refused = []
        if write.exists and not principal.may_write_in(write.current_region):
            refused.append(outside_region(principal, "site", write.current_region))
        if i in new_region and not principal.may_write_in(new_region[i]):
            refused.append(outside_region(principal, f"{field_prefix}lat", new_region[i]))
        if "kind" in write.fields and (problem := vocabularies.site_kinds.unknown(kinds, [write.fields["kind"]])):
            refused.append(Refusal(f"{field_prefix}kind", problem, False))
        if problem := vocabularies.amenities.unknown(amenities, write.fields.get("amenities")):
            refused.append(Refusal(f"{field_prefix}amenities", problem, False))
        found.append(refused)
    return found


async def check_key_covers(reader: Reader, principal: Principal, region: str) -> None:
    """A list asked for one region (`region=`): 404 for an unknown region, 403 for one outside the key's region."""
    if not await region_repository.exists(reader, region):
        raise NotFound(f"no region with adcode {region}")
    if not principal.may_write_in(region):
        raise Forbidden(f"region {region} is outside this key's region {principal.region_prefix}*")


def outside_region(principal: Principal, field: str, region: str | None) -> Refusal:
    """The refusal of a write that would touch a site in (or move one into) `region`, outside the key's region."""
    return Refusal(field, f"in region {region}, outside this key's region {principal.region_prefix}*", True)


async def check(
    conn: AsyncConnection, principal: Principal, vocabularies: Vocabularies, write: Write, field_prefix: str = ""
) -> None:
    """The checks of one write: Forbidden for the key's region, InvalidParameter naming each bad field."""
    [refused] = await refusals(conn, principal, vocabularies, [write], field_prefix)
    if forbidden := [r for r in refused if r.forbidden]:
        raise Forbidden("; ".join(r.reason() for r in forbidden))
    if refused:
        raise InvalidParameter.of([(r.field, r.message) for r in refused])


async def create(
    conn: AsyncConnection, principal: Principal, vocabularies: Vocabularies, body: SiteCreate
) -> asyncpg.Record:
    fields = fields_of(body)
    await check(conn, principal, vocabularies, Write(fields))
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
    vocabularies: Vocabularies,
    site_id: int,
    current_region: str | None,
    fields: dict[str, Any],
    field_prefix: str = "",
) -> None:
    """Write `fields` (WGS-84) to a site locked with `lock`, after the checks of every write."""
    await check(conn, principal, vocabularies, Write(fields, exists=True, current_region=current_region), field_prefix)
    await act_as(conn, principal.name)
    with database_errors():
        await repository.apply(conn, site_id, fields)


async def _lock_version(conn: AsyncConnection, site_id: int, if_match: str | None) -> Any:
    """Lock the site after checking the client edits the current version."""
    expected = _expected_versions(site_id, if_match)
    current = await lock(conn, site_id)
    if expected is not None and current.version not in expected:
        named = ", ".join(map(str, sorted(expected)))
        raise PreconditionFailed(f"site {site_id} is at version {current.version}, not {named}; read it again")
    return current


async def update(
    conn: AsyncConnection,
    principal: Principal,
    vocabularies: Vocabularies,
    site_id: int,
    body: SiteFields,
    if_match: str | None,
) -> asyncpg.Record:
    current = await _lock_version(conn, site_id, if_match)
    await change(conn, principal, vocabularies, site_id, current.region_adcode, fields_of(body))
    return await get(await reader_in(conn), site_id)


async def delete(
    conn: AsyncConnection, principal: Principal, vocabularies: Vocabularies, site_id: int, if_match: str | None
) -> None:
    """Soft delete: the row stays (and its history), marked deleted; reads and the nearest search skip it."""
    current = await _lock_version(conn, site_id, if_match)
    deleted = {"deleted_at": dt.datetime.now(dt.UTC)}
    await change(conn, principal, vocabularies, site_id, current.region_adcode, deleted)
