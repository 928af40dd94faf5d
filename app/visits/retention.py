"""Retention of raw visits, on a schedule: the service makes sure of next month's partition and drops the months
past the retention (Settings.visits_retention_months) once at start and then daily; `yizhan visits prune` does the
same for operators who run it from cron. The daily counts per site and group (site_visit_days) are never dropped.

Several workers or instances may run it at once: one transaction-scoped advisory lock lets one of them work and the
others skip. Its DDL waits at most LOCK_TIMEOUT for the visits table (a partition is made or dropped under a lock
that would queue every visit behind it), and a run that fails is logged, counted and tried again an hour later;
it never stops the service.
"""

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import china_time
from app.database.connections import reader_in
from app.observability import metrics
from app.visits import repository

log = logging.getLogger(__name__)
EVERY = dt.timedelta(days=1)
RETRY_AFTER_FAILURE = dt.timedelta(hours=1)
LOCK_TIMEOUT = dt.timedelta(seconds=5)

now = china_time.now  # the clock the months are cut by (tests move it)


@dataclass(frozen=True)
class Pruned:
    """What a run did, or would do (dry run): the partitions past the retention, and the oldest month kept."""

    ran: bool  # false: another process held the lock, and this run did nothing
    oldest_kept: dt.date
    dropped: list[str]


def oldest_kept(at: dt.datetime, retention_months: int) -> dt.date:
    """The first month whose raw visits are kept at `at`: `retention_months` whole months before the current one."""
    local = china_time.local_time(at)
    months = local.year * 12 + local.month - 1 - retention_months
    return dt.date(months // 12, months % 12 + 1, 1)


async def prune(conn: AsyncConnection, retention_months: int, at: dt.datetime, dry_run: bool = False) -> Pruned:
    """In `conn`'s transaction: make sure of the partitions of `at`'s month and the next, and drop those of months
    before the oldest kept (with `dry_run`, only say which); nothing if another process is at it."""
    raw = await reader_in(conn)
    keep_from = oldest_kept(at, retention_months)
    if not await repository.try_lock_retention(raw):
        return Pruned(False, keep_from, [])
    await repository.wait_for_locks_at_most(raw, LOCK_TIMEOUT)
    before = dt.datetime.combine(keep_from, dt.time(), tzinfo=china_time.CHINA)
    if dry_run:
        return Pruned(True, keep_from, await repository.partitions_before(raw, before))
    await repository.make_partitions(raw, at)
    return Pruned(True, keep_from, await repository.drop_partitions(raw, before))


async def run_once(engine: AsyncEngine, retention_months: int) -> dt.timedelta:
    """One scheduled run; how long until the next."""
    try:
        async with engine.begin() as conn:
            done = await prune(conn, retention_months, now())
    except Exception:
        log.exception("visit retention failed; trying again in %s", RETRY_AFTER_FAILURE)
        metrics.VISIT_RETENTION_RUNS.labels("failed").inc()
        return RETRY_AFTER_FAILURE
    if done.ran:
        log.info("visit retention: kept from %s, dropped %s", done.oldest_kept, done.dropped or "nothing")
    metrics.VISIT_RETENTION_RUNS.labels("done" if done.ran else "skipped").inc()
    return EVERY


async def on_schedule(engine: AsyncEngine, retention_months: int) -> None:
    """Run at once, then daily (an hour after a failure), until cancelled."""
    while True:
        wait = await run_once(engine, retention_months)
        await asyncio.sleep(wait.total_seconds())
