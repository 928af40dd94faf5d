"""app.database.read_pool.ReadPool: connections kept between requests, waiting requests served in the order they
asked, a failed or interrupted query never leaves a bad connection for the next one, and statements of one key
(a region's plane) sent to the connection that ran its last ones."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.config import Settings
from app.database.read_pool import ReadPool, connect_reader, preferring


@pytest.fixture
async def reader(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[ReadPool]:
    size = getattr(request, "param", 3)
    pool = await connect_reader(str(settings.database_url), min_size=1, max_size=size)
    yield pool
    await pool.close()


@pytest.mark.parametrize("reader", [1], indirect=True)
async def test_waiting_requests_are_served_first_come_first_served(reader: ReadPool) -> None:
    served: list[int] = []

    async def ask(i: int) -> None:
        # One connection: each query finishes before the next one starts, so the order of answers is the order
        # in which requests got the connection.
        served.append(await reader.fetchval("SELECT $1::int FROM pg_sleep(0.001)", i))

    tasks = []
    for i in range(40):
        tasks.append(asyncio.create_task(ask(i)))
        await asyncio.sleep(0.0004 if i % 3 else 0)  # one after another, many just as the connection comes back
    await asyncio.gather(*tasks)
    assert served == list(range(40))


async def test_connections_are_kept_not_reopened(reader: ReadPool) -> None:
    pids = await asyncio.gather(*(reader.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.01)") for _ in range(30)))
    again = await asyncio.gather(*(reader.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.01)") for _ in range(30)))
    assert len(set(pids)) <= 3 and set(again) <= set(pids)


@pytest.mark.parametrize("reader", [1], indirect=True)
async def test_a_failed_or_interrupted_query_leaves_a_good_connection(reader: ReadPool, settings: Settings) -> None:
    with pytest.raises(asyncpg.DivisionByZeroError):
        await reader.fetchval("SELECT 1 / 0")
    assert await reader.fetchval("SELECT 41 + $1::int", 1) == 42

    slow = asyncio.create_task(reader.fetchval("SELECT 1 FROM pg_sleep(5)"))
    await asyncio.sleep(0.2)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    started = asyncio.get_running_loop().time()
    assert dict(await reader.fetchrow("SELECT 7 AS seven") or {}) == {"seven": 7}
    assert asyncio.get_running_loop().time() - started < 2  # not stuck behind the cancelled sleep

    backend = await reader.fetchval("SELECT pg_backend_pid()")
    admin = await asyncpg.connect(str(settings.database_url))
    await admin.execute("SELECT pg_terminate_backend($1)", backend)
    await admin.close()
    await asyncio.sleep(0.1)
    answers = []
    for _ in range(2):  # the dropped connection may fail one query; the next one is served on a new connection
        try:
            answers.append(await reader.fetchval("SELECT 'fresh'"))
        except (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError, OSError):
            answers.append("failed")
    assert answers[-1] == "fresh"


async def test_statements_of_a_key_go_to_the_connection_that_ran_its_last_ones(reader: ReadPool) -> None:
    pid = "SELECT pg_backend_pid() FROM pg_sleep(0.005)"
    keys = [f"plane {i}" for i in range(9)]
    # New keys spread over every connection the pool may hold (3).
    homes = dict(zip(keys, await asyncio.gather(*(preferring(reader, k).fetchval(pid) for k in keys)), strict=True))
    assert len(set(homes.values())) == 3
    # Asked one at a time, each key is answered by its own connection again, whatever ran last.
    for key in [*keys, *reversed(keys)]:
        await reader.fetchval(pid)
        assert await preferring(reader, key).fetchval(pid) == homes[key], key


async def test_new_keys_never_wait_on_a_connection_kept_idle(reader: ReadPool) -> None:
    # Many new keys at once while the pool grows: each is answered (none waits on asyncpg for a connection that
    # this pool keeps idle), on no more connections than its size.
    pids = await asyncio.wait_for(
        asyncio.gather(*(preferring(reader, i).fetchval("SELECT pg_backend_pid()") for i in range(200))), timeout=20
    )
    assert 1 <= len(set(pids)) <= 3


async def test_a_single_connection_is_its_own_preference(conn: asyncpg.Connection) -> None:
    assert preferring(conn, "plane") is conn
