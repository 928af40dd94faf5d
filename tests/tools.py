"""Small helpers the tests share."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx

from app import demo
from app.config import Settings
from app.db import create_engine
from app.keys import service as keys
from app.paths import PROJECT_ROOT


async def run(*command: str) -> str:
    """A command's output (pdftotext, ogrinfo …), run off the event loop."""
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=True)
    return done.stdout


def start_uvicorn(settings: Settings, *flags: str, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """The service under uvicorn in a process of its own on the test database, once it answers /readyz."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": str(settings.database_url), "PYTHONPATH": str(PROJECT_ROOT), **env}
    args = [sys.executable, "-m", "uvicorn", "--factory", "app.main:app", "--port", str(port), "--no-access-log"]
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
