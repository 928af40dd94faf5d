"""The service's connections: reads through the read pool (and a standby's, app.database.replica), writes,
imports and the seed loader through SQLAlchemy Core/ORM over the same driver for the unit of work and the table
metadata."""

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from app.config import Settings
from app.database.read_pool import Reader, ReadPool, connect_reader
from app.database.replica import ReplicaRouter


async def driver_connection(conn: AsyncConnection) -> asyncpg.Connection:
    """The asyncpg connection under a SQLAlchemy one, inside the same transaction (for COPY and prepared reads).

    SQLAlchemy sends BEGIN lazily, with its first statement; until then a statement on the raw connection would
    run in autocommit, outside the transaction. So make sure the transaction has begun first.
    """
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, asyncpg.Connection)
    if conn.in_transaction() and not driver.is_in_transaction():
        await conn.execute(text("SELECT 1"))
    return driver


async def reader_in(conn: AsyncConnection) -> Reader:
    """The read repositories' view of a write transaction: what it has written is what they read."""
    reader: Reader = await driver_connection(conn)
    return reader


async def act_as(conn: AsyncConnection, who: str) -> None:
    """Name the actor of this transaction; the history trigger records it with every change."""
    await conn.execute(text("SELECT set_config('yizhan.actor', :who, true)"), {"who": who})


def create_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.sqlalchemy_url,
        pool_size=max(2, settings.db_pool_max // 2),
        pool_pre_ping=True,
        pool_timeout=settings.db_pool_timeout_s,
        connect_args={"server_settings": {"application_name": "yizhan-write", "jit": "off"}},
    )


@dataclass
class Database:
    reader: ReadPool | ReplicaRouter  # request-time reads: the standby's while it keeps up, else the primary's
    primary: ReadPool  # reads that must see the latest commit (the change feed, keys)
    engine: AsyncEngine


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    min_size, max_size = settings.db_pool_min, settings.db_pool_max
    async with contextlib.AsyncExitStack() as opened:  # what opened is closed, even when a later step fails
        primary = await connect_reader(str(settings.database_url), min_size=min_size, max_size=max_size)
        opened.push_async_callback(primary.close)
        reader: ReadPool | ReplicaRouter = primary
        if settings.database_read_url is not None:
            standby = await connect_reader(
                str(settings.database_read_url), min_size=min_size, max_size=max_size, standby=True
            )
            reader = ReplicaRouter(standby, primary, settings.database_read_max_lag_s)
            opened.push_async_callback(reader.close)
            await reader.start()
        engine = create_engine(settings)
        opened.push_async_callback(engine.dispose)
        yield Database(reader=reader, primary=primary, engine=engine)
