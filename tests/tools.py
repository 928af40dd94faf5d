"""Small helpers the tests share."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from alembic import command
from pydantic import PostgresDsn

from app import demo
from app.cli import alembic_config
from app.config import Settings
from app.database.connections import create_engine
from app.keys import service as keys
from app.paths import PROJECT_ROOT


async def run(*command: str) -> str:
    """A command's output (pdftotext, ogrinfo …), run off the event loop."""
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=True)
    return done.stdout


def start_server(settings: Settings, *flags: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """The service as `yizhan serve` runs it, in a process of its own on the test database, once it answers
    /readyz."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": str(settings.database_url), "PYTHONPATH": str(PROJECT_ROOT), **env}
    args = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    server = subprocess.Popen([*args, *flags], env=environment, cwd=PROJECT_ROOT, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return server, base
        except httpx.TransportError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def demo_with_key(settings: Settings, key_name: str) -> str:
    """Load the demo data into the database of `settings` and make a write key there (both committed)."""
    engine = create_engine(settings)
    try:
        await demo.load(engine)
        async with engine.begin() as conn:
            return await keys.create(conn, key_name, ["write"], None)
    finally:
        await engine.dispose()


ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:54329/postgres")


def database_url(name: str) -> str:
    """The URL of database `name` on the test server."""
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


async def admin(sql: str) -> None:
    """Run `sql` on the test server's maintenance database (CREATE/DROP DATABASE)."""
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def own_database(purpose: str) -> Iterator[tuple[Settings, str]]:
    """A migrated database of its own on the test server with the demo data, for tests whose writes commit: its
    settings (no rate limits) and a write key. Dropped afterwards."""
    name = f"yizhan_{purpose}_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        settings = unlimited(database_url(name))
        command.upgrade(alembic_config(settings), "head")
        yield settings, asyncio.run(demo_with_key(settings, purpose))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def huangpu_database(purpose: str) -> Iterator[Settings]:
    """own_database with the 黄浦区 demo on top: its boundary, generated register and road network."""
    with own_database(purpose) as (settings, _):
        asyncio.run(_load_huangpu(settings))
        yield settings


async def _load_huangpu(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await demo.load_huangpu(engine)
    finally:
        await engine.dispose()


LOCALDB = str(PROJECT_ROOT / "scripts" / "localdb.sh")


def localdb(datadir: Path, *args: str) -> str:
    """scripts/localdb.sh on the cluster in `datadir` (created on a free port from 55432 up)."""
    env = {**os.environ, "YIZHAN_PGDATA": str(datadir), "YIZHAN_PGPORT": "55432"}
    return subprocess.run([LOCALDB, *args], env=env, capture_output=True, text=True, check=True).stdout.strip()


@contextmanager
def throwaway_cluster(purpose: str) -> Iterator[tuple[Path, str]]:
    """A PostgreSQL cluster of its own, for tests that stop and start servers: its data folder and the URL of its
    migrated `yizhan` database. Stopped and deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"yizhan-{purpose}-") as folder:
        datadir = Path(folder) / "pgdata"
        localdb(datadir, "start")
        try:
            localdb(datadir, "createdb", "yizhan")
            url = localdb(datadir, "url", "yizhan")
            command.upgrade(alembic_config(Settings(database_url=PostgresDsn(url))), "head")
            yield datadir, url
        finally:
            localdb(datadir, "stop")


def unlimited(url: str, **settings: Any) -> Settings:
    """Settings for the database at `url` without rate limits (tests that send many requests)."""
    return Settings(
        database_url=PostgresDsn(url),
        rate_limit_reads_per_minute=0,
        rate_limit_writes_per_minute=0,
        rate_limit_coverage_per_minute=0,
        **settings,
    )
