"""SQL for inspections, star levels and the inspections due."""

import datetime as dt
from typing import Any

from app.database.params import Params
from app.database.read_pool import Reader
from app.inspections import rules
from app.sites.repository import region_tree_sql

COLUMNS = f"""id, site_id, inspected_on, unannounced, {", ".join(rules.DIMENSIONS)}, level, passed, notes, photo_urls,
    inspector, recorded_by, suspended, suspension_reason, created_at"""


async def insert(conn: Reader, values: dict[str, Any]) -> Any:
    names = list(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sql = f"INSERT INTO site_inspections ({', '.join(names)}) VALUES ({placeholders}) RETURNING {COLUMNS}"
    return await conn.fetchrow(sql, *values.values())


async def page(reader: Reader, site_id: int, limit: int) -> list[dict[str, Any]]:
    rows = await reader.fetch(
        f"SELECT {COLUMNS} FROM site_inspections WHERE site_id = $1 ORDER BY inspected_on DESC, id DESC LIMIT $2",
        site_id,
        limit,
    )
    return [dict(r) for r in rows]


def _standing_sql(site_id: str, today: str) -> str:
    return f"""
SELECT {rules.star_level_sql(site_id, today)} AS star_level,
       (SELECT i.level FROM site_inspections i WHERE i.site_id = {site_id}
        ORDER BY i.inspected_on DESC, i.id DESC LIMIT 1) AS inspected_level,
       (SELECT max(i.inspected_on) FROM site_inspections i WHERE i.site_id = {site_id}) AS last_inspected_on,
       {rules.overdue_complaints_sql(site_id, today)} AS complaints_overdue
"""


async def standing(reader: Reader, site_id: int, today: dt.date) -> Any:
    """A site's star level on `today`, the level its latest inspection set, and whether complaints are overdue."""
    return await reader.fetchrow(_standing_sql("$1", "$2"), site_id, today)


async def due(reader: Reader, adcode: str, on: dt.date, default_months: int, limit: int) -> list[dict[str, Any]]:
    """The sites of a region (not closed) whose latest inspection is older than their region's interval on `on`, or
    never inspected: longest waiting first. Each region's interval is its own, else its nearest ancestor's."""
    p = Params()
    tree = region_tree_sql(p.add(adcode))
    months = f"coalesce(iv.months, {p.add(default_months)})"
    sql = f"""
WITH RECURSIVE regions_in AS ({tree}),
up (adcode, ancestor, depth) AS (
    SELECT adcode, adcode, 0 FROM regions_in
    UNION ALL
    SELECT up.adcode, r.parent_adcode, up.depth + 1 FROM up JOIN regions r ON r.adcode = up.ancestor
    WHERE r.parent_adcode IS NOT NULL
),
interval_of AS (
    SELECT DISTINCT ON (up.adcode) up.adcode, rr.inspection_interval_months AS months
    FROM up JOIN region_station_rules rr ON rr.adcode = up.ancestor AND rr.inspection_interval_months IS NOT NULL
    ORDER BY up.adcode, up.depth
)
SELECT s.id AS site_id, s.name, s.kind, s.status, s.region_adcode, last.inspected_on AS last_inspected_on,
       {months} AS interval_months,
       (last.inspected_on + make_interval(months => {months}))::date AS due_on
FROM sites s
LEFT JOIN interval_of iv ON iv.adcode = s.region_adcode
LEFT JOIN LATERAL (
    SELECT i.inspected_on FROM site_inspections i WHERE i.site_id = s.id ORDER BY i.inspected_on DESC LIMIT 1
) last ON true
WHERE s.deleted_at IS NULL AND s.status <> 'closed' AND s.region_adcode = ANY (ARRAY(SELECT adcode FROM regions_in))
  AND (last.inspected_on IS NULL OR last.inspected_on + make_interval(months => {months}) < {p.add(on)})
ORDER BY last.inspected_on NULLS FIRST, s.id
LIMIT {p.add(limit)}
"""
    return [dict(r) for r in await reader.fetch(sql, *p.values)]
