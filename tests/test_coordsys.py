"""GCJ-02 / BD-09 (SPEC §4): round trips under 1 m inside China, no shift outside, and real data as the reference."""

import json
import random
from pathlib import Path

import asyncpg
import httpx
import numpy as np
import pytest
from shapely import transform
from shapely.geometry import shape

from app import geo
from app.paths import SEED_DIR
from tests.reference import GEOD

DATAV = Path(__file__).parent / "data" / "binzhou_371600_datav_GCJ02_reference.json"  # provenance: tests/data/README.md


@pytest.mark.parametrize("coordsys", ["gcj02", "bd09"])
def test_round_trip_is_under_a_metre_inside_china(coordsys: str) -> None:
    rng = random.Random(1)
    for _ in range(2000):
        lon, lat = rng.uniform(75, 134), rng.uniform(18, 53)
        shifted = geo.from_wgs84(lon, lat, coordsys)
        back = geo.to_wgs84(*shifted, coordsys)
        assert GEOD.inv(lon, lat, *back)[2] < 1.0
        assert 5 < GEOD.inv(lon, lat, *shifted)[2] < 1500  # and it is really shifted (by 20–700 m)


@pytest.mark.parametrize("coordsys", ["gcj02", "bd09"])
def test_no_shift_outside_china(coordsys: str) -> None:
    for lon, lat in [(2.35, 48.85), (-74.0, 40.7), (151.2, -33.9), (179.99, -16.5)]:
        assert geo.from_wgs84(lon, lat, coordsys) == (lon, lat)
        assert geo.to_wgs84(lon, lat, coordsys) == (lon, lat)


def test_datav_gcj02_outline_lands_on_the_tianditu_outline() -> None:
    """Independent data: DataV's Binzhou outlines (GCJ-02, from Amap) against Tianditu's (WGS-84/CGCS2000).

    DataV's outlines are generalised (~250 vertices a county), so vertex distances mix the datum with the drawing;
    the area-weighted centroid averages the drawing out and leaves the systematic offset, the datum's.
    The coastal counties (沾化区, 无棣县) are left out: their two coastlines are drawn kilometres apart.
    """
    datav = {str(f["properties"]["adcode"]): f for f in json.loads(DATAV.read_text("utf-8"))["features"]}
    tianditu = {
        str(f["properties"]["adcode"]): shape(f["geometry"])
        for f in json.loads((SEED_DIR / "binzhou_371600_counties_tianditu_wgs84.geojson").read_text("utf-8"))[
            "features"
        ]
    }
    converted_offsets = []
    for adcode in ("371602", "371621", "371622", "371625", "371681"):
        reference = tianditu[adcode].centroid
        raw = shape(datav[adcode]["geometry"])
        converted = transform(raw, lambda c: np.array([geo.to_wgs84(lon, lat, "gcj02") for lon, lat in c]))
        off_raw = GEOD.inv(reference.x, reference.y, raw.centroid.x, raw.centroid.y)[2]
        off_converted = GEOD.inv(reference.x, reference.y, converted.centroid.x, converted.centroid.y)[2]
        assert off_raw > 400, (adcode, off_raw)  # unconverted: the ~500 m datum shift
        assert off_converted < 100, (adcode, off_converted)
        converted_offsets.append(off_converted)
    assert np.mean(converted_offsets) < 70


@pytest.mark.parametrize("coordsys", ["gcj02", "bd09"])
async def test_nearest_from_a_phone_in_a_chinese_datum(
    client: httpx.AsyncClient, conn: asyncpg.Connection, coordsys: str
) -> None:
    site = await conn.fetchrow(
        "SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE status = 'active' ORDER BY id LIMIT 1"
    )
    phone_lon, phone_lat = geo.from_wgs84(site["lon"], site["lat"], coordsys)  # the phone stands at the site
    r = await client.get(
        "/v1/sites/nearest", params={"lat": phone_lat, "lon": phone_lon, "coordsys": coordsys, "limit": 1}
    )
    (item,) = r.json()["items"]
    assert item["id"] == site["id"] and item["distance_m"] < 1.0
    assert GEOD.inv(item["lon"], item["lat"], phone_lon, phone_lat)[2] < 1.0  # answered in the phone's datum
    wgs = (await client.get("/v1/sites/nearest", params={"lat": phone_lat, "lon": phone_lon, "limit": 20})).json()
    same = next(i for i in wgs["items"] if i["id"] == site["id"])
    assert same["distance_m"] > 100  # the same numbers read as WGS-84 are hundreds of metres off


async def test_listing_and_one_site_in_gcj02(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    site = await conn.fetchrow("SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites LIMIT 1")
    expected = geo.from_wgs84(site["lon"], site["lat"], "gcj02")
    one = (await client.get(f"/v1/sites/{site['id']}", params={"coordsys": "gcj02"})).json()
    assert (one["lon"], one["lat"]) == pytest.approx(expected)
    lon, lat = expected
    box = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    listed = (await client.get("/v1/sites", params={"bbox": box, "coordsys": "gcj02"})).json()["items"]
    assert site["id"] in [i["id"] for i in listed]


async def test_coverage_and_regions_speak_the_datum(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    wgs = (await client.get("/v1/coverage/regions/371602")).json()["worst_served"]
    gcj = (await client.get("/v1/coverage/regions/371602", params={"coordsys": "gcj02"})).json()["worst_served"]
    assert (gcj["lon"], gcj["lat"]) == pytest.approx(geo.from_wgs84(wgs["lon"], wgs["lat"], "gcj02"), abs=1e-6)
    # A point asked in GCJ-02 is judged where it really is.
    site = await conn.fetchrow("SELECT ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE kind = 'legal_aid' LIMIT 1")
    lon, lat = geo.from_wgs84(site["lon"], site["lat"], "gcj02")
    point = (await client.get("/v1/coverage/point", params={"lat": lat, "lon": lon, "coordsys": "gcj02"})).json()
    assert point["nearest_site"]["distance_m"] < 1.0
    region = (await client.get("/v1/regions/371602", params={"coordsys": "bd09"})).json()
    seat = (await client.get("/v1/regions/371602")).json()["seat"]["coordinates"]
    assert region["seat"]["coordinates"] == pytest.approx(list(geo.from_wgs84(*seat, "bd09")), abs=1e-6)
    suggestion = (
        await client.post("/v1/coverage/suggest", json={"region": "371623", "count": 1, "coordsys": "gcj02"})
    ).json()["suggestions"][0]
    plain = (await client.post("/v1/coverage/suggest", json={"region": "371623", "count": 1})).json()["suggestions"][0]
    assert (suggestion["lon"], suggestion["lat"]) == pytest.approx(
        geo.from_wgs84(plain["lon"], plain["lat"], "gcj02"), abs=1e-6
    )
