"""`yizhan regions load` on a real PostGIS: 济宁市 with its counties and census figures read independently from the
CSV, its city, province and root; loading twice changes nothing; the urban-district rule and its override."""

import csv
import gzip
import json
from typing import Any

import asyncpg
import pytest
from shapely.geometry import shape
from sqlalchemy.ext.asyncio import AsyncConnection

from app.regions import loader, repository
from app.regions.urban import is_urban_district
from tests.reference import GEOD

JINING = "370800"
CHINA = loader.CHINA_DIR


def census() -> dict[str, int]:
    """The CSV's county populations, read without the loader."""
    with (CHINA / "census2020_counties.csv").open(encoding="utf-8-sig") as f:
        return {row["CODE"]: int(row["POPU"]) for row in csv.DictReader(f) if row["POPU"]}


def features() -> list[dict[str, Any]]:
    with gzip.open(CHINA / "china_counties_tianditu_wgs84.geojson.gz", "rt", encoding="utf-8") as f:
        collection: dict[str, Any] = json.load(f)
    return collection["features"]


def reference_area_km2(geometry: dict[str, Any]) -> float:
    area, _ = GEOD.geometry_area_perimeter(shape(geometry))
    return abs(area) / 1e6


async def regions_under(conn: asyncpg.Connection, prefix: str) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT adcode, name, level, parent_adcode, population, population_source, area_km2, is_urban_district "
        "FROM regions WHERE adcode LIKE $1 OR level = 'country'",
        f"{prefix}%",
    )
    return {r["adcode"]: r for r in rows}


async def test_jining_loads_with_its_counties_census_and_ancestors(
    sa_conn: AsyncConnection, conn: asyncpg.Connection
) -> None:
    summary = await loader.load(sa_conn, loader.select_counties(city=JINING), workers=1)
    assert summary.levels["county"].added == 11
    regions = await regions_under(conn, "37")
    jining_features = [f for f in features() if str(f["properties"]["city_adcode"]) == JINING]
    assert len(jining_features) == 11
    people = census()
    for feature in jining_features:
        county = regions[str(feature["properties"]["adcode"])]
        assert county["level"] == "county" and county["parent_adcode"] == JINING
        assert county["population"] == people[county["adcode"]]
        assert county["area_km2"] == pytest.approx(reference_area_km2(feature["geometry"]), rel=1e-3)
    assert regions[JINING]["parent_adcode"] == "370000" and regions[JINING]["name"] == "济宁市"
    assert regions["370000"]["parent_adcode"] == "100000" and regions["100000"]["parent_adcode"] is None
    total = sum(people[str(f["properties"]["adcode"])] for f in jining_features)
    assert regions[JINING]["population"] == total == 8_023_296
    city_reference = sum(reference_area_km2(f["geometry"]) for f in jining_features)
    assert regions[JINING]["area_km2"] == pytest.approx(city_reference, rel=1e-3)
    assert {a for a, r in regions.items() if r["is_urban_district"] and a.startswith("3708")} == {"370811", "370812"}
    # The modelled population (a model: labelled so) adds up to each county's census figure.
    cells = await conn.fetch(
        "SELECT region_adcode, sum(population) AS people, min(source) AS source FROM population_cells "
        "WHERE region_adcode LIKE '3708%' GROUP BY region_adcode"
    )
    assert len(cells) == 11
    for row in cells:
        assert row["people"] == pytest.approx(people[row["region_adcode"]], rel=1e-9)
        assert row["source"].startswith("modelled")


async def test_loading_again_changes_nothing(sa_conn: AsyncConnection) -> None:
    counties = loader.select_counties(city=JINING)
    await loader.load(sa_conn, counties, workers=1)
    again = await loader.load(sa_conn, counties, workers=1)
    assert {level: (done.added, done.changed) for level, done in again.levels.items()} == {
        "county": (0, 0), "city": (0, 0), "province": (0, 0), "country": (0, 0)
    }  # fmt: skip
    assert again.levels["county"].unchanged == 11 and again.population_modelled == 0


async def test_the_demo_counties_are_the_national_sets(sa_conn: AsyncConnection) -> None:
    """Binzhou's counties, loaded by the demo, are left alone; its city is remade under 山东省."""
    done = await loader.load(sa_conn, loader.select_counties(city="371600"), workers=1)
    assert done.levels["county"].unchanged == 7 and done.levels["county"].written == 0
    assert done.levels["city"].changed == 1 and done.population_modelled == 0


async def test_a_parent_says_which_counties_its_population_misses(
    sa_conn: AsyncConnection, conn: asyncpg.Connection
) -> None:
    """杭州市's 临平区 and 钱塘区 were made after the 2020 census: no figure of their own; the city's sum says so."""
    await loader.load(sa_conn, loader.select_counties(city="330100"), workers=1)
    regions = await regions_under(conn, "3301")
    assert regions["330113"]["population"] is None and regions["330114"]["population"] is None
    people = census()
    assert regions["330100"]["population"] == sum(people[a] for a in regions if a in people and a != "330100")
    assert "2 loaded counties without one" in regions["330100"]["population_source"]


async def test_a_municipality_is_its_districts_parent(sa_conn: AsyncConnection, conn: asyncpg.Connection) -> None:
    await loader.load(sa_conn, loader.select_counties(province="50"), workers=1)
    regions = await regions_under(conn, "50")
    counties = [r for r in regions.values() if r["level"] == "county"]
    assert len(counties) == 38 and {r["parent_adcode"] for r in counties} == {"500000"}
    assert not any(r["level"] == "city" for r in regions.values())
    # 开州区 and its neighbours were counties made districts (撤县设区): their codes stay in the counties' range.
    assert regions["500154"]["is_urban_district"] and not regions["500229"]["is_urban_district"]  # 城口县


@pytest.mark.parametrize(
    ("name", "in_a_city", "urban"),
    [
        ("任城区", True, True),
        ("崇明区", False, True),  # a district of 上海市, numbered as a county
        ("神农架林区", False, False),  # a forestry district its province governs
        ("碑林区", True, True),  # a district of 西安市 whose name ends in 林区
        ("六枝特区", True, False),  # a special district
        ("乌兰浩特市", True, False),  # numbered 01 in its league, a county-level city
        ("微山县", True, False),
        ("科尔沁右翼前旗", True, False),
    ],
)
def test_the_urban_district_rule(name: str, in_a_city: bool, urban: bool) -> None:
    assert is_urban_district(name, in_a_city) is urban


def test_the_national_set_has_998_urban_districts() -> None:
    """1,000 names end in 区; 神农架林区 and 六枝特区 are not 市辖区."""
    counties = loader.national_counties().values()
    assert sum(c.name.endswith("区") for c in counties) == 1000
    urban = [c.name for c in counties if c.row()["is_urban_district"]]
    assert len(urban) == 998 and not {"神农架林区", "六枝特区"} & set(urban)


async def test_an_override_outlives_a_reload(sa_conn: AsyncConnection, conn: asyncpg.Connection) -> None:
    counties = loader.select_counties(city=JINING)
    await loader.load(sa_conn, counties, workers=1)
    assert await repository.set_urban_district(sa_conn, "370826", True, by_data=False)  # 微山县
    assert await repository.set_urban_district(sa_conn, "370811", False, by_data=True)  # 任城区
    again = await loader.load(sa_conn, counties, workers=1)
    assert again.levels["county"].written == 0
    urban = await conn.fetch("SELECT adcode FROM regions WHERE adcode LIKE '3708%' AND is_urban_district")
    assert {r["adcode"] for r in urban} == {"370812", "370826"}
    assert await repository.set_urban_district(sa_conn, "370826", None, by_data=False)
    assert not await conn.fetchval("SELECT is_urban_district FROM regions WHERE adcode = '370826'")
    assert await conn.fetchval("SELECT urban_district_override FROM regions WHERE adcode = '370826'") is None
    assert not await repository.set_urban_district(sa_conn, "999999", True, by_data=False)
