"""`yizhan seed --national-register` into a database of its own with 北京 and 天津 loaded besides the demo's 滨州市:
every site labelled generated, the kinds in the README's proportions, each inside its county's boundary (shapely,
the national set read without the loader) and in a loaded county's where it has a region; a second run replaces
the generated sites (the feed tells what it deleted) and leaves the demo's alone."""

import asyncio
import math

import asyncpg
import pytest
import shapely
from shapely.geometry import shape
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.database.connections import create_engine
from app.regions import loader
from tests.regions.test_loader import features
from tests.tools import database_from

SITES = 2000
# The README's proportions of the generated register's kinds.
KINDS = {"outdoor_station": 0.88, "legal_aid": 0.10, "service_centre": 0.02}
PROVINCES = ("11", "12")  # 北京市, 天津市: 32 counties, about 2.5 % of China's people


async def load_provinces(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            for province in PROVINCES:
                await loader.load(conn, loader.select_counties(province=province), workers=1)
    finally:
        await engine.dispose()


async def fetch(settings: Settings, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(str(settings.database_url).replace("+asyncpg", ""))
    try:
        rows: list[asyncpg.Record] = await conn.fetch(query, *args)
        return rows
    finally:
        await conn.close()


GENERATED = (
    "SELECT id, kind, name, external_id, ST_X(geom) AS lon, ST_Y(geom) AS lat, region_adcode "
    "FROM sites WHERE source = 'generated-national' AND deleted_at IS NULL"
)
OTHERS = "SELECT id, version, updated_at, region_adcode FROM sites WHERE source <> 'generated-national' ORDER BY id"


def test_the_generated_national_register_loads_labelled_inside_its_counties_and_replaces_itself(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    boundaries = {str(f["properties"]["adcode"]): shape(f["geometry"]) for f in features()}
    with database_from("demo", "national_register") as settings:
        asyncio.run(load_provinces(settings))
        monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
        others = asyncio.run(fetch(settings, OTHERS))
        assert len(others) == 447  # the demo's register
        runner = CliRunner()

        refused = runner.invoke(cli, ["seed", "--sites", "10"])
        assert refused.exit_code == 2 and "--national-register" in refused.output

        first = runner.invoke(cli, ["seed", "--national-register", "--sites", str(SITES)])
        assert first.exit_code == 0, first.output
        said = " ".join(first.output.split())
        assert f"{SITES:,} sites written" in said and "have no region" in said
        sites = asyncio.run(fetch(settings, GENERATED))
        assert len(sites) == SITES
        assert all(s["name"].startswith("生成站点 ") for s in sites)
        assert len({s["external_id"] for s in sites}) == SITES

        for kind, share in KINDS.items():
            counted = sum(1 for s in sites if s["kind"] == kind)
            # Four standard deviations of a binomial count: a fair draw strays further once in ~16,000.
            assert abs(counted - share * SITES) <= 4 * math.sqrt(SITES * share * (1 - share)), (kind, counted)

        counties = asyncio.run(fetch(settings, "SELECT adcode FROM regions WHERE level = 'county'"))
        loaded = {r["adcode"] for r in counties}
        assert {a[:2] for a in loaded} == {"11", "12", "37"}
        for site in sites:
            point = shapely.Point(site["lon"], site["lat"])
            assert boundaries[site["external_id"].split("-")[0]].covers(point), site["external_id"]
            covering = {a for a in loaded if boundaries[a].covers(point)}
            if site["region_adcode"] is None:
                assert covering == set(), site["external_id"]
            else:
                assert site["region_adcode"] in covering, site["external_id"]
        in_regions = [s for s in sites if s["region_adcode"] is not None]
        assert len(in_regions) > 20  # about 2.5 % of 2,000 in 北京 and 天津, a few in 滨州市

        # A smaller register: the sites it generates again are upserted (same id), the others deleted, each with its
        # deletion in the change feed a partner syncs from.
        second = runner.invoke(cli, ["seed", "--national-register", "--sites", str(SITES // 2)])
        assert second.exit_code == 0, second.output
        again = asyncio.run(fetch(settings, GENERATED))
        assert len(again) == SITES // 2
        generated_again = {s["external_id"] for s in again}
        ids = {s["external_id"]: s["id"] for s in sites}
        assert all(s["id"] == ids[s["external_id"]] for s in again if s["external_id"] in ids)
        gone = {s["id"] for s in sites if s["external_id"] not in generated_again}
        assert f"{len(gone):,} of the earlier run deleted" in " ".join(second.output.split())
        deletions = asyncio.run(
            fetch(settings, "SELECT site_id FROM site_changes WHERE action = 'deleted' AND actor LIKE 'yizhan seed%'")
        )
        assert {d["site_id"] for d in deletions} == gone and len(gone) > 0
        assert asyncio.run(fetch(settings, OTHERS)) == others
