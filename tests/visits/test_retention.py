"""The raw visits' retention on a schedule: months past it dropped, the newer and every daily count kept, next
month's partition made; one process at a time (the others skip); a failure logged and counted, the service up."""

import asyncio
import datetime as dt
import logging

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from typer.testing import CliRunner

from app.china_time import CHINA
from app.cli import cli
from app.config import Settings
from app.main import create_app
from app.visits import retention

AT = dt.datetime(2026, 12, 7, 10, 0, tzinfo=CHINA)
# 13 months before December 2026: November 2025 is the oldest month kept.


async def partitions(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'site_visits'::regclass ORDER BY c.relname"
    )
    return [r[0] for r in rows]


async def visit_on(conn: asyncpg.Connection, site_id: int, day: dt.date, client: bytes) -> None:
    hour = dt.datetime.combine(day, dt.time(9), tzinfo=CHINA)
    await conn.execute("SELECT site_visits_make_partitions($1)", hour)
    await conn.execute("INSERT INTO site_visits (site_id, hour, client) VALUES ($1, $2, $3)", site_id, hour, client)
    await conn.execute("INSERT INTO site_visit_days (site_id, day, visits) VALUES ($1, $2, 1)", site_id, day)


def runs(outcome: str) -> float:
    return REGISTRY.get_sample_value("yizhan_visit_retention_runs_total", {"outcome": outcome}) or 0.0


async def test_months_past_the_retention_go_and_the_newer_and_the_daily_counts_stay(
    conn: asyncpg.Connection, sa_conn: AsyncConnection
) -> None:
    site_id = await conn.fetchval("SELECT id FROM sites WHERE deleted_at IS NULL ORDER BY id LIMIT 1")
    days = [dt.date(2025, 9, 30), dt.date(2025, 10, 31), dt.date(2025, 11, 1), dt.date(2026, 6, 15)]
    for i, day in enumerate(days):
        await visit_on(conn, site_id, day, bytes([i]) * 16)
    before = await partitions(conn)
    assert {"site_visits_2025_09", "site_visits_2025_10", "site_visits_2025_11"} <= set(before)
    expected_gone = [name for name in before if name < "site_visits_2025_11"]  # the months before November 2025

    dry = await retention.prune(sa_conn, 13, AT, dry_run=True)
    assert (dry.ran, dry.oldest_kept, dry.dropped) == (True, dt.date(2025, 11, 1), expected_gone)
    assert await partitions(conn) == before  # a dry run changes nothing

    done = await retention.prune(sa_conn, 13, AT)
    assert done.dropped == expected_gone
    after = await partitions(conn)
    assert after == sorted(set(before) - set(expected_gone) | {"site_visits_2026_12", "site_visits_2027_01"})
    raw = await conn.fetch("SELECT hour FROM site_visits WHERE site_id = $1 ORDER BY hour", site_id)
    assert [r["hour"].astimezone(CHINA).date() for r in raw] == days[2:]  # November 2025 on
    daily = await conn.fetch(
        "SELECT day, visits FROM site_visit_days WHERE site_id = $1 AND day = ANY($2) ORDER BY day", site_id, days
    )
    assert [(r["day"], r["visits"]) for r in daily] == [(day, 1) for day in days]  # kept for good

    # Another retention in months: with 7, June 2026 is the oldest kept (December less seven).
    assert retention.oldest_kept(AT, 7) == dt.date(2026, 5, 1)
    assert retention.oldest_kept(dt.datetime(2027, 1, 1, 0, 30, tzinfo=CHINA), 13) == dt.date(2025, 12, 1)


async def test_the_lock_held_elsewhere_means_skip(
    conn: asyncpg.Connection, sa_conn: AsyncConnection, engine: AsyncEngine
) -> None:
    site_id = await conn.fetchval("SELECT id FROM sites WHERE deleted_at IS NULL ORDER BY id LIMIT 1")
    await visit_on(conn, site_id, dt.date(2024, 3, 5), b"\x07" * 16)
    before = await partitions(conn)
    async with engine.connect() as other:
        await other.execute(text("SELECT pg_advisory_lock(hashtext('site_visits_retention'))"))
        try:
            skipped = await retention.prune(sa_conn, 13, AT)
        finally:
            await other.execute(text("SELECT pg_advisory_unlock(hashtext('site_visits_retention'))"))
    assert (skipped.ran, skipped.dropped) == (False, [])
    assert await partitions(conn) == before and "site_visits_2024_03" in before


async def test_the_service_runs_it_at_start_and_a_failure_is_logged_and_counted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    done_before = runs("done") + runs("skipped")
    app = create_app(settings.model_copy(update={"visits_retention_on_schedule": True}))
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if runs("done") + runs("skipped") > done_before:
                break
            await asyncio.sleep(0.1)
        assert runs("done") + runs("skipped") == done_before + 1

    async def failing(*args: object, **kwargs: object) -> retention.Pruned:
        raise asyncpg.LockNotAvailableError("canceling statement due to lock timeout")

    monkeypatch.setattr(retention, "prune", failing)
    failed_before = runs("failed")
    app = create_app(settings.model_copy(update={"visits_retention_on_schedule": True}))
    with caplog.at_level(logging.ERROR, logger="app.visits.retention"):
        async with app.router.lifespan_context(app):
            for _ in range(100):
                if runs("failed") > failed_before:
                    break
                await asyncio.sleep(0.1)
            assert runs("failed") == failed_before + 1
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as client:
                assert (await client.get("/v1/regions")).status_code == 200  # the service is up
    assert "visit retention failed" in caplog.text
    assert await retention.run_once(app.state.db.engine, 13) == retention.RETRY_AFTER_FAILURE


def test_prune_from_the_command_line(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    monkeypatch.setattr(retention, "now", lambda: AT)
    url = str(settings.database_url)

    async def make_old_months() -> list[str]:
        db = await asyncpg.connect(url)
        try:
            await db.execute("SELECT site_visits_make_partitions('2024-01-15 12:00+08')")
            return [n for n in await partitions(db) if n < "site_visits_2025_11"]
        finally:
            await db.close()

    async def now_there() -> list[str]:
        db = await asyncpg.connect(url)
        try:
            return await partitions(db)
        finally:
            await db.close()

    old = asyncio.run(make_old_months())
    assert {"site_visits_2024_01", "site_visits_2024_02"} <= set(old)
    runner = CliRunner()
    dry = runner.invoke(cli, ["visits", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"would drop {len(old)} partitions" in dry.output and "site_visits_2024_01" in dry.output
    assert set(old) <= set(asyncio.run(now_there()))
    pruned = runner.invoke(cli, ["visits", "prune"])
    assert pruned.exit_code == 0 and f"dropped {len(old)} partitions" in pruned.output
    assert not set(old) & set(asyncio.run(now_there()))
