"""Coverage at every level (country → province → city → county) against an independent reference: each county's
covered area from a shapely union of pyproj geodesic circles under the county's own rule, summed up the tree."""

from typing import Any

import asyncpg
import httpx
import numpy as np
import pytest
from pyproj import Geod
from shapely import Point, contains_xy, unary_union
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncConnection

from app.china_time import today
from app.coverage import figures, repository
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.database.read_pool import Reader
from app.regions import loader
from tests.coverage.test_coverage import geodesic_area_km2, geodesic_circle, serving_sites
from tests.regions.test_loader import features

# 济宁市 and 滨州市 under 山东省, and 上海市 (a municipality: its districts directly under it), under 全国.
PREFIXES = ("3708", "3716", "31")
JINING, BINZHOU, SHANDONG, SHANGHAI = "370800", "371600", "370000", "310000"
任城区 = "370811"


@pytest.fixture
async def china_part(sa_conn: AsyncConnection, conn: asyncpg.Connection) -> dict[str, Any]:
    """The counties of PREFIXES loaded as `yizhan regions load` loads them, by adcode as the national set's file has
    them (name and GeoJSON geometry, read without the loader), with legal-aid points scattered in Jining's (Binzhou
    and 黄浦区 have the demo's)."""
    cities = [county for city in (JINING, BINZHOU) for county in loader.select_counties(city=city)]
    await loader.load(sa_conn, [*cities, *loader.select_counties(province=SHANGHAI)], workers=1)
    loaded = {
        str(f["properties"]["adcode"]): {"name": f["properties"]["name"], "geometry": f["geometry"]}
        for f in features()
        if str(f["properties"]["adcode"]).startswith(PREFIXES)
    }
    rng = np.random.default_rng(22)
    for adcode, county in loaded.items():
        if not adcode.startswith("3708"):
            continue
        area = shape(county["geometry"])
        minx, miny, maxx, maxy = area.bounds
        lon, lat = rng.uniform(minx, maxx, 60), rng.uniform(miny, maxy, 60)
        inside = contains_xy(area, lon, lat)
        for x, y in list(zip(lon[inside], lat[inside], strict=True))[:4]:
            await conn.execute(
                "INSERT INTO sites (kind, name, location, source, external_id) "
                "VALUES ('legal_aid', $1, ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'test', $1)",
                f"{adcode}-{x:.5f}",
                float(x),
                float(y),
            )
    return loaded


def reference_covered_km2(county: dict[str, Any], sites: list[tuple[float, float]]) -> tuple[float, float]:
    """Covered and total geodesic area of a county under its rule (2 km in urban districts, else 7.5 km)."""
    area = shape(county["geometry"])
    radius = 2000.0 if county["name"].endswith("区") else 7500.0
    minx, miny, maxx, maxy = area.buffer(0.2).bounds
    near = [(x, y) for x, y in sites if minx <= x <= maxx and miny <= y <= maxy]
    circles = unary_union([geodesic_circle(x, y, radius, 128) for x, y in near])
    return geodesic_area_km2(area.intersection(circles)), geodesic_area_km2(area)


async def test_a_parent_aggregates_its_childrens_figures_down_to_the_counties(
    client: httpx.AsyncClient, conn: asyncpg.Connection, china_part: dict[str, Any]
) -> None:
    sites = await serving_sites(conn, "legal_aid", today())
    reference = {adcode: reference_covered_km2(county, sites) for adcode, county in china_part.items()}

    countries = await client.get("/v1/coverage/regions/100000/children", params={"kind": "legal_aid"})
    assert countries.status_code == 200, countries.text
    provinces = {row["adcode"]: row for row in countries.json()["items"]}
    assert set(provinces) == {SHANDONG, SHANGHAI}
    cities = (await client.get(f"/v1/coverage/regions/{SHANDONG}/children", params={"kind": "legal_aid"})).json()
    assert [row["adcode"] for row in cities["items"]] == [JINING, BINZHOU]
    counties = (await client.get(f"/v1/coverage/regions/{JINING}/children", params={"kind": "legal_aid"})).json()
    assert {row["adcode"] for row in counties["items"]} == {a for a in china_part if a.startswith("3708")}
    # A municipality's children are its districts.
    districts = (await client.get(f"/v1/coverage/regions/{SHANGHAI}/children", params={"kind": "legal_aid"})).json()
    assert {row["adcode"] for row in districts["items"]} == {a for a in china_part if a.startswith("31")}

    def expected(prefix: str) -> tuple[float, float]:
        parts = [reference[a] for a in reference if a.startswith(prefix)]
        return sum(c for c, _ in parts), sum(t for _, t in parts)

    for row in counties["items"]:
        assert row["rule"]["radius_m"] == (2000.0 if china_part[row["adcode"]]["name"].endswith("区") else 7500.0)
    for row, prefix in [
        *((r, r["adcode"][:4]) for r in cities["items"]),
        (provinces[SHANDONG], "37"),
        (provinces[SHANGHAI], "31"),
    ]:
        covered_km2, area_km2 = expected(prefix)
        assert row["area_km2"] == pytest.approx(area_km2, rel=1e-3), row["adcode"]
        assert row["covered_area_km2"] == pytest.approx(covered_km2, abs=0.005 * area_km2), row["adcode"]
        assert row["rule"]["type"] == "per_child_region"
    country = (await client.get("/v1/coverage/regions/100000", params={"kind": "legal_aid"})).json()
    covered_km2, area_km2 = expected("")
    assert country["covered_area_km2"] == pytest.approx(covered_km2, abs=0.005 * area_km2)
    # Every serving site counted once, in the county whose boundary holds it (shapely point-in-polygon).
    boundaries = [shape(c["geometry"]) for c in china_part.values()]
    holding = sum(1 for x, y in sites if any(b.contains(Point(x, y)) for b in boundaries))
    assert country["site_count"] == holding


async def test_regions_list_each_level_by_parent(client: httpx.AsyncClient, china_part: dict[str, Any]) -> None:
    provinces = (await client.get("/v1/regions", params={"parent": "100000"})).json()["items"]
    assert [(r["adcode"], r["level"]) for r in provinces] == [(SHANGHAI, "province"), (SHANDONG, "province")]
    cities = (await client.get("/v1/regions", params={"parent": SHANDONG})).json()["items"]
    assert [(r["adcode"], r["level"]) for r in cities] == [(JINING, "city"), (BINZHOU, "city")]
    counties = (await client.get("/v1/regions", params={"parent": JINING, "level": "county"})).json()["items"]
    assert len(counties) == sum(1 for a in china_part if a.startswith("3708"))


async def test_after_one_site_moves_only_the_counties_it_can_reach_are_computed_again(
    conn: asyncpg.Connection, reader: Reader, china_part: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[str] = []
    compute = figures._compute_leaf_row

    async def counted(reader: Any, kept: CoverageKept, region: asyncpg.Record, ev: Evaluation, *rest: Any) -> Any:
        computed.append(region["adcode"])
        return await compute(reader, kept, region, ev, *rest)

    monkeypatch.setattr(figures, "_compute_leaf_row", counted)
    kept = CoverageKept()

    async def national() -> list[dict[str, Any]]:
        ev = Evaluation("legal_aid", today(), None, state=await repository.register_state(conn))
        return await figures.child_rows(reader, kept, "100000", ev)

    await national()
    assert sorted(computed) == sorted(china_part)  # every county once, a sparse one too (its reach grew)
    computed.clear()
    await national()
    assert computed == []

    moved = await conn.fetchrow(
        "UPDATE sites SET location = ST_Project(location, 300, radians(90)) "
        "WHERE id = (SELECT min(id) FROM sites WHERE region_adcode = $1 AND kind = 'legal_aid') "
        "RETURNING ST_X(geom) AS lon, ST_Y(geom) AS lat",
        任城区,
    )
    after = await national()
    assert 任城区 in computed
    # Only the counties whose figures may depend on the site: those near it, and those whose worst-served spot is
    # measured to sites that far (Shanghai's districts have no legal-aid point of their own); none of Binzhou's,
    # which has its own points and lies 200 km away.
    geod = Geod(ellps="WGS84")
    for adcode in computed:
        assert not adcode.startswith("3716"), adcode
        if adcode.startswith("3708"):
            lon, lat = shape(china_part[adcode]["geometry"]).representative_point().coords[0]
            assert geod.inv(lon, lat, moved["lon"], moved["lat"])[2] < 100_000, adcode
    assert {a for a in china_part if a.startswith("3716")}.isdisjoint(computed)
    # What is kept after the change is what a fresh computation gives.
    fresh = await figures.child_rows(
        reader, CoverageKept(), "100000", Evaluation("legal_aid", today(), None, state=None)
    )
    assert after == fresh
