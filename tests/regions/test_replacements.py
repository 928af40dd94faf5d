"""撤县设区 under a new code (`yizhan regions import` with `replaces`): the new region takes the old one's place, the
old code is retired and says by what, the sites move to the new code, the urban rule applies, and only the regions
touched are computed again. The outlines and the rule are checked against seed/'s Tianditu file and pyproj
geodesic circles, not the code's own answers.

惠民县 371621 made 惠民区 371604 is hypothetical (the demo's 沾化区 371603, once 沾化县 371624, made the change in
2014, before the data was drawn)."""

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import shapely
from shapely import MultiPolygon, Point, unary_union
from shapely.geometry import mapping
from sqlalchemy.ext.asyncio import AsyncConnection

from app.china_time import today
from app.coverage import figures, repository
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.database.read_pool import Reader
from app.keys import service as keys
from app.regions import importer
from app.regions import repository as regions
from tests.coverage.test_coverage import geodesic_area_km2, geodesic_circle, serving_sites
from tests.regions.test_import import TIANDITU, counts, import_file, write_geojson

HUIMIN_COUNTY, HUIMIN_DISTRICT, BINZHOU = "371621", "371604", "371600"


def feature(adcode: str, name: str, geometry: Any, replaces: str | None, parent: str = BINZHOU) -> dict[str, Any]:
    properties = {"adcode": adcode, "name": name, "parent": parent, "replaces": replaces}
    return {"type": "Feature", "properties": properties, "geometry": mapping(geometry)}


def district_file(tmp_path: Path, adcode: str = HUIMIN_DISTRICT, replaces: str = HUIMIN_COUNTY) -> Path:
    return write_geojson(tmp_path / "chexian.geojson", [feature(adcode, "惠民区", TIANDITU["371621"], replaces)])


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The leaf regions whose coverage rows are computed (not taken from the kept ones), in order."""
    found: list[str] = []
    compute = figures._compute_leaf_row

    async def counted(reader: Any, kept: CoverageKept, region: asyncpg.Record, ev: Evaluation, *rest: Any) -> Any:
        found.append(region["adcode"])
        return await compute(reader, kept, region, ev, *rest)

    monkeypatch.setattr(figures, "_compute_leaf_row", counted)
    return found


async def test_a_county_made_a_district_under_a_new_code_takes_its_place(
    sa_conn: AsyncConnection,
    conn: asyncpg.Connection,
    reader: Reader,
    client: httpx.AsyncClient,
    tmp_path: Path,
    computed: list[str],
) -> None:
    # The test's transaction writes before the first table, as the import will make it: a writing transaction keeps
    # rows of its own (app.coverage.kept), and the rows kept before the import must be the ones looked up after it.
    await conn.fetchval("SELECT txid_current()")
    kept = CoverageKept()

    async def city_table() -> dict[str, dict[str, Any]]:
        ev = Evaluation("legal_aid", today(), None, state=await repository.register_state(conn))
        return {row["adcode"]: row for row in await figures.child_rows(reader, kept, BINZHOU, ev)}

    before = await city_table()
    assert sorted(computed) == sorted(TIANDITU)
    county = await conn.fetchrow("SELECT * FROM regions WHERE adcode = $1", HUIMIN_COUNTY)
    its_sites = {r["id"] for r in await conn.fetch("SELECT id FROM sites WHERE region_adcode = $1", HUIMIN_COUNTY)}
    assert its_sites
    await keys.create(sa_conn, "惠民县总工会", ["write"], HUIMIN_COUNTY)
    await keys.create(sa_conn, "滨州市总工会", ["write"], "3716")

    done = await import_file(sa_conn, district_file(tmp_path))
    assert done.created == [HUIMIN_DISTRICT] and done.replaced == {HUIMIN_COUNTY: HUIMIN_DISTRICT}
    assert done.surfaces_rebuilt == [HUIMIN_DISTRICT] and done.sites_reassigned >= len(its_sites)
    # The county union's key writes in its district; the city's key is left as it was.
    limits = {r["name"]: r["region_prefix"] for r in await conn.fetch("SELECT name, region_prefix FROM api_keys")}
    assert limits["惠民县总工会"] == HUIMIN_DISTRICT and limits["滨州市总工会"] == "3716"
    assert any("is now limited to 371604" in w for w in done.warnings)

    # The old code's history says it was replaced, by what, and keeps its row and outline.
    change = await conn.fetchrow(
        "SELECT action, replaced_by, before, after, ST_AsBinary(boundary_before) AS outline FROM region_changes "
        "WHERE adcode = $1 ORDER BY id DESC LIMIT 1",
        HUIMIN_COUNTY,
    )
    assert change["action"] == "replaced" and change["replaced_by"] == HUIMIN_DISTRICT
    assert change["before"]["name"] == "惠民县" and change["after"] is None
    assert shapely.equals_exact(shapely.from_wkb(change["outline"]), MultiPolygon([TIANDITU["371621"]]), 1e-9)
    assert await conn.fetchval("SELECT count(*) FROM regions WHERE adcode = $1", HUIMIN_COUNTY) == 0

    # The new region: an urban district (its name), with the old one's seat and census figure, and its people.
    district = await conn.fetchrow("SELECT * FROM regions WHERE adcode = $1", HUIMIN_DISTRICT)
    assert district["name"] == "惠民区" and district["is_urban_district"] and district["parent_adcode"] == BINZHOU
    assert district["population"] == county["population"] == 569_975  # 惠民县 in seed/census2020_binzhou_counties.csv
    assert district["seat"] == county["seat"]
    people = await conn.fetchval(
        "SELECT sum(population) FROM population_cells WHERE region_adcode = $1", HUIMIN_DISTRICT
    )
    assert people == pytest.approx(county["population"], rel=1e-6)

    # Its sites carry the new code, as shapely puts them in the outline; none carries the old one.
    moved = await conn.fetch(
        "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM sites WHERE region_adcode = $1", HUIMIN_DISTRICT
    )
    assert {r["id"] for r in moved} == its_sites
    assert all(TIANDITU["371621"].covers(Point(r["lon"], r["lat"])) for r in moved)
    assert await conn.fetchval("SELECT count(*) FROM sites WHERE region_adcode = $1", HUIMIN_COUNTY) == 0

    # The old code answers 410 naming the new one; the new one answers.
    for path in (f"/v1/regions/{HUIMIN_COUNTY}", f"/v1/coverage/regions/{HUIMIN_COUNTY}"):
        gone = await client.get(path)
        assert gone.status_code == 410 and gone.headers["content-type"] == "application/problem+json", path
        assert gone.json()["replaced_by"] == HUIMIN_DISTRICT and HUIMIN_DISTRICT in gone.json()["detail"]
    assert (await client.get(f"/v1/regions/{HUIMIN_DISTRICT}")).json()["name"] == "惠民区"

    # Only the new district is computed again; the city's other counties' rows are the kept ones.
    computed.clear()
    after = await city_table()
    assert computed == [HUIMIN_DISTRICT]
    assert set(after) == set(before) - {HUIMIN_COUNTY} | {HUIMIN_DISTRICT}
    assert all(after[a] == before[a] for a in after if a != HUIMIN_DISTRICT)
    # Legal aid within 2 km, as in every urban district (SPEC §3), against geodesic circles.
    row = after[HUIMIN_DISTRICT]
    assert row["rule"]["radius_m"] == 2000 and before[HUIMIN_COUNTY]["rule"]["radius_m"] == 7500
    sites = await serving_sites(conn, "legal_aid", today())
    circles = unary_union([geodesic_circle(lon, lat, 2000.0, 128) for lon, lat in sites])
    outline = TIANDITU["371621"]
    reference = geodesic_area_km2(outline.intersection(circles)) / geodesic_area_km2(outline)
    assert row["covered_area_share"] == pytest.approx(reference, abs=0.005)
    assert row["covered_area_km2"] < before[HUIMIN_COUNTY]["covered_area_km2"]
    # The city's figures are its children's, the new district's among them.
    city = (await client.get(f"/v1/coverage/regions/{BINZHOU}", params={"kind": "legal_aid"})).json()
    assert city["covered_area_km2"] == pytest.approx(sum(r["covered_area_km2"] for r in after.values()), abs=0.01)
    assert city["rule"]["children"][HUIMIN_DISTRICT] == "2000 m" and HUIMIN_COUNTY not in city["rule"]["children"]


async def test_an_operators_word_on_the_urban_rule_goes_with_the_code(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """An operator who ruled 惠民县 not an urban district keeps that word for 惠民区, whose name alone would make it
    one; with no word, the name decides (the test above)."""
    assert await regions.set_urban_district(sa_conn, HUIMIN_COUNTY, False, by_data=False)
    await import_file(sa_conn, district_file(tmp_path))
    district = await conn.fetchrow(
        "SELECT is_urban_district, urban_district_override FROM regions WHERE adcode = $1", HUIMIN_DISTRICT
    )
    assert district["urban_district_override"] is False and district["is_urban_district"] is False
    row = (await client.get(f"/v1/coverage/regions/{HUIMIN_DISTRICT}", params={"kind": "legal_aid"})).json()
    assert row["rule"]["radius_m"] == 7500


async def test_the_same_file_again_changes_nothing_and_a_second_replacement_is_followed(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await import_file(sa_conn, district_file(tmp_path))
    again = await import_file(sa_conn, district_file(tmp_path))
    assert again.replaced == {} and again.unchanged == [HUIMIN_DISTRICT] and not again.created
    # Renumbered once more, to a code after the old one (a site's region is the covering region first in code
    # order, so its sites keep the old code until the old region goes): the first code names the region that
    # stands now.
    its_sites = {r["id"] for r in await conn.fetch("SELECT id FROM sites WHERE region_adcode = $1", HUIMIN_DISTRICT)}
    renumbered = await import_file(sa_conn, district_file(tmp_path, adcode="371605", replaces=HUIMIN_DISTRICT))
    assert renumbered.sites_reassigned == len(its_sites)
    moved = await conn.fetch("SELECT id FROM sites WHERE region_adcode = '371605'")
    assert {r["id"] for r in moved} == its_sites
    for retired in (HUIMIN_COUNTY, HUIMIN_DISTRICT):
        gone = await client.get(f"/v1/regions/{retired}")
        assert gone.status_code == 410 and gone.json()["replaced_by"] == "371605"
    assert (await client.get("/v1/regions/371699")).status_code == 404


@pytest.mark.parametrize(
    ("features", "problem"),
    [
        ([feature("371604", "惠民区", TIANDITU["371621"], "371699")], "replaces: 371699 is not loaded"),
        (
            [
                feature("371604", "惠民区", TIANDITU["371621"], "371621"),
                feature("371621", "惠民县", TIANDITU["371621"], None),
            ],
            "replaces: 371621 is feature 2 too",
        ),
        ([feature("371622", "阳信区", TIANDITU["371621"], "371621")], "adcode: 371622 is loaded already"),
        (
            [
                feature("371604", "惠民区", TIANDITU["371621"], "371621"),
                feature("371605", "惠民区", TIANDITU["371621"], "371621"),
            ],
            "replaces: 371621 is replaced by feature 1 (371604) too",
        ),
        (
            [feature("371700", "滨州新市", unary_union(list(TIANDITU.values())), "371600", parent="370000")],
            "replaces: 371600 has regions under it the file does not move (371602, 371603",
        ),
        ([feature("371604", "惠民区", TIANDITU["371621"], "3716")], "replaces: '3716' is not a six-digit"),
    ],
    ids=["not loaded", "drawn too", "new code loaded", "replaced twice", "has children", "malformed"],
)
async def test_a_replacement_that_cannot_be_made_is_refused_with_nothing_written(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, tmp_path: Path, features: list[dict[str, Any]], problem: str
) -> None:
    before = await counts(conn)
    with pytest.raises(importer.ImportRefused) as refused:
        await import_file(sa_conn, write_geojson(tmp_path / "bad.geojson", features))
    assert any(problem in p for p in refused.value.problems), refused.value.problems
    assert await counts(conn) == before
