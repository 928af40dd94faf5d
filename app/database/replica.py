"""Reads on a streaming standby (DATABASE_READ_URL) while it is close enough behind the primary.

A watcher asks the standby for its lag every WATCH_SECONDS. Reads go to the standby while it answers and its lag
is at most DATABASE_READ_MAX_LAG_S, to the primary otherwise; a read the standby fails to answer (it stopped, it
restarts, recovery cancelled the query) is asked again of the primary, so a standby going away costs no request.

Lag is measured as PostgreSQL's monitoring advice has it: nothing when the standby streams from the primary and
has replayed all the WAL it received, else the time since the last transaction it replayed (unknown, infinite,
while it is not streaming). With writes waiting behind a paused or slow
replay, that is how stale its answers are; it overstates the lag of a standby that replays a first write after a
quiet hour, which only sends reads to the primary for a moment.
"""

import asyncio
import contextlib
import logging
from collections.abc import Hashable
from typing import Any

import asyncpg

from app.database.read_pool import Preferring, ReadPool
from app.observability import metrics
from app.problems.database import DATABASE_UNREACHABLE

log = logging.getLogger(__name__)
WATCH_SECONDS = 0.5

LAG_SECONDS = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    -- Cut off from the primary, it has replayed all it received and still falls behind: its lag is unknown.
    WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 'Infinity'
    WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
    ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, 'Infinity')
END
"""

# What makes a read on the standby worth asking the primary instead: the standby is not there, refuses it (too
# many connections, credentials, a database it lacks), or recovery cancelled the query (40001/40P01, a conflict
# with a replayed change).
STANDBY_FAILED: tuple[type[BaseException], ...] = (
    *DATABASE_UNREACHABLE,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TransactionRollbackError,
    asyncpg.InsufficientResourcesError,
    asyncpg.InvalidAuthorizationSpecificationError,
    asyncpg.InvalidCatalogNameError,
    asyncpg.InternalClientError,  # a connection the stopped server left mid-operation
    OSError,  # no route to the host, or a name that does not resolve
)


class ReplicaRouter:
    """The Reader for request-time reads: the standby's pool or the primary's, by the standby's last known lag."""

    def __init__(self, standby: ReadPool, primary: ReadPool, max_lag_s: float) -> None:
        self.standby = standby
        self.primary = primary
        self.max_lag_s = max_lag_s
        self.lag_s: float | None = None  # None until the standby answers, and while it does not
        self._watcher: asyncio.Task[None] | None = None

    @property
    def serving(self) -> bool:
        """Whether reads go to the standby now."""
        return self.lag_s is not None and self.lag_s <= self.max_lag_s

    async def start(self) -> None:
        await self.measure()
        self._watcher = asyncio.create_task(self._watch(), name="standby-lag")

    async def measure(self) -> float | None:
        """Ask the standby for its lag now; None (and reads on the primary) when it does not answer."""
        was_serving = self.serving
        try:
            lag = await asyncio.wait_for(self.standby.fetchval(LAG_SECONDS), timeout=2)
        except (*STANDBY_FAILED, asyncpg.PostgresError) as exc:
            self.lag_s = None
            reason = type(exc).__name__
        else:
            if lag is None:
                self.lag_s, reason = None, "DATABASE_READ_URL is not a standby"
            else:
                self.lag_s, reason = float(lag), f"lag {float(lag):.1f} s"
        if self.serving != was_serving:
            log.warning("reads now go to the %s (%s)", "standby" if self.serving else "primary", reason)
        if self.lag_s is not None:
            metrics.STANDBY_LAG.set(self.lag_s)
        metrics.STANDBY_SERVING.set(int(self.serving))
        return self.lag_s

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                await self.measure()
            except Exception:  # the watcher must outlive anything: a dead one would freeze the routing
                self.lag_s = None
                log.exception("measuring the standby's lag failed; reads go to the primary")

    def preferring(self, key: Hashable) -> Preferring:
        """The serving pool's ReadPool.preferring, whichever serves at each statement."""
        return Preferring(self._read, key)

    async def _read(self, method: str, query: str, args: tuple[Any, ...], key: Hashable = None) -> Any:
        if self.serving:
            try:
                return await self.standby.run(method, query, args, key)
            except STANDBY_FAILED as exc:
                if self.lag_s is not None:
                    log.warning("the standby failed a read (%s); reads go to the primary", type(exc).__name__)
                self.lag_s = None  # until the watcher hears from it again
                metrics.STANDBY_FALLBACKS.inc()
        return await self.primary.run(method, query, args, key)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._read("fetch", query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._read("fetchrow", query, args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._read("fetchval", query, args)

    def gauges(self) -> dict[str, int]:
        """The pool serving reads now (see ReadPool.gauges)."""
        return (self.standby if self.serving else self.primary).gauges()

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.standby.close()
