"""SQL for the change feed."""

import asyncpg

from app.database.read_pool import Reader

# Changes in (transaction id, change id) order, only from transactions that have finished. A change id alone is
# not safe as a cursor: ids are taken when rows are written, not when they commit, so a transaction that commits
# late can land behind a cursor that has moved on. Every transaction with an id below the snapshot's xmin has
# finished, and every one still running or yet to start has an id at or above it, so nothing ever appears behind
# the cursor. (A long transaction holds the feed back until it ends, which is the price of missing nothing.)
FEED_SQL = """
SELECT c.id, c.txid::text AS txid, c.site_id, c.action, c.version, c.changed_at, c.actor, c.after, c.register_changed
FROM site_changes c
WHERE (c.txid, c.id) > ($1::text::xid8, $2::bigint)
  AND c.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY c.txid, c.id
LIMIT $3
"""


async def changes_after(reader: Reader, txid: str, change_id: int, limit: int) -> list[asyncpg.Record]:
    return await reader.fetch(FEED_SQL, txid, change_id, limit)


# A change of what partners' copies carry of a site in use (its workers' rating, its star level) while its register
# record stands: an 'updated' entry at the record's own version (If-Match still compares the record, which a worker's
# rating must not make stale), the record the same before and after, which is how it differs from the register's own
# entries (the trigger writes none where nothing changed). A transaction that has an entry for the site already (a
# suspension's) writes no second: the feed gives the figures as they stand when read, so that entry carries them.
IN_USE_CHANGED_SQL = """
INSERT INTO site_changes (site_id, action, version, actor, before, after)
SELECT s.id, 'updated', s.version, $2, site_document(s), site_document(s)
FROM sites s
WHERE s.id = $1 AND s.deleted_at IS NULL
  AND NOT EXISTS (SELECT FROM site_changes c WHERE c.site_id = s.id AND c.txid = pg_current_xact_id())
"""


async def record_in_use_change(conn: Reader, site_id: int, actor: str) -> None:
    await conn.fetchval(IN_USE_CHANGED_SQL, site_id, actor)


async def next_transaction(reader: Reader) -> int:
    """The id the next transaction will get: no cursor this feed issued can be at or past it."""
    return int(await reader.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
