"""Coverage under travel-time rules on a road network (黄浦区 and its OpenStreetMap extract), checked against an
independent construction: each site's isochrone built by tests/roads/reference.py from the OSM file itself, then
unioned — or overlapped pairwise, for cross coverage (min_sites 2) — with shapely, areas in pyproj's own
equal-area projection. Outside the network's extent the radius stands: a geodesic-free planar circle there too."""

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from typer.testing import CliRunner

from app import demo
from app.cli import cli
from app.config import Settings
from app.database.connections import create_engine
from app.regions import repository as regions
from app.roads import modes
from app.roads.modes import Mode
from tests.roads.reference import ReferenceNetwork
from tests.tools import huangpu_database

HUANGPU = demo.HUANGPU["adcode"]
# A district drawn inside the network's extent (about 1.5 × 1.3 km around 人民广场 and 南京东路), with a 5-minute
# walk rule of its own, so coverage is partial and on the network alone.
INSIDE = "310001"  # before 310101: the district a point in both is said to be in
INSIDE_BOX = box(121.466, 31.224, 121.482, 31.236)
INSIDE_MINUTES = 5


@pytest.fixture(scope="module")
def database() -> Iterator[Settings]:
    with huangpu_database("network_coverage") as settings:
        asyncio.run(_add_inside_district(settings))
        yield settings


async def _add_inside_district(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            row = {"adcode": INSIDE, "name": "路网内测试区", "level": "county", "parent_adcode": "310000",
                   "is_urban_district": True, "boundary": f"SRID=4326;MULTIPOLYGON((({_ring(INSIDE_BOX)})))",
                   "seat": f"SRID=4326;{INSIDE_BOX.centroid.wkt}", "population": None,
                   "population_source": None}  # fmt: skip
            await regions.upsert(conn, [row])
            await conn.execute(
                text(
                    "INSERT INTO coverage_rules (kind, region_adcode, travel_minutes, assumed_speed_kmh, mode, note) "
                    "VALUES ('outdoor_station', :adcode, :minutes, 4, 'walk', 'test: a 5-minute walk')"
                ),
                {"adcode": INSIDE, "minutes": INSIDE_MINUTES},
            )
    finally:
        await engine.dispose()


def _ring(polygon: BaseGeometry) -> str:
    return ", ".join(f"{x} {y}" for x, y in polygon.exterior.coords)


async def get(http: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    answer = await http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def stations(http: httpx.AsyncClient) -> list[tuple[int, float, float]]:
    """The register's outdoor stations in and around 黄浦区 serving today, as the API lists them: (id, lon, lat)."""
    found = await get(http, "/v1/sites", kind="outdoor_station", limit=500)
    near = box(121.40, 31.15, 121.55, 31.30)
    return [(s["id"], s["lon"], s["lat"]) for s in found["items"]
            if s["status"] == "active" and near.covers(shapely.Point(s["lon"], s["lat"]))]  # fmt: skip


def project(geometry: BaseGeometry, transform: Any) -> BaseGeometry:
    return shapely.transform(geometry, lambda xy: np.column_stack(transform(xy[:, 0], xy[:, 1])))


class Reference:
    """Catchments built independently: isochrones in UTM metres (reference network), circles and areas in a
    Lambert equal-area projection centred on the region."""

    def __init__(self, network: ReferenceNetwork, region: BaseGeometry, mode: Mode, minutes: float, radius_m: float):
        centre = region.centroid
        laea = f"+proj=laea +lat_0={centre.y} +lon_0={centre.x} +ellps=WGS84 +units=m"
        to_area = Transformer.from_crs(4326, laea, always_xy=True).transform
        utm_to_area = Transformer.from_crs(network.utm_epsg, laea, always_xy=True).transform
        self.network, self.mode, self.budget_s, self.radius_m = network, mode, minutes * 60, radius_m
        self.to_area, self.utm_to_area = to_area, utm_to_area
        self.region = project(region, to_area)
        self.hull = project(network.hull(), utm_to_area)

    def catchment(self, lon: float, lat: float) -> BaseGeometry:
        iso = self.network.isochrone(lon, lat, self.mode, self.budget_s, modes.OFF_ROAD_REACH_M)
        iso = project(iso, self.utm_to_area)
        circle = shapely.Point(self.to_area(lon, lat)).buffer(self.radius_m, quad_segs=32)
        return iso.intersection(self.hull).union(circle.difference(self.hull))

    def share(self, sites: list[tuple[int, float, float]], k: int) -> float:
        catchments = [self.catchment(lon, lat) for _, lon, lat in sites]
        near = [c for c in catchments if c.intersects(self.region)]
        if k == 1:
            covered = shapely.union_all(near)
        else:  # reached by two or more: the union of the pairwise overlaps
            assert k == 2
            covered = shapely.union_all([a.intersection(b) for a, b in itertools.combinations(near, 2)])
        return float(covered.intersection(self.region).area / self.region.area)


async def region_shape(http: httpx.AsyncClient, adcode: str) -> BaseGeometry:
    return shape((await get(http, f"/v1/regions/{adcode}"))["boundary"])


@pytest.mark.parametrize("k", [1, 2])
async def test_inside_the_network_coverage_is_the_union_of_isochrones(
    http: httpx.AsyncClient, reference: ReferenceNetwork, k: int
) -> None:
    answer = await get(http, f"/v1/coverage/regions/{INSIDE}", kind="outdoor_station", min_sites=k)
    assert answer["rule"]["method"] == answer["method"]
    assert answer["method"].startswith("road network: shanghai_huangpu_osmnx.osm, ")
    assert answer["method"].endswith(", 步行 walking"), "the whole district is within the network's extent"
    assert answer["rule"]["min_sites"] == k and answer["rule"]["network"]["share_of_region"] > 0.999
    expected = Reference(reference, await region_shape(http, INSIDE), Mode.walk, INSIDE_MINUTES, 333.3)
    share = expected.share(await stations(http), k)
    assert 0.05 < share < 0.95, "partly covered: the comparison could fail"
    assert answer["covered_area_share"] == pytest.approx(share, abs=0.005)


@pytest.mark.parametrize("k", [1, 2])
async def test_a_district_partly_on_the_network_keeps_the_radius_outside_it(
    http: httpx.AsyncClient, reference: ReferenceNetwork, k: int
) -> None:
    answer = await get(http, f"/v1/coverage/regions/{HUANGPU}", kind="outdoor_station", min_sites=k)
    rule = answer["rule"]
    assert rule["mode"] == "walk" and rule["travel_minutes"] == 15 and rule["radius_m"] == 1000
    share_of_region = rule["network"]["share_of_region"]
    assert 0.1 < share_of_region < 0.9
    assert f"over {share_of_region:.0%} of the region" in answer["method"]
    assert "elsewhere radius = minutes × assumed speed" in answer["method"]
    expected = Reference(reference, await region_shape(http, HUANGPU), Mode.walk, 15, 1000)
    assert expected.hull.intersection(expected.region).area / expected.region.area == pytest.approx(
        share_of_region, abs=0.005
    )
    share = expected.share(await stations(http), k)
    assert answer["covered_area_share"] == pytest.approx(share, abs=0.005)


async def test_cross_coverage_is_never_more_than_single_coverage_and_gaps_are_the_rest(http: httpx.AsyncClient) -> None:
    one = await get(http, f"/v1/coverage/regions/{INSIDE}", kind="outdoor_station")
    two = await get(http, f"/v1/coverage/regions/{INSIDE}", kind="outdoor_station", min_sites=2)
    assert two["covered_area_km2"] < one["covered_area_km2"]
    assert two["rule_label"] == f"{INSIDE_MINUTES} min 步行 walking on roads · ≥ 2 sites"
    for answer, k in ((one, 1), (two, 2)):
        gaps = await get(http, f"/v1/coverage/regions/{INSIDE}/gaps", kind="outdoor_station", min_sites=k)
        assert gaps["methods"] == {INSIDE: answer["method"]}
        in_gaps = sum(f["properties"]["area_km2"] for f in gaps["features"])
        # The gaps are the rest of the district, less the slivers under 0.01 km² (between road buffers).
        uncovered = answer["area_km2"] - answer["covered_area_km2"]
        assert uncovered * 0.9 < in_gaps <= uncovered + 0.002


async def test_the_worst_served_node_is_the_references(http: httpx.AsyncClient, reference: ReferenceNetwork) -> None:
    answer = await get(http, f"/v1/coverage/regions/{INSIDE}", kind="outdoor_station", min_sites=2)
    worst = answer["worst_served"]
    assert worst["method"].startswith("the region's road network nodes, by travel time to the 2nd quickest site")
    sites = await stations(http)
    g = reference.graph(Mode.walk)
    inside = [
        n for n, (lon, lat) in reference.location.items() if n in g and INSIDE_BOX.covers(shapely.Point(lon, lat))
    ]
    assert len(inside) > 20
    # Travel times from each site to every node (walking to the site's road first), the second quickest per node.
    times = np.full((len(inside), len(sites)), np.inf)
    for j, (_, lon, lat) in enumerate(sites):
        for i, node in enumerate(inside):
            times[i, j] = reference.seconds_between((lon, lat), reference.location[node], Mode.walk)
    second = np.sort(times, axis=1)[:, 1]
    assert worst["travel_time_s"] == pytest.approx(float(second.max()), rel=0.01)
    lon, lat = reference.location[inside[int(np.argmax(second))]]
    assert (worst["lon"], worst["lat"]) == pytest.approx((lon, lat), abs=1e-5)
    # The site named is the one the time is to.
    _, site_lon, site_lat = next(s for s in sites if s[0] == worst["nearest_site_id"])
    by_reference = reference.seconds_between((site_lon, site_lat), (lon, lat), Mode.walk)
    assert by_reference == pytest.approx(worst["travel_time_s"], rel=0.01)


async def test_a_point_on_the_network_is_covered_by_walking_time(
    http: httpx.AsyncClient, reference: ReferenceNetwork
) -> None:
    sites = await stations(http)
    checked = 0
    for lon, lat in [(121.4700, 31.2300), (121.4780, 31.2270), (121.4745, 31.2335), (121.4680, 31.2250)]:
        answer = await get(http, "/v1/coverage/point", kind="outdoor_station", lon=lon, lat=lat, min_sites=2)
        assert answer["region"] == INSIDE and answer["method"].startswith("door to door, road network: ")
        seconds = sorted(reference.seconds_between((lon, lat), (s_lon, s_lat), Mode.walk) for _, s_lon, s_lat in sites)
        assert answer["nearest_site"]["travel_time_s"] == pytest.approx(seconds[0], rel=0.01)
        budget = INSIDE_MINUTES * 60
        if abs(seconds[1] - budget) > 5:  # not on the edge of the time allowed
            assert answer["covered"] == (seconds[1] <= budget)
            checked += 1
    assert checked >= 3


async def test_next_sites_under_a_network_rule_raise_the_measured_coverage(http: httpx.AsyncClient) -> None:
    answer = await http.post("/v1/coverage/suggest", json={"region": HUANGPU, "kind": "outdoor_station", "count": 3})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["rules"][HUANGPU]["network"]["name"] == demo.HUANGPU_NETWORK
    assert len(body["suggestions"]) == 3
    assert body["after"]["covered_area_km2"] > body["before"]["covered_area_km2"]
    assert all(s["gain_area_km2"] > 0 for s in body["suggestions"])
    before = await get(http, f"/v1/coverage/regions/{HUANGPU}", kind="outdoor_station")
    assert body["before"]["covered_area_km2"] == pytest.approx(before["covered_area_km2"], abs=1e-3)


async def test_catchment_tiles_draw_the_isochrones(http: httpx.AsyncClient) -> None:
    from tests.tiles.test_tiles import decode, tile_of

    z = 14
    x, y = tile_of(121.4740, 31.2300, z)
    tile = await http.get(f"/v1/tiles/catchments/{z}/{x}/{y}.mvt", params={"kind": "outdoor_station"})
    assert tile.status_code == 200
    features = decode(tile.content)["catchments"]["features"]
    assert features and all(f["properties"].get("mode") == "walk" for f in features)
    # The radius form of the same rule, for comparison on the map: circles with the rule's radius.
    circles = await http.get(
        f"/v1/tiles/catchments/{z}/{x}/{y}.mvt", params={"kind": "outdoor_station", "radius_m": 1000}
    )
    assert {f["properties"].get("radius_m") for f in decode(circles.content)["catchments"]["features"]} == {1000}


async def test_planners_switch_cross_coverage_on_for_a_region(
    http: httpx.AsyncClient, database: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(database.database_url))
    runner = CliRunner()
    point = {"kind": "outdoor_station", "lon": 121.4700, "lat": 31.2300}
    try:
        switched = await asyncio.to_thread(runner.invoke, cli, ["rules", "cross-coverage", INSIDE, "--sites", "2"])
        assert switched.exit_code == 0, switched.output
        rule = (await get(http, "/v1/coverage/point", **point))["rule"]
        assert (rule["min_sites"], rule["scope"], rule["travel_minutes"]) == (2, "region", INSIDE_MINUTES)
        listed = await asyncio.to_thread(runner.invoke, cli, ["rules", "list"])
        assert listed.exit_code == 0 and INSIDE in listed.output
        # A what-if radius keeps the region's cross coverage.
        what_if = (await get(http, "/v1/coverage/point", radius_m=500, **point))["rule"]
        assert (what_if["min_sites"], what_if["scope"]) == (2, "query")
        nowhere = await asyncio.to_thread(runner.invoke, cli, ["rules", "cross-coverage", "999999"])
        assert nowhere.exit_code == 1 and "no rule" in nowhere.output
        # A municipality's figures are its districts', under their rules: its own would change nothing.
        parent = await asyncio.to_thread(runner.invoke, cli, ["rules", "cross-coverage", "310000"])
        assert parent.exit_code == 1
    finally:
        await asyncio.to_thread(runner.invoke, cli, ["rules", "cross-coverage", INSIDE, "--sites", "1"])
    assert (await get(http, "/v1/coverage/point", **point))["rule"]["min_sites"] == 1
