"""Vector tiles decoded with an independent MVT decoder (mapbox-vector-tile) and checked against the API and the
database: which sites a tile holds and where (within a tile pixel), the counts at low zooms, the regions layer's
levels by zoom, its outlines against the true boundaries (shapely, in tile pixels) and its coverage shares, the
catchment rings' radius (pyproj Geod), gaps, TileJSON, OGC API - Tiles, GDAL."""

import math
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from shapely import MultiPolygon
from shapely.geometry import box, shape

from app import geo
from app.regions.loader import national_counties
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


async def _under_a_province(conn: asyncpg.Connection) -> None:
    """The demo's 滨州市 under a 山东省 made of it alone."""
    await conn.execute(
        "INSERT INTO regions (adcode, name, level, boundary) "
        "SELECT '370000', '山东省', 'province', boundary FROM regions WHERE adcode = '371600'"
    )
    await conn.execute("UPDATE regions SET parent_adcode = '370000' WHERE adcode = '371600'")


async def test_the_regions_layer_shares_are_the_apis_at_every_level(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """The province at zoom 4, the city at zoom 5 and the counties at zoom 7 carry the share and the rule
    /v1/coverage/regions/{adcode} gives."""
    await _under_a_province(conn)
    for z in (4, 5, 7):
        x, y = tile_of(117.9, 37.4, z)
        layer = decode((await client.get(f"/v1/tiles/regions/{z}/{x}/{y}.mvt", params={"kind": "legal_aid"})).content)
        drawn = {f["properties"]["adcode"]: f["properties"] for f in layer["regions"]["features"]}
        assert len(drawn) == {4: 1, 5: 2, 7: 9}[z]
        for adcode, properties in drawn.items():
            coverage = (await client.get(f"/v1/coverage/regions/{adcode}", params={"kind": "legal_aid"})).json()
            assert properties["covered_area_share"] == pytest.approx(coverage["covered_area_share"], abs=1e-9)
            assert properties["rule_label"] == coverage["rule_label"]


async def test_kept_shares_follow_a_rule_and_a_county_made_a_district(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """A tile's shares are kept for the register's state; a new rule for the kind, or a county made an urban
    district (its rule, so its city's share, changes; the city's row does not), is drawn at the next tile."""
    z, (x, y) = 5, tile_of(117.9, 37.4, 5)

    async def shares() -> tuple[float, float]:
        layer = decode((await client.get(f"/v1/tiles/regions/{z}/{x}/{y}.mvt", params={"kind": "legal_aid"})).content)
        drawn = {f["properties"]["adcode"]: f["properties"]["covered_area_share"] for f in layer["regions"]["features"]}
        coverage = (await client.get("/v1/coverage/regions/371600", params={"kind": "legal_aid"})).json()
        return drawn["371600"], coverage["covered_area_share"]

    first, api = await shares()
    assert first == pytest.approx(api, abs=1e-9)
    await conn.execute(
        "INSERT INTO coverage_rules (kind, region_adcode, radius_m, note) VALUES ('legal_aid', '371621', 40000, 'test')"
    )
    wider, api = await shares()
    assert wider == pytest.approx(api, abs=1e-9) and wider > first
    await conn.execute(
        "UPDATE regions SET is_urban_district = true, urban_district_override = true WHERE adcode = '371625'"
    )
    urban, api = await shares()
    assert urban == pytest.approx(api, abs=1e-9) and urban != wider


def _levels_in(body: bytes) -> dict[str, str]:
    return {f["properties"]["adcode"]: f["properties"]["level"] for f in decode(body)["regions"]["features"]}


async def test_a_regions_tile_carries_the_levels_of_its_zoom_and_no_shares_without_a_kind(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    await _under_a_province(conn)
    expected = {
        3: {"370000": "province"},
        4: {"370000": "province"},
        5: {"370000": "province", "371600": "city"},
        6: {"370000": "province", "371600": "city"},
    }
    for z, levels in expected.items():
        x, y = tile_of(117.9, 37.4, z)
        assert _levels_in((await client.get(f"/v1/tiles/regions/{z}/{x}/{y}.mvt")).content) == levels
    x, y = tile_of(117.9, 37.4, 7)
    body = (await client.get(f"/v1/tiles/regions/7/{x}/{y}.mvt")).content
    levels = _levels_in(body)
    assert levels.pop("370000") == "province" and levels.pop("371600") == "city"
    assert len(levels) == 7 and set(levels.values()) == {"county"}
    for feature in decode(body)["regions"]["features"]:
        assert "covered_area_share" not in feature["properties"] and "rule_label" not in feature["properties"]
    for name, value in (("as_of", "2026-06-30"), ("radius_m", "3000"), ("min_sites", "2")):
        refused = await client.get(f"/v1/tiles/regions/7/{x}/{y}.mvt", params={name: value})
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == name


ZHOUSHAN = ("330902", "330903", "330921", "330922")  # 舟山市: islands from a few km² to a few hundred m²


def _in_pixels(geometry: shapely.Geometry, z: int, x: int, y: int) -> shapely.Geometry:
    """A lon/lat geometry in the pixels (256 a side, y down) of tile z/x/y: Web Mercator by its formula."""

    n = 2**z

    def to_pixels(lonlat: np.ndarray) -> np.ndarray:
        column = (lonlat[:, 0] + 180) / 360 * n
        row = (1 - np.arcsinh(np.tan(np.radians(lonlat[:, 1]))) / np.pi) / 2 * n
        return np.column_stack(((column - x) * 256, (row - y) * 256))

    return shapely.transform(geometry, to_pixels)


def _drawn(feature: dict[str, Any], window: shapely.Geometry) -> shapely.Geometry:
    """A decoded MVT polygon in pixels (16 tile units a pixel), within the tile."""
    pixels = shapely.transform(shape(feature["geometry"]), lambda units: units / (EXTENT / 256))
    return shapely.make_valid(pixels).intersection(window)


def _farthest(lines: shapely.Geometry, other: shapely.Geometry) -> float:
    """How far from `other` the farthest point of `lines` is (pixels; points every quarter pixel)."""
    if lines.is_empty:
        return 0.0
    points = shapely.points(shapely.get_coordinates(lines.segmentize(0.25)))
    return float(shapely.distance(points, other).max())


def _without_specks(geometry: shapely.Geometry) -> shapely.Geometry:
    """Less the parts of under a square pixel, which a tile need not draw."""
    return shapely.union_all([p for p in shapely.get_parts(geometry) if p.area >= 1.0])


async def test_region_outlines_stay_within_a_pixel_of_the_boundary_at_every_zoom(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    """舟山市's counties (the national set's, islands and all) as counties of a city and a province made of them,
    written shifted and then moved to their true place (the outlines follow inserts and boundary updates alike):
    every outline a tile draws, zoom 3 to 12, is within a pixel of the true boundary both ways (Hausdorff, shapely,
    in the tile's pixels), bar specks of under a pixel."""
    counties = {adcode: national_counties()[adcode].boundary for adcode in ZHOUSHAN}
    whole = shapely.union_all(list(counties.values()))
    truth = {**counties, "330900": whole, "330000": whole}
    await conn.execute(
        "INSERT INTO regions (adcode, name, level, parent_adcode, boundary) VALUES "
        "('330000', '浙江省', 'province', NULL, ST_Multi(ST_Translate(ST_GeomFromText($1, 4326), 0.5, 0))), "
        "('330900', '舟山市', 'city', '330000', ST_Multi(ST_Translate(ST_GeomFromText($1, 4326), 0.5, 0)))",
        whole.wkt,
    )
    for adcode, boundary in counties.items():
        await conn.execute(
            "INSERT INTO regions (adcode, name, level, parent_adcode, boundary) "
            "VALUES ($1::varchar, $1::text, 'county', '330900', ST_Translate(ST_GeomFromText($2, 4326), 0.5, 0))",
            adcode,
            MultiPolygon(boundary.geoms).wkt,
        )
    for adcode, boundary in truth.items():
        await conn.execute(
            "UPDATE regions SET boundary = ST_Multi(ST_GeomFromText($2, 4326)) WHERE adcode = $1", adcode, boundary.wkt
        )
    west, south, east, north = whole.bounds
    tiles = []
    for z in range(3, 13):
        (x0, y0), (x1, y1) = tile_of(west, north, z), tile_of(east, south, z)
        found = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        # From zoom 9 a few tiles on 定海's coast, every level in them.
        tiles += found if z < 9 else [(z, *tile_of(122.1 + dx, 30.0 + dy, z)) for dx in (0, 0.02) for dy in (0, 0.02)]
    window = box(0, 0, 256, 256)
    drawn_features = 0
    for z, x, y in sorted(set(tiles)):
        answer = await client.get(f"/v1/tiles/regions/{z}/{x}/{y}.mvt")
        if answer.status_code == 204:
            continue
        for feature in decode(answer.content)["regions"]["features"]:
            adcode = feature["properties"]["adcode"]
            true = _in_pixels(truth.get(adcode, shapely.Point()), z, x, y).intersection(window)
            if true.is_empty:
                continue  # not one of these, or only in the tile's buffer
            drawn_features += 1
            drawn = _drawn(feature, window)
            # Every drawn line near a true one, and every true part larger than a speck near a drawn line.
            outward = _farthest(drawn.boundary, true.boundary)
            inward = _farthest(_without_specks(true).boundary, drawn.boundary)
            assert max(outward, inward) <= 1.0, (z, x, y, adcode, outward, inward)
    assert drawn_features >= 40, drawn_features


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
