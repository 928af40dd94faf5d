"""SQL for regions. Areas are geodesic (boundary cast to geography), never square degrees."""

from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from sqlalchemy import Table, column, func, literal, literal_column, null, select, tuple_, update, values
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import Insert, aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import ColumnElement

from app.database.connections import reader_in
from app.database.params import Params
from app.database.read_pool import Reader
from app.regions.models import Region

_FIELDS = """
    r.adcode, r.name, r.level, r.parent_adcode, r.is_urban_district, r.population, r.population_source,
    r.area_km2
"""


GET_SQL = f"""
SELECT {_FIELDS},
       ST_AsGeoJSON(r.boundary, 6)::jsonb AS boundary,
       CASE WHEN r.seat IS NULL THEN NULL ELSE ST_AsGeoJSON(r.seat, 6)::jsonb END AS seat
FROM regions r WHERE r.adcode = $1
"""


def level_and_parent(p: Params, level: str | None, parent: str | None) -> list[str]:
    """The conditions on regions `r` of a level, children of a parent, or both; each written in only when asked for
    (never as `$n IS NULL OR …`, which a generic plan cannot serve from an index)."""
    clauses = []
    if level is not None:
        clauses.append(f"r.level = {p.add(level)}")
    if parent is not None:
        clauses.append(f"r.parent_adcode = {p.add(parent)}")
    return clauses


async def list_regions(reader: Reader, level: str | None, parent: str | None) -> list[asyncpg.Record]:
    """Regions of a level, children of a parent, or both."""
    p = Params()
    clauses = level_and_parent(p, level, parent)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return await reader.fetch(f"SELECT {_FIELDS} FROM regions r {where} ORDER BY r.adcode", *p.values)


async def exists(reader: Reader, adcode: str) -> bool:
    return bool(await reader.fetchval("SELECT EXISTS (SELECT FROM regions WHERE adcode = $1)", adcode))


async def get(reader: Reader, adcode: str) -> asyncpg.Record | None:
    return await reader.fetchrow(GET_SQL, adcode)


# The end of the chain of replacements from a retired code: the code that replaced it, or the one that replaced
# that (a code retired twice), up to the first that names a region (or the last there is).
SUCCESSOR_SQL = """
WITH RECURSIVE chain(adcode, depth) AS (
    SELECT replaced_by, 1 FROM region_replacements WHERE adcode = $1
    UNION ALL
    SELECT x.replaced_by, c.depth + 1 FROM chain c JOIN region_replacements x ON x.adcode = c.adcode
    WHERE c.depth < 32 AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.adcode = c.adcode)
)
SELECT adcode FROM chain ORDER BY depth DESC LIMIT 1
"""


async def successor(reader: Reader, adcode: str) -> str | None:
    """The region that took the place of a retired code (None: the code was never replaced)."""
    found = await reader.fetchval(SUCCESSOR_SQL, adcode)
    return str(found) if found is not None else None


@dataclass(frozen=True)
class Upserted:
    """What an upsert did to the regions it was given."""

    added: int = 0
    changed: int = 0
    unchanged: int = 0
    adcodes: frozenset[str] = frozenset()  # the regions added or changed

    @property
    def written(self) -> int:
        return self.added + self.changed

    def __add__(self, other: "Upserted") -> "Upserted":
        return Upserted(
            self.added + other.added,
            self.changed + other.changed,
            self.unchanged + other.unchanged,
            self.adcodes | other.adcodes,
        )


_TABLE = cast(Table, Region.__table__)
_GEOMETRIES = ("boundary", "seat")


def _on_conflict(stmt: Insert, fields: list[str], overwrite: bool) -> ReturningInsert[tuple[str, bool]]:
    """Update a region only where a field differs (geometries compared as WKB), keeping an operator's
    urban-district override; `overwrite=False` leaves an existing region as it is. Returns whether each written row
    was added."""
    returned: tuple[ColumnElement[Any], ...] = (_TABLE.c.adcode, literal_column("xmax = 0").label("added"))
    if not overwrite:
        return stmt.on_conflict_do_nothing(index_elements=[_TABLE.c.adcode]).returning(*returned)
    incoming = {
        f: func.coalesce(_TABLE.c.urban_district_override, stmt.excluded[f])
        if f == "is_urban_district"
        else stmt.excluded[f]
        for f in fields
    }

    def comparable(value: Any, field: str) -> Any:
        return func.ST_AsBinary(value) if field in _GEOMETRIES else value

    return stmt.on_conflict_do_update(
        index_elements=[_TABLE.c.adcode],
        set_=incoming,
        where=tuple_(*(comparable(_TABLE.c[f], f) for f in fields)).is_distinct_from(
            tuple_(*(comparable(incoming[f], f) for f in fields))
        ),
    ).returning(*returned)


async def _counted(conn: AsyncConnection, stmt: ReturningInsert[tuple[str, bool]], given: int) -> Upserted:
    written = (await conn.execute(stmt)).all()
    added = sum(1 for row in written if row.added)
    return Upserted(added, len(written) - added, given - len(written), frozenset(row.adcode for row in written))


async def upsert(conn: AsyncConnection, rows: list[dict[str, Any]], overwrite: bool = True) -> Upserted:
    """Insert or update regions by adcode (boundary and seat as EWKT); `overwrite=False` only adds the missing."""
    if not rows:
        return Upserted()
    fields = [c for c in rows[0] if c != "adcode"]
    return await _counted(conn, _on_conflict(pg_insert(_TABLE).values(rows), fields, overwrite), len(rows))


async def upsert_from_children(conn: AsyncConnection, parents: list[dict[str, Any]]) -> Upserted:
    """Insert or update each parent (adcode, name, level, parent_adcode, population, population_source) with the
    union of its children's boundaries as they stand in the database (they tile it), ordered by adcode so that the
    same children make the same boundary."""
    if not parents:
        return Upserted()
    given = ("adcode", "name", "level", "parent_adcode", "population", "population_source")
    parent = values(*(column(f, _TABLE.c[f].type) for f in given), name="parent").data(
        [tuple(p[f] for f in given) for p in parents]
    )
    child = _TABLE.alias("child")
    made = (
        select(
            *(sql_cast(c, _TABLE.c[c.name].type) for c in parent.c),
            literal(False).label("is_urban_district"),
            func.ST_Multi(func.ST_Union(aggregate_order_by(child.c.boundary, child.c.adcode))).label("boundary"),
            null().label("seat"),
        )
        .join_from(parent, child, child.c.parent_adcode == parent.c.adcode)
        .group_by(*parent.c)
    )
    fields = [*given[1:], "is_urban_district", "boundary", "seat"]
    stmt = pg_insert(_TABLE).from_select(["adcode", *fields], made)
    return await _counted(conn, _on_conflict(stmt, fields, overwrite=True), len(parents))


@dataclass(frozen=True)
class CountySums:
    """A region's counties in the database: how many, how many have no population figure, the others' sum."""

    counties: int = 0
    without_population: int = 0
    population: int | None = None


async def county_population(conn: AsyncConnection, adcodes: list[str]) -> dict[str, CountySums]:
    """CountySums of each region (loaded or not yet), walking the tree of every region's parent in Python: a
    recursive query over thousands of regions a transaction has just written was planned without statistics and
    ran for minutes."""
    raw = await reader_in(conn)
    children: dict[str | None, list[asyncpg.Record]] = {}
    for row in await raw.fetch("SELECT adcode, parent_adcode, level, population FROM regions"):
        children.setdefault(row["parent_adcode"], []).append(row)

    def counties_under(adcode: str) -> list[asyncpg.Record]:
        found = []
        for child in children.get(adcode, []):
            found += [child] if child["level"] == "county" else counties_under(child["adcode"])
        return found

    sums = {}
    for adcode in adcodes:
        counties = counties_under(adcode)
        known = [c["population"] for c in counties if c["population"] is not None]
        sums[adcode] = CountySums(len(counties), len(counties) - len(known), sum(known) if known else None)
    return sums


async def set_urban_district(conn: AsyncConnection, adcode: str, urban: bool | None, by_data: bool) -> bool:
    """An operator's override of whether a region is an urban district (None: back to `by_data`, the data's);
    False when there is no such region."""
    effective = by_data if urban is None else urban
    result = await conn.execute(
        update(_TABLE)
        .where(_TABLE.c.adcode == adcode)
        .values(urban_district_override=urban, is_urban_district=effective)
    )
    return result.rowcount == 1
