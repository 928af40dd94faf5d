"""The state of a kind's sites that every coverage question reads (migration 0025): the count and hash sum the
triggers keep equal what hashing the kind's sites gives, after every kind of write, and writers never wait on one
another for it."""

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.coverage import repository
from tests.tools import database_url

# What coverage reads of a site, written out here as the rule states it: the sums are checked against this, not
# against the function the triggers call.
HASHED = (
    "hash_record_extended(ROW(s.id, s.version, s.geom::bytea, s.status, s.opened_on, s.closed_on, s.deleted_at), 0)"
)


async def kept(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    rows = await conn.fetch("SELECT kind, sum(sites) AS n, sum(hashes) AS h FROM coverage_site_states GROUP BY kind")
    return {r["kind"]: (int(r["n"]), int(r["h"])) for r in rows if r["n"] != 0 or r["h"] != 0}


async def hashed(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    rows = await conn.fetch(f"SELECT kind, count(*) AS n, sum({HASHED}) AS h FROM sites s GROUP BY kind")
    return {r["kind"]: (int(r["n"]), int(r["h"])) for r in rows}


async def insert(conn: asyncpg.Connection, kind: str, external_id: str, lon: float = 117.97, lat: float = 37.38) -> int:
    site_id: int = await conn.fetchval(
        "INSERT INTO sites (kind, name, location, source, external_id) "
        "VALUES ($1, 'state test', ST_SetSRID(ST_MakePoint($2, $3), 4326)::geography, 'state-test', $4) RETURNING id",
        kind,
        lon,
        lat,
        external_id,
    )
    return site_id


async def test_the_kept_sums_equal_the_sites_hashed_after_each_kind_of_write(conn: asyncpg.Connection) -> None:
    assert await kept(conn) == await hashed(conn)  # as the demo was loaded
    first = await insert(conn, "legal_aid", "a")
    second = await insert(conn, "legal_aid", "b", 118.0, 37.4)
    assert await kept(conn) == await hashed(conn)
    # What coverage reads, by plain SQL (no version raised): the point, the status, the dates.
    await conn.execute("UPDATE sites SET location = ST_Project(location, 100, radians(90)) WHERE id = $1", first)
    await conn.execute("UPDATE sites SET status = 'suspended', opened_on = '2024-01-01' WHERE id = $1", second)
    assert await kept(conn) == await hashed(conn)
    # A site of another kind: both kinds' sums move.
    await conn.execute("UPDATE sites SET kind = 'service_centre' WHERE id = $1", second)
    assert await kept(conn) == await hashed(conn)
    # An upsert that inserts one row and updates another in one statement.
    await conn.execute(
        "INSERT INTO sites (kind, name, location, source, external_id) "
        "VALUES ('legal_aid', 'again', ST_SetSRID(ST_MakePoint(117.9, 37.3), 4326)::geography, 'state-test', 'a'), "
        "       ('legal_aid', 'new', ST_SetSRID(ST_MakePoint(117.8, 37.2), 4326)::geography, 'state-test', 'c') "
        "ON CONFLICT (source, external_id) DO UPDATE SET location = EXCLUDED.location"
    )
    assert await kept(conn) == await hashed(conn)
    # A write rolled back leaves nothing behind.
    savepoint = conn.transaction()
    await savepoint.start()
    await conn.execute("DELETE FROM sites WHERE kind = 'legal_aid'")
    assert await kept(conn) == await hashed(conn)
    await savepoint.rollback()
    assert await kept(conn) == await hashed(conn)
    await conn.execute("DELETE FROM sites WHERE id = $1", first)
    assert await kept(conn) == await hashed(conn)


async def test_a_change_coverage_does_not_read_adds_no_row(conn: asyncpg.Connection) -> None:
    site = await insert(conn, "legal_aid", "quiet")
    rows = await conn.fetchval("SELECT count(*) FROM coverage_site_states")
    await conn.execute("UPDATE sites SET name = 'renamed', phone = '0543-1234567' WHERE id = $1", site)
    assert await conn.fetchval("SELECT count(*) FROM coverage_site_states") == rows
    await conn.execute("UPDATE sites SET status = 'closed' WHERE id = $1", site)
    assert await conn.fetchval("SELECT count(*) FROM coverage_site_states") == rows + 1


async def test_folding_keeps_the_sums_in_one_row_per_kind(conn: asyncpg.Connection) -> None:
    for n in range(5):
        await insert(conn, "legal_aid", f"fold-{n}")
    before = await kept(conn)
    await conn.execute("SELECT coverage_site_states_compact()")
    per_kind = await conn.fetch("SELECT kind, count(*) AS rows FROM coverage_site_states GROUP BY kind")
    assert {r["rows"] for r in per_kind} == {1}
    assert await kept(conn) == before == await hashed(conn)


async def test_truncating_the_sites_forgets_the_sums(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE sites CASCADE")
    assert await kept(conn) == {}
    await insert(conn, "legal_aid", "alone")
    assert await kept(conn) == await hashed(conn)
    assert (await hashed(conn))["legal_aid"][0] == 1


async def test_kind_state_reads_the_kept_sums(conn: asyncpg.Connection) -> None:
    before = await repository.kind_state(conn, "legal_aid")
    other = await repository.kind_state(conn, "outdoor_station")
    site = await insert(conn, "legal_aid", "seen")
    after = await repository.kind_state(conn, "legal_aid")
    assert after != before and await repository.kind_state(conn, "outdoor_station") == other
    n, h = (await hashed(conn))["legal_aid"]
    assert after[2:] == (str(n), str(h))
    await conn.execute("DELETE FROM sites WHERE id = $1", site)
    assert await repository.kind_state(conn, "legal_aid") == before


@pytest.mark.parametrize("kind", ["legal_aid", "outdoor_station"])
async def test_writers_of_one_kind_do_not_wait_on_each_other(engine: AsyncEngine, kind: str) -> None:
    url = database_url(engine.url.database or "")
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        await first.execute("BEGIN")
        await second.execute("BEGIN")
        await second.execute("SET LOCAL lock_timeout = '2s'")
        await insert(first, kind, "writer-1")
        # The first writer has not committed: a second statement of the same kind must not wait for it.
        await insert(second, kind, "writer-2", 117.9, 37.3)
        await second.execute("UPDATE sites SET status = 'suspended' WHERE external_id = 'writer-2'")
    finally:
        for connection in (first, second):
            await connection.execute("ROLLBACK")
            await connection.close()
