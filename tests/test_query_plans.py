"""Every read of the register plans without a sequential scan of `sites`, even as a generic plan.

asyncpg prepares each statement once per connection; after five executions PostgreSQL may run it with a generic
plan, made without the parameters' values. A filter written `($n IS NULL OR s.geom && …)` cannot use the spatial
index in such a plan, and the statement scans every site. So: fill the register with enough sites for the planner
to care, send the API's read requests, capture the statements the app sends with their arguments, and plan each one
again as PostgreSQL would after those five runs (PREPARE, plan_cache_mode = force_generic_plan, EXPLAIN EXECUTE).
"""

import json
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from app.dependencies import get_primary_reader, get_reader

# Enough sites that a scan of all of them costs more than an index probe, spread over China as the register is.
GENERATED_SITES = 30_000

# Binzhou (the demo data's city), where coverage rules and regions are loaded.
LON, LAT = 117.97, 37.38
BINZHOU_BBOX = "117.9,37.3,118.1,37.5"


class RecordingReader:
    """The test transaction's connection, noting every statement the app sends through it and its arguments."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append((query, args))
        rows: list[asyncpg.Record] = await self.conn.fetch(query, *args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.sent.append((query, args))
        row: asyncpg.Record | None = await self.conn.fetchrow(query, *args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.sent.append((query, args))
        return await self.conn.fetchval(query, *args)


async def generate_register(conn: asyncpg.Connection) -> None:
    """GENERATED_SITES sites over eastern China (kinds as the national register has them, a few deleted, suspended
    or closed), then ANALYZE, inside the test's transaction."""
    await conn.execute("SELECT setseed(0.2024)")
    await conn.execute(
        """
        INSERT INTO sites (kind, name, location, source, external_id, opening_hours, amenities, status, deleted_at)
        SELECT CASE WHEN r < 0.88 THEN 'outdoor_station' WHEN r < 0.98 THEN 'legal_aid' ELSE 'service_centre' END,
               'generated ' || i, ST_SetSRID(ST_MakePoint(100 + random() * 22, 22 + random() * 20), 4326)::geography,
               'plans-test', i::text, CASE WHEN i % 3 = 0 THEN '24/7' ELSE 'Mo-Su 08:00-20:00' END,
               CASE WHEN i % 2 = 0 THEN '{drinking_water,seating}'::text[] ELSE '{}' END,
               CASE WHEN i % 50 = 0 THEN 'suspended' WHEN i % 77 = 0 THEN 'closed' ELSE 'active' END,
               CASE WHEN i % 100 = 0 THEN now() END
        FROM (SELECT i, random() AS r FROM generate_series(1, $1) AS i) AS g
        """,
        GENERATED_SITES,
    )
    await conn.execute("ANALYZE sites")
    await conn.execute("ANALYZE site_changes")


def _nodes(plan: dict[str, Any], parent: dict[str, Any] | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every node of a plan with its parent's (an empty dict for the top)."""
    below = [node for child in plan.get("Plans", []) for node in _nodes(child, plan)]
    return [(plan, parent or {}), *below]


async def generic_plan(conn: asyncpg.Connection, query: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """The plan PostgreSQL makes for `query` without its parameters' values (what a prepared statement runs after
    five executions), as EXPLAIN's JSON tree."""
    await conn.execute(f"PREPARE plan_probe AS {query}")
    types = await conn.fetchval("SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'plan_probe'")
    # Each argument as a SQL literal of its parameter's type, written by the server from asyncpg's encoding.
    literals = [
        await conn.fetchval(f"SELECT format('%L::%s', $1::{type_}, $2::text)", arg, type_)
        for arg, type_ in zip(args, types, strict=True)
    ]
    await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    try:
        execute = f"EXECUTE plan_probe({', '.join(literals)})" if literals else "EXECUTE plan_probe"
        explained = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {execute}")
    finally:
        await conn.execute("SET LOCAL plan_cache_mode = auto")
        await conn.execute("DEALLOCATE plan_probe")
    document = json.loads(explained) if isinstance(explained, str) else explained
    plan: dict[str, Any] = document[0]["Plan"]
    return plan


def scans_of_sites(plan: dict[str, Any]) -> list[str]:
    """The plan's reads of every site: a sequential scan, or an index scan with no condition on the index (a walk
    of the whole index), unless a Limit right above it stops the walk after a page."""
    found = []
    for node, parent in _nodes(plan):
        if node.get("Relation Name") != "sites":
            continue
        walk = node["Node Type"] in ("Index Scan", "Index Only Scan") and "Index Cond" not in node
        if node["Node Type"] == "Seq Scan" or (walk and parent.get("Node Type") != "Limit"):
            where = node.get("Index Name", "the table")
            found.append(f"{node['Node Type']} on sites ({where}), filter {node.get('Filter')}")
    return found


@pytest.fixture
async def recorded(app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection) -> RecordingReader:
    await generate_register(conn)
    reader = RecordingReader(conn)

    async def recording() -> RecordingReader:
        return reader

    app.dependency_overrides[get_reader] = recording
    app.dependency_overrides[get_primary_reader] = recording
    return reader


async def _some_site(conn: asyncpg.Connection, kind: str) -> int:
    return int(await conn.fetchval("SELECT min(id) FROM sites WHERE kind = $1 AND deleted_at IS NULL", kind))


READS = [
    "/v1/sites/nearest?lat={lat}&lon={lon}",
    "/v1/sites/nearest?lat={lat}&lon={lon}&kind=legal_aid",
    "/v1/sites/nearest?lat={lat}&lon={lon}&amenity=drinking_water&kind=outdoor_station",
    "/v1/sites/nearest?lat={lat}&lon={lon}&open_now=true",
    "/v1/sites/nearest?lat={lat}&lon={lon}&max_distance_m=500",
    "/v1/sites?limit=50",
    f"/v1/sites?bbox={BINZHOU_BBOX}",
    "/v1/sites?kind=service_centre",
    "/v1/sites?region=371600",
    "/v1/sites?q=%E6%BB%A8%E5%B7%9E",
    "/v1/sites?status=suspended",
    "/v1/sites?updated_since=2020-01-01T00:00:00%2B08:00",
    f"/v1/sites?bbox={BINZHOU_BBOX}&kind=legal_aid&status=active",
    "/v1/sites/{legal_aid}",
    "/ogc/collections/outdoor_station/items",
    "/ogc/collections/outdoor_station/items?limit=100&offset=200",
    f"/ogc/collections/outdoor_station/items?bbox={BINZHOU_BBOX}",
    f"/ogc/collections/legal_aid/items?bbox={BINZHOU_BBOX}&limit=5&offset=5",
    "/ogc/collections/outdoor_station/items?bbox=73,18,135,54&limit=3",
    "/ogc/collections/legal_aid/items/{legal_aid}",
    "/ogc/collections/outdoor_station/items/{outdoor_station}",
    "/ogc/collections/outdoor_station/tiles/WebMercatorQuad/12/1570/3391",
    "/v1/tiles/sites/14/13560/6280.mvt",
    "/v1/tiles/sites/14/13560/6280.mvt?kind=legal_aid",
    "/v1/tiles/sites/6/52/24.mvt",
    "/v1/tiles/sites/6/52/24.mvt?kind=outdoor_station&kind=legal_aid",
    "/v1/tiles/sites/10/847/392.mvt?as_of=2025-01-01",
    "/v1/changes?limit=100",
    "/v1/coverage/point?lat={lat}&lon={lon}&kind=legal_aid",
    "/v1/coverage/point?lat={lat}&lon={lon}&kind=outdoor_station",
]


async def test_no_read_of_the_register_scans_every_site_with_a_generic_plan(
    client: httpx.AsyncClient, conn: asyncpg.Connection, recorded: RecordingReader
) -> None:
    ids = {kind: await _some_site(conn, kind) for kind in ("legal_aid", "outdoor_station")}
    # The collections' counts and extents are kept, counted once a minute and not per request: count them now.
    assert (await client.get("/ogc/collections")).status_code == 200
    scanning: list[str] = []
    planned = 0
    for template in READS:
        url = template.format(lat=LAT, lon=LON, **ids)
        recorded.sent.clear()
        response = await client.get(url)
        assert response.status_code in (200, 204), (url, response.text)
        assert recorded.sent, f"{url} sent no statement through the reader"
        for query, args in recorded.sent:
            if "sites" not in query:
                continue
            planned += 1
            plan = await generic_plan(conn, query, args)
            for scan in scans_of_sites(plan):
                scanning.append(f"{url}: {scan}\n{query.strip()[:300]}")
    assert planned >= len(READS)
    assert not scanning, "\n\n".join(scanning)


async def test_a_scan_of_every_site_is_caught(conn: asyncpg.Connection) -> None:
    """The check itself: a statement that cannot avoid reading every site is reported, one that need not is not."""
    await generate_register(conn)
    optional = "SELECT id FROM sites s WHERE ($1::float8 IS NULL OR s.geom && ST_MakeEnvelope($1, $2, $3, $4, 4326))"
    composed = "SELECT id FROM sites s WHERE s.geom && ST_MakeEnvelope($1, $2, $3, $4, 4326)"
    box = (117.9, 37.3, 118.1, 37.5)
    assert scans_of_sites(await generic_plan(conn, optional, box))
    assert not scans_of_sites(await generic_plan(conn, composed, box))
    assert scans_of_sites(await generic_plan(conn, "SELECT count(*) FROM sites WHERE name LIKE $1", ("%x%",)))
    # A walk of the whole primary key: stopped by a Limit it reads a page, under a count of every row it reads all.
    page = "SELECT id FROM sites WHERE kind = $1 ORDER BY id LIMIT $2"
    counted = "SELECT id, count(*) OVER () FROM sites WHERE kind = $1 ORDER BY id LIMIT $2"
    assert not scans_of_sites(await generic_plan(conn, page, ("legal_aid", 10)))
    assert scans_of_sites(await generic_plan(conn, counted, ("legal_aid", 10)))
