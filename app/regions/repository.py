"""SQL for regions. Areas are geodesic (boundary cast to geography), never square degrees."""

from typing import Any, cast

import asyncpg
from sqlalchemy import Table, func, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.read_pool import Reader
from app.regions.models import Region

_FIELDS = """
    r.adcode, r.name, r.level, r.parent_adcode, r.is_urban_district, r.population, r.population_source,
    ST_Area(r.boundary::geography) / 1e6 AS area_km2
"""


GET_SQL = f"""
SELECT {_FIELDS},
       ST_AsGeoJSON(r.boundary, 6)::jsonb AS boundary,
       CASE WHEN r.seat IS NULL THEN NULL ELSE ST_AsGeoJSON(r.seat, 6)::jsonb END AS seat
FROM regions r WHERE r.adcode = $1
"""


async def list_regions(reader: Reader, level: str | None, parent: str | None) -> list[asyncpg.Record]:
    """Regions of a level, children of a parent, or both; each filter written in only when asked for (never as
    `$n IS NULL OR …`, which a generic plan cannot serve from an index)."""
    clauses, args = [], []
    if level is not None:
        args.append(level)
        clauses.append(f"r.level = ${len(args)}")
    if parent is not None:
        args.append(parent)
        clauses.append(f"r.parent_adcode = ${len(args)}")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return await reader.fetch(f"SELECT {_FIELDS} FROM regions r {where} ORDER BY r.adcode", *args)


async def get(reader: Reader, adcode: str) -> asyncpg.Record | None:
    return await reader.fetchrow(GET_SQL, adcode)


async def upsert(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    """Insert or update regions by adcode (boundary and seat as EWKT); returns how many rows changed."""
    if not rows:
        return 0
    table = cast(Table, Region.__table__)
    fields = [c for c in rows[0] if c != "adcode"]
    stmt = pg_insert(table).values(rows)
    excluded = stmt.excluded

    def comparable(source: Any, field: str) -> Any:
        return func.ST_AsBinary(source[field]) if field in ("boundary", "seat") else source[field]

    upsert = stmt.on_conflict_do_update(
        index_elements=[table.c.adcode],
        set_={f: excluded[f] for f in fields},
        where=tuple_(*(comparable(table.c, f) for f in fields)).is_distinct_from(
            tuple_(*(comparable(excluded, f) for f in fields))
        ),
    )
    result = await conn.execute(upsert)
    return result.rowcount
