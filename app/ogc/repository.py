"""SQL for OGC API - Features: sites of one kind as features (the register's live rows, deleted ones excluded).

A collection is a kind of the site_kinds vocabulary: whether one exists is known without reading a site. Its count
and extent take a scan of the whole register, so they are kept (KeptFigures) rather than counted per request.
"""

import asyncio
import time
import weakref
from dataclasses import dataclass

import asyncpg

from app.db import Reader
from app.geo import BBox

KINDS_SQL = "SELECT code, label_zh, label_en FROM site_kinds ORDER BY sort_order, code"

# Every live site, once: ~90 ms at 200,000 sites. Run by KeptFigures at most once a FIGURES_KEPT_SECONDS per reader.
FIGURES_SQL = """
SELECT s.kind, count(*) AS features,
       ST_XMin(ST_Extent(s.geom)) AS xmin, ST_YMin(ST_Extent(s.geom)) AS ymin,
       ST_XMax(ST_Extent(s.geom)) AS xmax, ST_YMax(ST_Extent(s.geom)) AS ymax
FROM sites s
WHERE s.deleted_at IS NULL
GROUP BY s.kind
"""

_PROPERTIES = """
    s.id, s.name, s.address, s.region_adcode, s.operator, s.phone, s.opening_hours, s.access, s.access_note,
    s.amenities, s.services, s.worker_groups, s.status, s.opened_on, s.closed_on, s.rating, s.source,
    s.external_id, s.last_verified_at, s.updated_at, s.version, ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
"""

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


class KeptFigures:
    """The collections' counts and extents, counted at most once a FIGURES_KEPT_SECONDS for each reader (a reader
    is a database as read: the primary's pool, a standby's, a test's transaction), and once for all the requests
    that ask while they are being counted. One entry per reader and kind: a handful."""

    def __init__(self) -> None:
        self._kept: weakref.WeakKeyDictionary[Reader, tuple[float, asyncio.Future[dict[str, Figures]]]] = (
            weakref.WeakKeyDictionary()
        )
        self._counting: set[asyncio.Task[None]] = set()

    async def of(self, reader: Reader) -> dict[str, Figures]:
        now = time.monotonic()
        found = self._kept.get(reader)
        failed = found is not None and found[1].done() and (found[1].cancelled() or found[1].exception() is not None)
        if found is None or failed or now - found[0] > FIGURES_KEPT_SECONDS:
            # The count runs in a task of its own, so that a client leaving does not cancel it for the others; the
            # entry holds its result, not the task, and so not the reader.
            figures: asyncio.Future[dict[str, Figures]] = asyncio.get_running_loop().create_future()
            found = (now, figures)
            self._kept[reader] = found
            task = asyncio.create_task(_count(reader, figures))
            self._counting.add(task)
            task.add_done_callback(self._counting.discard)
        return await asyncio.shield(found[1])


async def _count(reader: Reader, into: asyncio.Future[dict[str, Figures]]) -> None:
    try:
        rows = await reader.fetch(FIGURES_SQL)
    except asyncio.CancelledError:
        into.cancel()
        raise
    except Exception as exc:  # the requests waiting answer it; the next one counts again
        into.set_exception(exc)
        return
    into.set_result({r["kind"]: Figures(r["features"], (r["xmin"], r["ymin"], r["xmax"], r["ymax"])) for r in rows})


kept_figures = KeptFigures()


async def kinds(reader: Reader) -> list[asyncpg.Record]:
    """The collections: the site kinds, with their labels, in the vocabulary's order."""
    return await reader.fetch(KINDS_SQL)


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[asyncpg.Record]
    matched: int  # exact in a bbox; the collection's kept count without one
    more: bool  # whether a next page has features


async def items(reader: Reader, kind: str, bbox: BBox | None, limit: int, offset: int) -> Page:
    if bbox is None:
        rows = await reader.fetch(ITEMS_SQL, kind, limit + 1, offset)
        figures = (await kept_figures.of(reader)).get(kind, NO_FEATURES)
        return Page(rows[:limit], figures.features, len(rows) > limit)
    box = (bbox.min_lon, bbox.min_lat, bbox.max_lon, bbox.max_lat)
    rows = await reader.fetch(BBOX_ITEMS_SQL, kind, *box, limit, offset)
    matched = rows[0]["matched"] if rows else int(await reader.fetchval(BBOX_COUNT_SQL, kind, *box))
    return Page(rows, matched, offset + len(rows) < matched)


async def item(reader: Reader, kind: str, site_id: int) -> asyncpg.Record | None:
    return await reader.fetchrow(ITEM_SQL, kind, site_id)
