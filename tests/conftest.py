"""Tests run on a real PostGIS: a throwaway database per session, migrated by Alembic, loaded with the demo data.

Each test gets one connection inside a transaction that is rolled back afterwards, swapped in for the app's
read pool through `dependency_overrides`, so tests may write freely without leaking into each other.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from pydantic import PostgresDsn

from app import demo
from app.cli import alembic_config
from app.config import Settings
from app.db import _init_connection, create_engine
from app.dependencies import get_reader
from app.main import create_app

ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:54329/postgres")


def _database_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    name = f"yizhan_test_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    settings = Settings(environment="test", database_url=PostgresDsn(_database_url(name)), db_pool_min=1)
    try:
        command.upgrade(alembic_config(settings), "head")
        asyncio.run(_load_demo(settings))
        yield settings
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


@pytest.fixture
async def conn(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A connection in a transaction that is rolled back after the test."""
    connection = await asyncpg.connect(settings.read_dsn)
    await _init_connection(connection)
    tx = connection.transaction()
    await tx.start()
    try:
        yield connection
    finally:
        await tx.rollback()
        await connection.close()


@pytest.fixture
async def client(app: FastAPI, conn: asyncpg.Connection) -> AsyncIterator[httpx.AsyncClient]:
    async def reader_in_transaction() -> asyncpg.Connection:
        return conn

    app.dependency_overrides[get_reader] = reader_in_transaction
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://yizhan.test") as http:
        yield http
    app.dependency_overrides.clear()
