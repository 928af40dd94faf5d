"""SQL for the register. Bound parameters only; the WHERE fragments below are fixed strings.

Reads run on the asyncpg read pool (see app.database.read_pool); writes take a SQLAlchemy connection on the primary.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy import update as sa_update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time, geo
from app.database.connections import driver_connection
from app.database.params import Params
from app.database.read_pool import Reader
from app.geo import BBox
from app.sites import fields, worker_view
from app.sites.models import Site

# Columns of the full site representation.
SITE_COLUMNS = ", ".join(f.selected for f in fields.FIELDS)


def _opened_and_not_closed(as_of: str) -> str:
    return f"(s.opened_on IS NULL OR s.opened_on <= {as_of}) AND (s.closed_on IS NULL OR s.closed_on > {as_of})"


def in_register_on(as_of: str) -> str:
    """Sites in the register on a date (the SQL expression that holds it): not deleted by then."""
    return f"(s.deleted_at IS NULL OR {china_time.date_sql('s.deleted_at')} > {as_of})"


def serving_on(as_of: str, is_today: str) -> str:
    """Sites serving on a date, given the SQL expressions that hold it and whether it is today.

    A site serves on a date when it had opened and not closed (or been deleted) by then; on today's date its
    current status must be active too (a suspension carries no dates, so it counts only for today).
    """
    return f"""{in_register_on(as_of)}
      AND {_opened_and_not_closed(as_of)}
      AND (NOT {is_today} OR s.status = 'active')"""


def serving_today(today: str) -> str:
    """serving_on for today's date, in the form the nearest search's index scan plans best: not deleted, active."""
    return f"s.deleted_at IS NULL AND s.status = 'active' AND {_opened_and_not_closed(today)}"


GET_SQL = f"SELECT {SITE_COLUMNS} FROM sites s WHERE s.id = $1 AND s.deleted_at IS NULL"


def region_tree_sql(adcode: str) -> str:
    """The region `adcode` (its placeholder) and every region below it."""
    return f"""
WITH RECURSIVE tree AS (
    SELECT adcode FROM regions WHERE adcode = {adcode}
    UNION ALL
    SELECT r.adcode FROM regions r JOIN tree t ON r.parent_adcode = t.adcode
)
SELECT adcode FROM tree
"""


async def get(reader: Reader, site_id: int) -> asyncpg.Record | None:
    return await reader.fetchrow(GET_SQL, site_id)


# One site with what a worker's view of it reads, and whether it serves on the date in $2.
GET_FOR_WORKER_SQL = f"""
SELECT {SITE_COLUMNS}, {worker_view.BEYOND_RECORD_SQL}, ({serving_today("$2::date")}) AS {worker_view.SERVING}
FROM sites s WHERE s.id = $1 AND s.deleted_at IS NULL
"""


async def get_for_worker(reader: Reader, site_id: int, today: dt.date) -> asyncpg.Record | None:
    return await reader.fetchrow(GET_FOR_WORKER_SQL, site_id, today)


# The kind is written in only when asked for, never as `($1 IS NULL OR s.kind = $1)` (see page()).
ALL_LIVE_SQL = {
    by_kind: f"""
SELECT {SITE_COLUMNS} FROM sites s
WHERE s.deleted_at IS NULL {"AND s.kind = $1" if by_kind else ""}
ORDER BY s.id
"""
    for by_kind in (False, True)
}


async def all_live(reader: Reader, kind: str | None) -> list[asyncpg.Record]:
    """Every site not deleted (of one kind, or all), in id order: the register as an export writes it."""
    return await reader.fetch(ALL_LIVE_SQL[kind is not None], *([kind] if kind is not None else []))


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


# Three characters of a word in a row: what the trigram index on name and address can look up (pg_trgm takes words
# of letters and digits; a shorter text has no trigram and the index would hand back every site).
_HAS_TRIGRAM = re.compile(r"[^\W_]{3}")


async def page(reader: Reader, where: SiteFilter, after_id: int, limit: int) -> list[asyncpg.Record]:
    """One page in id order after `after_id` (0: the first page; keyset pagination: stable while rows are added).

    Each filter is written into the statement only when asked for, never as `($n IS NULL OR …)`: asyncpg prepares
    each statement, and after five runs PostgreSQL may plan it once for any parameters (a generic plan), which
    cannot use an index for a condition that may be switched off, and reads every site.

    Such a plan cannot tell a county from a province, nor a rare name from a common one either, so the statement's
    shape decides what it reads rather than the planner's guess:
    - with a region, each region of its tree gives its next sites in id order from the (region_adcode, id) index,
      and the page is the first of those: it reads at most a page per region, and never a site outside them;
    - with a text the trigram index can look up, the matching sites are found in that index first and then put in
      order (materialised, so that the planner cannot trade the lookup for a walk of the id order): it reads what
      matches;
    - otherwise the statement walks the id order and stops at a full page.
    """
    p = Params()
    filters = ["s.deleted_at IS NULL"]
    if where.bbox is not None:
        b = where.bbox
        box = ", ".join(p.add(v) for v in (b.min_lon, b.min_lat, b.max_lon, b.max_lat))
        filters.append(f"ST_Intersects(s.geom, ST_MakeEnvelope({box}, 4326))")
    if where.kinds:
        filters.append(f"s.kind = ANY({p.add(where.kinds)}::text[])")
    if where.q:
        filters.append(f"(s.name || ' ' || coalesce(s.address, '')) ILIKE {p.add(_like_pattern(where.q))}")
    if where.statuses:
        filters.append(f"s.status = ANY({p.add(where.statuses)}::text[])")
    if where.updated_since is not None:
        filters.append(f"s.updated_at >= {p.add(where.updated_since)}")
    # The cursor's condition only with a cursor: `id > 0` would offer the planner a range of the primary key to walk.
    cursor = p.add(after_id) if after_id > 0 else None

    def after(column: str) -> list[str]:
        return [f"{column} > {cursor}"] if cursor is not None else []

    if where.region is not None:
        tree = region_tree_sql(p.add(where.region))
        page_size = p.add(limit)
        sql = f"""
SELECT s.* FROM ({tree}) AS r CROSS JOIN LATERAL (
    SELECT {SITE_COLUMNS} FROM sites s
    WHERE s.region_adcode = r.adcode AND {" AND ".join(filters + after("s.id"))}
    ORDER BY s.id LIMIT {page_size}
) AS s
ORDER BY s.id LIMIT {page_size}"""
    elif where.q and _HAS_TRIGRAM.search(where.q):
        after_matching = " ".join(f"WHERE {c}" for c in after("m.id"))
        sql = f"""
WITH matching AS MATERIALIZED (SELECT s.id FROM sites s WHERE {" AND ".join(filters)})
SELECT {SITE_COLUMNS}
FROM (SELECT m.id FROM matching m {after_matching} ORDER BY m.id LIMIT {p.add(limit)}) AS m
JOIN sites s ON s.id = m.id
ORDER BY s.id"""
    else:
        sql = f"""
SELECT {SITE_COLUMNS} FROM sites s WHERE {" AND ".join(filters + after("s.id"))} ORDER BY s.id LIMIT {p.add(limit)}"""
    return await reader.fetch(sql, *p.values)


# --- writes (SQLAlchemy Core over the primary) ---------------------------------------------------------------

# The upsert's staging table: rows arrive by COPY (binary, one round trip), then one set-based INSERT … SELECT.
# A multi-row VALUES statement would spend most of a 100,000-row import compiling its 2.2 million bind parameters.
# A row holds the fields a partner writes and the natural key, lat/lon in WGS-84, and the location's GCJ-02 twin.
STAGE_COLUMNS = {f.name: f.sql_type for f in fields.WRITTEN} | {"gcj02_lon": "float8", "gcj02_lat": "float8"}
# Fields a partner or the seed supplies that are columns of their own (lat/lon are the location); everything else
# (id, region, timestamps, version) is the register's own.
_COPIED = [f.name for f in fields.PARTNER if f.stored]
_CHANGED = " OR ".join(
    ["ST_AsBinary(s.location) IS DISTINCT FROM ST_AsBinary(EXCLUDED.location)"]
    + [f"s.{f} IS DISTINCT FROM EXCLUDED.{f}" for f in _COPIED]
    + ["s.deleted_at IS NOT NULL"]
)


def in_region(column: str, prefix: str) -> str:
    """SQL: the region `column` lies within the key region `prefix` (Principal.may_write_in, for a row the statement
    itself reads); a site in no region is in none."""
    return f"coalesce(starts_with({column}, {prefix}), false)"


def upsert_sql(region_prefix: str | None) -> str:
    """The upsert from the staging table; with `region_prefix` (the placeholder of a key's region) it updates only
    sites within that region."""
    region = f" AND {in_region('s.region_adcode', region_prefix)}" if region_prefix is not None else ""
    return f"""
INSERT INTO sites AS s ({", ".join(_COPIED)}, location, gcj02_lon, gcj02_lat, source, external_id)
SELECT {", ".join(_COPIED)}, {geo.point_sql("lon", "lat", geography=True)}, gcj02_lon, gcj02_lat,
       source, external_id
FROM upsert_stage
-- In key order: two imports of the same rows take their row locks in the same order, so neither waits on the other.
ORDER BY source, external_id
ON CONFLICT (source, external_id) DO UPDATE SET
    {", ".join(f"{f} = EXCLUDED.{f}" for f in (*_COPIED, "location", "gcj02_lon", "gcj02_lat"))},
    version = s.version + 1, updated_at = now(), deleted_at = NULL
WHERE ({_CHANGED}){region}
RETURNING s.id, s.source, s.external_id, (xmax = 0) AS created
"""


# A staged row whose site lies outside the key's region now: the upsert before it left such rows alone, and locked
# them, so what this reads is what the upsert refused (a site another key created after the import's checks).
OUTSIDE_REGION_SQL = f"""
SELECT st.source, st.external_id, s.region_adcode
FROM upsert_stage st JOIN sites s ON s.source = st.source AND s.external_id = st.external_id
WHERE NOT {in_region("s.region_adcode", "$1")}
"""


@dataclass(frozen=True, slots=True)
class Upserted:
    """What an upsert did: each written row's site id and "created" or "updated", and the rows it refused because
    their site lies outside the key's region (→ that region). Rows in neither were unchanged."""

    written: dict[tuple[str, str], tuple[int, str]]
    outside_region: dict[tuple[str, str], str | None]


async def upsert_by_external_id(
    conn: AsyncConnection, rows: list[tuple[Any, ...]], region_prefix: str | None = None
) -> Upserted:
    """Insert or update sites keyed by (source, external_id); rows whose fields are unchanged are left alone.

    Each row is a staged_row (STAGE_COLUMNS in order, lon/lat in WGS-84). With `region_prefix` (the key's region),
    a row whose site lies outside it is not updated: the rule holds in the writing statement itself, so a site
    another key creates between the caller's checks and this write is refused too, not taken over.
    """
    if not rows:
        return Upserted({}, {})
    raw = await driver_connection(conn)
    await raw.execute("DROP TABLE IF EXISTS pg_temp.upsert_stage")
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS.items())
    await raw.execute(f"CREATE TEMP TABLE upsert_stage ({columns}) ON COMMIT DROP")
    await raw.copy_records_to_table("upsert_stage", records=rows, columns=list(STAGE_COLUMNS))
    if region_prefix is None:
        found = await raw.fetch(upsert_sql(None))
    else:
        found = await raw.fetch(upsert_sql("$1"), region_prefix)
    written = {(r["source"], r["external_id"]): (r["id"], "created" if r["created"] else "updated") for r in found}
    outside: dict[tuple[str, str], str | None] = {}
    if region_prefix is not None and len(written) < len(rows):
        # A new statement, so a new snapshot: it sees the rows another transaction committed during the upsert.
        outside = {
            (r["source"], r["external_id"]): r["region_adcode"]
            for r in await raw.fetch(OUTSIDE_REGION_SQL, region_prefix)
        }
    return Upserted(written, outside)


async def delete_missing(conn: AsyncConnection, source: str, external_ids: list[str]) -> int:
    """Soft-delete the live sites of `source` whose external id is not among `external_ids` (a full upload's
    sites that it no longer holds), each a deletion in its history and the change feed; returns how many."""
    result = await conn.execute(
        text(
            "UPDATE sites SET deleted_at = now(), version = version + 1, updated_at = now() "
            "WHERE source = :source AND deleted_at IS NULL AND NOT (external_id = ANY(CAST(:kept AS text[])))"
        ),
        {"source": source, "kept": external_ids},
    )
    return int(result.rowcount)


def summarize(rows: list[tuple[Any, ...]], upserted: Upserted) -> dict[str, int]:
    outcomes = upserted.written
    created = sum(1 for _, outcome in outcomes.values() if outcome == "created")
    return {"created": created, "updated": len(outcomes) - created, "unchanged": len(rows) - len(outcomes)}


def staged_row(fields: dict[str, Any]) -> tuple[Any, ...]:
    """A full record (lat/lon in WGS-84) as the upsert's row: its STAGE_COLUMNS in order, the GCJ-02 twin too."""
    values = fields | _gcj02(fields["lon"], fields["lat"])
    return tuple(values.get(name) for name in STAGE_COLUMNS)


def _gcj02(lon: float, lat: float) -> dict[str, float]:
    """The location's GCJ-02 twin, written with it (see Site.gcj02_lon)."""
    gcj_lon, gcj_lat = geo.from_wgs84(lon, lat, geo.CoordSys.gcj02)
    return {"gcj02_lon": gcj_lon, "gcj02_lat": gcj_lat}


def _location(values: dict[str, Any]) -> dict[str, Any]:
    """lat/lon (WGS-84) → the geography column's EWKT and its GCJ-02 twin."""
    values = dict(values)
    if "lat" in values:
        lat, lon = values.pop("lat"), values.pop("lon")
        values["location"] = f"SRID=4326;POINT({lon} {lat})"
        values |= _gcj02(lon, lat)
    return values


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> int:
    table = Site.__table__
    result = await conn.execute(pg_insert(table).values(_location(values)).returning(table.c.id))
    return int(result.scalar_one())


async def lock(conn: AsyncConnection, site_id: int) -> Any:
    """The site's current version and region, locked until the transaction ends (None if absent or deleted)."""
    table = Site.__table__
    query = (
        select(table.c.version, table.c.region_adcode)
        .where(table.c.id == site_id, table.c.deleted_at.is_(None))
        .with_for_update()
    )
    return (await conn.execute(query)).one_or_none()


async def apply(conn: AsyncConnection, site_id: int, values: dict[str, Any]) -> int:
    """Write the changes and bump the version; returns the new version."""
    table = Site.__table__
    result = await conn.execute(
        sa_update(table)
        .where(table.c.id == site_id)
        .values(**_location(values), version=table.c.version + 1, updated_at=func.now())
        .returning(table.c.version)
    )
    return int(result.scalar_one())


async def regions_of(conn: AsyncConnection, points: list[tuple[float, float]]) -> list[str | None]:
    """The region each (lon, lat) would be derived into, in order."""
    if not points:
        return []
    result = await conn.execute(
        text(
            f"SELECT region_of({geo.point_sql('x', 'y')}) "
            "FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, n) ORDER BY n"
        ),
        {"xs": [p[0] for p in points], "ys": [p[1] for p in points]},
    )
    return [row[0] for row in result.all()]


async def county_names(conn: AsyncConnection) -> dict[str, str]:
    """County name → adcode, for reading the county an address names."""
    result = await conn.execute(text("SELECT adcode, name FROM regions WHERE level = 'county'"))
    return {name: adcode for adcode, name in result.all()}


@dataclass(frozen=True, slots=True)
class Existing:
    """A site an upsert row matches by (source, external_id): deleted ones too, which the upsert brings back."""

    index: int  # into the keys asked about
    lon: float
    lat: float
    region_adcode: str | None
    deleted: bool


async def lock_by_external_id(conn: AsyncConnection, keys: list[tuple[str, str]]) -> list[Existing]:
    """The sites among (source, external_id) pairs, locked until the transaction ends (as `lock` locks one), so
    that what is checked is what the upsert then changes."""
    result = await conn.execute(
        text(
            "SELECT k.n - 1, ST_X(s.geom), ST_Y(s.geom), s.region_adcode, s.deleted_at IS NOT NULL "
            "FROM unnest(CAST(:sources AS text[]), CAST(:ids AS text[])) "
            "WITH ORDINALITY AS k(source, external_id, n) "
            "JOIN sites s ON s.source = k.source AND s.external_id = k.external_id "
            "ORDER BY s.id FOR UPDATE OF s"
        ),
        {"sources": [k[0] for k in keys], "ids": [k[1] for k in keys]},
    )
    return [Existing(int(n), float(lon), float(lat), region, deleted) for n, lon, lat, region, deleted in result.all()]
