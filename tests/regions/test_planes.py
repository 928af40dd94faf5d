"""Each region's equal-area plane (migration 0014): PostGIS reads it from WKT with no authority code to look up,
and it is the plane its PROJ string (what app.geo and the reference computations use) describes."""

import asyncpg
import pytest
from pyproj import Transformer


async def test_every_plane_is_wkt_without_an_authority_code(conn: asyncpg.Connection) -> None:
    planes = await conn.fetch(
        "SELECT s.auth_name, s.auth_srid, s.srtext FROM regions r JOIN spatial_ref_sys s ON s.srid = r.equal_area_srid"
    )
    assert planes and all(p["auth_name"] == "yizhan" and p["auth_srid"] is None for p in planes)
    assert all(p["srtext"].startswith('PROJCS["yizhan region plane"') for p in planes)


async def test_the_wkt_plane_is_the_proj_string_plane(conn: asyncpg.Connection) -> None:
    regions = await conn.fetch(
        "SELECT r.adcode, r.equal_area_srid, s.proj4text, ST_X(ST_Centroid(r.boundary)) AS lon, "
        "ST_Y(ST_Centroid(r.boundary)) AS lat FROM regions r JOIN spatial_ref_sys s ON s.srid = r.equal_area_srid"
    )
    for region in regions:
        # A point ~50 km from the centre, where a different plane would put it metres away.
        lon, lat = region["lon"] + 0.4, region["lat"] + 0.3
        x, y = await conn.fetchrow(
            "SELECT ST_X(g), ST_Y(g) FROM ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), 4326), $3::int) AS g",
            lon,
            lat,
            region["equal_area_srid"],
        )
        expected = Transformer.from_crs("EPSG:4326", region["proj4text"], always_xy=True).transform(lon, lat)
        assert (x, y) == pytest.approx(expected, abs=1e-3), region["adcode"]


async def test_a_new_region_gets_a_wkt_plane(conn: asyncpg.Connection) -> None:
    srid = await conn.fetchval(
        "INSERT INTO regions (adcode, name, level, parent_adcode, boundary) VALUES ('371699', '试验县', 'county', "
        "'371600', ST_Multi(ST_MakeEnvelope(117.9, 37.3, 118.0, 37.4, 4326))) RETURNING equal_area_srid"
    )
    wkt = await conn.fetchval("SELECT srtext FROM spatial_ref_sys WHERE srid = $1", srid)
    assert 'PARAMETER["latitude_of_center",37.350000]' in wkt and 'PARAMETER["longitude_of_center",117.950000]' in wkt
