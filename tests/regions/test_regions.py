"""GET /v1/regions: geodesic areas against pyproj on the source file; boundaries round-trip."""

import json

import httpx
import pytest
from shapely.geometry import shape

from app.paths import SEED_DIR
from tests.reference import GEOD

COUNTIES = json.loads((SEED_DIR / "binzhou_371600_counties_tianditu_wgs84.geojson").read_text("utf-8"))["features"]


def reference_area_km2(geometry: dict) -> float:
    area, _ = GEOD.geometry_area_perimeter(shape(geometry))
    return abs(area) / 1e6


async def test_list_regions(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/regions")
    items = {i["adcode"]: i for i in r.json()["items"]}
    assert set(items) == {"371600"} | {str(f["properties"]["adcode"]) for f in COUNTIES}
    assert items["371600"]["population"] == 3_928_568
    assert [a for a, i in items.items() if i["is_urban_district"]] == ["371602", "371603"]
    for feature in COUNTIES:
        adcode = str(feature["properties"]["adcode"])
        assert items[adcode]["area_km2"] == pytest.approx(reference_area_km2(feature["geometry"]), rel=1e-3)
        assert items[adcode]["parent_adcode"] == "371600"
    city_reference = sum(reference_area_km2(f["geometry"]) for f in COUNTIES)  # the counties tile the city
    assert items["371600"]["area_km2"] == pytest.approx(city_reference, rel=1e-3)


async def test_filter_by_level_and_parent(client: httpx.AsyncClient) -> None:
    counties = (await client.get("/v1/regions", params={"parent": "371600"})).json()["items"]
    assert len(counties) == 7 and all(c["level"] == "county" for c in counties)
    cities = (await client.get("/v1/regions", params={"level": "city"})).json()["items"]
    assert [c["adcode"] for c in cities] == ["371600"]


async def test_one_region_with_its_boundary(client: httpx.AsyncClient) -> None:
    r = await client.get("/v1/regions/371602")
    body = r.json()
    assert body["name"] == "滨城区" and body["boundary"]["type"] == "MultiPolygon"
    source = next(f for f in COUNTIES if f["properties"]["adcode"] == 371602)
    # Same shape to within the 6-decimal (≈0.1 m) output precision.
    assert shape(body["boundary"]).symmetric_difference(shape(source["geometry"])).area < 1e-9
    assert body["seat"]["coordinates"] == [source["properties"]["seat_lon"], source["properties"]["seat_lat"]]


async def test_unknown_and_malformed_adcodes(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/regions/110101")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    bad = await client.get("/v1/regions/37x600")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "adcode"
