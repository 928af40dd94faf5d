"""OGC API - Features at /ogc: the documents, paging, bbox, errors, the regions' collection, and a real client
(GDAL's OAPIF driver)."""

import json
import shutil
import subprocess
from pathlib import Path

import asyncpg
import httpx
import pytest
import shapely
from fastapi import FastAPI
from shapely.geometry import box, shape

from tests.reference import GEOD


async def test_landing_conformance_collections(client: httpx.AsyncClient) -> None:
    landing = (await client.get("/ogc")).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conformance = (await client.get("/ogc/conformance")).json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    collections = (await client.get("/ogc/collections")).json()["collections"]
    assert [c["id"] for c in collections] == ["outdoor_station", "legal_aid", "service_centre", "regions"]
    bbox = collections[0]["extent"]["spatial"]["bbox"][0]
    assert 117 < bbox[0] < bbox[2] < 119 and 36 < bbox[1] < bbox[3] < 39
    api = await client.get("/ogc/api")
    assert api.json()["openapi"].startswith("3.0") and "version=3.0" in api.headers["content-type"]


async def test_paging_through_next_links_matches_the_register(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    expected = await conn.fetchval("SELECT count(*) FROM sites WHERE kind = 'legal_aid' AND deleted_at IS NULL")
    url: str | None = "/ogc/collections/legal_aid/items?limit=50"
    ids: list[int] = []
    while url:
        page = await client.get(url)
        assert page.headers["content-type"] == "application/geo+json"
        body = page.json()
        assert body["numberMatched"] == expected and body["numberReturned"] == len(body["features"])
        ids += [f["id"] for f in body["features"]]
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(ids) == len(set(ids)) == expected


async def test_bbox_and_single_items(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    body = (
        await client.get(
            "/ogc/collections/outdoor_station/items", params={"bbox": "117.9,37.3,118.1,37.5", "limit": 1000}
        )
    ).json()
    expected = await conn.fetchval(
        "SELECT count(*) FROM sites WHERE kind = 'outdoor_station' AND deleted_at IS NULL "
        "AND geom && ST_MakeEnvelope(117.9, 37.3, 118.1, 37.5, 4326)"
    )
    assert body["numberMatched"] == len(body["features"]) == expected > 0
    feature = body["features"][0]
    one = (await client.get(f"/ogc/collections/outdoor_station/items/{feature['id']}")).json()
    assert one["geometry"] == feature["geometry"] and one["properties"]["name"] == feature["properties"]["name"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/ogc/collections/legal_aid/items?colour=red", 400),
        ("/ogc/collections/legal_aid/items?bbox=1,2,3", 400),
        ("/ogc/collections/legal_aid/items?limit=0", 400),
        ("/ogc/collections/legal_aid/items?offset=-1", 400),
        ("/ogc/collections/spa", 404),
        ("/ogc/collections/spa/items", 404),
        ("/ogc/collections/legal_aid/items/999999999", 404),
        ("/ogc/collections/legal_aid/items/abc", 404),
    ],
)
async def test_ogc_errors(client: httpx.AsyncClient, url: str, status: int) -> None:
    r = await client.get(url)
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin is not installed (.ci/run installs it)")
def test_gdal_reads_every_feature(live_server: str, tmp_path: Path) -> None:
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-q", f"OAPIF:{live_server}/ogc"], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    for kind in ("outdoor_station", "legal_aid", "service_centre", "regions"):
        assert kind in listing
    rest = httpx.get(f"{live_server}/v1/sites", params={"kind": "legal_aid", "limit": 1000}).json()["items"]
    out = tmp_path / "legal_aid.geojson"
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{live_server}/ogc", "legal_aid"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    features = json.loads(out.read_text())["features"]
    assert len(features) == len(rest) == 134
    assert {f["properties"]["external_id"] for f in features} == {s["external_id"] for s in rest}
    regions = tmp_path / "regions.geojson"
    subprocess.run(
        ["ogr2ogr", "-f", "GeoJSON", str(regions), f"OAPIF:{live_server}/ogc", "regions"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    listed = httpx.get(f"{live_server}/v1/regions").json()["items"]
    read = {f["properties"]["adcode"]: f for f in json.loads(regions.read_text())["features"]}
    assert set(read) == {r["adcode"] for r in listed}
    huimin = read["371621"]
    assert huimin["properties"]["level"] == "county" and huimin["properties"]["parent_adcode"] == "371600"
    assert huimin["geometry"]["type"] in ("Polygon", "MultiPolygon")


async def test_collection_figures_are_kept_and_items_need_none(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collection's count and extent are counted once a FIGURES_KEPT_SECONDS, not per request; items and the
    existence of a collection need no count at all."""

    async def legal_aid() -> dict[str, object]:
        found = (await client.get("/ogc/collections/legal_aid")).json()
        return {"bbox": found["extent"]["spatial"]["bbox"][0], "description": found["description"]}

    before = await legal_aid()
    for lon, lat in [(80.5, 43.1), (125.2, 48.9)]:
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id) "
            "VALUES ('legal_aid', 'far away', ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 'test', $3)",
            lon,
            lat,
            f"far-{lon}",
        )
    assert await legal_aid() == before  # kept
    page = (await client.get("/ogc/collections/legal_aid/items?limit=1000")).json()
    assert page["numberReturned"] == 136 and page["numberMatched"] == 134  # the page exact, the count kept
    monkeypatch.setattr(app.state.collection_figures, "seconds", 0.0)
    after = await legal_aid()
    assert after["bbox"][0] == 80.5 and after["bbox"][3] == 48.9 and "136 features" in str(after["description"])
    assert "134 features" in str(before["description"])
    assert (await client.get("/ogc/collections/legal_aid/items?limit=100")).json()["numberMatched"] == 136


@pytest.mark.parametrize(
    ("west", "south", "east", "north"),
    [(100.0, 30.0, 100.1, 30.1), (116.3, 39.8, 116.5, 40.0), (-0.1, 51.4, 0.1, 51.6)],
)
async def test_a_bbox_holds_exactly_the_sites_inside_it(
    client: httpx.AsyncClient, conn: asyncpg.Connection, west: float, south: float, east: float, north: float
) -> None:
    """A point a metre outside the box is not in it: the index's float4 boxes (`&&`) would say it is."""
    middle_lat = (south + north) / 2
    outside = [(west - 1e-5, middle_lat), (east + 1e-5, middle_lat), ((west + east) / 2, north + 1e-5)]
    inside = [(west + 1e-5, middle_lat), (east - 1e-5, middle_lat), ((west + east) / 2, south + 1e-5)]
    for i, (lon, lat) in enumerate(outside + inside):
        await conn.execute(
            "INSERT INTO sites (kind, name, location, source, external_id) "
            "VALUES ('service_centre', 'edge', ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 'edge-test', $3)",
            lon,
            lat,
            f"edge-{i}",
        )
    bbox = f"{west},{south},{east},{north}"
    page = (await client.get(f"/ogc/collections/service_centre/items?bbox={bbox}&limit=100")).json()
    found = sorted((round(f["geometry"]["coordinates"][0], 6), round(f["geometry"]["coordinates"][1], 6))
                   for f in page["features"] if f["properties"]["source"] == "edge-test")  # fmt: skip
    assert found == sorted((round(lon, 6), round(lat, 6)) for lon, lat in inside)
    assert page["numberMatched"] == page["numberReturned"]
    listed = (await client.get(f"/v1/sites?bbox={bbox}&kind=service_centre&limit=100")).json()["items"]
    assert sorted(s["id"] for s in listed if s["source"] == "edge-test") == sorted(
        f["id"] for f in page["features"] if f["properties"]["source"] == "edge-test"
    )


async def _boundaries(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT adcode, level, parent_adcode, ST_AsBinary(boundary) AS wkb FROM regions")
    return {r["adcode"]: r for r in rows}


async def test_the_regions_collection_has_every_region_within_its_extent(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    boundaries = await _boundaries(conn)
    collection = (await client.get("/ogc/collections/regions")).json()
    assert f"({len(boundaries)} features)" in collection["description"]
    west, south, east, north = collection["extent"]["spatial"]["bbox"][0]
    union = shapely.union_all([shapely.from_wkb(r["wkb"]) for r in boundaries.values()])
    assert (west, south, east, north) == pytest.approx(union.bounds, abs=1e-6)
    url: str | None = "/ogc/collections/regions/items?limit=3"
    adcodes: list[str] = []
    while url:
        page = (await client.get(url)).json()
        assert page["numberMatched"] == len(boundaries)
        adcodes += [f["id"] for f in page["features"]]
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
    assert adcodes == sorted(boundaries)


async def test_regions_filtered_by_level_parent_and_bbox(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    boundaries = await _boundaries(conn)
    counties = (
        await client.get("/ogc/collections/regions/items", params={"level": "county", "parent_adcode": "371600"})
    ).json()
    expected = sorted(a for a, r in boundaries.items() if r["level"] == "county" and r["parent_adcode"] == "371600")
    assert [f["id"] for f in counties["features"]] == expected[:10] and counties["numberMatched"] == len(expected) == 7
    assert all("level=county&parent_adcode=371600" in link["href"] for link in counties["links"])
    # A box on the border of 惠民县 and 滨城区: the regions whose boundary meets it, by shapely.
    west, south, east, north = 117.75, 37.35, 117.85, 37.45
    page = (
        await client.get("/ogc/collections/regions/items", params={"bbox": f"{west},{south},{east},{north}"})
    ).json()
    meeting = sorted(
        a for a, r in boundaries.items() if shapely.from_wkb(r["wkb"]).intersects(box(west, south, east, north))
    )
    assert [f["id"] for f in page["features"]] == meeting and page["numberMatched"] == len(meeting) >= 2


async def test_a_region_item_is_its_boundary_with_its_figures(client: httpx.AsyncClient) -> None:
    item = await client.get("/ogc/collections/regions/items/371621")
    assert item.status_code == 200 and item.headers["content-type"] == "application/geo+json"
    feature = item.json()
    assert feature["id"] == "371621" and feature["properties"]["name"] == "惠民县"
    regions = (await client.get("/v1/regions", params={"parent": "371600"})).json()["items"]
    listed = next(r for r in regions if r["adcode"] == "371621")
    for field in ("name", "level", "parent_adcode", "is_urban_district", "population", "area_km2"):
        assert feature["properties"][field] == listed[field], field
    geodesic_km2 = abs(GEOD.geometry_area_perimeter(shape(feature["geometry"]))[0]) / 1e6
    assert feature["properties"]["area_km2"] == pytest.approx(geodesic_km2, rel=1e-3)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/ogc/collections/regions/items?level=town", 400),
        ("/ogc/collections/regions/items?parent_adcode=37", 400),
        ("/ogc/collections/legal_aid/items?level=county", 400),
        ("/ogc/collections/regions/items/999999", 404),
        ("/ogc/collections/regions/items/abc", 404),
    ],
)
async def test_region_errors(client: httpx.AsyncClient, url: str, status: int) -> None:
    r = await client.get(url)
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"


async def test_the_regions_collection_tiles_are_the_regions_layer(client: httpx.AsyncClient) -> None:
    tilesets = (await client.get("/ogc/collections/regions/tiles")).json()["tilesets"]
    assert tilesets[0]["layers"][0]["id"] == "regions"
    template = next(link for link in tilesets[0]["links"] if link["rel"] == "item")["href"]
    z, x, y = 7, 105, 49  # over 滨州市
    ogc = await client.get(
        template.replace("{tileMatrix}", str(z)).replace("{tileRow}", str(y)).replace("{tileCol}", str(x))
    )
    ours = await client.get(f"/v1/tiles/regions/{z}/{x}/{y}.mvt")
    assert ogc.status_code == 200 and ogc.content == ours.content
