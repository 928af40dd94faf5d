"""Run a uvicorn server for a benchmark, on this checkout and a given database, and stop it afterwards."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def running(
    target: str, port: int, database_url: str, *, factory: bool = True, workers: int = 1, **env: str
) -> Iterator[str]:
    """Serve `target` on 127.0.0.1:`port`; yields the base URL once the server answers."""
    environment = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), **env}
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    if factory:
        args.append("--factory")
    server = subprocess.Popen(args, env=environment, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"{target} did not start on port {port}")
        yield base
    finally:
        server.terminate()
        server.wait()
