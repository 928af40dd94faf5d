"""Tests run on a real PostGIS: a throwaway database per session, migrated by Alembic, loaded with the demo data
(a copy of a template database made once a session: tests.tools.template).

Each test gets one connection inside a transaction that is rolled back afterwards. The `client` fixture hands the
app that transaction where it keeps its database (app.state.db: the read pools and the write engine), as an
operator's deployment hands it pools, so tests may write freely without leaking into each other.
"""

import asyncio
import fcntl
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.database.connections import Database, create_engine, reader_in
from app.database.read_pool import _init_connection
from app.main import create_app
from tests.tools import database_from, drop_templates, free_port, throwaway_cluster


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "alone: the test times the service against the machine's pace, or starts clusters of its own; with the "
        "suite spread over processes (pytest-xdist), it runs while no other test does",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """With the suite spread over processes, every test holds a shared claim on the machine for its setup, call
    and teardown (its module's fixtures too, when it is the first to need them); a test marked `alone` holds it
    exclusively, so nothing else runs beside it."""
    workerinput = getattr(item.config, "workerinput", None)
    if workerinput is None:
        return (yield)
    with _machine(workerinput["testrunuid"], exclusive=item.get_closest_marker("alone") is not None):
        return (yield)


@contextmanager
def _machine(run: str, *, exclusive: bool) -> Iterator[None]:
    """A readers-writer lock between the suite's processes (flock): a turnstile taken first, held by a test that
    waits to run alone, so that tests starting meanwhile queue behind it rather than keep it waiting."""
    folder = Path(tempfile.gettempdir())
    with (
        open(folder / f"yizhan-tests-{run}.turnstile", "a") as turnstile,
        open(folder / f"yizhan-tests-{run}.lock", "a") as lock,
    ):
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        if not exclusive:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(turnstile, fcntl.LOCK_UN)


@pytest.fixture(scope="session", autouse=True)
def templates() -> Iterator[None]:
    """The template databases the session's test databases are copied from (tests.tools.template), made when first
    needed and dropped at the end."""
    yield
    drop_templates()


@pytest.fixture(scope="session")
def settings(templates: None) -> Iterator[Settings]:
    # Limits off: the suite sends hundreds of requests a minute from one address (tests/api/test_ratelimit.py has its
    # own).
    with database_from("demo", "test", db_pool_min=1) as settings:
        yield settings


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sa_conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A SQLAlchemy connection in a transaction that is rolled back after the test."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
async def conn(sa_conn: AsyncConnection) -> asyncpg.Connection:
    """The same transaction as raw asyncpg, for reads (and the app's read path)."""
    raw = await reader_in(sa_conn)
    assert isinstance(raw, asyncpg.Connection)
    await _init_connection(raw)  # the app's JSON codec, as on the read pool
    return raw


class TransactionReadPool:
    """A read pool of one connection, the test's, inside its transaction. A connection answers one query at a time
    where a pool answers several (app.coverage.regions.each_region asks for a region's children side by side), so
    the queries take turns."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self._turn = asyncio.Lock()
        self._waiting = 0

    async def _run(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        self._waiting += 1
        try:
            await self._turn.acquire()
        finally:
            self._waiting -= 1
        try:
            return await getattr(self.conn, method)(query, *args)
        finally:
            self._turn.release()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run("fetch", query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run("fetchrow", query, args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, args)

    def gauges(self) -> dict[str, int]:
        """As app.database.read_pool.ReadPool.gauges: its one connection, whether a query holds it, how many
        queries wait."""
        return {"size": 1, "in_use": int(self._turn.locked()), "waiting": self._waiting}


class TransactionEngine:
    """A write engine whose transactions are savepoints in the test's: a request that fails rolls back only its own
    writes, as in production, and whatever it commits is rolled back with the test."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        async with self.conn.begin_nested():
            yield self.conn


@pytest.fixture
def reader(conn: asyncpg.Connection) -> TransactionReadPool:
    """The test's transaction as the app's read pools (the standby's and the primary's alike)."""
    return TransactionReadPool(conn)


@pytest.fixture
async def client(
    app: FastAPI, reader: TransactionReadPool, sa_conn: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """The session's app on the test's transaction: its database for this test only (a test may swap a part)."""
    pools = app.state.db
    app.state.db = Database(reader=reader, primary=reader, engine=TransactionEngine(sa_conn))  # type: ignore[arg-type]
    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
            yield http
    finally:
        app.state.db = pools


@pytest.fixture(scope="session")
def cluster() -> Iterator[tuple[Path, str]]:
    """A PostgreSQL cluster apart from the session's, for the tests that stop its server or stream it to a standby:
    its data folder and the URL of its migrated `yizhan` database. tests/database/test_outage.py and
    tests/database/test_replica.py each leave it running, with nothing committed that the other's assertions count,
    so they share it."""
    with throwaway_cluster("own") as found:
        yield found


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The service on a real port (uvicorn in a thread, the test database), for real clients: GDAL, Chromium."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the live server did not start")
        threading.Event().wait(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="session")
def live_server(settings: Settings) -> Iterator[str]:
    with serving(settings) as base:
        yield base
