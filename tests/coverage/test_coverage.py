"""Coverage (SPEC §6) against independent references: shapely unions of pyproj geodesic buffers, geodesic areas."""

import csv
import datetime as dt
import io
import json
import random

import asyncpg
import httpx
import numpy as np
import pytest
from openpyxl import load_workbook
from shapely import Point, Polygon, contains_xy, prepare, unary_union
from shapely.geometry import shape

from app.china_time import today
from app.coverage import planes
from app.paths import SEED_DIR
from tests.reference import GEOD

COUNTIES = {
    str(f["properties"]["adcode"]): shape(f["geometry"])
    for f in json.loads((SEED_DIR / "binzhou_371600_counties_tianditu_wgs84.geojson").read_text("utf-8"))["features"]
}


def geodesic_area_km2(geometry: object) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0]) / 1e6


def geodesic_circle(lon: float, lat: float, radius_m: float, vertices: int = 256) -> Polygon:
    azimuths = np.linspace(0, 360, vertices, endpoint=False)
    lons, lats, _ = GEOD.fwd(np.full(vertices, lon), np.full(vertices, lat), azimuths, np.full(vertices, radius_m))
    return Polygon(zip(lons, lats, strict=True))


async def serving_sites(conn: asyncpg.Connection, kind: str, on: dt.date) -> list[tuple[float, float]]:
    rows = await conn.fetch(
        "SELECT ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE kind = $1 AND deleted_at IS NULL "
        "AND (opened_on IS NULL OR opened_on <= $2) AND (closed_on IS NULL OR closed_on > $2) "
        "AND ($2 <> $3 OR status = 'active')",
        kind,
        on,
        today(),
    )
    return [(r["lon"], r["lat"]) for r in rows]


def nearest_m(points: list[tuple[float, float]], lon: float | np.ndarray, lat: float | np.ndarray) -> np.ndarray:
    lon, lat = np.atleast_1d(lon), np.atleast_1d(lat)
    best = np.full(lon.shape, np.inf)
    for site_lon, site_lat in points:
        _, _, d = GEOD.inv(lon, lat, np.full(lon.shape, site_lon), np.full(lat.shape, site_lat))
        best = np.minimum(best, d)
    return best


async def test_covered_area_agrees_with_geodesic_buffers(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    sites = await serving_sites(conn, "legal_aid", today())
    r = await client.get("/v1/coverage/regions/371600/children", params={"kind": "legal_aid"})
    rows = {row["adcode"]: row for row in r.json()["items"]}
    assert set(rows) == set(COUNTIES)
    for adcode, county in COUNTIES.items():
        row = rows[adcode]
        radius = row["rule"]["radius_m"]
        assert radius == (2000.0 if adcode in ("371602", "371603") else 7500.0)
        circles = unary_union([geodesic_circle(lon, lat, radius) for lon, lat in sites])
        reference_share = geodesic_area_km2(county.intersection(circles)) / geodesic_area_km2(county)
        assert row["covered_area_share"] == pytest.approx(reference_share, abs=0.005), adcode
        assert row["area_km2"] == pytest.approx(geodesic_area_km2(county), rel=1e-3)


async def test_covered_population_counts_cells_within_reach(
    client: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    sites = await serving_sites(conn, "legal_aid", today())
    body = (await client.get("/v1/coverage/regions/371623", params={"kind": "legal_aid"})).json()
    cells = await conn.fetch(
        "SELECT ST_X(centroid) lon, ST_Y(centroid) lat, population FROM population_cells WHERE region_adcode = '371623'"
    )
    lon = np.array([c["lon"] for c in cells])
    lat = np.array([c["lat"] for c in cells])
    people = np.array([c["population"] for c in cells])
    covered = nearest_m(sites, lon, lat) <= 7500.0
    assert people.sum() == pytest.approx(465_837)  # the model keeps the census total
    assert body["covered_population"] == pytest.approx(people[covered].sum(), rel=0.01)
    assert body["covered_population_share"] == pytest.approx(people[covered].sum() / people.sum(), abs=0.01)
    assert "modelled" in body["population_source"]


async def test_gaps_and_covered_area_add_up(client: httpx.AsyncClient) -> None:
    for adcode in COUNTIES:
        row = (await client.get(f"/v1/coverage/regions/{adcode}", params={"kind": "legal_aid"})).json()
        gaps = (await client.get(f"/v1/coverage/regions/{adcode}/gaps", params={"kind": "legal_aid"})).json()
        assert gaps["type"] == "FeatureCollection"
        areas = [f["properties"]["area_km2"] for f in gaps["features"]]
        assert areas == sorted(areas, reverse=True)
        assert all(a >= gaps["min_gap_area_km2"] for a in areas)
        assert sum(areas) + row["covered_area_km2"] == pytest.approx(row["area_km2"], rel=0.01), adcode
        # The gaps' geometry is real: its geodesic area matches what is reported.
        for feature in gaps["features"][:3]:
            assert geodesic_area_km2(shape(feature["geometry"])) == pytest.approx(
                feature["properties"]["area_km2"], rel=0.005
            )


async def test_worst_served_is_the_farthest_point(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    sites = await serving_sites(conn, "legal_aid", today())
    rng = np.random.default_rng(11)
    for adcode in ("371602", "371623", "371681"):
        county = COUNTIES[adcode]
        worst = (await client.get(f"/v1/coverage/regions/{adcode}", params={"kind": "legal_aid"})).json()[
            "worst_served"
        ]
        assert county.buffer(1e-6).covers(Point(worst["lon"], worst["lat"]))
        # No site is closer to it than reported …
        assert nearest_m(sites, worst["lon"], worst["lat"])[0] == pytest.approx(worst["distance_m"], rel=1e-3)
        # … and no sampled point of the region is worse (the answer is exact, not sampled: allow 0.2 %).
        minx, miny, maxx, maxy = county.bounds
        lon = rng.uniform(minx, maxx, 20_000)
        lat = rng.uniform(miny, maxy, 20_000)
        prepare(county)
        keep = contains_xy(county, lon, lat)
        assert nearest_m(sites, lon[keep], lat[keep]).max() <= worst["distance_m"] * 1.002


async def test_a_city_aggregates_its_counties_under_their_own_rules(client: httpx.AsyncClient) -> None:
    city = (await client.get("/v1/coverage/regions/371600", params={"kind": "legal_aid"})).json()
    rows = (await client.get("/v1/coverage/regions/371600/children", params={"kind": "legal_aid"})).json()["items"]
    assert city["rule"]["type"] == "per_child_region"
    assert city["area_km2"] == pytest.approx(sum(r["area_km2"] for r in rows), abs=0.01)
    assert city["covered_area_km2"] == pytest.approx(sum(r["covered_area_km2"] for r in rows), abs=0.01)
    assert city["site_count"] == sum(r["site_count"] for r in rows)
    assert city["worst_served"]["distance_m"] == max(r["worst_served"]["distance_m"] for r in rows)
    assert city["population"] == 3_928_568


async def test_as_of_evaluates_the_register_on_that_date(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    shares = []
    for day in ("2023-01-01", "2024-06-01", "2025-06-01"):
        body = (await client.get("/v1/coverage/regions/371602", params={"kind": "legal_aid", "as_of": day})).json()
        expected = await conn.fetchval(
            "SELECT count(*) FROM sites WHERE kind = 'legal_aid' AND region_adcode = '371602' "
            "AND opened_on <= $1 AND (closed_on IS NULL OR closed_on > $1) AND deleted_at IS NULL",
            dt.date.fromisoformat(day),
        )
        assert body["as_of"] == day and body["site_count"] == expected
        shares.append(body["covered_area_share"])
    assert shares == sorted(shares) and shares[0] < shares[-1]  # the demo register grows over time


async def test_radius_override_is_echoed_and_used(client: httpx.AsyncClient) -> None:
    base = (await client.get("/v1/coverage/regions/371602", params={"kind": "legal_aid"})).json()
    wider = (await client.get("/v1/coverage/regions/371602", params={"kind": "legal_aid", "radius_m": 3000})).json()
    assert wider["rule"]["radius_m"] == 3000 and wider["rule"]["scope"] == "query"
    assert base["rule"]["scope"] == "urban_district_default"
    assert wider["covered_area_share"] > base["covered_area_share"]


async def test_county_rule_says_it_is_an_approximation(client: httpx.AsyncClient) -> None:
    rule = (await client.get("/v1/coverage/regions/371623", params={"kind": "legal_aid"})).json()["rule"]
    assert rule["type"] == "travel_time" and rule["travel_minutes"] == 30 and rule["assumed_speed_kmh"] == 15
    assert rule["radius_m"] == 7500 and "no road network" in rule["approximation"]


async def test_point_coverage(client: httpx.AsyncClient, conn: asyncpg.Connection) -> None:
    sites = await serving_sites(conn, "legal_aid", today())
    rng = random.Random(5)
    for _ in range(20):
        adcode = rng.choice(list(COUNTIES))
        point = COUNTIES[adcode].representative_point()
        lon, lat = point.x + rng.uniform(-0.02, 0.02), point.y + rng.uniform(-0.02, 0.02)
        r = await client.get("/v1/coverage/point", params={"lat": lat, "lon": lon, "kind": "legal_aid"})
        if r.status_code == 404:
            continue  # jittered outside every county
        body = r.json()
        nearest = nearest_m(sites, lon, lat)[0]
        assert body["nearest_site"]["distance_m"] == pytest.approx(nearest, rel=1e-3)
        assert body["covered"] == (nearest <= body["rule"]["radius_m"])
    outside = await client.get("/v1/coverage/point", params={"lat": 39.9, "lon": 116.4})
    assert outside.status_code == 404 and outside.headers["content-type"] == "application/problem+json"


async def test_exports_for_reports(client: httpx.AsyncClient) -> None:
    url = "/v1/coverage/regions/371600/children"
    text = await client.get(url, params={"kind": "legal_aid"}, headers={"Accept": "text/csv"})
    assert text.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert table[0][:4] == ["区划代码", "名称", "覆盖规则", "计算方式"] and len(table) == 8
    methods = {row[1]: row[3] for row in table[1:]}
    assert methods["滨城区"] == "radius" and methods["惠民县"].startswith("radius = minutes × assumed speed")
    assert {row[1] for row in table[1:]} == {"滨城区", "沾化区", "惠民县", "阳信县", "无棣县", "博兴县", "邹平市"}
    xlsx = await client.get(
        url,
        params={"kind": "legal_aid"},
        headers={"Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
    )
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "区划代码" and len(rows) == 8
    json_rows = (await client.get(url, params={"kind": "legal_aid"})).json()["items"]
    assert [r[rows[0].index("面积覆盖率")] for r in rows[1:]] == [r["covered_area_share"] for r in json_rows]


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/coverage/regions/110101", {}, 404, None),
        ("/v1/coverage/regions/371600", {"kind": "spa"}, 422, "kind"),
        ("/v1/coverage/regions/371600", {"radius_m": -5}, 422, "radius_m"),
        ("/v1/coverage/regions/371600", {"radius_m": 1e9}, 422, "radius_m"),
        ("/v1/coverage/regions/371600", {"as_of": "last month"}, 422, "as_of"),
        ("/v1/coverage/regions/3716/gaps", {}, 422, "adcode"),
        ("/v1/coverage/point", {"lat": 95, "lon": 118}, 422, "lat"),
    ],
)
async def test_bad_coverage_requests(
    client: httpx.AsyncClient, path: str, params: dict, status: int, field: str | None
) -> None:
    r = await client.get(path, params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    if field:
        assert field in [e["field"] for e in r.json()["errors"]]


async def test_a_plane_taken_back_to_wgs84_in_python_is_where_postgis_puts_it(conn: asyncpg.Connection) -> None:
    """The worst-served spot leaves the database in its region's plane (app.coverage.planes.from_plane)."""
    rng = np.random.default_rng(5)
    for adcode in ("371602", "371623"):
        srid, projection = await conn.fetchrow(
            "SELECT r.equal_area_srid, s.proj4text FROM regions r JOIN spatial_ref_sys s ON s.srid = r.equal_area_srid "
            "WHERE r.adcode = $1",
            adcode,
        )
        x, y = rng.uniform(-60_000, 60_000, 20), rng.uniform(-60_000, 60_000, 20)
        lon, lat = planes.from_plane(projection).transform(x, y)
        for i in range(len(x)):
            expected = await conn.fetchrow(
                "SELECT ST_X(p) lon, ST_Y(p) lat FROM ST_Transform(ST_SetSRID(ST_MakePoint($1, $2), $3), 4326) p",
                float(x[i]),
                float(y[i]),
                srid,
            )
            assert (lon[i], lat[i]) == pytest.approx((expected["lon"], expected["lat"]), abs=1e-9)
