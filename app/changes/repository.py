"""SQL for the change feed."""

import asyncpg

from app.database.read_pool import Reader

# Changes in (transaction id, change id) order, only from transactions that have finished. A change id alone is
# not safe as a cursor: ids are taken when rows are written, not when they commit, so a transaction that commits
# late can land behind a cursor that has moved on. Every transaction with an id below the snapshot's xmin has
# finished, and every one still running or yet to start has an id at or above it, so nothing ever appears behind
# the cursor. (A long transaction holds the feed back until it ends, which is the price of missing nothing.)
FEED_SQL = """
SELECT c.id, c.txid::text AS txid, c.site_id, c.action, c.version, c.changed_at, c.actor, c.after
FROM site_changes c
WHERE (c.txid, c.id) > ($1::text::xid8, $2::bigint)
  AND c.txid < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY c.txid, c.id
LIMIT $3
"""


async def changes_after(reader: Reader, txid: str, change_id: int, limit: int) -> list[asyncpg.Record]:
    return await reader.fetch(FEED_SQL, txid, change_id, limit)


async def next_transaction(reader: Reader) -> int:
    """The id the next transaction will get: no cursor this feed issued can be at or past it."""
    return int(await reader.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
