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

from app.api.parameters import encode_cursor
from app.database.read_pool import Reader
from app.sites.router import CURSOR_TAG

# Enough sites that a scan of all of them costs more than an index probe, spread over China as the register is.
GENERATED_SITES = 30_000

# Binzhou (the demo data's city), where coverage rules and regions are loaded.
LON, LAT = 117.97, 37.38
BINZHOU_BBOX = "117.9,37.3,118.1,37.5"


class RecordingReader:
    """The test transaction's read pool, noting every statement the app sends through it and its arguments."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sent.append((query, args))
        return await self.reader.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        self.sent.append((query, args))
        return await self.reader.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        self.sent.append((query, args))
        return await self.reader.fetchval(query, *args)


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


async def generic_plan(
    conn: asyncpg.Connection, query: str, args: tuple[Any, ...], *, analyze: bool = False
) -> dict[str, Any]:
    """The plan PostgreSQL makes for `query` without its parameters' values (what a prepared statement runs after
    five executions), as EXPLAIN's JSON tree; with `analyze`, run, with the rows each node read."""
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
        options = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
        explained = await conn.fetchval(f"EXPLAIN ({options}) {execute}")
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


def rows_read_from_sites(plan: dict[str, Any]) -> int:
    """The rows of `sites` an analysed plan looked at: those its scans returned and those their filters and rechecks
    threw away, in every loop. (Not index entries: the test's register lies beside the rolled-back ones of the tests
    before it, whose entries the indexes still hold.)"""
    read = 0
    for node, _ in _nodes(plan):
        if node.get("Relation Name") == "sites":
            looked_at = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            read += (looked_at + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    return read


@pytest.fixture
async def recorded(
    app: FastAPI, client: httpx.AsyncClient, conn: asyncpg.Connection, reader: Reader
) -> RecordingReader:
    await generate_register(conn)
    recording = RecordingReader(reader)
    app.state.db.reader = app.state.db.primary = recording
    return recording


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
    "/v1/sites?q=generated%2012",
    "/v1/sites?region=371600&limit=5&cursor={cursor}",
    "/v1/sites?region=371602&q=%E6%BB%A8%E5%9F%8E%E5%8C%BA&cursor={cursor}",
    "/v1/sites?q=generated%2012&kind=legal_aid&cursor={cursor}",
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
        url = template.format(lat=LAT, lon=LON, cursor=encode_cursor(CURSOR_TAG, ids["legal_aid"]), **ids)
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


# First pages of filters that few sites match (a county, a rare name), each small enough that every match is on the
# page. A plan led by an index on the filter reads each match's row once or twice (as matched, then for the page);
# one that walks the id order under the Limit reads the whole register to fill a page it
# never fills.
FEW_MATCHES = [
    "/v1/sites?region=371622",
    "/v1/sites?region=371603",
    "/v1/sites?region=371623&kind=outdoor_station",
    "/v1/sites?region=371602&status=active&limit=500",
    "/v1/sites?region=371600&limit=1000",
    "/v1/sites?q=%E6%B8%A4%E6%B5%B7%E5%8D%81%E5%85%AB%E8%B7%AF",
    "/v1/sites?q=generated%202999",
    "/v1/sites?q=generated%201234&kind=outdoor_station",
]
# Rows read allowed per site returned (its row as matched, then again for the page), and over them (trigram false
# positives, sites of the region's tree that do not match the other filters).
READ_PER_ROW_RETURNED = 3
READ_OVER = 50


async def test_a_first_page_of_few_matches_reads_about_as_many_sites_as_it_returns(
    client: httpx.AsyncClient, conn: asyncpg.Connection, recorded: RecordingReader
) -> None:
    reading_more: list[str] = []
    planned = 0
    for url in FEW_MATCHES:
        recorded.sent.clear()
        response = await client.get(url)
        assert response.status_code == 200, (url, response.text)
        page = response.json()
        # Every match is on this page, so what the page returns is what the filter matches.
        assert page["items"] and page["next_cursor"] is None, url
        for query, args in recorded.sent:
            if "sites" not in query:
                continue
            planned += 1
            plan = await generic_plan(conn, query, args, analyze=True)
            read, returned = rows_read_from_sites(plan), plan["Actual Rows"]
            if read > READ_PER_ROW_RETURNED * returned + READ_OVER:
                reading_more.append(f"{url}: read {read} sites to return {returned}\n{query.strip()[:300]}")
    assert planned >= len(FEW_MATCHES)
    assert not reading_more, "\n\n".join(reading_more)


async def test_reading_the_register_for_a_page_of_few_matches_is_caught(conn: asyncpg.Connection) -> None:
    """The check itself: a walk of the id order for a rare name reads every site; the same name looked up in its
    trigram index first reads its matches."""
    await generate_register(conn)
    text = "(s.name || ' ' || coalesce(s.address, ''))"
    # The walk's filter is written so that no index serves it (the trigram index is on `text` itself): given the
    # choice, the planner's estimate of a rare name's matches decides between the walk and the index, and varies
    # with ANALYZE's sample.
    walk = f"SELECT s.id FROM sites s WHERE ({text} || '') ILIKE $1 ORDER BY s.id LIMIT $2"
    looked_up = f"""
        WITH matching AS MATERIALIZED (SELECT s.id FROM sites s WHERE {text} ILIKE $1)
        SELECT id FROM matching ORDER BY id LIMIT $2"""
    for name in ("%generated 2999%", "%generated 8888%", "%generated 4242%"):
        walked = await generic_plan(conn, walk, (name, 101), analyze=True)
        assert rows_read_from_sites(walked) >= GENERATED_SITES
        found = await generic_plan(conn, looked_up, (name, 101), analyze=True)
        assert found["Actual Rows"] == walked["Actual Rows"] > 0
        assert rows_read_from_sites(found) <= READ_PER_ROW_RETURNED * found["Actual Rows"] + READ_OVER


async def test_pages_led_by_an_index_are_the_pages_of_the_id_order(
    client: httpx.AsyncClient, conn: asyncpg.Connection, recorded: RecordingReader
) -> None:
    """Page by page through a region's tree or a text's matches, the sites come in id order, each once, and all of
    them: what a walk of the id order with the same filter finds."""
    text = "(name || ' ' || coalesce(address, ''))"
    cases = [
        ({"region": "371600", "limit": 37}, "region_adcode LIKE '3716%'", ()),
        ({"region": "371602", "kind": "legal_aid", "limit": 9}, "region_adcode = '371602' AND kind = 'legal_aid'", ()),
        ({"q": "generated 12", "limit": 13}, f"{text} ILIKE $1", ("%generated 12%",)),
        (
            {"q": "滨城区", "status": "active", "limit": 11},
            f"{text} ILIKE $1 AND status = 'active'",
            ("%滨城区%",),
        ),
    ]
    for params, condition, args in cases:
        expected = [
            r["id"]
            for r in await conn.fetch(
                f"SELECT id FROM sites WHERE deleted_at IS NULL AND {condition} ORDER BY id", *args
            )
        ]
        found, cursor = [], None
        while True:
            body = (await client.get("/v1/sites", params={**params, **({"cursor": cursor} if cursor else {})})).json()
            assert len(body["items"]) <= params["limit"]
            found += [item["id"] for item in body["items"]]
            if (cursor := body["next_cursor"]) is None:
                break
        assert len(expected) > 2 * params["limit"], params
        assert found == expected, params
