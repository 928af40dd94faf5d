"""The demo data: idempotent loading, region derivation by boundary (checked with shapely), determinism."""

import json

import asyncpg
from shapely import Point
from shapely.geometry import shape

from app import demo
from app.config import Settings
from app.database.connections import create_engine
from app.paths import SEED_DIR
from seed import generate_register


async def test_loading_twice_changes_nothing(settings: Settings, conn: asyncpg.Connection) -> None:
    before = await conn.fetch("SELECT id, version, updated_at FROM sites ORDER BY id")
    engine = create_engine(settings)
    try:
        summary = await demo.load(engine)
    finally:
        await engine.dispose()
    assert summary.regions_changed == 0
    assert summary.population_regions_built == 0
    assert summary.sites == {"created": 0, "updated": 0, "unchanged": 447}
    after = await conn.fetch("SELECT id, version, updated_at FROM sites ORDER BY id")
    assert before == after


async def test_region_is_derived_from_the_boundaries(conn: asyncpg.Connection) -> None:
    counties = json.loads((SEED_DIR / "binzhou_371600_counties_tianditu_wgs84.geojson").read_text("utf-8"))
    polygons = {str(f["properties"]["adcode"]): shape(f["geometry"]) for f in counties["features"]}
    rows = await conn.fetch("SELECT ST_X(geom) lon, ST_Y(geom) lat, region_adcode FROM sites")
    for row in rows:
        point = Point(row["lon"], row["lat"])
        expected = [adcode for adcode, polygon in polygons.items() if polygon.covers(point)]
        assert [row["region_adcode"]] == expected


async def test_region_follows_a_moved_site(conn: asyncpg.Connection) -> None:
    site_id = await conn.fetchval("SELECT id FROM sites WHERE region_adcode = '371602' LIMIT 1")
    # 邹平市's seat, then somewhere outside every loaded boundary.
    for lon, lat, expected in [(117.757, 36.92, "371681"), (116.0, 40.0, None)]:
        await conn.execute(
            "UPDATE sites SET location = ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography WHERE id = $1",
            site_id,
            lon,
            lat,
        )
        assert await conn.fetchval("SELECT region_adcode FROM sites WHERE id = $1", site_id) == expected


async def test_region_follows_a_changed_boundary(conn: asyncpg.Connection) -> None:
    """Shrinking a county's boundary re-derives the sites it no longer covers (here: to the city)."""
    await conn.execute("UPDATE regions SET boundary = ST_Multi(ST_Buffer(seat, 0.01)) WHERE adcode = '371621'")
    outside = await conn.fetchval(
        "SELECT count(*) FROM sites s JOIN regions r ON r.adcode = '371621' "
        "WHERE NOT ST_Covers(r.boundary, s.geom) AND s.region_adcode = '371621'"
    )
    assert outside == 0
    moved_to_city = await conn.fetchval("SELECT count(*) FROM sites WHERE region_adcode = '371600'")
    assert moved_to_city > 0  # inside the city's (unchanged) outline, outside the shrunken county


async def test_constraints_keep_bad_data_out(conn: asyncpg.Connection) -> None:
    bad_rows = [
        ("kind", "INSERT INTO sites (kind, name, location, source) VALUES ('spa', 'x', 'POINT(117 37)', 's')"),
        ("name", "INSERT INTO sites (kind, name, location, source) VALUES ('legal_aid', ' ', 'POINT(117 37)', 's')"),
        (
            "status",
            "INSERT INTO sites (kind, name, location, source, status) "
            "VALUES ('legal_aid', 'x', 'POINT(117 37)', 's', 'open')",
        ),
        (
            "external_id",
            "INSERT INTO sites (kind, name, location, source, external_id) "
            "SELECT kind, name, location, source, external_id FROM sites LIMIT 1",
        ),
        (
            "closed_on",
            "INSERT INTO sites (kind, name, location, source, opened_on, closed_on) "
            "VALUES ('legal_aid', 'x', 'POINT(117 37)', 's', '2025-01-02', '2025-01-01')",
        ),
    ]
    for what, sql in bad_rows:
        savepoint = conn.transaction()
        await savepoint.start()
        try:
            await conn.execute(sql)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.CheckViolationError):
            pass
        else:
            raise AssertionError(f"bad {what} was accepted")
        finally:
            await savepoint.rollback()


def test_generated_register_is_deterministic_and_labelled() -> None:
    committed = (SEED_DIR / "binzhou_register_generated.geojson").read_text("utf-8")
    assert generate_register.render(generate_register.generate()) == committed
    features = json.loads(committed)["features"]
    assert all(f["properties"]["source"] == "generated-demo:binzhou" for f in features)
