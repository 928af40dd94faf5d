"""Rate limits: 429 with Retry-After past the limit, per key or address, shared across instances through Redis."""

import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import redis.asyncio as redis
from fastapi import FastAPI

from app.api import ratelimit
from app.config import Settings
from app.main import create_app

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(autouse=True)
def still_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every request of a test falls in the same window (20 s into it), whatever the wall clock does."""
    monkeypatch.setattr(ratelimit, "now", lambda: 1_800_000_020.0)


@asynccontextmanager
async def running(settings: Settings, client_address: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(client_address, 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
            yield http


def limited(settings: Settings, **overrides: object) -> Settings:
    return settings.model_copy(
        update={"rate_limit_reads_per_minute": 3, "rate_limit_writes_per_minute": 2, **overrides}
    )


async def test_reads_past_the_limit_get_429(settings: Settings) -> None:
    async with running(limited(settings)) as client:
        statuses = [(await client.get("/v1/regions")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        blocked = await client.get("/v1/regions")
        assert blocked.headers["content-type"] == "application/problem+json"
        assert blocked.headers["retry-after"] == "40"  # the rest of the minute
        assert (await client.get("/healthz")).status_code == 200  # probes are never limited


async def test_limits_count_the_key_and_the_address(settings: Settings) -> None:
    key = {"X-API-Key": "yz_abcd1234_secret"}
    app = create_app(limited(settings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.8", 1)), base_url="http://yizhan.test"
        ) as first,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 1)), base_url="http://yizhan.test"
        ) as other,
    ):
        for _ in range(3):
            assert (await first.get("/v1/regions", headers=key)).status_code == 200
        # The key has used its budget, from any address …
        assert (await other.get("/v1/regions", headers=key)).status_code == 429
        # … and the address has too: a made-up key does not buy more.
        assert (await first.get("/v1/regions", headers={"X-API-Key": "yz_madeup00_x"})).status_code == 429


async def redis_available() -> bool:
    try:
        connection = redis.from_url(REDIS_URL)
        await connection.ping()
        await connection.aclose()
        return True
    except (redis.RedisError, OSError):
        return False


async def test_instances_share_the_limit_through_redis(settings: Settings) -> None:
    if not await redis_available():
        pytest.fail("Redis is expected on 127.0.0.1:6379 on this machine")
    shared = limited(settings, redis_url=REDIS_URL, rate_limit_prefix=f"yizhan-test:{uuid.uuid4().hex}")
    async with running(shared) as first, running(shared) as second:
        assert (await first.get("/v1/regions")).status_code == 200
        assert (await second.get("/v1/regions")).status_code == 200
        assert (await first.get("/v1/regions")).status_code == 200
        assert (await second.get("/v1/regions")).status_code == 429  # the fourth across both instances


async def test_redis_down_fails_open(settings: Settings) -> None:
    broken = limited(settings, redis_url="redis://127.0.0.1:1/0")
    async with running(broken) as client:
        statuses = [(await client.get("/v1/regions")).status_code for _ in range(5)]
        assert statuses == [200] * 5


async def test_a_redis_that_never_answers_costs_milliseconds_and_one_log_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    silent = socket.socket()  # accepts connections, never says a word
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        hung = limited(settings, redis_url=f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        with caplog.at_level(logging.WARNING, logger="app.api.ratelimit"):
            async with running(hung) as client:
                started = time.perf_counter()
                statuses = [(await client.get("/v1/regions")).status_code for _ in range(10)]
                elapsed = time.perf_counter() - started
        assert statuses == [200] * 10  # failing open
        assert elapsed < 2.0, elapsed  # not 5 s a request
        assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1
    finally:
        silent.close()


async def test_coverage_questions_have_a_budget_of_their_own(settings: Settings) -> None:
    budget = limited(settings, rate_limit_reads_per_minute=100, rate_limit_coverage_per_minute=2)
    async with running(budget) as client:
        asked = [(await client.get("/v1/coverage/regions/371602")).status_code for _ in range(3)]
        assert asked == [200, 200, 429]
        siting = await client.post("/v1/coverage/suggest", json={"region": "371602", "count": 1})
        assert siting.status_code == 429 and "coverage" in siting.json()["detail"]
        # Progress computes coverage at every period's end: the same budget.
        assert (await client.get("/v1/progress/371602")).status_code == 429
        assert (await client.get("/v1/regions")).status_code == 200  # reads are not spent by coverage


@pytest.mark.parametrize(
    "what_if",
    ["radius_m=99999.31", "min_sites=5", "kind=legal_aid&radius_m=2000&min_sites=2", "radius%5Fm=99999.31"],
)
async def test_a_tile_with_a_what_if_spends_the_coverage_budget(settings: Settings, what_if: str) -> None:
    budget = limited(settings, rate_limit_reads_per_minute=100, rate_limit_coverage_per_minute=2)
    async with running(budget) as client:
        asked = [(await client.get(f"/v1/tiles/regions/7/105/48.mvt?{what_if}")).status_code for _ in range(3)]
        assert asked[:2] != [429, 429] and asked[2] == 429
        # A tile without one reads kept figures: the read budget.
        assert (await client.get("/v1/tiles/regions/7/105/48.mvt?kind=legal_aid")).status_code in (200, 204)
        assert (await client.get("/v1/coverage/regions/371602")).status_code == 429
