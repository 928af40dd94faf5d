"""What watching a request costs (app.observability.requests: the request id, the log line and the metrics), counted in
machine instructions: the service with and without its observer, both under valgrind's callgrind, in one run.

    make bench-observer            # after make bench (it reuses the yizhan_bench register)

Requests/s and CPU seconds on this VM drift by more within minutes than the few per cent being measured (the
figures are in bench/NOTES.md); an instruction count drifts far less: a server's count per request moved by about
1 % between runs (how the event loop batches concurrent requests depends on timing), the ratio by about a point.
Each server gets a warm-up, its counters are zeroed, then exactly --requests nearest requests from random points
at --connections at once, then the count is dumped. Counted: the server process, all its threads (the recorder's
included), user space; not PostgreSQL, which does the same work for both, so the ratio printed is an upper bound
of the share of the whole request.
Instructions are not time (a cold cache makes a few of them dear): bench/NOTES.md gives both.
"""

import argparse
import asyncio
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.database import db_url
from bench.nearest import DB_NAME

ROOT = Path(__file__).resolve().parent.parent
console = Console(width=120)
VARIANTS = {"with the observer": "true", "without": "false"}  # OBSERVE_REQUESTS


class Counted:
    """The service under callgrind, with its request observer or without (`observed`: OBSERVE_REQUESTS), whose count
    can be zeroed and read."""

    def __init__(self, observed: str, port: int, folder: Path, stack: ExitStack) -> None:
        self.folder, self.base = folder, f"http://127.0.0.1:{port}"
        environment = {
            **os.environ,
            "DATABASE_URL": db_url(DB_NAME),
            "PYTHONPATH": str(ROOT),
            "PYTHONHASHSEED": "0",
            "RATE_LIMIT_READS_PER_MINUTE": "1000000000",
            "OBSERVE_REQUESTS": observed,
        }
        log = stack.enter_context((folder / "server.log").open("wb"))
        self.process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={folder}/callgrind.%p",
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--factory",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=environment,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        stack.callback(self.stop)

    def wait_until_up(self) -> None:
        for _ in range(1200):  # start-up under valgrind takes minutes
            try:
                if httpx.get(f"{self.base}/healthz", timeout=10).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.5)
        raise SystemExit(f"no answer from {self.base}: {(self.folder / 'server.log').read_text()[-2000:]}")

    def control(self, option: str) -> None:
        subprocess.run(["callgrind_control", option, str(self.process.pid)], check=True, capture_output=True)

    def instructions(self) -> int:
        """Instructions since the last zero (the dump callgrind_control -d wrote)."""
        dump = next(self.folder.glob(f"callgrind.{self.process.pid}.1"))
        return int(re.search(r"^summary: (\d+)", dump.read_text(errors="replace"), re.M).group(1))  # type: ignore[union-attr]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(120)


async def nearest_requests(base: str, n: int, connections: int, seed: int) -> None:
    rng = random.Random(seed)
    points = [(rng.uniform(22.0, 40.0), rng.uniform(100.0, 120.0)) for _ in range(n)]
    limits = httpx.Limits(max_connections=connections)
    async with httpx.AsyncClient(base_url=base, timeout=600, limits=limits) as client:

        async def one_connection() -> None:
            while points:
                lat, lon = points.pop()
                answer = await client.get("/v1/sites/nearest", params={"lat": f"{lat:.5f}", "lon": f"{lon:.5f}"})
                answer.raise_for_status()

        await asyncio.gather(*(one_connection() for _ in range(connections)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("callgrind_control") is None:
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    counted: dict[str, int] = {}
    with ExitStack() as stack:
        folders = {name: Path(stack.enter_context(tempfile.TemporaryDirectory())) for name in VARIANTS}
        servers = {
            name: Counted(observed, 8110 + i, folders[name], stack)
            for i, (name, observed) in enumerate(VARIANTS.items())
        }
        for server in servers.values():
            server.wait_until_up()

        async def measure(server: Counted) -> None:
            await nearest_requests(server.base, 100, args.connections, seed=1)
            server.control("-z")
            await nearest_requests(server.base, args.requests, args.connections, seed=2)
            server.control("-d")

        async def both() -> None:
            await asyncio.gather(*(measure(server) for server in servers.values()))

        asyncio.run(both())
        counted = {name: server.instructions() for name, server in servers.items()}
    table = Table(title=f"GET nearest, {args.requests} requests at {args.connections} connections, under callgrind")
    for column in ("server", "instructions a request", "ratio"):
        table.add_column(column, justify="right")
    bare = counted["without"] / args.requests
    for name, total in counted.items():
        table.add_row(name, f"{total / args.requests:,.0f}", f"{total / args.requests / bare:.3f}")
    console.print(table)
    cost = counted["with the observer"] / counted["without"] - 1
    console.print(f"observer cost: {cost:.1%} of the server's instructions")
    console.print("target: <= 5 %")


if __name__ == "__main__":
    main()
