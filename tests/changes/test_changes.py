"""GET /v1/changes: in commit-safe order, resumable, nothing missed or repeated while writes interleave.

These tests need committed transactions (a feed never shows uncommitted work), so they write through their own
connections and remove what they wrote afterwards.
"""

import secrets
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database.connections import act_as
from app.keys import service as keys
from tests.web.conftest import dropping_new_salts


async def read_all(client: httpx.AsyncClient, cursor: str | None, limit: int = 50) -> tuple[list[dict], str]:
    items: list[dict] = []
    while True:
        params: dict = {"limit": limit} | ({"since": cursor} if cursor else {})
        body = (await client.get("/v1/changes", params=params)).json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not body["more"]:
            return items, cursor


@pytest.fixture
async def committed_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app's own pools (no test transaction): it sees only committed data."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
        yield http


@pytest.fixture
async def feed_sites(engine: AsyncEngine) -> AsyncIterator[list[int]]:
    async with engine.begin() as conn:
        await act_as(conn, "feed-test")
        ids = [
            (
                await conn.execute(
                    text(
                        "INSERT INTO sites (kind, name, location, source, external_id) VALUES "
                        "('outdoor_station', :n, 'SRID=4326;POINT(117.9 37.4)', 'feed-test', :n) RETURNING id"
                    ),
                    {"n": f"feed-{i}"},
                )
            ).scalar_one()
            for i in range(3)
        ]
    yield ids
    async with engine.begin() as conn:
        await conn.execute(text("DELETE FROM site_changes WHERE site_id = ANY(:ids)"), {"ids": ids})
        await conn.execute(text("DELETE FROM sites WHERE id = ANY(:ids)"), {"ids": ids})


async def test_feed_starts_with_the_seed_and_pages_without_gaps(committed_client: httpx.AsyncClient) -> None:
    items, _ = await read_all(committed_client, None, limit=100)
    created = [i for i in items if i["action"] == "created" and i["site"]["source"] == "generated-demo:binzhou"]
    assert len(created) == 447 and len({i["site_id"] for i in created}) == 447
    assert all(i["actor"] == "seed:binzhou-demo" for i in created)
    ids = [i["change_id"] for i in items]
    assert len(ids) == len(set(ids))


async def test_a_late_commit_is_not_skipped(
    committed_client: httpx.AsyncClient, engine: AsyncEngine, feed_sites: list[int]
) -> None:
    _, cursor = await read_all(committed_client, None)
    early, late = feed_sites[0], feed_sites[1]
    update = text("UPDATE sites SET name = name || '′', version = version + 1 WHERE id = :id")
    async with engine.connect() as slow:
        slow_tx = await slow.begin()
        await slow.execute(update, {"id": early})  # takes its transaction id first, commits last
        async with engine.begin() as fast:
            await fast.execute(update, {"id": late})
        # The later transaction has committed, but an earlier one is still open: the feed waits for it.
        seen, _ = await read_all(committed_client, cursor)
        assert [i["site_id"] for i in seen] == []
        await slow_tx.commit()
    seen, cursor = await read_all(committed_client, cursor)
    assert [(i["site_id"], i["action"]) for i in seen] == [(early, "updated"), (late, "updated")]
    again, _ = await read_all(committed_client, cursor)
    assert again == []  # and nothing is repeated


async def test_deletions_are_in_the_feed(
    committed_client: httpx.AsyncClient, engine: AsyncEngine, feed_sites: list[int]
) -> None:
    _, cursor = await read_all(committed_client, None)
    async with engine.begin() as conn:
        await act_as(conn, "feed-test")
        await conn.execute(text("UPDATE sites SET deleted_at = now() WHERE id = :id"), {"id": feed_sites[2]})
    (change,), _ = await read_all(committed_client, cursor)
    assert (change["site_id"], change["action"], change["site"], change["actor"]) == (
        feed_sites[2],
        "deleted",
        None,
        "feed-test",
    )


async def test_bad_cursor(committed_client: httpx.AsyncClient) -> None:
    r = await committed_client.get("/v1/changes", params={"since": "garbage"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "since"


@pytest.fixture
async def in_use_site(engine: AsyncEngine, feed_sites: list[int]) -> AsyncIterator[tuple[int, str, str]]:
    """A committed site with a door token, and an inspector's key (no region: anywhere); what visits, ratings and
    inspections leave of it is removed afterwards (the site's own rows go with it, by cascade)."""
    site_id, token = feed_sites[0], secrets.token_urlsafe(16)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO site_door_tokens (site_id, token) VALUES (:id, :token)"), {"id": site_id, "token": token}
        )
        key = await keys.create(conn, "feed-test inspector", ["inspect"], None)
    raw = await asyncpg.connect(engine.url.render_as_string(hide_password=False).replace("+asyncpg", ""))
    try:
        async with dropping_new_salts(raw):
            yield site_id, token, key
    finally:
        await raw.close()
        async with engine.begin() as conn:
            for table in ("site_visits", "site_visit_days", "site_hour_profiles"):
                await conn.execute(text(f"DELETE FROM {table} WHERE site_id = :id"), {"id": site_id})
            await conn.execute(text("DELETE FROM api_keys WHERE name = 'feed-test inspector'"))


async def test_ratings_and_inspections_reach_the_feed_and_visits_do_not(
    committed_client: httpx.AsyncClient, in_use_site: tuple[int, str, str]
) -> None:
    site_id, token, key = in_use_site
    _, cursor = await read_all(committed_client, None)
    site = (await committed_client.get(f"/v1/sites/{site_id}")).json()

    def entry(items: list[dict]) -> dict:
        [found] = items
        assert (found["site_id"], found["action"], found["version"]) == (site_id, "updated", site["version"])
        assert not found["register_changed"] and found["site"]["name"] == site["name"]
        return found

    rated = await committed_client.post(
        f"/v1/sites/{site_id}/ratings", json={"token": token, "stars": 4}, headers={"X-Client-Id": "feed-phone-1"}
    )
    assert rated.status_code == 201
    seen, cursor = await read_all(committed_client, cursor)
    assert entry(seen)["in_use"] == {"worker_rating_mean": 4.0, "worker_rating_count": 1, "star_level": None}

    # The same client's same stars again replace its rating: mean and count stand, no entry. Another's 2 stars:
    # (4 + 2) / 2.
    again = await committed_client.post(
        f"/v1/sites/{site_id}/ratings", json={"token": token, "stars": 4}, headers={"X-Client-Id": "feed-phone-1"}
    )
    assert again.json()["replaced"]
    assert (await read_all(committed_client, cursor))[0] == []
    await committed_client.post(
        f"/v1/sites/{site_id}/ratings", json={"token": token, "stars": 2}, headers={"X-Client-Id": "feed-phone-2"}
    )
    seen, cursor = await read_all(committed_client, cursor)
    assert entry(seen)["in_use"] == {"worker_rating_mean": 3.0, "worker_rating_count": 2, "star_level": None}

    # 7 × 85 / 7 = 85: four stars.
    scores = dict.fromkeys(("hardware", "equipment", "signage", "rules", "funding", "use", "activities"), 85)
    inspected = await committed_client.post(
        f"/v1/sites/{site_id}/inspections",
        json={"unannounced": True, "inspector": "王检查", "scores": scores},
        headers={"X-API-Key": key},
    )
    assert inspected.status_code == 201
    seen, cursor = await read_all(committed_client, cursor)
    assert entry(seen)["in_use"]["star_level"] == 4 and seen[0]["actor"] == "feed-test inspector"

    visited = await committed_client.post("/v1/visits", json={"token": token}, headers={"X-Client-Id": "feed-phone-3"})
    assert visited.status_code == 201
    assert (await read_all(committed_client, cursor))[0] == []
    # The register's own version stands: an operator's If-Match read before the ratings is still current.
    assert (await committed_client.get(f"/v1/sites/{site_id}")).json()["version"] == site["version"]
