"""`yizhan regions load --all` into a database of its own (loaded once for the module: it takes minutes): every
county of China, and national and provincial figures checked against the census CSV and pyproj's geodesic areas of
the source boundaries, read without the loader."""

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from alembic import command

from app.cli import alembic_config
from app.config import Settings
from app.database.connections import create_engine
from app.regions import loader
from tests.regions.test_loader import census, features, reference_area_km2
from tests.tools import admin, database_url, unlimited


@pytest.fixture(scope="module")
def china() -> Iterator[tuple[Settings, float]]:
    """A migrated database with all of China loaded, and how long the load took (s)."""
    name = f"yizhan_china_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        settings = unlimited(database_url(name))
        command.upgrade(alembic_config(settings), "head")
        started = time.monotonic()
        asyncio.run(_load_all(settings))
        yield settings, time.monotonic() - started
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _load_all(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await loader.load(conn, loader.select_counties())
    finally:
        await engine.dispose()


@pytest.fixture
async def china_conn(china: tuple[Settings, float]) -> AsyncIterator[asyncpg.Connection]:
    settings, _ = china
    conn = await asyncpg.connect(str(settings.database_url).replace("+asyncpg", ""))
    try:
        yield conn
    finally:
        await conn.close()


async def test_every_county_and_the_tree_above_them(china_conn: asyncpg.Connection) -> None:
    levels = dict(await china_conn.fetch("SELECT level, count(*) FROM regions GROUP BY level"))
    # 澳门 is one county-level unit with its province's code, loaded as the province.
    assert levels["county"] == 2890 and levels["province"] == 34 and levels["country"] == 1
    loaded = {r["adcode"] for r in await china_conn.fetch("SELECT adcode FROM regions")}
    assert {str(f["properties"]["adcode"]) for f in features()} <= loaded
    provinces = await china_conn.fetch("SELECT parent_adcode FROM regions WHERE level = 'province'")
    assert {p["parent_adcode"] for p in provinces} == {"100000"}
    orphans = await china_conn.fetchval(
        "SELECT count(*) FROM regions r WHERE r.level <> 'country' AND NOT EXISTS "
        "(SELECT 1 FROM regions p WHERE p.adcode = r.parent_adcode)"
    )
    assert orphans == 0


async def test_national_and_provincial_populations_are_the_census_sums(china_conn: asyncpg.Connection) -> None:
    people = census()
    by_province: dict[str, int] = defaultdict(int)
    for feature in features():
        adcode = str(feature["properties"]["adcode"])
        by_province[str(feature["properties"]["province_adcode"])] += people.get(adcode, 0)
    loaded = dict(
        await china_conn.fetch("SELECT adcode, population FROM regions WHERE level IN ('province', 'country')")
    )
    assert loaded["100000"] == sum(by_province.values())
    assert {a: p for a, p in loaded.items() if a != "100000"} == {a: p or None for a, p in by_province.items()}


async def test_every_province_area_is_the_sum_of_its_counties(china_conn: asyncpg.Connection) -> None:
    reference: dict[str, float] = defaultdict(float)
    for feature in features():
        reference[str(feature["properties"]["province_adcode"])] += reference_area_km2(feature["geometry"])
    loaded = dict(await china_conn.fetch("SELECT adcode, area_km2 FROM regions WHERE level = 'province'"))
    assert set(loaded) == set(reference)
    for adcode, area in loaded.items():
        assert area == pytest.approx(reference[adcode], rel=1e-3), adcode
    country = await china_conn.fetchval("SELECT area_km2 FROM regions WHERE adcode = '100000'")
    assert country == pytest.approx(sum(reference.values()), rel=1e-3)


async def test_every_censused_county_is_modelled(china_conn: asyncpg.Connection, china: tuple[Settings, float]) -> None:
    modelled = dict(
        await china_conn.fetch("SELECT region_adcode, sum(population) FROM population_cells GROUP BY region_adcode")
    )
    people = census()
    censused = {str(f["properties"]["adcode"]) for f in features()} & set(people)
    assert set(modelled) == censused
    assert all(modelled[a] == pytest.approx(people[a], rel=1e-6) for a in censused)
    _, seconds = china
    print(f"regions load --all: {seconds:.0f} s")
