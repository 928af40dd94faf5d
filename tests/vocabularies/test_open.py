"""The vocabularies that are data (site kinds, amenities): a request checks against its application's short-lived
cache of them, and each application keeps its own."""

import asyncpg
import httpx
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app


async def test_each_application_reads_the_vocabularies_for_itself(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, settings: Settings
) -> None:
    assert (await client.get("/v1/sites", params={"kind": "legal_aid"})).status_code == 200  # the kinds are read
    await conn.execute("INSERT INTO site_kinds (code, label_zh, label_en) VALUES ('night_shelter', '夜间驿站', 'x')")
    # Kept for up to app.vocabularies.service.CACHE_SECONDS: this application does not know the new kind yet.
    stale = await client.get("/v1/sites", params={"kind": "night_shelter"})
    assert stale.status_code == 422 and stale.json()["errors"][0]["field"] == "kind"
    another = create_app(settings)
    another.state.db = app.state.db  # the test's transaction, as the client's application has it
    transport = httpx.ASGITransport(app=another, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as fresh:
        assert (await fresh.get("/v1/sites", params={"kind": "night_shelter"})).status_code == 200
