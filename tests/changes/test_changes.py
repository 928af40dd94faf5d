"""GET /v1/changes: in commit-safe order, resumable, nothing missed or repeated while writes interleave.

These tests need committed transactions (a feed never shows uncommitted work), so they write through their own
connections and remove what they wrote afterwards.
"""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database.connections import act_as


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
