"""Vector tiles decoded with an independent MVT decoder (mapbox-vector-tile) and checked against the API and the
database: which sites a tile holds and where (within a tile pixel), the counts at low zooms, the coverage shares
of the regions layer, the catchment rings' radius (pyproj Geod), gaps, TileJSON, OGC API - Tiles, GDAL."""

import math
from pathlib import Path

import asyncpg
import httpx
import mapbox_vector_tile
import pytest

from app import geo
from tests.reference import GEOD
from tests.tools import run

EXTENT = 4096


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def lonlat(z: int, x: int, y: int, px: float, py: float) -> tuple[float, float]:
    """A point in tile units (y down) as lon/lat."""
    n = 2**z
    lon = (x + px / EXTENT) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + py / EXTENT) / n))))
    return lon, lat


def bounds(z: int, x: int, y: int, margin: float = 0.0) -> tuple[float, float, float, float]:
    """(west, south, east, north) of the tile grown by `margin` (a share of its size)."""
    west, north = lonlat(z, x, y, -margin * EXTENT, -margin * EXTENT)
    east, south = lonlat(z, x, y, (1 + margin) * EXTENT, (1 + margin) * EXTENT)
    return west, south, east, north


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body, default_options={"y_coord_down": True})


async def sites_in(conn: asyncpg.Connection, box: tuple[float, float, float, float], kind: str | None = None) -> dict:
    rows = await conn.fetch(
        "SELECT id, kind, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE deleted_at IS NULL AND status = 'active' "
        "AND (opened_on IS NULL OR opened_on <= current_date) AND (closed_on IS NULL OR closed_on > current_date) "
        "AND ST_X(geom) BETWEEN $1 AND $3 AND ST_Y(geom) BETWEEN $2 AND $4 AND ($5::text IS NULL OR kind = $5)",
        *box,
        kind,
    )
    return {r["id"]: r for r in rows}


async def test_a_site_tile_holds_the_sites_where_they_are(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    site = await conn.fetchrow(
        "SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE region_adcode = '371602' LIMIT 1"
    )
    z = 13
    x, y = tile_of(site["lon"], site["lat"], z)
    r = await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt")
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["etag"] and r.headers["cache-control"] == "public, max-age=60"
    features = {f["id"]: f for f in decode(r.content)["sites"]["features"]}
    inside = await sites_in(conn, bounds(z, x, y))
    with_buffer = await sites_in(conn, bounds(z, x, y, 64 / EXTENT))
    assert set(inside) <= set(features) <= set(with_buffer)
    pixel_m = 40_075_016.7 / 2**z / 256 * math.cos(math.radians(site["lat"]))
    for site_id, feature in features.items():
        px, py = feature["geometry"]["coordinates"]
        lon, lat = lonlat(z, x, y, px, py)
        truth = with_buffer[site_id]
        assert GEOD.inv(lon, lat, truth["lon"], truth["lat"])[2] < pixel_m  # within one 256-px tile pixel
        assert feature["properties"]["kind"] == truth["kind"]
    assert (
        await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt", headers={"If-None-Match": r.headers["etag"]})
    ).status_code == 304


async def test_low_zoom_tiles_count_the_sites_per_kind(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    z = 6
    x, y = tile_of(117.9, 37.4, z)
    layer = decode((await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt")).content)["sites"]
    counted: dict[str, int] = {}
    for feature in layer["features"]:
        counted[feature["properties"]["kind"]] = (
            counted.get(feature["properties"]["kind"], 0) + feature["properties"]["count"]
        )
    expected: dict[str, int] = {}
    for row in (await sites_in(conn, bounds(z, x, y, 64 / EXTENT))).values():
        expected[row["kind"]] = expected.get(row["kind"], 0) + 1
    assert counted == expected and len(expected) == 3  # every kind visible


async def test_the_kind_filter_and_the_date(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    z, (x, y) = 9, tile_of(117.97, 37.38, 9)
    legal = decode((await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt", params={"kind": "legal_aid"})).content)
    assert {f["properties"]["kind"] for f in legal["sites"]["features"]} == {"legal_aid"}
    site = legal["sites"]["features"][0]["id"]
    await conn.execute("UPDATE sites SET opened_on = '2026-06-01' WHERE id = $1", site)
    before = decode((await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt", params={"as_of": "2026-05-31"})).content)
    assert site not in {f["id"] for f in before["sites"]["features"]}


async def test_the_regions_layer_carries_the_apis_coverage_shares(client: httpx.AsyncClient) -> None:
    table = (await client.get("/v1/coverage/regions/371600/children", params={"kind": "legal_aid"})).json()["items"]
    z, (x, y) = 7, tile_of(117.9, 37.4, 7)
    layer = decode((await client.get(f"/v1/tiles/regions/{z}/{x}/{y}.mvt", params={"kind": "legal_aid"})).content)
    shares = {
        f["properties"]["adcode"]: f["properties"].get("covered_area_share") for f in layer["regions"]["features"]
    }
    for row in table:
        assert shares[row["adcode"]] == pytest.approx(row["covered_area_share"], abs=1e-9), row["name"]


async def test_catchment_rings_have_the_rules_radius(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    site = await conn.fetchrow(
        "SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE region_adcode = '371602' AND kind = 'legal_aid' "
        "AND status = 'active' AND deleted_at IS NULL LIMIT 1"
    )
    z = 12
    x, y = tile_of(site["lon"], site["lat"], z)
    layer = decode((await client.get(f"/v1/tiles/catchments/{z}/{x}/{y}.mvt", params={"kind": "legal_aid"})).content)
    ring = next(f for f in layer["catchments"]["features"] if f["id"] == site["id"])
    assert ring["properties"]["radius_m"] == 2000  # 滨城区 is an urban district: 2 km
    # The ring's vertices, less those where the tile clipped it (on the edge of the tile's buffer).
    edge = (-64, EXTENT + 64)
    outer = [(px, py) for px, py in ring["geometry"]["coordinates"][0] if px not in edge and py not in edge]
    distances = [GEOD.inv(site["lon"], site["lat"], *lonlat(z, x, y, px, py))[2] for px, py in outer]
    assert len(distances) > 16
    assert all(abs(d - 2000) < 2000 * 0.01 + 20 for d in distances), distances  # 1 % (+ a tile unit of rounding)


async def test_gap_tiles_are_the_apis_gaps(client: httpx.AsyncClient) -> None:
    gaps = (await client.get("/v1/coverage/regions/371621/gaps", params={"kind": "legal_aid"})).json()["features"]
    areas = {g["properties"]["area_km2"] for g in gaps}
    z, (x, y) = 8, tile_of(117.55, 37.45, 8)
    layer = decode((await client.get(f"/v1/tiles/gaps/{z}/{x}/{y}.mvt", params={"kind": "legal_aid"})).content)
    mine = [f for f in layer["gaps"]["features"] if f["properties"]["region"] == "371621"]
    assert mine and {f["properties"]["area_km2"] for f in mine} <= areas


async def test_empty_and_invalid_tiles(client: httpx.AsyncClient) -> None:
    empty = await client.get("/v1/tiles/sites/10/0/0.mvt")  # the far north-west Pacific
    assert empty.status_code == 204 and empty.content == b""
    assert (await client.get("/v1/tiles/catchments/3/6/3.mvt")).status_code == 204  # below zoom 7: not drawn
    r = await client.get("/v1/tiles/sites/3/8/0.mvt")  # outside the matrix: no such tile
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "x"
    assert (await client.get("/v1/tiles/sites/23/0/0.mvt")).status_code == 422
    assert (await client.get("/v1/tiles/sites/5/1/1.mvt", params={"kind": "spa"})).status_code == 422
    assert (await client.get("/ogc/collections/legal_aid/tiles/WebMercatorQuad/3/0/8")).status_code == 404
    assert (await client.get("/ogc/collections/legal_aid/tiles/WebMercatorQuad/23/0/0")).status_code == 400


async def test_tilejson(client: httpx.AsyncClient) -> None:
    document = (await client.get("/v1/tiles/regions.json", params={"kind": "legal_aid", "as_of": "2026-06-30"})).json()
    assert document["tilejson"] == "3.0.0" and document["vector_layers"][0]["id"] == "regions"
    assert document["tiles"][0].endswith("/v1/tiles/regions/{z}/{x}/{y}.mvt?kind=legal_aid&as_of=2026-06-30")
    assert (await client.get("/v1/tiles/catchments.json")).json()["minzoom"] == 7


async def test_ogc_api_tiles_serve_the_same_tiles(client: httpx.AsyncClient) -> None:
    tilesets = (await client.get("/ogc/collections/legal_aid/tiles")).json()["tilesets"]
    template = next(link for link in tilesets[0]["links"] if link["rel"] == "item")["href"]
    z, (x, y) = 10, tile_of(117.97, 37.38, 10)
    ogc = await client.get(
        template.replace("{tileMatrix}", str(z)).replace("{tileRow}", str(y)).replace("{tileCol}", str(x))
    )
    ours = await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt", params={"kind": "legal_aid"})
    assert ogc.status_code == 200 and ogc.content == ours.content
    tms = (await client.get("/ogc/tileMatrixSets/WebMercatorQuad")).json()
    assert tms["crs"].endswith("EPSG/0/3857") and tms["tileMatrices"][10]["matrixWidth"] == 1024
    assert (
        "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt"
        in (await client.get("/ogc/conformance")).json()["conformsTo"]
    )


async def test_gdal_reads_a_tile(client: httpx.AsyncClient, tmp_path: Path) -> None:
    z, (x, y) = 10, tile_of(117.97, 37.38, 10)
    body = (await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt")).content
    tile = tmp_path / "tile.mvt"
    tile.write_bytes(body)
    info = await run("ogrinfo", "-ro", "-al", "-so", "-oo", f"X={x}", "-oo", f"Y={y}", "-oo", f"Z={z}", f"MVT:{tile}")
    count = len(decode(body)["sites"]["features"])
    assert "Layer name: sites" in info and f"Feature Count: {count}" in info


async def test_tiles_over_a_gcj02_base_map_draw_each_site_where_that_map_has_it(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    site = await conn.fetchrow(
        "SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE region_adcode = '371602' LIMIT 1"
    )
    gcj_lon, gcj_lat = geo.from_wgs84(site["lon"], site["lat"], "gcj02")
    z = 16
    x, y = tile_of(gcj_lon, gcj_lat, z)
    r = await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt", params={"coordsys": "gcj02"})
    feature = next(f for f in decode(r.content)["sites"]["features"] if f["id"] == site["id"])
    lon, lat = lonlat(z, x, y, *feature["geometry"]["coordinates"])
    pixel_m = 40_075_016.7 / 2**z / 256 * math.cos(math.radians(gcj_lat))
    assert GEOD.inv(lon, lat, gcj_lon, gcj_lat)[2] < pixel_m  # within a pixel of the GCJ-02 point (2.3 m at z16)
    assert GEOD.inv(lon, lat, site["lon"], site["lat"])[2] > 100  # not where WGS-84 puts it
    assert (await client.get(f"/v1/tiles/sites/{z}/{x}/{y}.mvt", params={"coordsys": "bd09"})).status_code == 422
