"""Rules of the register's read side: the geodesically exact nearest-site search."""

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import asyncpg
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from app import geo
from app.db import Reader, act_as, reader_in
from app.errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    YizhanError,
)
from app.partners.keys import Principal
from app.sites import repository
from app.sites.schemas import SiteCreate, SiteFields
from app.vocabularies.service import amenities as amenity_vocabulary
from app.vocabularies.service import site_kinds


def _overfetch(limit: int) -> int:
    # Sphere and spheroid distances differ by under 0.6 %, so only sites in that thin band around the k-th can
    # swap places, and a couple of spares nearly always cover it. Measured on 3,000 random probes over the 200k
    # national register: limit 10 (fetch 13) needs the fallback query 5 times, limit 50 (fetch 58) never.
    return limit + 2 + limit // 8


Keep = Callable[[asyncpg.Record], bool]
# Past this many candidates a filtered search stops growing the KNN and takes everything within the bound instead.
MAX_FETCH = 4096


def rank(row: asyncpg.Record) -> tuple[float, int]:
    """Distance × trust factor (app.sites.trust, computed with the distance); the id breaks ties."""
    return row["rank_m"], row["id"]


async def nearest(
    reader: Reader,
    lon: float,
    lat: float,
    kinds: list[str] | None,
    amenities: list[str],
    radius_m: float,
    limit: int,
    *,
    keep: Keep | None = None,
    hours_bits: asyncpg.BitString | None = None,
) -> Sequence[asyncpg.Record]:
    """The `limit` best-ranked active sites within `radius_m` of (lon, lat): by geodesic distance on the spheroid,
    trust-weighted (a site reported locked ranks after equally near trustworthy ones; distances are never changed).

    `keep` drops candidates (open now …); `hours_bits` lets the database skip, by opening-hours id, sites that
    `keep` would drop (app.sites.open_hours). The answer is exact: a rank is never below the distance, so the sphere
    bound below still proves that no site beyond the candidates could rank higher.
    """
    await site_kinds.check(reader, "kind", kinds)
    await amenity_vocabulary.check(reader, "amenity", amenities)

    def best(rows: Iterable[asyncpg.Record]) -> list[asyncpg.Record]:
        kept = (r for r in rows if r["distance_m"] <= radius_m and (keep is None or keep(r)))
        return sorted(kept, key=rank)[:limit]

    # With `hours_bits` the database drops nearly every candidate `keep` would, so a filtered search starts no wider.
    fetch = _overfetch(limit)
    while True:
        rows = await repository.nearest_by_knn(reader, lon, lat, kinds, amenities, radius_m, fetch, hours_bits)
        chosen = best(rows)
        if len(rows) < fetch:
            return chosen  # the radius's box held fewer sites than fetched: every candidate was considered
        # A site not fetched is at least as far by sphere as the farthest candidate (the last, in KNN order), so by
        # spheroid (and by rank) at least that × SPHERE_TO_SPHEROID_MIN. If that exceeds the k-th rank (or the
        # radius), the answer is exact.
        bound = rank(chosen[-1])[0] if len(chosen) == limit else radius_m
        if rows[-1]["sphere_m"] * geo.SPHERE_TO_SPHEROID_MIN > bound:
            return chosen
        if fetch >= MAX_FETCH:
            break
        fetch *= 4
    # 1 cm of slack: ST_DWithin at exactly the k-th distance may drop the k-th site itself by rounding.
    radius = min(bound, radius_m) + 0.01
    return best(await repository.within(reader, lon, lat, kinds or None, amenities, radius, hours_bits))


async def get(reader: Reader, site_id: int) -> asyncpg.Record:
    row = await repository.get(reader, site_id)
    if row is None:
        raise NotFound(f"no site with id {site_id}")
    return row


async def check_kinds(reader: Reader, kinds: list[str] | None) -> None:
    await site_kinds.check(reader, "kind", kinds)


# --- writes ---------------------------------------------------------------------------------------------------


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


async def _check_vocabularies(writer: AsyncConnection, fields: dict[str, Any]) -> None:
    reader = await reader_in(writer)
    if "kind" in fields:
        await site_kinds.check(reader, "kind", [fields["kind"]])
    if fields.get("amenities"):
        await amenity_vocabulary.check(reader, "amenities", fields["amenities"])


def _fields(body: SiteFields) -> dict[str, Any]:
    """The fields the client sent, with its coordinates in WGS-84."""
    fields = body.model_dump(exclude_unset=True, exclude={"coordsys"})
    if "lat" in fields:
        fields["lon"], fields["lat"] = geo.to_wgs84(fields["lon"], fields["lat"], body.coordsys)
    return fields


async def _written(writer: AsyncConnection, principal: Principal, site_id: int) -> asyncpg.Record:
    """The site as written, after checking the key may write where it now is."""
    region = await repository.region_of_site(writer, site_id)
    if not principal.may_write_in(region):
        raise Forbidden(f"this key writes only in regions {principal.region_prefix}*, the site is in {region}")
    row = await repository.get(await reader_in(writer), site_id)
    assert row is not None
    return row


async def create(writer: AsyncConnection, principal: Principal, body: SiteCreate) -> asyncpg.Record:
    fields = _fields(body)
    await _check_vocabularies(writer, fields)
    await act_as(writer, principal.name)
    try:
        site_id = await repository.insert(writer, fields)
    except IntegrityError as exc:
        raise _integrity_problem(exc) from None
    return await _written(writer, principal, site_id)


async def _lock_for_edit(writer: AsyncConnection, principal: Principal, site_id: int, if_match: str | None) -> None:
    """Lock the site for this transaction after checking the client edits the current version, in its region."""
    expected = _expected_version(site_id, if_match)
    current = await repository.lock(writer, site_id)
    if current is None:
        raise NotFound(f"no site with id {site_id}")
    if current.version != expected:
        raise PreconditionFailed(f"site {site_id} is at version {current.version}, not {expected}; read it again")
    if not principal.may_write_in(current.region_adcode):
        raise Forbidden(f"this key writes only in regions {principal.region_prefix}*")


async def update(
    writer: AsyncConnection, principal: Principal, site_id: int, body: SiteFields, if_match: str | None
) -> asyncpg.Record:
    await _lock_for_edit(writer, principal, site_id, if_match)
    fields = _fields(body)
    await _check_vocabularies(writer, fields)
    await act_as(writer, principal.name)
    try:
        await repository.apply(writer, site_id, fields)
    except IntegrityError as exc:
        raise _integrity_problem(exc) from None
    return await _written(writer, principal, site_id)


async def delete(writer: AsyncConnection, principal: Principal, site_id: int, if_match: str | None) -> None:
    """Soft delete: the row stays (and its history), marked deleted; reads and the nearest search skip it."""
    await _lock_for_edit(writer, principal, site_id, if_match)
    await act_as(writer, principal.name)
    await repository.apply(writer, site_id, {"deleted_at": dt.datetime.now(dt.UTC)})


def _integrity_problem(exc: IntegrityError) -> YizhanError:
    constraint = getattr(getattr(exc.orig, "__cause__", None), "constraint_name", None) or str(exc.orig)
    if "uq_sites_source_external_id" in constraint:
        return Conflict("a site with this source and external_id exists; PATCH it or use POST /v1/sites/bulk")
    return InvalidParameter("body", f"the register refused the values ({constraint})")
