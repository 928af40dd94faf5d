"""Probes, the OpenAPI document, and problem+json for errors the framework raises."""

import asyncpg
import httpx


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["schema"]


async def test_not_ready_when_schema_is_behind(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    await conn.execute("UPDATE alembic_version SET version_num = 'older'")
    r = await client.get("/readyz")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["status"] == 404
    r = await client.delete("/v1/regions")
    assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"


async def test_openapi_documents_the_contract(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path in ("/v1/sites/nearest", "/v1/sites", "/v1/sites/{site_id}", "/v1/regions", "/v1/regions/{adcode}"):
        assert path in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/v1/sites/nearest"]["get"]["parameters"]}
    assert {"lat", "lon", "kind", "amenity", "limit", "max_distance_m"} <= params


async def test_an_unexpected_failure_is_a_500_problem_without_internals(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    class BrokenReader:
        async def fetch(self, *args: object) -> list[object]:
            raise RuntimeError("secret connection string in here")

    app.state.db.reader = BrokenReader()
    r = await client.get("/v1/regions")
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert "secret" not in r.text
