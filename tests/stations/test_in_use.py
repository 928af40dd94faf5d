"""The worker's answers show a station in use: its workers' rating, its star level and whether it is usually busy at
this hour; min_rating and min_star filter the nearest search exactly (checked against filtering its unfiltered
order here)."""

import math
import secrets

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app import china_time
from app.keys import service as keys

LON, LAT = 100.0, 45.0  # far from the demo data


@pytest.fixture
async def row_of_sites(conn: asyncpg.Connection) -> list[int]:
    """Eight sites 100, 200 … 800 m north of the probe point."""
    ids = []
    for i in range(8):
        ids.append(
            await conn.fetchval(
                "INSERT INTO sites (kind, name, location, source, external_id, last_verified_at, verified_by) VALUES "
                "('outdoor_station', $1, ST_Project(ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, $4, 0), "
                "'test', $1, now(), 'inspection') RETURNING id",
                f"站{i}",
                LON,
                LAT,
                100.0 * (i + 1),
            )
        )
    return ids


async def test_the_site_page_and_nearest_show_rating_star_level_and_busy_now(
    client: httpx.AsyncClient, conn: asyncpg.Connection, sa_conn: AsyncConnection, row_of_sites: list[int]
) -> None:
    first, second = row_of_sites[:2]
    token = secrets.token_urlsafe(16)
    await conn.execute("INSERT INTO site_door_tokens (site_id, token) VALUES ($1, $2)", first, token)
    for who, stars in (("phone-0001", 4), ("phone-0002", 5)):
        rated = await client.post(
            f"/v1/sites/{first}/ratings", json={"token": token, "stars": stars}, headers={"X-Client-Id": who}
        )
        assert rated.status_code == 201
    inspector = {"Authorization": f"Bearer {await keys.create(sa_conn, '检查组', ['inspect'], None)}"}
    scores = dict.fromkeys(("hardware", "equipment", "signage", "rules", "funding", "use", "activities"), 85)
    inspected = await client.post(
        f"/v1/sites/{first}/inspections",
        json={"unannounced": False, "inspector": "李", "scores": scores},
        headers=inspector,
    )
    assert inspected.status_code == 201
    # Busy when the profile expects 5 visits in this hour of a day: a weight of 5 / (1 - e^(-1/14)) ≈ 72.5.
    now = china_time.now()
    threshold = 5 / (1 - math.exp(-1 / 14))
    for site_id, weight in ((first, threshold * 1.1), (second, threshold * 0.9)):
        await conn.execute(
            "INSERT INTO site_hour_profiles (site_id, hour_of_day, weight, updated_at) VALUES ($1, $2, $3, $4)",
            site_id,
            china_time.local_time(now).hour,
            weight,
            now,
        )
    page = (await client.get(f"/v1/sites/{first}")).json()
    assert page["worker_rating"] == {"mean": 4.5, "count": 2} and page["star_level"] == 4 and page["busy_now"]
    items = (await client.get("/v1/sites/nearest", params={"lat": LAT, "lon": LON, "limit": 3})).json()["items"]
    assert [i["id"] for i in items] == row_of_sites[:3]
    assert (items[0]["worker_rating"], items[0]["star_level"], items[0]["busy_now"]) == (
        {"mean": 4.5, "count": 2},
        4,
        True,
    )
    assert (items[1]["worker_rating"], items[1]["star_level"], items[1]["busy_now"]) == (
        {"mean": None, "count": 0},
        None,
        False,
    )


async def test_min_rating_and_min_star_keep_the_nearest_order_of_the_sites_that_pass(
    client: httpx.AsyncClient, conn: asyncpg.Connection, row_of_sites: list[int]
) -> None:
    # (ratings, stars) and an inspection level for each site, nearest first; some with neither.
    ratings = [(3, 9), None, (10, 45), (1, 5), None, (4, 10), (20, 90), (2, 10)]
    levels = [5, 2, None, 4, 3, 5, 4, None]
    for site_id, rated, level in zip(row_of_sites, ratings, levels, strict=True):
        if rated is not None:
            await conn.execute(
                "INSERT INTO site_rating_totals (site_id, ratings, stars) VALUES ($1, $2, $3)", site_id, *rated
            )
        if level is not None:
            scores = 10 * (level + 4)  # 90 → 5 … 50 → 1, as the rule reads a total
            await conn.execute(
                "INSERT INTO site_inspections (site_id, inspected_on, unannounced, hardware, equipment, signage, "
                "rules, funding, use, activities, level, passed, inspector, recorded_by) "
                "VALUES ($1, current_date, false, $2, $2, $2, $2, $2, $2, $2, $3, true, 'x', 'x')",
                site_id,
                scores,
                level,
            )
    for params in ({"min_rating": 4.5}, {"min_star": 4}, {"min_rating": 3, "min_star": 4}, {"min_rating": 4.4}):
        for limit in (1, 2, 5):
            answer = await client.get("/v1/sites/nearest", params={"lat": LAT, "lon": LON, "limit": limit, **params})
            assert answer.status_code == 200
            expected = [
                site_id
                for site_id, rated, level in zip(row_of_sites, ratings, levels, strict=True)
                if ("min_rating" not in params or (rated is not None and rated[1] / rated[0] >= params["min_rating"]))
                and ("min_star" not in params or (level is not None and level >= params["min_star"]))
            ][:limit]
            assert [i["id"] for i in answer.json()["items"]] == expected, (params, limit)
    bad = await client.get("/v1/sites/nearest", params={"lat": LAT, "lon": LON, "min_star": 6})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "min_star"


async def test_the_change_feed_and_ogc_features_carry_rating_and_star_level(
    client: httpx.AsyncClient, conn: asyncpg.Connection, row_of_sites: list[int]
) -> None:
    # The feed holds committed changes only: a demo site's (the test's own sites are in its open transaction).
    first_page = (await client.get("/v1/changes", params={"limit": 5})).json()["items"]
    fed = first_page[0]["site_id"]
    expected = {"worker_rating_mean": 3.5, "worker_rating_count": 4, "star_level": 3}
    for site_id in (fed, row_of_sites[0]):
        await conn.execute("INSERT INTO site_rating_totals (site_id, ratings, stars) VALUES ($1, 4, 14)", site_id)
        await conn.execute(
            "INSERT INTO site_inspections (site_id, inspected_on, unannounced, hardware, equipment, signage, rules, "
            "funding, use, activities, level, passed, inspector, recorded_by) "
            "VALUES ($1, current_date, true, 70, 70, 70, 70, 70, 70, 70, 3, true, 'x', 'x')",
            site_id,
        )
    site_id = row_of_sites[0]
    feature = (await client.get(f"/ogc/collections/outdoor_station/items/{site_id}")).json()
    assert {k: feature["properties"][k] for k in expected} == expected
    bbox = f"{LON - 0.001},{LAT},{LON + 0.001},{LAT + 0.01}"
    listed = (await client.get("/ogc/collections/outdoor_station/items", params={"bbox": bbox})).json()["features"]
    by_id = {f["id"]: f["properties"] for f in listed}
    assert {k: by_id[site_id][k] for k in expected} == expected
    assert by_id[row_of_sites[1]]["star_level"] is None and by_id[row_of_sites[1]]["worker_rating_count"] == 0
    items = (await client.get("/v1/changes", params={"limit": 5})).json()["items"]
    assert [c["in_use"] for c in items if c["site_id"] == fed] == [expected]
    others = [c["in_use"] for c in items if c["site_id"] != fed]
    assert others and all(i["star_level"] is None or i != expected for i in others)
