"""SQL for published months."""

import datetime as dt
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.read_pool import Reader

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
