"""A database outage, for real: a throwaway cluster stopped and started again under the same running service.

While it is down, reads and writes answer 503 problem+json with Retry-After (never a 500) and /readyz is 503;
once it is back, the same process answers again within seconds, its pools rebuilt without a restart.
"""

import asyncio
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.main import create_app
from tests.tools import demo_with_key, localdb, unlimited

pytestmark = pytest.mark.alone  # stops and starts a cluster of its own


async def call(http: httpx.AsyncClient) -> list[httpx.Response]:
    return [
        await http.get("/v1/sites/nearest", params={"lat": 37.38, "lon": 117.97}),
        await http.get("/v1/sites", params={"limit": 1}),
        await http.post(
            "/v1/sites", json={"kind": "legal_aid", "name": "x", "lat": 1, "lon": 1}, headers={"X-API-Key": "k"}
        ),
    ]


async def test_an_outage_is_a_503_and_the_service_recovers_without_a_restart(
    cluster: tuple[Path, str],
) -> None:
    datadir, url = cluster
    settings = unlimited(url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
            assert (await http.get("/readyz")).status_code == 200
            assert [r.status_code for r in await call(http)][:2] == [200, 200]
            await asyncio.to_thread(localdb, datadir, "stop")
            for response in [*await call(http), await http.get("/readyz")]:
                assert response.status_code == 503, response.text
                assert response.headers["content-type"] == "application/problem+json"
            assert all(r.headers["retry-after"] == "5" for r in (await call(http)))
            await asyncio.to_thread(localdb, datadir, "start")
            deadline = time.monotonic() + 20
            while (answers := [r.status_code for r in await call(http)]) != [200, 200, 401]:
                assert time.monotonic() < deadline, answers
                await asyncio.sleep(0.5)
            assert (await http.get("/readyz")).status_code == 200


async def test_a_bulk_import_cut_by_the_outage_writes_nothing(cluster: tuple[Path, str]) -> None:
    datadir, url = cluster
    settings = unlimited(url)
    key = await demo_with_key(settings, "停电测试")
    lines = ["external_id,name,kind,lat,lon"]
    lines += [
        f"CUT-{n},停电站{n},legal_aid,{37.0 + n % 200 * 0.005:.5f},{117.5 + n // 200 * 0.005:.5f}"
        for n in range(30_000)
    ]
    body = "\n".join(lines).encode()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test", timeout=120) as http:
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/csv"}
            importing = asyncio.create_task(
                http.post("/v1/sites/bulk", params={"source": "cut"}, content=body, headers=headers)
            )
            await asyncio.sleep(1.0)  # it is reading, checking, writing
            await asyncio.to_thread(localdb, datadir, "stop")
            answer = await importing
            assert answer.status_code == 503, answer.text[:500]
            await asyncio.to_thread(localdb, datadir, "start")
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM sites WHERE source = 'cut'") == 0
        assert await conn.fetchval("SELECT count(*) FROM site_changes WHERE actor = '停电测试'") == 0
    finally:
        await conn.close()
