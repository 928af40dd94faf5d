"""The benchmarks' databases: each its own, on the server BENCH_DATABASE_ADMIN_URL names (the local cluster by
default), made afresh with the schema and the Binzhou demo data."""

import asyncio
import os

import asyncpg
from alembic import command
from pydantic import PostgresDsn

from app import demo
from app.cli import alembic_config
from app.config import Settings
from app.database.connections import create_engine

ADMIN_URL = os.environ.get("BENCH_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:54329/postgres")


def db_url(name: str) -> str:
    return ADMIN_URL.rpartition("/")[0] + "/" + name


async def fresh_demo_database(name: str) -> Settings:
    """Database `name` dropped and made again: migrated, the Binzhou demo data loaded. Its settings."""
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    settings = Settings(database_url=PostgresDsn(db_url(name)))
    await asyncio.to_thread(command.upgrade, alembic_config(settings), "head")
    engine = create_engine(settings)
    try:
        await demo.load(engine)
    finally:
        await engine.dispose()
    return settings
