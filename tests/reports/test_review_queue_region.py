"""The review queue a key reads is its region's: a county key sees the reports on its county's sites (and where each
reporter stood) and nothing of another county's; a key without a region reviews, and sees, them all."""

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys

HUIMIN = "371621"  # 惠民县
BINCHENG = "371602"  # 滨城区
REGIONS = {HUIMIN: {"lat": 37.34, "lon": 117.60}, BINCHENG: {"lat": 37.3805, "lon": 117.9702}}


@pytest.fixture
async def reported(client: httpx.AsyncClient, conn: asyncpg.Connection) -> dict[str, list[int]]:
    """Two sites in each county, each reported by a worker standing beside it: county → report ids."""
    found: dict[str, list[int]] = {}
    for region, point in REGIONS.items():
        sites = await conn.fetch(
            "SELECT id FROM sites WHERE region_adcode = $1 AND deleted_at IS NULL ORDER BY id LIMIT 2", region
        )
        assert len(sites) == 2
        for n, site in enumerate(sites):
            answer = await client.post(
                f"/v1/sites/{site['id']}/reports",
                json={"type": "locked", "lat": point["lat"] + n * 0.001, "lon": point["lon"]},
            )
            assert answer.status_code == 201, answer.text
            found.setdefault(region, []).append(answer.json()["id"])
    return found


async def queue(client: httpx.AsyncClient, key: str, **params: object) -> list[dict]:
    answer = await client.get("/v1/reports", params={"limit": 500, **params}, headers={"X-API-Key": key})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


@pytest.mark.parametrize(
    ("key_region", "sees"),
    [(HUIMIN, [HUIMIN]), (BINCHENG, [BINCHENG]), ("3716", [HUIMIN, BINCHENG]), (None, [HUIMIN, BINCHENG])],
    ids=["huimin", "bincheng", "binzhou-city", "national"],
)
async def test_a_key_reads_the_queue_of_its_region(
    client: httpx.AsyncClient,
    sa_conn: AsyncConnection,
    reported: dict[str, list[int]],
    key_region: str | None,
    sees: list[str],
) -> None:
    key = await keys.create(sa_conn, f"key of {key_region}", ["write"], key_region)
    items = await queue(client, key)
    ours = {i["id"] for i in items} & {r for ids in reported.values() for r in ids}
    assert ours == {r for region in sees for r in reported[region]}
    for item in items:
        assert item["reporter_lat"] is not None or item["id"] not in ours  # where the worker stood, to the reviewer


@pytest.mark.parametrize("region", [BINCHENG, HUIMIN])
async def test_asking_for_another_countys_site_finds_nothing(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, conn: asyncpg.Connection, reported: dict, region: str
) -> None:
    other = HUIMIN if region == BINCHENG else BINCHENG
    key = await keys.create(sa_conn, f"key of {region}", ["write"], region)
    site_id = await conn.fetchval("SELECT site_id FROM site_reports WHERE id = $1", reported[other][0])
    assert await queue(client, key, site_id=site_id) == []
    own_site = await conn.fetchval("SELECT site_id FROM site_reports WHERE id = $1", reported[region][0])
    assert [i["id"] for i in await queue(client, key, site_id=own_site)] == [reported[region][0]]


async def test_the_queue_pages_within_the_region(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, reported: dict[str, list[int]]
) -> None:
    key = await keys.create(sa_conn, "惠民县总工会", ["write"], HUIMIN)
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        answer = await client.get("/v1/reports", params=params, headers={"X-API-Key": key})
        seen += [i["id"] for i in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    assert set(reported[HUIMIN]) <= set(seen) and not set(reported[BINCHENG]) & set(seen)


async def test_region_narrows_the_queue_within_the_keys_region(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, reported: dict[str, list[int]]
) -> None:
    city = await keys.create(sa_conn, "滨州市总工会", ["write"], "3716")
    ours = {r for ids in reported.values() for r in ids}
    for region in (HUIMIN, BINCHENG):
        items = await queue(client, city, region=region)
        assert {i["id"] for i in items} & ours == set(reported[region])
    # A city, not only a county: its counties' reports, descendants included.
    assert {i["id"] for i in await queue(client, city, region="371600")} & ours == ours

    county = await keys.create(sa_conn, "滨城区总工会", ["write"], BINCHENG)
    outside = await client.get("/v1/reports", params={"region": HUIMIN}, headers={"X-API-Key": county})
    assert outside.status_code == 403
    assert outside.json()["detail"] == f"region {HUIMIN} is outside this key's region {BINCHENG}*"
    unknown = await client.get("/v1/reports", params={"region": "379999"}, headers={"X-API-Key": city})
    assert unknown.status_code == 404 and "379999" in unknown.json()["detail"]
    bad = await client.get("/v1/reports", params={"region": "37<b>"}, headers={"X-API-Key": city})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["region"]
    assert bad.headers["content-type"].startswith("application/problem+json")
