"""Mobile-grade responses: ETags and 304s, Cache-Control, gzip for large bodies, compact JSON."""

import asyncpg
import httpx


async def test_conditional_get_of_a_site(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    site_id = await conn.fetchval("SELECT min(id) FROM sites")
    first = await client.get(f"/v1/sites/{site_id}")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=60"
    again = await client.get(f"/v1/sites/{site_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    await conn.execute("UPDATE sites SET version = version + 1 WHERE id = $1", site_id)
    changed = await client.get(f"/v1/sites/{site_id}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    gcj = await client.get(f"/v1/sites/{site_id}", params={"coordsys": "gcj02"})
    assert gcj.headers["etag"] != changed.headers["etag"]  # another representation


async def test_lists_and_regions_revalidate(client: httpx.AsyncClient) -> None:
    for url in ("/v1/sites?limit=20", "/v1/regions", "/v1/regions/371602", "/v1/vocabularies"):
        first = await client.get(url)
        assert first.status_code == 200 and first.headers["etag"].startswith('W/"')
        assert (await client.get(url, headers={"If-None-Match": first.headers["etag"]})).status_code == 304


async def test_large_responses_are_compressed(client: httpx.AsyncClient) -> None:
    big = await client.get("/v1/regions/371602", headers={"Accept-Encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    assert int(big.headers["content-length"]) < len(big.content) / 2  # httpx has decompressed it for us
    small = await client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_json_is_compact(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/sites/nearest", params={"lat": 37.38, "lon": 117.97, "limit": 1})).content
    assert b": " not in body and b", " not in body
