"""GET /v1/sites and /v1/sites/{id}: filters against independent computations, pagination, formats, errors."""

import asyncpg
import httpx
import pytest
from shapely import Point, box


async def all_pages(client: httpx.AsyncClient, params: dict) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        r = await client.get("/v1/sites", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 1000


async def test_pagination_has_no_gaps_or_repeats(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    items = await all_pages(client, {"limit": 37})
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids))
    expected = {r["id"] for r in await conn.fetch("SELECT id FROM sites WHERE deleted_at IS NULL")}
    assert set(ids) == expected and len(expected) == 447


async def test_pagination_is_stable_while_sites_are_added(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    first = (await client.get("/v1/sites", params={"limit": 100})).json()
    await conn.execute(
        "INSERT INTO sites (kind, name, location, source, external_id) VALUES "
        "('legal_aid', '新站', ST_SetSRID(ST_MakePoint(117.9, 37.4), 4326)::geography, 'test', 'new')"
    )
    rest = await all_pages(client, {"limit": 100, "cursor": first["next_cursor"]})
    ids = [i["id"] for i in first["items"] + rest]
    assert len(ids) == len(set(ids)) == 448


async def test_bbox_matches_a_planar_lonlat_check(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    rect = (117.9, 37.3, 118.1, 37.5)
    items = await all_pages(client, {"bbox": ",".join(map(str, rect)), "limit": 50})
    rows = await conn.fetch("SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE deleted_at IS NULL")
    expected = {r["id"] for r in rows if box(*rect).covers(Point(r["lon"], r["lat"]))}
    assert expected and {i["id"] for i in items} == expected


async def test_kind_region_and_status_filters(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    items = await all_pages(client, {"kind": "legal_aid", "region": "371602", "status": "active"})
    expected = await conn.fetchval(
        "SELECT count(*) FROM sites WHERE kind = 'legal_aid' AND region_adcode = '371602' AND status = 'active'"
    )
    assert len(items) == expected > 0
    assert all(i["kind"] == "legal_aid" and i["region_adcode"] == "371602" for i in items)
    # A city includes its counties.
    city = await all_pages(client, {"region": "371600", "limit": 500})
    assert len(city) == 447


async def test_text_search_in_chinese(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    items = await all_pages(client, {"q": "法律援助", "limit": 200})
    rows = await conn.fetch("SELECT id, name, address FROM sites WHERE deleted_at IS NULL")
    expected = {r["id"] for r in rows if "法律援助" in r["name"] or "法律援助" in (r["address"] or "")}
    assert expected and {i["id"] for i in items} == expected
    # LIKE wildcards in the query are literal characters, not patterns.
    assert (await client.get("/v1/sites", params={"q": "%"})).json()["items"] == []


async def test_geojson_output(client: httpx.AsyncClient) -> None:
    for kwargs in (
        {"params": {"f": "geojson", "limit": 3}},
        {"params": {"limit": 3}, "headers": {"Accept": "application/geo+json"}},
    ):
        r = await client.get("/v1/sites", **kwargs)
        assert r.headers["content-type"] == "application/geo+json"
        body = r.json()
        assert body["type"] == "FeatureCollection" and len(body["features"]) == 3
        feature = body["features"][0]
        lon, lat = feature["geometry"]["coordinates"]
        assert 117 < lon < 119 and 36 < lat < 39  # [lon, lat] order
        assert body["next_cursor"]


async def test_get_one_site(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    site_id = await conn.fetchval("SELECT min(id) FROM sites")
    r = await client.get(f"/v1/sites/{site_id}")
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == site_id and body["source"] == "generated-demo:binzhou"
    # The version, then a digest of the answer: its open status changes with the clock while the version stands.
    assert r.headers["etag"].startswith(f'"{site_id}-{body["version"]}-')
    assert body["created_at"].endswith("+00:00")  # ISO 8601 with offset
    missing = await client.get("/v1/sites/999999999")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_sites_in_the_register_match_the_published_counts(client: httpx.AsyncClient) -> None:
    counts = {}
    for kind in ("outdoor_station", "legal_aid", "service_centre"):
        counts[kind] = len(await all_pages(client, {"kind": kind, "limit": 1000}))
    assert counts == {"outdoor_station": 305, "legal_aid": 134, "service_centre": 8}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bbox": "117,37,118"}, "bbox"),
        ({"bbox": "118,37,117,38"}, "bbox"),
        ({"bbox": "117,38,118,37"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"bbox": "117,37,181,38"}, "bbox"),
        ({"limit": 0}, "limit"),
        ({"limit": 10**6}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"region": "3716"}, "region"),
        ({"kind": "spa"}, "kind"),
        ({"status": "open"}, "status"),
        ({"updated_since": "yesterday"}, "updated_since"),
    ],
)
async def test_bad_list_parameters(client: httpx.AsyncClient, params: dict, field: str) -> None:
    r = await client.get("/v1/sites", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_bad_site_id(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/sites/0")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "site_id"
    r = await client.get("/v1/sites/abc")  # not a site's path (ids are numbers)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_closed_sites_are_listed_but_flagged(client: httpx.AsyncClient) -> None:
    closed = await all_pages(client, {"status": "closed"})
    assert closed and all(i["status"] == "closed" and i["closed_on"] for i in closed)


async def test_updated_since(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    site_id = await conn.fetchval("SELECT max(id) FROM sites")
    await conn.execute("UPDATE sites SET updated_at = '2030-01-01T00:00:00Z' WHERE id = $1", site_id)
    items = await all_pages(client, {"updated_since": "2029-12-31T00:00:00+08:00"})
    assert [i["id"] for i in items] == [site_id]
