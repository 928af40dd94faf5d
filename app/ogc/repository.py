"""SQL for OGC API - Features: sites of one kind as features (the register's live rows, deleted ones excluded), and
the regions (every level, with their boundaries) as one more collection.

A collection is a kind of the site_kinds vocabulary: whether one exists is known without reading a site. Its count
and extent take a scan of the whole register, so they are kept (app.compute.kept) rather than counted per request.
"""

from dataclasses import dataclass

import asyncpg

from app.compute.kept import Kept
from app.database.params import Params
from app.database.read_pool import Reader
from app.geo import BBox
from app.regions.repository import level_and_parent
from app.sites import fields

KINDS_SQL = "SELECT code, label_zh, label_en FROM site_kinds ORDER BY sort_order, code"

# Every live site, once: ~90 ms at 200,000 sites. Counted at most once a FIGURES_KEPT_SECONDS per reader (figures).
FIGURES_SQL = """
SELECT s.kind, count(*) AS features,
       ST_XMin(ST_Extent(s.geom)) AS xmin, ST_YMin(ST_Extent(s.geom)) AS ymin,
       ST_XMax(ST_Extent(s.geom)) AS xmax, ST_YMax(ST_Extent(s.geom)) AS ymax
FROM sites s
WHERE s.deleted_at IS NULL
GROUP BY s.kind
"""

# A feature's properties: the site's fields (its kind is the collection; lat and lon are its geometry).
PROPERTIES = tuple(f for f in fields.FIELDS if f.name != "kind")
_PROPERTIES = ", ".join(f.selected for f in PROPERTIES)

# The bbox is written into the statement only when asked for: a prepared statement run with a generic plan cannot
# use the GiST index for `($2 IS NULL OR s.geom && …)` and reads every site. In CRS84 on the lon/lat twin, through
# its GiST index; stable order by id for offset paging. In a bbox the count is exact (bounded by the index).
BBOX_ITEMS_SQL = f"""
SELECT {_PROPERTIES}, count(*) OVER () AS matched
FROM sites s
WHERE s.kind = $1 AND s.deleted_at IS NULL AND ST_Intersects(s.geom, ST_MakeEnvelope($2, $3, $4, $5, 4326))
ORDER BY s.id
LIMIT $6 OFFSET $7
"""

BBOX_COUNT_SQL = """
SELECT count(*) FROM sites s
WHERE s.kind = $1 AND s.deleted_at IS NULL AND ST_Intersects(s.geom, ST_MakeEnvelope($2, $3, $4, $5, 4326))
"""

# The whole collection: a walk of the primary key that stops after the page (one row more tells whether there is a
# next page); counting the collection here would read every site of the kind.
ITEMS_SQL = f"""
SELECT {_PROPERTIES}
FROM sites s
WHERE s.kind = $1 AND s.deleted_at IS NULL
ORDER BY s.id
LIMIT $2 OFFSET $3
"""

ITEM_SQL = f"SELECT {_PROPERTIES} FROM sites s WHERE s.kind = $1 AND s.id = $2 AND s.deleted_at IS NULL"


# The regions' collection: their count, and their extent from each boundary's box (the bbox PostGIS keeps in a
# large geometry's header, so no outline is read whole).
REGION_FIGURES_SQL = """
SELECT count(*) AS features,
       ST_XMin(ST_Extent(r.boundary)) AS xmin, ST_YMin(ST_Extent(r.boundary)) AS ymin,
       ST_XMax(ST_Extent(r.boundary)) AS xmax, ST_YMax(ST_Extent(r.boundary)) AS ymax
FROM regions r
"""

REGION_PROPERTIES = """
    r.adcode, r.name, r.level, r.parent_adcode, r.is_urban_district, r.population, round(r.area_km2::numeric, 3)::float8
    AS area_km2, ST_AsGeoJSON(r.boundary, 6)::jsonb AS geometry
"""


@dataclass(frozen=True, slots=True)
class Figures:
    """A collection's count and extent (CRS84; None when it has no features)."""

    features: int
    bbox: tuple[float, float, float, float] | None


NO_FEATURES = Figures(0, None)

# How old a collection's count and extent may be. A site added, moved or deleted since shows in them within this
# many seconds (in its items and tiles at once); a client zooming to a collection's extent meanwhile misses at most
# the sites of the last minute.
FIGURES_KEPT_SECONDS = 60.0


FIGURES_BYTES = 200  # one kind's count and extent, as kept


class CollectionFigures(Kept):
    """One application's kept counts and extents (create_app puts them on app.state.collection_figures): counted
    once for all the requests that ask while the count runs, and kept per reader (a database as read: the primary's
    pool, a standby's, a test's transaction): a handful of entries."""

    def __init__(self) -> None:
        super().__init__("ogc_collections", FIGURES_KEPT_SECONDS, max_entries=16, max_bytes=1024 * 1024)

    async def of(self, reader: Reader) -> dict[str, Figures]:
        """Each collection's count and extent, at most FIGURES_KEPT_SECONDS old."""
        found: dict[str, Figures] = await self.get(
            reader, lambda: _count(reader), lambda kinds: FIGURES_BYTES * len(kinds)
        )
        return found


REGIONS = "regions"  # the regions' collection, kept among the kinds' figures (no site kind is named so)


def _figures(row: asyncpg.Record) -> Figures:
    if not row["features"]:
        return NO_FEATURES
    return Figures(row["features"], (row["xmin"], row["ymin"], row["xmax"], row["ymax"]))


async def _count(reader: Reader) -> dict[str, Figures]:
    found = {r["kind"]: _figures(r) for r in await reader.fetch(FIGURES_SQL)}
    found[REGIONS] = _figures(await reader.fetchrow(REGION_FIGURES_SQL))
    return found


async def kinds(reader: Reader) -> list[asyncpg.Record]:
    """The collections: the site kinds, with their labels, in the vocabulary's order."""
    return await reader.fetch(KINDS_SQL)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[asyncpg.Record]
    matched: int  # exact in a bbox; the collection's kept count without one
    more: bool  # whether a next page has features


async def items(
    reader: Reader, figures: CollectionFigures, kind: str, bbox: BBox | None, limit: int, offset: int
) -> Page:
    if bbox is None:
        rows = await reader.fetch(ITEMS_SQL, kind, limit + 1, offset)
        counted = (await figures.of(reader)).get(kind, NO_FEATURES)
        return Page(rows[:limit], counted.features, len(rows) > limit)
    box = (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat)
    rows = await reader.fetch(BBOX_ITEMS_SQL, kind, *box, limit, offset)
    matched = rows[0]["matched"] if rows else int(await reader.fetchval(BBOX_COUNT_SQL, kind, *box))
    return Page(rows, matched, offset + len(rows) < matched)


async def item(reader: Reader, kind: str, site_id: int) -> asyncpg.Record | None:
    return await reader.fetchrow(ITEM_SQL, kind, site_id)


async def regions(
    reader: Reader, bbox: BBox | None, level: str | None, parent: str | None, limit: int, offset: int
) -> Page:
    """Regions in adcode order; each filter written in only when asked for (a generic plan cannot serve
    `$n IS NULL OR …` from an index). They are a few thousand: the count is exact."""
    p = Params()
    clauses = []
    if bbox is not None:
        corners = ", ".join(p.add(v) for v in (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat))
        clauses.append(f"ST_Intersects(r.boundary, ST_MakeEnvelope({corners}, 4326))")
    clauses += level_and_parent(p, level, parent)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    matched = int(await reader.fetchval(f"SELECT count(*) FROM regions r {where}", *p.values))
    page = f"LIMIT {p.add(limit)} OFFSET {p.add(offset)}"
    sql = f"SELECT {REGION_PROPERTIES} FROM regions r {where} ORDER BY r.adcode {page}"
    rows = await reader.fetch(sql, *p.values) if offset < matched else []
    return Page(rows, matched, offset + len(rows) < matched)


async def region(reader: Reader, adcode: str) -> asyncpg.Record | None:
    return await reader.fetchrow(f"SELECT {REGION_PROPERTIES} FROM regions r WHERE r.adcode = $1", adcode)
