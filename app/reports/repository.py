"""SQL for reports."""

import datetime as dt
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database.params import Params
from app.database.read_pool import Reader
from app.inspections.rules import report_due_on_sql
from app.sites.repository import in_region, region_tree_sql

REPORT_SQL = text("""
INSERT INTO site_reports (site_id, type, note, photo_url, reporter_lon, reporter_lat, client, from_door)
VALUES (:site_id, :type, :note, :photo_url, :lon, :lat, :client, :from_door)
ON CONFLICT (site_id, type, client) WHERE status = 'open' DO UPDATE SET
    times_reported = site_reports.times_reported + 1,
    last_reported_at = now(),
    note = coalesce(EXCLUDED.note, site_reports.note),
    photo_url = coalesce(EXCLUDED.photo_url, site_reports.photo_url),
    from_door = site_reports.from_door OR EXCLUDED.from_door
RETURNING id, site_id, type, status, times_reported, created_at, last_reported_at, from_door, (xmax = 0) AS created
""")

REPORT_COLUMNS = f"""
    r.id, r.site_id, s.name AS site_name, s.kind AS site_kind, r.type, r.note, r.photo_url, r.reporter_lon,
    r.reporter_lat, r.times_reported, r.status, r.created_at, r.last_reported_at, r.resolved_at, r.resolved_by,
    r.resolution, r.from_door, {report_due_on_sql("r.created_at")} AS due_on
"""

ONE_SQL = f"SELECT {REPORT_COLUMNS} FROM site_reports r JOIN sites s ON s.id = r.site_id WHERE r.id = $1"


async def upsert_open(conn: AsyncConnection, values: dict[str, Any]) -> Any:
    """A new open report, or the client's open one of the same type with times_reported + 1."""
    return (await conn.execute(REPORT_SQL, values)).one()


async def one(reader: Reader, report_id: int) -> dict[str, Any] | None:
    row = await reader.fetchrow(ONE_SQL, report_id)
    return dict(row) if row is not None else None


async def page(
    reader: Reader,
    status: str,
    site_id: int | None,
    region_prefix: str | None,
    after: int,
    limit: int,
    overdue_on: dt.date | None = None,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """Reports of one status in id order after `after`: of one site, or of the sites in a key's region, or in
    `region` and the regions below it; with `overdue_on`, only those still open on that day past their due date."""
    p = Params()
    clauses = [f"r.status = {p.add(status)}", f"r.id > {p.add(after)}"]
    if overdue_on is not None:
        clauses.append(f"r.status = 'open' AND {report_due_on_sql('r.created_at')} < {p.add(overdue_on)}")
    if site_id is not None:
        clauses.append(f"r.site_id = {p.add(site_id)}")
    if region_prefix is not None:
        clauses.append(in_region("s.region_adcode", p.add(region_prefix)))
    if region is not None:
        clauses.append(f"s.region_adcode = ANY (ARRAY({region_tree_sql(p.add(region))}))")
    sql = (
        f"SELECT {REPORT_COLUMNS} FROM site_reports r JOIN sites s ON s.id = r.site_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY r.id LIMIT {p.add(limit)}"
    )
    return [dict(r) for r in await reader.fetch(sql, *p.values)]


async def lock(conn: AsyncConnection, report_id: int) -> Any:
    return (
        await conn.execute(
            text("SELECT site_id, type, status FROM site_reports WHERE id = :id FOR UPDATE"), {"id": report_id}
        )
    ).one_or_none()


async def close(conn: AsyncConnection, report_id: int, status: str, resolution: str | None, who: str) -> None:
    await conn.execute(
        text(
            "UPDATE site_reports SET status = :status, resolution = :resolution, resolved_at = now(), "
            "resolved_by = :who WHERE id = :id"
        ),
        {"status": status, "resolution": resolution, "who": who, "id": report_id},
    )


# Workers' reports on sites of a kind in a region and the regions below it ($1), over a month ($3 its first day and
# $4 the next month's, China time): opened in it, resolved in it, and still open at its end past their due date (as
# the queue's overdue_on the month's last day).
MONTH_SQL = f"""
WITH RECURSIVE tree AS (
    SELECT adcode FROM regions WHERE adcode = $1
    UNION ALL
    SELECT r.adcode FROM regions r JOIN tree ON r.parent_adcode = tree.adcode
), bounds AS (
    SELECT $3::date::timestamp AT TIME ZONE 'Asia/Shanghai' AS starts,
           $4::date::timestamp AT TIME ZONE 'Asia/Shanghai' AS ends
)
SELECT count(*) FILTER (WHERE r.created_at >= b.starts AND r.created_at < b.ends) AS opened,
       count(*) FILTER (WHERE r.resolved_at >= b.starts AND r.resolved_at < b.ends) AS resolved,
       count(*) FILTER (WHERE {report_due_on_sql("r.created_at")} < $4::date - 1
                          AND (r.resolved_at IS NULL OR r.resolved_at >= b.ends)) AS overdue
FROM site_reports r JOIN sites s ON s.id = r.site_id CROSS JOIN bounds b
WHERE s.kind = $2 AND s.region_adcode IN (SELECT adcode FROM tree)
"""


async def month_counts(reader: Reader, adcode: str, kind: str, first: Any, next_first: Any) -> dict[str, int]:
    row = await reader.fetchrow(MONTH_SQL, adcode, kind, first, next_first)
    return dict(row) if row is not None else {"opened": 0, "resolved": 0, "overdue": 0}
