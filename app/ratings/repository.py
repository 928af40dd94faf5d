"""SQL for ratings, their totals, salts and call-backs."""

import datetime as dt
from typing import Any

from app.database.params import Params
from app.database.read_pool import Reader
from app.sites.repository import in_region, region_tree_sql

# The period's salt, made by its first rating; salts of periods before the previous one are destroyed.
SALT_SQL = """
WITH made AS (
    INSERT INTO rating_salts (period, salt) VALUES ($1, $2) ON CONFLICT (period) DO NOTHING RETURNING period, salt
), forgotten AS (
    DELETE FROM rating_salts WHERE period < $1 - 1
)
SELECT period, salt FROM made
UNION ALL SELECT period, salt FROM rating_salts WHERE period IN ($1, $1 - 1)
"""


async def salts(conn: Reader, period: int, fresh: bytes) -> dict[int, bytes]:
    """The salts of `period` (made if missing) and of the period before it, if it had one."""
    found = {r["period"]: r["salt"] for r in await conn.fetch(SALT_SQL, period, fresh)}
    if period not in found:  # made by another transaction while this statement ran
        found[period] = await conn.fetchval("SELECT salt FROM rating_salts WHERE period = $1", period)
    return found


async def lock_client(conn: Reader, key: int) -> None:
    """One rating at a time per client and site: the replaced rating is found once."""
    await conn.fetchval("SELECT pg_advisory_xact_lock($1)", key)


REPLACE_SQL = """
UPDATE site_ratings SET replaced_at = now()
WHERE site_id = $1 AND client = ANY($2) AND replaced_at IS NULL AND created_at > $3
RETURNING id, stars
"""


async def replace(conn: Reader, site_id: int, clients: list[bytes], since: dt.datetime) -> list[Any]:
    """The client's ratings of the site since `since`, marked replaced (they no longer count)."""
    return await conn.fetch(REPLACE_SQL, site_id, clients, since)


INSERT_SQL = """
INSERT INTO site_ratings (site_id, client, stars, tags, comment) VALUES ($1, $2, $3, $4, $5)
RETURNING id, site_id, stars, tags, comment, created_at
"""


async def insert(conn: Reader, site_id: int, client: bytes, stars: int, tags: list[str], comment: str | None) -> Any:
    return await conn.fetchrow(INSERT_SQL, site_id, client, stars, tags, comment)


TOTALS_SQL = """
INSERT INTO site_rating_totals AS t (site_id, ratings, stars, stars_squared) VALUES ($1, $2, $3, $4)
ON CONFLICT (site_id) DO UPDATE SET ratings = t.ratings + EXCLUDED.ratings, stars = t.stars + EXCLUDED.stars,
    stars_squared = t.stars_squared + EXCLUDED.stars_squared
RETURNING ratings, stars
"""


async def add_to_totals(conn: Reader, site_id: int, ratings: int, stars: int, stars_squared: int) -> Any:
    """Add to a site's totals; its totals as they are now."""
    return await conn.fetchrow(TOTALS_SQL, site_id, ratings, stars, stars_squared)


CALLBACK_SQL = """
INSERT INTO site_callbacks (site_id, rating_id, reason, due_on) VALUES ($1, $2, $3, $4)
RETURNING id, reason, due_on, status
"""


async def open_callback(conn: Reader, site_id: int, rating_id: int, reason: str, due_on: dt.date) -> Any:
    return await conn.fetchrow(CALLBACK_SQL, site_id, rating_id, reason, due_on)


# What a site's rating is shown as: its own totals, and its region's (the prior its ranking score starts from).
SUMMARY_SQL = """
SELECT coalesce(t.ratings, 0) AS ratings, coalesce(t.stars, 0) AS stars, coalesce(t.stars_squared, 0) AS stars_squared,
       r.ratings AS region_ratings, r.stars AS region_stars, r.stars_squared AS region_stars_squared,
       a.ratings AS all_ratings, a.stars AS all_stars, a.stars_squared AS all_stars_squared
FROM sites s
LEFT JOIN site_rating_totals t ON t.site_id = s.id
CROSS JOIN (
    SELECT sum(ratings) AS ratings, sum(stars) AS stars, sum(stars_squared) AS stars_squared FROM site_rating_totals
) a
LEFT JOIN LATERAL (
    SELECT sum(o.ratings) AS ratings, sum(o.stars) AS stars, sum(o.stars_squared) AS stars_squared
    FROM site_rating_totals o JOIN sites os ON os.id = o.site_id
    WHERE os.region_adcode = s.region_adcode AND os.deleted_at IS NULL
) r ON true
WHERE s.id = $1
"""


async def summary(reader: Reader, site_id: int) -> Any:
    return await reader.fetchrow(SUMMARY_SQL, site_id)


LIST_SQL = """
SELECT id, site_id, stars, tags, CASE WHEN comment_hidden_at IS NULL THEN comment END AS comment,
       comment_hidden_at IS NOT NULL AS comment_hidden, created_at
FROM site_ratings WHERE site_id = $1 AND replaced_at IS NULL AND id < $2
ORDER BY id DESC LIMIT $3
"""


async def page(reader: Reader, site_id: int, before: int, limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await reader.fetch(LIST_SQL, site_id, before, limit)]


async def lock_rating(conn: Reader, rating_id: int) -> Any:
    return await conn.fetchrow(
        "SELECT r.id, r.site_id, s.region_adcode FROM site_ratings r JOIN sites s ON s.id = r.site_id "
        "WHERE r.id = $1 FOR UPDATE OF r",
        rating_id,
    )


async def hide_comment(conn: Reader, rating_id: int, who: str) -> None:
    await conn.fetchval(
        "UPDATE site_ratings SET comment_hidden_at = coalesce(comment_hidden_at, now()), "
        "comment_hidden_by = coalesce(comment_hidden_by, $2) WHERE id = $1",
        rating_id,
        who,
    )


CALLBACK_COLUMNS = """
    c.id, c.site_id, s.name AS site_name, s.region_adcode, c.rating_id, r.stars, r.tags,
    CASE WHEN r.comment_hidden_at IS NULL THEN r.comment END AS comment, c.reason, c.due_on, c.status, c.outcome,
    c.created_at, c.resolved_at, c.resolved_by
"""


async def callbacks(
    reader: Reader,
    status: str | None,
    region_prefix: str | None,
    region: str | None,
    overdue_on: dt.date | None,
    after: int,
    limit: int,
) -> list[dict[str, Any]]:
    p = Params()
    clauses = [f"c.id > {p.add(after)}", "s.deleted_at IS NULL"]
    if status is not None:
        clauses.append(f"c.status = {p.add(status)}")
    if region_prefix is not None:
        clauses.append(in_region("s.region_adcode", p.add(region_prefix)))
    if region is not None:
        clauses.append(f"s.region_adcode = ANY (ARRAY({region_tree_sql(p.add(region))}))")
    if overdue_on is not None:
        clauses.append(f"c.status = 'open' AND c.due_on < {p.add(overdue_on)}")
    sql = (
        f"SELECT {CALLBACK_COLUMNS} FROM site_callbacks c JOIN sites s ON s.id = c.site_id "
        f"JOIN site_ratings r ON r.id = c.rating_id WHERE {' AND '.join(clauses)} ORDER BY c.id LIMIT {p.add(limit)}"
    )
    return [dict(r) for r in await reader.fetch(sql, *p.values)]


async def one_callback(reader: Reader, callback_id: int) -> dict[str, Any] | None:
    row = await reader.fetchrow(
        f"SELECT {CALLBACK_COLUMNS} FROM site_callbacks c JOIN sites s ON s.id = c.site_id "
        "JOIN site_ratings r ON r.id = c.rating_id WHERE c.id = $1",
        callback_id,
    )
    return dict(row) if row is not None else None


async def lock_callback(conn: Reader, callback_id: int) -> Any:
    return await conn.fetchrow(
        "SELECT c.id, c.site_id, c.status, s.region_adcode FROM site_callbacks c JOIN sites s ON s.id = c.site_id "
        "WHERE c.id = $1 FOR UPDATE OF c",
        callback_id,
    )


async def resolve_callback(conn: Reader, callback_id: int, outcome: str, who: str) -> None:
    await conn.fetchval(
        "UPDATE site_callbacks SET status = 'resolved', outcome = $2, resolved_at = now(), resolved_by = $3 "
        "WHERE id = $1",
        callback_id,
        outcome,
        who,
    )
