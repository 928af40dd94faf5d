"""Tests run on a real PostGIS: a throwaway database per session, migrated by Alembic, loaded with the demo data.

Each test gets one connection inside a transaction that is rolled back afterwards, swapped in for the app's
read pool through `dependency_overrides`, so tests may write freely without leaking into each other.
"""

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import asyncpg
import httpx
import pytest
import uvicorn
from alembic import command
from fastapi import FastAPI
from pydantic import PostgresDsn
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app import demo
from app.api.dependencies import get_primary_reader, get_reader, get_transaction
from app.cli import alembic_config
from app.config import Settings
from app.database.connections import create_engine, reader_in
from app.database.read_pool import _init_connection
from app.main import create_app
from tests.tools import admin, database_url, free_port


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    name = f"yizhan_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    # Limits off: the suite sends hundreds of requests a minute from one address (tests/api/test_ratelimit.py has its
    # own).
    settings = Settings(
        database_url=PostgresDsn(database_url(name)),
        db_pool_min=1,
        rate_limit_reads_per_minute=0,
        rate_limit_writes_per_minute=0,
        rate_limit_coverage_per_minute=0,
    )
    try:
        command.upgrade(alembic_config(settings), "head")
        asyncio.run(_load_demo(settings))
        yield settings
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _load_demo(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await demo.load(engine)
    finally:
        await engine.dispose()


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


@pytest.fixture
async def client(app: FastAPI, conn: asyncpg.Connection, sa_conn: AsyncConnection) -> AsyncIterator[httpx.AsyncClient]:
    async def reader_in_transaction() -> asyncpg.Connection:
        return conn

    async def writer_in_transaction() -> AsyncIterator[AsyncConnection]:
        # A savepoint per request: a request that fails rolls back only its own writes, as in production.
        async with sa_conn.begin_nested():
            yield sa_conn

    app.dependency_overrides[get_reader] = reader_in_transaction
    app.dependency_overrides[get_primary_reader] = reader_in_transaction
    app.dependency_overrides[get_transaction] = writer_in_transaction
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
        yield http
    app.dependency_overrides.clear()


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
