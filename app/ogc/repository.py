"""SQL for OGC API - Features: sites of one kind as features (the register's live rows, deleted ones excluded)."""

import asyncpg

from app.db import Reader
from app.geo import BBox

COLLECTIONS_SQL = """
SELECT k.code, k.label_zh, k.label_en, count(s.id) AS features,
       ST_XMin(ST_Extent(s.geom)) AS xmin, ST_YMin(ST_Extent(s.geom)) AS ymin,
       ST_XMax(ST_Extent(s.geom)) AS xmax, ST_YMax(ST_Extent(s.geom)) AS ymax
FROM site_kinds k LEFT JOIN sites s ON s.kind = k.code AND s.deleted_at IS NULL
WHERE $1::text IS NULL OR k.code = $1
GROUP BY k.code, k.label_zh, k.label_en, k.sort_order
ORDER BY k.sort_order, k.code
"""

_PROPERTIES = """
    s.id, s.name, s.address, s.region_adcode, s.operator, s.phone, s.opening_hours, s.access, s.access_note,
    s.amenities, s.services, s.worker_groups, s.status, s.opened_on, s.closed_on, s.rating, s.source,
    s.external_id, s.last_verified_at, s.updated_at, s.version, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
"""

# bbox in CRS84 on the lon/lat twin, through its GiST index; stable order by id for offset paging.
ITEMS_SQL = f"""
SELECT {_PROPERTIES}, count(*) OVER () AS matched
FROM sites s
WHERE s.kind = $1 AND s.deleted_at IS NULL
  AND ($2::float8 IS NULL OR s.geom && ST_MakeEnvelope($2, $3, $4, $5, 4326))
ORDER BY s.id
LIMIT $6 OFFSET $7
"""

COUNT_SQL = """
SELECT count(*) FROM sites s
WHERE s.kind = $1 AND s.deleted_at IS NULL
  AND ($2::float8 IS NULL OR s.geom && ST_MakeEnvelope($2, $3, $4, $5, 4326))
"""

ITEM_SQL = f"SELECT {_PROPERTIES} FROM sites s WHERE s.kind = $1 AND s.id = $2 AND s.deleted_at IS NULL"


async def collections(reader: Reader, kind: str | None = None) -> list[asyncpg.Record]:
    return await reader.fetch(COLLECTIONS_SQL, kind)


async def items(
    reader: Reader, kind: str, bbox: BBox | None, limit: int, offset: int
) -> tuple[list[asyncpg.Record], int]:
    box = (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat) if bbox else (None, None, None, None)
    rows = await reader.fetch(ITEMS_SQL, kind, *box, limit, offset)
    matched = rows[0]["matched"] if rows else int(await reader.fetchval(COUNT_SQL, kind, *box))
    return rows, matched


async def item(reader: Reader, kind: str, site_id: int) -> asyncpg.Record | None:
    return await reader.fetchrow(ITEM_SQL, kind, site_id)
