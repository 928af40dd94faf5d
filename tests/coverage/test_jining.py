"""The README's walkthrough for 济宁市, through the API: its counties loaded from the national set, the generated
legal-aid points imported in bulk with a key limited to the city, then its coverage table against an independent
reference (a shapely union of pyproj geodesic circles under each county's rule, geodesic areas), the census figures
read from the CSV, its gaps and suggestions."""

import csv
import gzip
import json
from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest
from shapely import Point, unary_union
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncConnection

from app.keys import service as keys
from app.paths import SEED_DIR
from app.regions import loader
from tests.coverage.test_coverage import geodesic_area_km2, geodesic_circle, nearest_m

JINING = "370800"
SITES_CSV = SEED_DIR / "jining_legal_aid_generated.csv"
SOURCE = "generated-demo:jining"
# The two county-level districts of 济宁市 (市辖区): legal aid within 2 km; elsewhere a half-hour by e-bike, 7.5 km.
URBAN = {"370811": "任城区", "370812": "兖州区"}


def jining_counties() -> dict[str, dict[str, Any]]:
    """Jining's counties as the national set's files have them, read without the loader: outline and census
    population."""
    with (SEED_DIR / "china" / "census2020_counties.csv").open(encoding="utf-8-sig") as f:
        census = {row["CODE"]: int(row["POPU"]) for row in csv.DictReader(f) if row["POPU"]}
    with gzip.open(SEED_DIR / "china" / "china_counties_tianditu_wgs84.geojson.gz", "rt", encoding="utf-8") as f:
        features = json.load(f)["features"]
    return {
        str(p["adcode"]): {"name": p["name"], "area": shape(f["geometry"]), "population": census[str(p["adcode"])]}
        for f in features
        if str((p := f["properties"])["city_adcode"]) == JINING
    }


def the_csvs_points() -> list[tuple[float, float]]:
    with SITES_CSV.open(encoding="utf-8") as f:
        return [(float(row["lon"]), float(row["lat"])) for row in csv.DictReader(f)]


@pytest.fixture
async def jining(client: httpx.AsyncClient, sa_conn: AsyncConnection) -> dict[str, dict[str, Any]]:
    """济宁市 loaded as `yizhan regions load --city 370800` loads it, and the README's CSV imported through the bulk
    API with a write key limited to the city (`yizhan keys create --region 3708`)."""
    await loader.load(sa_conn, loader.select_counties(city=JINING), workers=1)
    key = await keys.create(sa_conn, "济宁市总工会", ["write"], "3708")
    response = await client.post(
        "/v1/sites/bulk",
        params={"source": SOURCE},
        content=SITES_CSV.read_bytes(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    created = len(the_csvs_points())
    assert response.json()["summary"] == {"created": created, "updated": 0, "unchanged": 0, "rejected": 0}
    return jining_counties()


async def test_the_sample_lies_in_jining_imports_once_and_a_key_for_another_city_may_not_import_it(
    client: httpx.AsyncClient, sa_conn: AsyncConnection, jining: dict[str, dict[str, Any]]
) -> None:
    points = the_csvs_points()
    counties = unary_union([c["area"] for c in jining.values()])
    assert all(counties.contains(Point(p)) for p in points)
    assert all(any(c["area"].contains(Point(p)) for p in points) for c in jining.values())  # every county has some

    async def imported(key: str, source: str) -> httpx.Response:
        return await client.post(
            "/v1/sites/bulk",
            params={"source": source},
            content=SITES_CSV.read_bytes(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
        )

    again = await imported(await keys.create(sa_conn, "济宁市总工会", ["write"], "3708"), SOURCE)
    assert again.json()["summary"] == {"created": 0, "updated": 0, "unchanged": len(points), "rejected": 0}
    refused = await imported(await keys.create(sa_conn, "滨州市总工会", ["write"], "3716"), "elsewhere")
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"


async def test_the_county_table_agrees_with_geodesic_circles_and_the_census(
    client: httpx.AsyncClient, conn: asyncpg.Connection, jining: dict[str, dict[str, Any]]
) -> None:
    points = the_csvs_points()
    table = await client.get(f"/v1/coverage/regions/{JINING}/children", params={"kind": "legal_aid"})
    assert table.status_code == 200, table.text
    rows = {row["adcode"]: row for row in table.json()["items"]}
    assert set(rows) == set(jining) and len(rows) == 11
    for adcode, county in jining.items():
        row, area = rows[adcode], county["area"]
        radius = 2000.0 if adcode in URBAN else 7500.0
        assert row["rule"]["radius_m"] == radius, adcode
        circles = unary_union([geodesic_circle(lon, lat, radius, 128) for lon, lat in points])
        covered_km2 = geodesic_area_km2(area.intersection(circles))
        assert row["area_km2"] == pytest.approx(geodesic_area_km2(area), rel=1e-3), adcode
        assert row["covered_area_km2"] == pytest.approx(covered_km2, abs=0.005 * row["area_km2"]), adcode
        assert row["site_count"] == sum(area.contains(Point(p)) for p in points), adcode
        assert row["population"] == county["population"], adcode
        # The modelled people (a model, labelled so) within reach of a site: each cell by its centroid.
        cells = await conn.fetch(
            "SELECT ST_X(centroid) lon, ST_Y(centroid) lat, population FROM population_cells WHERE region_adcode = $1",
            adcode,
        )
        people = np.array([c["population"] for c in cells])
        near = nearest_m(points, np.array([c["lon"] for c in cells]), np.array([c["lat"] for c in cells])) <= radius
        assert people.sum() == pytest.approx(county["population"], rel=1e-6), adcode
        assert row["covered_population"] == pytest.approx(people[near].sum(), rel=0.01, abs=50), adcode
        assert "modelled" in row["population_source"]
    city = (await client.get(f"/v1/coverage/regions/{JINING}", params={"kind": "legal_aid"})).json()
    assert city["population"] == sum(c["population"] for c in jining.values()) == 8_023_296
    assert city["covered_area_km2"] == pytest.approx(sum(r["covered_area_km2"] for r in rows.values()), abs=0.01)
    assert city["site_count"] == len(points)


async def test_gaps_and_suggestions_answer_for_the_city_and_a_county(
    client: httpx.AsyncClient, jining: dict[str, dict[str, Any]]
) -> None:
    weishan = "370826"  # 微山县: its lake and long shore leave the widest gaps
    row = (await client.get(f"/v1/coverage/regions/{weishan}", params={"kind": "legal_aid"})).json()
    gaps = await client.get(f"/v1/coverage/regions/{weishan}/gaps", params={"kind": "legal_aid"})
    assert gaps.status_code == 200, gaps.text
    features = gaps.json()["features"]
    areas = [f["properties"]["area_km2"] for f in features]
    assert features and areas == sorted(areas, reverse=True)
    assert sum(areas) + row["covered_area_km2"] == pytest.approx(row["area_km2"], rel=0.01)
    area = jining[weishan]["area"].buffer(1e-6)
    assert all(area.covers(shape(f["geometry"])) for f in features[:5])
    assert geodesic_area_km2(shape(features[0]["geometry"])) == pytest.approx(areas[0], rel=0.005)

    city_gaps = await client.get(f"/v1/coverage/regions/{JINING}/gaps", params={"kind": "legal_aid"})
    assert city_gaps.status_code == 200, city_gaps.text
    assert len(city_gaps.json()["features"]) > len(features)

    suggested = await client.post("/v1/coverage/suggest", json={"region": JINING, "kind": "legal_aid", "count": 3})
    assert suggested.status_code == 200, suggested.text
    body = suggested.json()
    assert len(body["suggestions"]) == 3
    assert all(s["region"] in jining and s["gain_population"] > 0 for s in body["suggestions"])
    assert body["after"]["covered_population"] > body["before"]["covered_population"]
