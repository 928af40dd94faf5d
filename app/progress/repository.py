"""SQL for published months."""

import datetime as dt
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.read_pool import Reader
from app.sites.repository import serving_on

PUBLISH_SQL = text("""
INSERT INTO published_months (region_adcode, kind, month, site_count, covered_area_share, covered_population_share,
                              closed_for, published_by)
VALUES (:region, :kind, :month, :site_count, :covered_area_share, :covered_population_share, :closed_for, :by)
ON CONFLICT (region_adcode, kind, month) DO NOTHING
""")


async def publish(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Each region's figures as published; a region already published for the month keeps what it had (a county
    its own union closed before the city did)."""
    if rows:
        await conn.execute(PUBLISH_SQL, rows)


async def is_published(reader: Reader, adcode: str, kind: str, month: dt.date) -> bool:
    return bool(
        await reader.fetchval(
            "SELECT EXISTS (SELECT FROM published_months WHERE region_adcode = $1 AND kind = $2 AND month = $3)",
            adcode,
            kind,
            month,
        )
    )


async def published(
    reader: Reader, adcodes: list[str], kind: str, months: list[dt.date]
) -> dict[tuple[str, dt.date], asyncpg.Record]:
    """The published figures of these regions and months, by (adcode, month)."""
    if not months:
        return {}
    rows = await reader.fetch(
        "SELECT region_adcode, month, site_count, covered_area_share, covered_population_share, published_at, "
        "published_by FROM published_months WHERE region_adcode = ANY($1::text[]) AND kind = $2 "
        "AND month = ANY($3::date[])",
        adcodes,
        kind,
        months,
    )
    return {(r["region_adcode"], r["month"]): r for r in rows}


def _region_and_below(adcode: str) -> str:
    """SQL: the region (its placeholder) and every region below it."""
    return f"""(WITH RECURSIVE tree AS (
        SELECT adcode FROM regions WHERE adcode = {adcode}
        UNION ALL
        SELECT r.adcode FROM regions r JOIN tree ON r.parent_adcode = tree.adcode
    ) SELECT adcode FROM tree)"""


SITE_OF_MONTH = "s.id, s.name, s.address, s.region_adcode, g.name AS region_name"

# Sites of the kind in the region that opened, closed or were suspended in the month ($3 its first day, $4 the
# next month's). A suspension carries no date of its own: the history says when the status became suspended.
MONTH_SITES_SQL = f"""
SELECT 'opened' AS change, {SITE_OF_MONTH}, s.opened_on AS on_date
FROM sites s JOIN regions g ON g.adcode = s.region_adcode
WHERE s.kind = $2 AND s.region_adcode IN {_region_and_below("$1")} AND s.deleted_at IS NULL
  AND s.opened_on >= $3 AND s.opened_on < $4
UNION ALL
SELECT 'closed', {SITE_OF_MONTH}, s.closed_on
FROM sites s JOIN regions g ON g.adcode = s.region_adcode
WHERE s.kind = $2 AND s.region_adcode IN {_region_and_below("$1")} AND s.deleted_at IS NULL
  AND s.closed_on >= $3 AND s.closed_on < $4
UNION ALL
SELECT DISTINCT ON (s.id) 'suspended', {SITE_OF_MONTH}, (c.changed_at AT TIME ZONE 'Asia/Shanghai')::date
FROM site_changes c JOIN sites s ON s.id = c.site_id JOIN regions g ON g.adcode = s.region_adcode
WHERE s.kind = $2 AND s.region_adcode IN {_region_and_below("$1")} AND s.deleted_at IS NULL
  AND c.after->>'status' = 'suspended' AND c.before->>'status' IS DISTINCT FROM 'suspended'
  AND c.changed_at >= ($3::date::timestamp AT TIME ZONE 'Asia/Shanghai')
  AND c.changed_at < ($4::date::timestamp AT TIME ZONE 'Asia/Shanghai')
ORDER BY 1, 7, 3
"""


async def month_sites(
    reader: Reader, adcode: str, kind: str, first: dt.date, next_first: dt.date
) -> list[dict[str, Any]]:
    return [dict(r) for r in await reader.fetch(MONTH_SITES_SQL, adcode, kind, first, next_first)]


async def serving_points(reader: Reader, adcode: str, kind: str, on: dt.date) -> list[tuple[float, float]]:
    """(lon, lat) of the sites of the kind serving in the region on a past date: what the report's map draws."""
    rows = await reader.fetch(
        f"SELECT ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat FROM sites s WHERE s.kind = $2 "
        f"AND s.region_adcode IN {_region_and_below('$1')} AND {serving_on('$3::date', '$4::boolean')}",
        adcode,
        kind,
        on,
        False,
    )
    return [(r["lon"], r["lat"]) for r in rows]


async def outlines(reader: Reader, adcode: str) -> list[dict[str, Any]]:
    """The region's children's boundaries (the region's own when it has none) as GeoJSON, with names."""
    rows = await reader.fetch(
        "SELECT adcode, name, ST_AsGeoJSON(boundary, 5)::jsonb AS boundary FROM regions WHERE parent_adcode = $1 "
        "ORDER BY adcode",
        adcode,
    )
    if not rows:
        rows = await reader.fetch(
            "SELECT adcode, name, ST_AsGeoJSON(boundary, 5)::jsonb AS boundary FROM regions WHERE adcode = $1", adcode
        )
    return [dict(r) for r in rows]
