"""Reads on a streaming standby, for real: a throwaway primary and a hot standby of it (scripts/localdb.sh standby).

The standby's replay is paused (pg_wal_replay_pause) to make it lag on purpose; it is stopped under load to show
that reads move to the primary without an error.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
from pydantic import PostgresDsn

from app.database.replica import ReplicaRouter
from app.main import create_app
from tests.tools import demo_with_key, localdb, unlimited

pytestmark = pytest.mark.alone  # streams a cluster of its own to a standby

SITE = {"kind": "legal_aid", "name": "复制测试站", "lat": 37.38, "lon": 117.97}


@pytest.fixture(scope="module")
def clusters(cluster: tuple[Path, str]) -> Iterator[tuple[str, Path, str]]:
    """The primary's URL, the standby's data folder and its URL (the demo data and a write key on both)."""
    primary_dir, primary_url = cluster
    standby_dir = primary_dir.parent / "standby"
    localdb(primary_dir, "standby", str(standby_dir))
    try:
        yield primary_url, standby_dir, localdb(standby_dir, "url", "yizhan")
    finally:
        localdb(standby_dir, "stop")


@pytest.fixture(scope="module")
async def write_key(clusters: tuple[str, Path, str]) -> str:
    return await demo_with_key(unlimited(clusters[0]), "复制测试")


@asynccontextmanager
async def service(clusters: tuple[str, Path, str], max_lag_s: float) -> AsyncIterator[httpx.AsyncClient]:
    primary_url, _, standby_url = clusters
    app = create_app(
        unlimited(primary_url, database_read_url=PostgresDsn(standby_url), database_read_max_lag_s=max_lag_s)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


def router_of(http: httpx.AsyncClient) -> ReplicaRouter:
    router = http.app.state.db.reader  # type: ignore[attr-defined]
    assert isinstance(router, ReplicaRouter)
    return router


@asynccontextmanager
async def replay_paused(standby_url: str, primary_url: str) -> AsyncIterator[None]:
    """The standby stops replaying once it has replayed a fresh write (so its last replay time is now)."""
    primary, standby = await asyncpg.connect(primary_url), await asyncpg.connect(standby_url)
    try:
        marker = await primary.fetchval("SELECT pg_current_wal_insert_lsn()::text FROM pg_create_restore_point('m')")
        deadline = time.monotonic() + 20
        while not await standby.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", marker):
            assert time.monotonic() < deadline, "the standby does not catch up"
            await asyncio.sleep(0.05)
        await standby.execute("SELECT pg_wal_replay_pause()")
        yield
    finally:
        await standby.execute("SELECT pg_wal_replay_resume()")
        await primary.close()
        await standby.close()


async def lag_passes(router: ReplicaRouter, seconds: float) -> float:
    deadline = time.monotonic() + seconds + 20
    while (lag := await router.measure()) is None or lag <= seconds:
        assert time.monotonic() < deadline, lag
        await asyncio.sleep(0.1)
    return lag


async def test_reads_go_to_the_standby_while_its_lag_is_within_the_limit(
    clusters: tuple[str, Path, str], write_key: str
) -> None:
    primary_url, _, standby_url = clusters
    headers = {"Authorization": f"Bearer {write_key}"}
    async with service(clusters, max_lag_s=3600) as http:
        async with replay_paused(standby_url, primary_url):
            created = await http.post("/v1/sites", json=SITE, headers=headers)
            # The write and its own answer are the primary's; so are the key and the change feed.
            assert created.status_code == 201, created.text
            site_id = created.json()["id"]
            feed = (await http.get("/v1/changes", params={"limit": 1000})).json()["items"]
            assert site_id in {c["site_id"] for c in feed}
            # A read is the standby's, behind by less than the limit: it has not replayed the new site yet.
            lag = await router_of(http).measure()
            assert lag is not None and 0 < lag <= 3600
            assert (await http.get(f"/v1/sites/{site_id}")).status_code == 404
            ready = (await http.get("/readyz")).json()
            assert ready["standby"] == {"lag_s": pytest.approx(lag, abs=5), "max_lag_s": 3600, "serving_reads": True}
        deadline = time.monotonic() + 20
        while (await http.get(f"/v1/sites/{site_id}")).status_code != 200:
            assert time.monotonic() < deadline, "the standby does not replay the new site"
            await asyncio.sleep(0.1)


async def test_past_the_limit_reads_go_to_the_primary(clusters: tuple[str, Path, str], write_key: str) -> None:
    primary_url, _, standby_url = clusters
    headers = {"Authorization": f"Bearer {write_key}"}
    async with service(clusters, max_lag_s=1) as http:
        router = router_of(http)
        async with replay_paused(standby_url, primary_url):
            site_id = (await http.post("/v1/sites", json=SITE, headers=headers)).json()["id"]
            lag = await lag_passes(router, 1)
            assert not router.serving
            answer = await http.get(f"/v1/sites/{site_id}")
            assert answer.status_code == 200, "read on the lagging standby, not on the primary"
            ready = await http.get("/readyz")
            assert ready.status_code == 200
            standby = {"lag_s": pytest.approx(lag, abs=5), "max_lag_s": 1, "serving_reads": False}
            assert ready.json()["standby"] == standby
        deadline = time.monotonic() + 20
        while not (await router.measure() == 0 and router.serving):
            assert time.monotonic() < deadline, "reads do not go back to the standby once it caught up"
            await asyncio.sleep(0.1)


async def test_a_standby_stopped_under_load_costs_no_request(clusters: tuple[str, Path, str], write_key: str) -> None:
    _, standby_dir, _ = clusters
    async with service(clusters, max_lag_s=30) as http:
        router = router_of(http)
        assert router.serving
        statuses: list[int] = []
        stop = asyncio.Event()

        async def reader() -> None:
            while not stop.is_set():
                for r in (
                    await http.get("/v1/sites/nearest", params={"lat": 37.38, "lon": 117.97, "limit": 3}),
                    await http.get("/v1/sites", params={"limit": 5}),
                    await http.get("/v1/regions"),
                ):
                    statuses.append(r.status_code)

        readers = [asyncio.create_task(reader()) for _ in range(8)]
        try:
            await asyncio.sleep(1)
            served_by_standby = len(statuses)
            await asyncio.to_thread(localdb, standby_dir, "stop")
            await asyncio.sleep(1.5)
        finally:
            stop.set()
            await asyncio.gather(*readers)
        assert served_by_standby > 0 and len(statuses) > served_by_standby
        assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
        assert not router.serving
        ready = (await http.get("/readyz")).json()
        assert ready["standby"] == {"lag_s": None, "max_lag_s": 30, "serving_reads": False}
        # Back up, it serves reads again without a restart of the service.
        await asyncio.to_thread(localdb, standby_dir, "start")
        deadline = time.monotonic() + 30
        while not router.serving:
            assert time.monotonic() < deadline, "reads do not go back to the restarted standby"
            await asyncio.sleep(0.2)
        assert (await http.get("/v1/sites", params={"limit": 1})).status_code == 200
