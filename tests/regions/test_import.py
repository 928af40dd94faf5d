"""`yizhan regions import`: a union's own boundaries over the loaded ones, checked against independent references
(the Tianditu outlines of seed/, shapely and pyproj), all or nothing, kept in each region's history."""

import json
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest
import shapely
from pyogrio import raw
from shapely import MultiPolygon, Point, Polygon
from shapely.geometry import mapping, shape
from sqlalchemy.ext.asyncio import AsyncConnection
from typer.testing import CliRunner

from app import geo
from app.china_time import today
from app.cli import cli
from app.config import Settings
from app.coverage import figures
from app.coverage.evaluation import Evaluation
from app.coverage.kept import CoverageKept
from app.paths import SEED_DIR
from app.regions import importer, staged
from tests.coverage.test_kept_answers import CountingReader
from tests.reference import GEOD

DATAV = Path(__file__).parents[1] / "data" / "binzhou_371600_datav_GCJ02_reference.json"  # tests/data/README.md
TIANDITU = {
    str(f["properties"]["adcode"]): shape(f["geometry"])
    for f in json.loads((SEED_DIR / "binzhou_371600_counties_tianditu_wgs84.geojson").read_text("utf-8"))["features"]
}
# DataV's coast is drawn kilometres from Tianditu's (tests/test_coordsys.py): the inland counties measure the datum.
INLAND = ("371602", "371621", "371622", "371625", "371681")


def datav_features() -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = json.loads(DATAV.read_text("utf-8"))["features"]
    return features


async def import_file(
    sa_conn: AsyncConnection,
    path: Path,
    coordsys: geo.CoordSys = geo.CoordSys.wgs84,
    population: list[importer.Population] | None = None,
    dry_run: bool = False,
) -> importer.Imported:
    features = importer.read(path, importer.Properties(), coordsys)
    return await staged.import_regions(
        sa_conn, features, population or [], check_datum=coordsys == geo.CoordSys.wgs84, dry_run=dry_run
    )


def write_geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False), "utf-8")
    return path


def feature(adcode: Any, name: Any, geometry: Any, parent: Any = 371600, level: str = "district") -> dict[str, Any]:
    properties = {"adcode": adcode, "name": name, "level": level, "parent": {"adcode": parent}}
    return {"type": "Feature", "properties": properties, "geometry": mapping(geometry)}


def centroid_offset_m(a: Any, b: Any) -> float:
    """Between area-weighted centroids: the drawing's generalisation averages out, the datum's offset stays."""
    return float(GEOD.inv(a.centroid.x, a.centroid.y, b.centroid.x, b.centroid.y)[2])


async def stored_outlines(conn: asyncpg.Connection) -> dict[str, Any]:
    rows = await conn.fetch("SELECT adcode, ST_AsBinary(boundary) AS b FROM regions")
    return {r["adcode"]: shapely.from_wkb(r["b"]) for r in rows}


async def counts(conn: asyncpg.Connection) -> tuple[Any, ...]:
    return tuple(
        await conn.fetchrow(
            "SELECT (SELECT count(*) FROM regions) AS regions, (SELECT count(*) FROM region_changes) AS history, "
            "(SELECT md5(string_agg(adcode || ST_AsEWKT(boundary), ',' ORDER BY adcode)) FROM regions) AS outlines, "
            "(SELECT md5(string_agg(id || ':' || coalesce(region_adcode, ''), ',' ORDER BY id)) FROM sites) AS sites"
        )
    )


async def test_datav_gcj02_outline_imported_with_its_datum_lands_on_the_tianditu_outline(
    sa_conn: AsyncConnection, conn: asyncpg.Connection
) -> None:
    done = await import_file(sa_conn, DATAV, geo.CoordSys.gcj02)
    assert sorted(done.updated) == sorted(TIANDITU) and not done.created
    assert not [w for w in done.warnings if "GCJ-02" in w]
    stored = await stored_outlines(conn)
    for adcode in INLAND:
        assert centroid_offset_m(stored[adcode], TIANDITU[adcode]) < 100, adcode
    # Each county's history keeps the Tianditu outline it replaced.
    for row in await conn.fetch(
        "SELECT adcode, version, ST_AsBinary(boundary_before) AS b FROM region_changes WHERE action = 'updated'"
    ):
        assert row["version"] == 2
        assert shapely.equals_exact(shapely.from_wkb(row["b"]), MultiPolygon([TIANDITU[row["adcode"]]]), 1e-9)


async def test_datav_outline_imported_as_wgs84_is_warned_about(
    sa_conn: AsyncConnection, conn: asyncpg.Connection
) -> None:
    """Unconverted, the coastal 沾化区 sticks out of the city past the tolerance: refused, with the warning that says
    why."""
    before = await counts(conn)
    with pytest.raises(importer.ImportRefused) as refused:
        await import_file(sa_conn, DATAV)
    assert refused.value.problems == [
        "feature 2 (371603): geometry: 5.6% of it lies outside its parent 371600 (at most 5%)"
    ]
    warnings = refused.value.warnings
    assert any("--coordsys gcj02" in w for w in warnings)
    flagged = {w.split("(")[1].split(")")[0] for w in warnings if w.startswith("feature")}
    assert set(INLAND) <= flagged
    assert await counts(conn) == before


async def test_an_outline_already_in_wgs84_is_not_warned_about(sa_conn: AsyncConnection, tmp_path: Path) -> None:
    shifted_back = [
        feature(a, n, g)
        for a, n, g in (("371602", "滨城区", inside("371602", 50)), ("371625", "博兴县", inside("371625", 50)))
    ]
    done = await import_file(sa_conn, write_geojson(tmp_path / "wgs84.geojson", shifted_back))
    assert sorted(done.updated) == ["371602", "371625"] and done.warnings == []


async def test_a_dry_run_writes_nothing(sa_conn: AsyncConnection, conn: asyncpg.Connection) -> None:
    before = await counts(conn)
    done = await import_file(sa_conn, DATAV, geo.CoordSys.gcj02, dry_run=True)
    assert len(done.updated) == 7
    assert await counts(conn) == before


@pytest.mark.parametrize("suffix, driver", [(".gpkg", "GPKG"), (".shp", "ESRI Shapefile")])
async def test_geopackage_and_shapefile_import_as_the_geojson_does(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, tmp_path: Path, suffix: str, driver: str
) -> None:
    meta, _, geometries, values = raw.read(DATAV)
    columns = dict(zip(meta["fields"], values, strict=True))
    path = tmp_path / f"binzhou{suffix}"
    parents = np.array([str(json.loads(p)["adcode"]) for p in columns["parent"]], dtype=object)
    raw.write(
        path,
        geometries,
        [columns["adcode"], columns["name"], columns["level"], parents],
        ["adcode", "name", "level", "parent"],
        driver=driver,
        geometry_type="MultiPolygon",
        crs="EPSG:4326",
        encoding="UTF-8",
    )
    await import_file(sa_conn, path, geo.CoordSys.gcj02)
    from_file = await stored_outlines(conn)
    await import_file(sa_conn, DATAV, geo.CoordSys.gcj02)
    from_geojson = await stored_outlines(conn)
    for adcode in TIANDITU:
        assert shapely.equals_exact(from_file[adcode], from_geojson[adcode], 1e-9), adcode


def bowtie() -> Polygon:
    # A figure-eight ring over 滨城区: the drawing is wrong, and repairing it would double its area.
    x, y = 117.95, 37.40
    return Polygon([(x, y), (x + 0.05, y + 0.05), (x + 0.05, y), (x, y + 0.05), (x, y)])


def inside(adcode: str, metres: float) -> Any:
    """A county's outline shrunk by `metres` (roughly, in degrees): inside its parent, clear of its siblings."""
    return TIANDITU[adcode].buffer(-metres / 111_000)


BAD_FILES = {
    "invalid geometry": (feature(371602, "滨城区", bowtie()), "feature 1 (371602): geometry: invalid"),
    "unknown parent": (
        feature(371602, "滨城区", inside("371602", 100), parent=371700),
        "feature 1 (371602): parent: 371700 is neither in the file nor loaded",
    ),
    "child outside its parent": (
        feature(371699, "新区", shapely.affinity.translate(TIANDITU["371602"], 2.0, 0)),
        "feature 1 (371699): geometry: 100.0% of it lies outside its parent 371600",
    ),
    "overlapping siblings": (
        feature(371699, "新区", TIANDITU["371602"].buffer(-0.02)),
        "feature 1 (371699): geometry: overlaps its sibling loaded 371602",
    ),
    "bad adcode": (feature("3716O2", "滨城区", inside("371602", 100)), "feature 1: adcode: '3716O2' is not a six"),
    "missing name": (feature(371602, "", inside("371602", 100)), "feature 1 (371602): name: missing"),
}


@pytest.mark.parametrize("case", BAD_FILES)
async def test_a_bad_feature_is_named_and_nothing_is_written(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, tmp_path: Path, case: str
) -> None:
    bad, message = BAD_FILES[case]
    good = feature(371625, "博兴县", inside("371625", 200))  # a good feature beside it is not written either
    path = write_geojson(tmp_path / "bad.geojson", [bad, good])
    before = await counts(conn)
    with pytest.raises(importer.ImportRefused) as refused:
        await import_file(sa_conn, path)
    assert any(p.startswith(message) for p in refused.value.problems), refused.value.problems
    assert len(refused.value.problems) == 1, refused.value.problems
    assert await counts(conn) == before


async def test_a_self_touching_ring_is_repaired(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    # A square whose ring comes back to one of its own vertices, pinching off a triangle: invalid (a ring
    # self-intersection), and valid with the same area as a square with a triangular hole.
    centre = TIANDITU["371625"].representative_point()
    x, y, u = centre.x - 0.04, centre.y - 0.04, 0.02
    corners = [(0, 0), (4, 0), (4, 4), (2, 4), (3, 2), (1, 2), (2, 4), (0, 4), (0, 0)]
    touching = Polygon([(x + u * i, y + u * j) for i, j in corners])
    assert not touching.is_valid
    path = write_geojson(tmp_path / "touching.geojson", [feature(371625, "博兴县", touching)])
    done = await import_file(sa_conn, path)
    assert done.updated == ["371625"] and any("feature 1 (371625): geometry: invalid" in w for w in done.warnings)
    stored = (await stored_outlines(conn))["371625"]
    assert stored.is_valid and stored.area == pytest.approx(14 * u * u, rel=1e-9)


async def test_a_county_made_a_district_keeps_its_history_and_its_sites_follow_the_new_line(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """撤县设区: 惠民县 becomes 惠民区 and takes a slice of 阳信县 holding a site; 阳信县 gives it up."""
    huimin, yangxin = TIANDITU["371621"], TIANDITU["371622"]
    sites = await conn.fetch(
        "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat FROM sites WHERE region_adcode = '371622'"
    )
    border = huimin.boundary
    nearest = min(sites, key=lambda s: border.distance(Point(s["lon"], s["lat"])))
    reach = shapely.shortest_line(Point(nearest["lon"], nearest["lat"]), border).buffer(0.01)
    slice_ = yangxin.intersection(reach)
    new_huimin = huimin.union(slice_)
    new_yangxin = yangxin.difference(slice_)
    path = write_geojson(
        tmp_path / "chexian.geojson",
        [feature(371621, "惠民区", new_huimin), feature(371622, "阳信县", new_yangxin)],
    )
    # A site outside every box the statement redraws (old and new outlines) is not derived again: written here with
    # a region it does not lie in (the triggers off), it keeps it.
    boxes = [shapely.box(*outline.bounds) for outline in (huimin, yangxin, new_huimin, new_yangxin)]
    far = await conn.fetchrow(
        "SELECT id FROM sites WHERE NOT (geom && ANY($1::geometry[])) ORDER BY id LIMIT 1",
        [f"SRID=4326;{box.wkt}" for box in boxes],
    )
    await conn.execute("SET LOCAL session_replication_role = replica")
    await conn.execute("UPDATE sites SET region_adcode = '371621' WHERE id = $1", far["id"])
    await conn.execute("SET LOCAL session_replication_role = origin")
    population = [importer.Population(2, "371621", 650_000, 0.4, "test census")]
    done = await import_file(sa_conn, path, population=population)
    assert sorted(done.updated) == ["371621", "371622"]
    assert await conn.fetchval("SELECT region_adcode FROM sites WHERE id = $1", far["id"]) == "371621"
    assert done.sites_reassigned >= 1 and sorted(done.surfaces_rebuilt) == ["371621", "371622"]

    region = await conn.fetchrow("SELECT * FROM regions WHERE adcode = '371621'")
    assert region["name"] == "惠民区" and region["is_urban_district"] and region["population"] == 650_000
    change = await conn.fetchrow(
        "SELECT before, after, version, ST_AsBinary(boundary_before) AS b FROM region_changes "
        "WHERE adcode = '371621' ORDER BY id DESC LIMIT 1"
    )
    assert change["before"]["name"] == "惠民县" and change["after"]["name"] == "惠民区"
    assert change["before"]["is_urban_district"] is False and change["after"]["is_urban_district"] is True
    assert shapely.equals_exact(shapely.from_wkb(change["b"]), MultiPolygon([huimin]), 1e-9)
    assert change["version"] == region["version"] == 2

    # Every site of the two counties is where shapely puts it on the new outlines.
    moved = await conn.fetch(
        "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat, region_adcode FROM sites "
        "WHERE (region_adcode IN ('371621', '371622') OR id = $1) AND id <> $2",
        nearest["id"],
        far["id"],
    )
    for site in moved:
        point = Point(site["lon"], site["lat"])
        expected = "371621" if new_huimin.covers(point) else "371622" if new_yangxin.covers(point) else None
        assert site["region_adcode"] == expected, site
    assert next(s for s in moved if s["id"] == nearest["id"])["region_adcode"] == "371621"
    people = await conn.fetchval("SELECT sum(population) FROM population_cells WHERE region_adcode = '371621'")
    assert people == pytest.approx(650_000, rel=1e-6)


async def test_a_changed_region_is_computed_again_and_its_siblings_answers_are_kept(
    sa_conn: AsyncConnection, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    """The service learns of an import made by another process by the region's version: its register state (no
    site changed) is the same before and after."""
    change_before = await conn.fetchval("SELECT coalesce(max(id), 0) FROM site_changes")
    ev = Evaluation("legal_aid", today(), None, state=(change_before, None))
    reader, kept = CountingReader(conn), CoverageKept()
    county_before = await figures.region_coverage(reader, kept, "371621", ev)
    sibling_before = await figures.region_coverage(reader, kept, "371622", ev)
    path = write_geojson(tmp_path / "district.geojson", [feature(371621, "惠民区", TIANDITU["371621"])])
    done = await import_file(sa_conn, path)
    assert done.updated == ["371621"] and done.sites_reassigned == 0
    assert await conn.fetchval("SELECT coalesce(max(id), 0) FROM site_changes") == change_before

    reader.sent = 0
    assert await figures.region_coverage(reader, kept, "371622", ev) == sibling_before
    # The region, the kind's state (moved: a region changed) and so the state of the sites around it looked up; its
    # kept answer reused.
    assert reader.sent == 3
    reader.sent = 0
    assert await figures.region_coverage(reader, kept, "371622", ev) == sibling_before
    assert reader.sent == 2  # the kind's state stands: the fingerprints read last time stand too
    county_after = await figures.region_coverage(reader, kept, "371621", ev)
    assert reader.sent > 2
    # A district's legal aid is within 2 km; a county's within half an hour by e-bike (SPEC §3).
    assert county_before["rule"] != county_after["rule"]
    assert county_after["covered_area_share"] < county_before["covered_area_share"]


def test_regions_import_from_the_command_line(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", str(settings.database_url))
    runner = CliRunner()
    dry = runner.invoke(cli, ["regions", "import", str(DATAV), "--coordsys", "gcj02", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "updated 7" in dry.output and "nothing written" in dry.output
    shifted = runner.invoke(cli, ["regions", "import", str(DATAV)])
    said = " ".join(shifted.output.split())  # as wide as the terminal is
    assert shifted.exit_code == 1 and "--coordsys gcj02" in said and "nothing written" in said
    bad = write_geojson(tmp_path / "bad.geojson", BAD_FILES["unknown parent"][:1])
    refused = runner.invoke(cli, ["regions", "import", str(bad), "--coordsys", "gcj02"])
    assert refused.exit_code == 1 and "371700 is neither in the file nor loaded" in " ".join(refused.output.split())
