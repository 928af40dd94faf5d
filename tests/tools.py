"""Small helpers the tests share."""

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from alembic import command
from pydantic import PostgresDsn
from sqlalchemy.ext.asyncio import AsyncEngine

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
    /readyz (without the visits' retention in the background, as `unlimited` has it)."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "PYTHONPATH": str(PROJECT_ROOT),
        "VISITS_RETENTION_ON_SCHEDULE": "false",
        **env,
    }
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


async def on_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[Any]]) -> None:
    """`work` (demo.load …) with an engine on the database of `settings`, disposed of afterwards."""
    engine = create_engine(settings)
    try:
        await work(engine)
    finally:
        await engine.dispose()


async def write_key(settings: Settings, key_name: str) -> str:
    """A write key made in the database of `settings` (committed)."""
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            return await keys.create(conn, key_name, ["write"], None)
    finally:
        await engine.dispose()


async def demo_with_key(settings: Settings, key_name: str) -> str:
    """Load the demo data into the database of `settings` and make a write key there (both committed)."""
    await on_engine(settings, demo.load)
    return await write_key(settings, key_name)


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


# What each template database holds: the template it starts from (None: an empty database, migrated) and what is
# loaded on top.
TEMPLATES: dict[str, tuple[str | None, Callable[[AsyncEngine], Awaitable[Any]]]] = {
    "demo": (None, demo.load),  # the Binzhou demo data
    "huangpu": ("demo", demo.load_huangpu),  # and 黄浦区: its boundary, generated register and road network
}
_templates: dict[str, str] = {}  # the session's template databases, made on first use, by what they hold


def template(holding: str) -> str:
    """The name of the session's template database `holding` (TEMPLATES), made the first time it is asked for.

    Every test database is a copy of one (CREATE DATABASE … TEMPLATE), which takes a fraction of a second where
    migrating and loading the demo data take seconds. Nothing connects to a template once it is made: PostgreSQL
    copies only a database nobody is connected to."""
    if holding not in _templates:
        start_from, load = TEMPLATES[holding]
        name = f"yizhan_template_{holding}_{uuid.uuid4().hex[:8]}"
        copied = f' TEMPLATE "{template(start_from)}"' if start_from is not None else ""
        asyncio.run(admin(f'CREATE DATABASE "{name}"{copied}'))
        try:
            settings = unlimited(database_url(name))
            if start_from is None:
                command.upgrade(alembic_config(settings), "head")
            asyncio.run(on_engine(settings, load))
        except BaseException:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            raise
        _templates[holding] = name
    return _templates[holding]


def drop_templates() -> None:
    """Drop the session's template databases (at its end)."""
    while _templates:
        _, name = _templates.popitem()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def database_from(holding: str, purpose: str, **settings: Any) -> Iterator[Settings]:
    """A database of its own on the test server, a copy of the template `holding`: its settings (no rate limits,
    `settings` besides). Dropped afterwards."""
    name = f"yizhan_{purpose}_{uuid.uuid4().hex[:8]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{template(holding)}"'))
    try:
        yield unlimited(database_url(name), **settings)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def own_database(purpose: str) -> Iterator[tuple[Settings, str]]:
    """A migrated database of its own on the test server with the demo data, for tests whose writes commit: its
    settings (no rate limits) and a write key. Dropped afterwards."""
    with database_from("demo", purpose) as settings:
        yield settings, asyncio.run(write_key(settings, purpose))


@contextmanager
def huangpu_database(purpose: str) -> Iterator[Settings]:
    """own_database with the 黄浦区 demo on top: its boundary, generated register and road network (no key)."""
    with database_from("huangpu", purpose) as settings:
        yield settings


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
    """Settings for the database at `url` without rate limits (tests that send many requests), and without the
    visits' retention running in the background of every app a test starts (tests/visits/test_retention.py runs
    it)."""
    return Settings(
        **{
            "database_url": PostgresDsn(url),
            "rate_limit_reads_per_minute": 0,
            "rate_limit_writes_per_minute": 0,
            "rate_limit_coverage_per_minute": 0,
            "visits_retention_on_schedule": False,
            **settings,
        }
    )
