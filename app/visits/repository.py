"""SQL for visits: the one statement a visit is, the partitions and salts it needs, and the usage questions."""

import datetime as dt
from typing import Any

from app.database.params import Params
from app.database.read_pool import Reader
from app.sites.repository import in_register_on, region_tree_sql, serving_on

# A visit in one statement: the site its door token stands for now, the raw visit (nothing if this client was
# counted at this site this hour), and, only for a visit counted, its day's count and the site's hour-of-day profile.
# The profile weighs each visit down by exp(-age / tau): a visit older than the profile's latest (one arriving late)
# adds its weight at the profile's time instead of moving it back.
# The statement is its own transaction, committed without waiting for the WAL to reach the disk (synchronous_commit
# off for this transaction alone): a crash of the database can lose the visits of its last fraction of a second
# (wal_writer_delay × 3 at most), never half of one (a visit and its counts commit together). A visit is a count, not
# a record anyone depends on; waiting for the disk cost a third of the throughput (bench/NOTES.md).
VISIT_SQL = """
WITH asynchronous_commit AS (
    SELECT set_config('synchronous_commit', 'off', true)
), site AS (
    SELECT t.site_id FROM site_door_tokens t JOIN sites s ON s.id = t.site_id AND s.deleted_at IS NULL
    WHERE t.token = $1
), counted AS (
    INSERT INTO site_visits (site_id, hour, client, worker_group)
    SELECT site_id, $2, $3, $4 FROM site
    ON CONFLICT DO NOTHING
    RETURNING site_id
), day AS (
    INSERT INTO site_visit_days AS d (site_id, day, worker_group, visits)
    SELECT site_id, $5, $4, 1 FROM counted
    ON CONFLICT (site_id, day, worker_group) DO UPDATE SET visits = d.visits + 1
), profile AS (
    INSERT INTO site_hour_profiles AS p (site_id, hour_of_day, weight, updated_at)
    SELECT site_id, $6, 1, $2 FROM counted
    ON CONFLICT (site_id, hour_of_day) DO UPDATE SET
        weight = CASE WHEN EXCLUDED.updated_at >= p.updated_at
            THEN p.weight * exp(-extract(epoch FROM EXCLUDED.updated_at - p.updated_at) / $7) + 1
            ELSE p.weight + exp(-extract(epoch FROM p.updated_at - EXCLUDED.updated_at) / $7) END,
        updated_at = greatest(p.updated_at, EXCLUDED.updated_at)
)
SELECT (SELECT site_id FROM site) AS site_id, EXISTS (SELECT FROM counted) AS counted,
       (SELECT set_config FROM asynchronous_commit) AS commit_mode
"""


async def record(
    conn: Reader,
    token: str,
    hour: dt.datetime,
    client: bytes,
    worker_group: str | None,
    day: dt.date,
    hour_of_day: int,
    tau_s: float,
) -> Any:
    return await conn.fetchrow(VISIT_SQL, token, hour, client, worker_group, day, hour_of_day, tau_s)


async def make_partitions(conn: Reader, at: dt.datetime) -> None:
    """The partitions of the month of `at` and of the next month, made if missing."""
    await conn.fetchval("SELECT site_visits_make_partitions($1)", at)


async def drop_partitions(conn: Reader, before: dt.datetime) -> list[str]:
    """Drop the partitions of months before the month of `before` (China time); their names."""
    return [r[0] for r in await conn.fetch("SELECT site_visits_drop_partitions($1)", before)]


async def partitions_before(conn: Reader, before: dt.datetime) -> list[str]:
    """The partitions drop_partitions would drop."""
    return [r[0] for r in await conn.fetch("SELECT site_visits_partitions_before($1)", before)]


async def wait_for_locks_at_most(conn: Reader, longest: dt.timedelta) -> None:
    """For the rest of the transaction, a statement waiting longer than `longest` for a lock fails."""
    await conn.fetchval("SELECT set_config('lock_timeout', $1, true)", f"{int(longest.total_seconds() * 1000)}ms")


async def try_lock_retention(conn: Reader) -> bool:
    """The retention's lock, held until the transaction ends; false at once if another transaction holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext('site_visits_retention'))"))


# The day's salt, made by the first visit of the day (two first visits agree on one); salts of days before
# yesterday are destroyed, so yesterday's client hashes can no longer be matched with anything new.
SALT_SQL = """
WITH made AS (
    INSERT INTO visit_salts (day, salt) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING RETURNING salt
), forgotten AS (
    DELETE FROM visit_salts WHERE day < $1 - 1
)
SELECT salt FROM made UNION ALL SELECT salt FROM visit_salts WHERE day = $1 LIMIT 1
"""


async def salt(conn: Reader, day: dt.date, fresh: bytes) -> bytes:
    found: bytes | None = await conn.fetchval(SALT_SQL, day, fresh)
    if found is None:
        # Another transaction made the day's salt while this statement ran: its snapshot cannot see it, the next can.
        found = await conn.fetchval("SELECT salt FROM visit_salts WHERE day = $1", day)
    assert found is not None
    return found


# Usage of one site ----------------------------------------------------------------------------------------------

# Day, week and month series come from the daily counts (kept for good); `unit` is one of a fixed set.
DAILY_SERIES_SQL = {
    unit: f"""
    SELECT date_trunc('{unit}', day)::date AS start, worker_group, sum(visits)::bigint AS visits
    FROM site_visit_days WHERE site_id = $1 AND day BETWEEN $2 AND $3
    GROUP BY 1, 2 ORDER BY 1, 2
    """
    for unit in ("day", "week", "month")
}

# The hour series come from the raw visits (kept for the retention), hours in China time.
HOURLY_SERIES_SQL = """
SELECT hour, worker_group, count(*) AS visits
FROM site_visits WHERE site_id = $1 AND hour >= $2 AND hour < $3
GROUP BY 1, 2 ORDER BY 1, 2
"""

BUSIEST_HOURS_SQL = """
SELECT extract(hour FROM hour AT TIME ZONE 'Asia/Shanghai')::int AS hour_of_day, count(*) AS visits
FROM site_visits WHERE site_id = $1 AND hour >= $2 AND hour < $3
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT $4
"""


async def daily_series(reader: Reader, unit: str, site_id: int, first: dt.date, last: dt.date) -> list[Any]:
    return await reader.fetch(DAILY_SERIES_SQL[unit], site_id, first, last)


async def hourly_series(reader: Reader, site_id: int, start: dt.datetime, end: dt.datetime) -> list[Any]:
    return await reader.fetch(HOURLY_SERIES_SQL, site_id, start, end)


async def busiest_hours(reader: Reader, site_id: int, start: dt.datetime, end: dt.datetime, top: int) -> list[Any]:
    return await reader.fetch(BUSIEST_HOURS_SQL, site_id, start, end, top)


async def hour_profiles(reader: Reader, site_ids: list[int], hour_of_day: int) -> list[Any]:
    """The profile's weight and time of each site at one hour of the day."""
    return await reader.fetch(
        "SELECT site_id, weight, updated_at FROM site_hour_profiles WHERE site_id = ANY($1) AND hour_of_day = $2",
        site_ids,
        hour_of_day,
    )


# Usage of a region ----------------------------------------------------------------------------------------------


def _region_sites(p: Params, adcode: str, as_of: str) -> str:
    """The sites of a region (descendants included) in the register on `as_of` (its SQL expression). The tree as an
    array, so the planner walks the region index for each of its regions (as a subquery it cannot tell a county from
    China and scans every site)."""
    return f"{in_register_on(as_of)} AND s.region_adcode = ANY (ARRAY({region_tree_sql(p.add(adcode))}))"


async def per_site(
    reader: Reader,
    adcode: str,
    first: dt.date,
    last: dt.date,
    recent_first: dt.date,
    recent_last: dt.date,
    as_of: dt.date,
    is_today: bool,
    kind: str | None = None,
) -> list[Any]:
    """Each site of a region (of `kind`, if given) not deleted by `as_of`, whether it served that day (as coverage
    counts it), its visits and worker-group mix between two days (0 and {} without any), and its visits in a second
    window (the idle rule's recent days), read from the daily counts in one pass over both."""
    p = Params()
    day, today = f"{p.add(as_of)}::date", f"{p.add(is_today)}::boolean"
    period = f"d.day BETWEEN {p.add(first)} AND {p.add(last)}"
    recent = f"d.day BETWEEN {p.add(recent_first)} AND {p.add(recent_last)}"
    span = f"d.day BETWEEN {p.add(min(first, recent_first))} AND {p.add(max(last, recent_last))}"
    sql = f"""
    SELECT s.id AS site_id, s.name, s.kind, {serving_on(day, today)} AS serving, s.region_adcode,
           coalesce(v.visits, 0)::bigint AS visits,
           coalesce(v.groups, '{{}}'::jsonb) AS groups, coalesce(v.recent, 0)::bigint AS recent
    FROM sites s
    LEFT JOIN LATERAL (
        SELECT sum(g.visits) AS visits, sum(g.recent) AS recent,
               jsonb_object_agg(coalesce(g.worker_group, 'unspecified'), g.visits) FILTER (WHERE g.visits > 0)
                   AS groups
        FROM (
            SELECT d.worker_group, coalesce(sum(d.visits) FILTER (WHERE {period}), 0) AS visits,
                   coalesce(sum(d.visits) FILTER (WHERE {recent}), 0) AS recent
            FROM site_visit_days d
            WHERE d.site_id = s.id AND {span}
            GROUP BY d.worker_group
        ) g
    ) v ON true
    WHERE {_region_sites(p, adcode, day)}{f" AND s.kind = {p.add(kind)}" if kind is not None else ""}
    ORDER BY s.id
    """
    return await reader.fetch(sql, *p.values)


# The rule of a region is its own, else its nearest ancestor's that has one.
RULE_SQL = """
WITH RECURSIVE up AS (
    SELECT adcode, parent_adcode, 0 AS depth FROM regions WHERE adcode = $1
    UNION ALL
    SELECT r.adcode, r.parent_adcode, up.depth + 1 FROM regions r JOIN up ON r.adcode = up.parent_adcode
)
SELECT rules.* FROM up JOIN region_station_rules rules ON rules.adcode = up.adcode
WHERE rules.{column} IS NOT NULL ORDER BY up.depth LIMIT 1
"""


async def region_rule(reader: Reader, adcode: str, column: str) -> Any:
    """The value of a station rule (`column`, one of region_station_rules' fixed columns) for a region, or None."""
    row = await reader.fetchrow(RULE_SQL.format(column=column), adcode)
    return row[column] if row is not None else None


async def child_regions(reader: Reader, adcode: str) -> list[Any]:
    return await reader.fetch("SELECT adcode, name FROM regions WHERE parent_adcode = $1 ORDER BY adcode", adcode)


SET_RULES_SQL = """
INSERT INTO region_station_rules (adcode, idle_below_visits, inspection_interval_months) VALUES ($1, $2, $3)
ON CONFLICT (adcode) DO UPDATE SET idle_below_visits = EXCLUDED.idle_below_visits,
    inspection_interval_months = EXCLUDED.inspection_interval_months
"""


async def set_rules(conn: Reader, adcode: str, idle_below_visits: int | None, interval_months: int | None) -> None:
    await conn.fetchval(SET_RULES_SQL, adcode, idle_below_visits, interval_months)


async def own_rules(reader: Reader, adcode: str) -> Any:
    return await reader.fetchrow(
        "SELECT idle_below_visits, inspection_interval_months FROM region_station_rules WHERE adcode = $1", adcode
    )
