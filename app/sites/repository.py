"""SQL for the register. Bound parameters only; the WHERE fragments below are fixed strings.

Reads run on the asyncpg read pool (see app.db); writes take a SQLAlchemy connection on the primary.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from sqlalchemy import Boolean, Table, func, literal_column, or_, select, tuple_
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import Reader
from app.geo import POINT_SQL, BBox
from app.sites.models import Site

# Columns of the full site representation.
SITE_COLUMNS = """
    s.id, s.kind, s.name, s.address, ST_Y(s.geom) AS lat, ST_X(s.geom) AS lon, s.region_adcode,
    s.operator, s.phone, s.keeper, s.opening_hours, s.access, s.access_note, s.amenities, s.services,
    s.worker_groups, s.status, s.opened_on, s.closed_on, s.rating, s.photos, s.source, s.external_id,
    s.last_verified_at, s.verified_by, s.created_at, s.updated_at, s.version
"""

_POINT = POINT_SQL.format(lon=1, lat=2)


# The `limit` nearest by spheroid among the `fetch` nearest by sphere (GiST KNN order), each row carrying how many
# candidates there were and the farthest one's sphere distance, which the service needs to prove the answer exact.
#
# The plan matters more than anything else here (measured at 200k sites: 0.2 ms with the KNN index scan, 12-22 ms
# with a bitmap scan + sort), and two innocent-looking forms push the planner to the bitmap plan:
# - ST_DWithin in the WHERE: its index box (&&) is estimated well, but the planner then multiplies in a default
#   selectivity for the exact test (2,831 real rows estimated as 12), and once the LIMIT nears that the sort plan
#   looks cheaper. So the scan is bounded by the index box alone, `location && _ST_Expand(point, radius)` (what
#   ST_DWithin itself expands to; PostGIS ≥ 3.0), and the exact radius is checked on the few rows returned.
# - filters that are always present (`$x IS NULL OR kind = ANY($x)`, `amenities @> '{}'`) shrink the estimate the
#   same way, so kind and amenity filters are only written in when asked for.
# Parameters: $1 lon, $2 lat, $3 radius m, $4 how many candidates, $5 limit, then kinds and/or amenities.
def _nearest_sql(by_kind: bool, by_amenity: bool) -> str:
    filters = "".join(
        [
            "\n          AND s.kind = ANY($6::text[])" if by_kind else "",
            f"\n          AND s.amenities @> ${6 + by_kind}::text[]" if by_amenity else "",
        ]
    )
    return f"""
SELECT * FROM (
    SELECT knn.*, count(*) OVER () AS candidates, max(knn.sphere_m) OVER () AS farthest_sphere_m
    FROM (
        SELECT s.id, s.kind, s.name, s.address, ST_Y(s.geom) AS lat, ST_X(s.geom) AS lon, s.amenities,
               ST_Distance(s.location, {_POINT}) AS distance_m,
               s.location <-> {_POINT} AS sphere_m
        FROM sites s
        WHERE s.deleted_at IS NULL AND s.status = 'active'{filters}
          AND s.location && _ST_Expand({_POINT}, $3)
        ORDER BY s.location <-> {_POINT}
        LIMIT $4
    ) AS knn
) AS candidates
ORDER BY distance_m, id
LIMIT $5
"""


NEAREST_SQL = {(k, a): _nearest_sql(k, a) for k in (False, True) for a in (False, True)}

# Every candidate within a radius (no KNN limit): the fallback when the over-fetch cannot prove its top k.
WITHIN_SQL = f"""
SELECT s.id, s.kind, s.name, s.address, ST_Y(s.geom) AS lat, ST_X(s.geom) AS lon, s.amenities,
       ST_Distance(s.location, {_POINT}) AS distance_m
FROM sites s
WHERE s.deleted_at IS NULL AND s.status = 'active'
  AND ($3::text[] IS NULL OR s.kind = ANY($3::text[]))
  AND s.amenities @> $4::text[]
  AND ST_DWithin(s.location, {_POINT}, $5)
"""

GET_SQL = f"SELECT {SITE_COLUMNS} FROM sites s WHERE s.id = $1 AND s.deleted_at IS NULL"

REGION_TREE_SQL = """
WITH RECURSIVE tree AS (
    SELECT adcode FROM regions WHERE adcode = ${n}
    UNION ALL
    SELECT r.adcode FROM regions r JOIN tree t ON r.parent_adcode = t.adcode
)
SELECT adcode FROM tree
"""


async def nearest_by_knn(
    reader: Reader,
    lon: float,
    lat: float,
    kinds: list[str] | None,
    amenities: list[str],
    radius_m: float,
    fetch: int,
    limit: int,
) -> list[asyncpg.Record]:
    filters = [f for f in (kinds, amenities) if f]
    return await reader.fetch(NEAREST_SQL[bool(kinds), bool(amenities)], lon, lat, radius_m, fetch, limit, *filters)


async def within(
    reader: Reader, lon: float, lat: float, kinds: list[str] | None, amenities: list[str], radius_m: float
) -> list[asyncpg.Record]:
    return await reader.fetch(WITHIN_SQL, lon, lat, kinds, amenities, radius_m)


async def get(reader: Reader, site_id: int) -> asyncpg.Record | None:
    return await reader.fetchrow(GET_SQL, site_id)


@dataclass(frozen=True, slots=True)
class SiteFilter:
    bbox: BBox | None = None
    kinds: list[str] | None = None
    region: str | None = None
    q: str | None = None
    statuses: list[str] | None = None
    updated_since: dt.datetime | None = None


def _like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def page(reader: Reader, where: SiteFilter, after_id: int, limit: int) -> list[asyncpg.Record]:
    """One page in id order after `after_id` (keyset pagination: stable while rows are added)."""
    clauses = ["s.deleted_at IS NULL", "s.id > $1"]
    args: list[object] = [after_id]

    def bind(value: object) -> int:
        args.append(value)
        return len(args)

    if where.bbox is not None:
        b = where.bbox
        n = [bind(v) for v in (b.min_lon, b.min_lat, b.max_lon, b.max_lat)]
        clauses.append(f"ST_Intersects(s.geom, ST_MakeEnvelope(${n[0]}, ${n[1]}, ${n[2]}, ${n[3]}, 4326))")
    if where.kinds:
        clauses.append(f"s.kind = ANY(${bind(where.kinds)}::text[])")
    if where.region is not None:
        clauses.append(f"s.region_adcode IN ({REGION_TREE_SQL.format(n=bind(where.region))})")
    if where.q:
        clauses.append(f"(s.name || ' ' || coalesce(s.address, '')) ILIKE ${bind(_like_pattern(where.q))}")
    if where.statuses:
        clauses.append(f"s.status = ANY(${bind(where.statuses)}::text[])")
    if where.updated_since is not None:
        clauses.append(f"s.updated_at >= ${bind(where.updated_since)}")
    sql = f"SELECT {SITE_COLUMNS} FROM sites s WHERE {' AND '.join(clauses)} ORDER BY s.id LIMIT ${bind(limit)}"
    return await reader.fetch(sql, *args)


# --- writes (SQLAlchemy Core over the primary) ---------------------------------------------------------------

# Fields a partner or the seed supplies; everything else (id, region, timestamps, version) is the register's own.
UPSERT_FIELDS = (
    "kind",
    "name",
    "address",
    "location",
    "operator",
    "phone",
    "keeper",
    "opening_hours",
    "access",
    "access_note",
    "amenities",
    "services",
    "worker_groups",
    "status",
    "opened_on",
    "closed_on",
    "rating",
    "photos",
    "last_verified_at",
    "verified_by",
)


# Rows per INSERT: 22 parameters a row must stay under PostgreSQL's 32,767 per statement.
UPSERT_BATCH = 1000


async def upsert_by_external_id(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> dict[tuple[str, str], tuple[int, str]]:
    """Insert or update sites keyed by (source, external_id); rows whose fields are unchanged are left alone.

    Every row carries every field of UPSERT_FIELDS plus source and external_id (`location` as EWKT). Returns, for
    each row written, its site id and "created" or "updated"; rows missing from the result were unchanged.
    """
    table = cast(Table, Site.__table__)
    outcomes: dict[tuple[str, str], tuple[int, str]] = {}
    for start in range(0, len(rows), UPSERT_BATCH):
        stmt = pg_insert(table).values(rows[start : start + UPSERT_BATCH])
        excluded = stmt.excluded
        # Compare the location by its exact binary form; the rest column by column, NULL-safely.
        current = [func.ST_AsBinary(table.c.location)] + [table.c[f] for f in UPSERT_FIELDS if f != "location"]
        incoming = [func.ST_AsBinary(excluded.location)] + [excluded[f] for f in UPSERT_FIELDS if f != "location"]
        upsert = stmt.on_conflict_do_update(
            index_elements=[table.c.source, table.c.external_id],
            set_={
                **{f: excluded[f] for f in UPSERT_FIELDS},
                "version": table.c.version + 1,
                "updated_at": func.now(),
                "deleted_at": None,
            },
            where=or_(tuple_(*current).is_distinct_from(tuple_(*incoming)), table.c.deleted_at.is_not(None)),
        )
        # xmax = 0 on the returned row version means it was inserted, not updated.
        returning = upsert.returning(
            table.c.id, table.c.source, table.c.external_id, literal_column("(xmax = 0)", Boolean).label("created")
        )
        for row in await conn.execute(returning):
            outcomes[(row.source, row.external_id)] = (row.id, "created" if row.created else "updated")
    return outcomes


def summarize(rows: list[dict[str, Any]], outcomes: dict[tuple[str, str], tuple[int, str]]) -> dict[str, int]:
    created = sum(1 for _, outcome in outcomes.values() if outcome == "created")
    return {"created": created, "updated": len(outcomes) - created, "unchanged": len(rows) - len(outcomes)}


def site_values(fields: dict[str, Any]) -> dict[str, Any]:
    """A full record (lat/lon in WGS-84) as the upsert's row: every UPSERT_FIELDS column, plus the natural key."""
    values = _location(fields)
    return {name: values.get(name) for name in (*UPSERT_FIELDS, "source", "external_id")}


def _location(values: dict[str, Any]) -> dict[str, Any]:
    """lat/lon (WGS-84) → the geography column's EWKT."""
    values = dict(values)
    if "lat" in values:
        lat, lon = values.pop("lat"), values.pop("lon")
        values["location"] = f"SRID=4326;POINT({lon} {lat})"
    return values


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> int:
    table = cast(Table, Site.__table__)
    result = await conn.execute(pg_insert(table).values(_location(values)).returning(table.c.id))
    return int(result.scalar_one())


async def lock(conn: AsyncConnection, site_id: int) -> Any:
    """The site's current version and region, locked until the transaction ends (None if absent or deleted)."""
    table = cast(Table, Site.__table__)
    query = (
        select(table.c.version, table.c.region_adcode)
        .where(table.c.id == site_id, table.c.deleted_at.is_(None))
        .with_for_update()
    )
    return (await conn.execute(query)).one_or_none()


async def region_of_site(conn: AsyncConnection, site_id: int) -> str | None:
    table = cast(Table, Site.__table__)
    value = (await conn.execute(select(table.c.region_adcode).where(table.c.id == site_id))).scalar_one()
    return str(value) if value is not None else None


async def apply(conn: AsyncConnection, site_id: int, values: dict[str, Any]) -> int:
    """Write the changes and bump the version; returns the new version."""
    table = cast(Table, Site.__table__)
    result = await conn.execute(
        sa_update(table)
        .where(table.c.id == site_id)
        .values(**_location(values), version=table.c.version + 1, updated_at=func.now())
        .returning(table.c.version)
    )
    return int(result.scalar_one())
