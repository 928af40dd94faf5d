"""The key's region holds inside the statement that writes: a site another county creates while a bulk import is
between its region check and its upsert is refused (403, or the row rejected), never moved or renamed.

On a database of its own: the two writes commit, on two real connections."""

import asyncio
import json
import random
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from app.config import Settings
from app.keys import service as keys
from app.main import create_app
from tests.conftest import serving
from tests.tools import own_database

HUIMIN = "371621"  # 惠民县
BINCHENG = "371602"  # 滨城区
HUIMIN_SEAT = {"lat": 37.34, "lon": 117.60}
BINCHENG_CENTRE = {"lat": 37.3805, "lon": 117.9702}
SOURCE = "race"


async def _county_keys(settings: Settings) -> tuple[str, str]:
    from app.database.connections import create_engine

    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            return (
                await keys.create(conn, "惠民县总工会", ["write"], HUIMIN),
                await keys.create(conn, "滨城区总工会", ["write"], BINCHENG),
            )
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[Settings, str, str]]:
    with own_database("bulk_region_race") as (settings, _):
        huimin_key, bincheng_key = asyncio.run(_county_keys(settings))
        yield settings, huimin_key, bincheng_key


def bulk_row(external_id: str, name: str) -> dict[str, object]:
    return {"external_id": external_id, "kind": "legal_aid", "name": name, **HUIMIN_SEAT}


async def site_of(url: str, external_id: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchrow(
            "SELECT name, region_adcode, version, ST_Y(geom) lat, ST_X(geom) lon FROM sites "
            "WHERE source = $1 AND external_id = $2",
            SOURCE,
            external_id,
        )
    finally:
        await conn.close()


async def _wait_until_blocked(watcher: asyncpg.Connection, blocker_pid: int) -> None:
    """Until a write connection of the service waits for a lock the blocking transaction holds."""
    for _ in range(400):
        waiting = await watcher.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", blocker_pid
        )
        if waiting:
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the import never reached its write")


@pytest.mark.parametrize(
    ("params", "expected_status"),
    [
        ({}, 403),  # all or nothing: the whole import is refused
        ({"dry_run": "true"}, 403),  # a dry run reports the refusal as the real run would meet it
        ({"atomic": "false"}, 200),  # partial: the row is rejected, the rest written
    ],
    ids=["atomic", "dry-run", "partial"],
)
async def test_a_site_created_in_another_county_during_the_import_is_refused(
    database: tuple[Settings, str, str], params: dict[str, str], expected_status: int
) -> None:
    """The window made certain: the other county's insert is in flight (uncommitted) when the import checks, and
    commits while the import's upsert waits on it."""
    settings, huimin_key, _ = database
    url = str(settings.database_url)
    external_id = "window-" + "-".join(f"{k}={v}" for k, v in params.items())
    other_id = f"{external_id}-other"
    creator, watcher = await asyncpg.connect(url), await asyncpg.connect(url)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test", timeout=60) as http:
                transaction = creator.transaction()
                await transaction.start()
                await creator.execute(
                    "INSERT INTO sites (kind, name, location, source, external_id) "
                    "VALUES ('legal_aid', '滨城站', ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, $3, $4)",
                    BINCHENG_CENTRE["lon"],
                    BINCHENG_CENTRE["lat"],
                    SOURCE,
                    external_id,
                )
                rows = [bulk_row(external_id, "惠民接管"), bulk_row(other_id, "惠民新站")]
                upload = asyncio.create_task(
                    http.post(
                        "/v1/sites/bulk",
                        params={"source": SOURCE, **params},
                        content=json.dumps(rows),
                        headers={"Authorization": f"Bearer {huimin_key}", "Content-Type": "application/json"},
                    )
                )
                await _wait_until_blocked(watcher, creator.get_server_pid())
                await transaction.commit()
                answer = await upload
    finally:
        await creator.close()
        await watcher.close()
    assert answer.status_code == expected_status, answer.text
    site = await site_of(url, external_id)
    assert site is not None
    assert (site["name"], site["region_adcode"], site["version"]) == ("滨城站", BINCHENG, 1)
    assert (site["lat"], site["lon"]) == pytest.approx((BINCHENG_CENTRE["lat"], BINCHENG_CENTRE["lon"]))
    if expected_status == 403:
        assert answer.headers["content-type"] == "application/problem+json"
        assert BINCHENG in answer.json()["detail"] and "row 1" in answer.json()["detail"]
        assert await site_of(url, other_id) is None, "nothing was written"
    else:
        report = answer.json()
        assert [r["outcome"] for r in report["rows"]] == ["rejected", "created"]
        assert BINCHENG in report["rows"][0]["reasons"][0]
        assert (await site_of(url, other_id)) is not None


ROUNDS = 50


async def test_racing_a_create_and_a_bulk_import_never_moves_the_site(database: tuple[Settings, str, str]) -> None:
    """A 371602 key creates and a 371621 key bulk-upserts the same (source, external_id), at once, over real
    connections to a live server, with the timing varied from round to round."""
    settings, huimin_key, bincheng_key = database
    url = str(settings.database_url)
    shuffle = random.Random(20)
    outcomes: list[tuple[int, int]] = []
    with serving(settings) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:

            async def create(external_id: str, delay: float) -> httpx.Response:
                await asyncio.sleep(delay)
                site = {"kind": "legal_aid", "name": f"滨城{external_id}", "source": SOURCE, **BINCHENG_CENTRE}
                return await http.post(
                    "/v1/sites", json={**site, "external_id": external_id}, headers={"X-API-Key": bincheng_key}
                )

            async def upsert(external_id: str, delay: float) -> httpx.Response:
                await asyncio.sleep(delay)
                return await http.post(
                    "/v1/sites/bulk",
                    params={"source": SOURCE},
                    content=json.dumps([bulk_row(external_id, f"惠民{external_id}")]),
                    headers={"X-API-Key": huimin_key, "Content-Type": "application/json"},
                )

            for round_ in range(ROUNDS):
                external_id = f"r{round_}"
                created, upserted = await asyncio.gather(
                    create(external_id, shuffle.uniform(0, 0.03)), upsert(external_id, shuffle.uniform(0, 0.03))
                )
                outcomes.append((created.status_code, upserted.status_code))
                site = await site_of(url, external_id)
                assert site is not None
                if created.status_code == 201:
                    assert upserted.status_code == 403, (round_, upserted.text)
                    assert (site["name"], site["region_adcode"], site["version"]) == (f"滨城{external_id}", BINCHENG, 1)
                else:
                    assert (created.status_code, upserted.status_code) == (409, 200), (round_, created.text)
                    assert (site["name"], site["region_adcode"]) == (f"惠民{external_id}", HUIMIN)
    # Both orders happened, so the race was run, not one side always first.
    assert {c for c, _ in outcomes} == {201, 409}, outcomes
