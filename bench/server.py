"""Run a uvicorn server for a benchmark, on this checkout and a given database, and stop it afterwards; read the CPU
time processes have used (Linux /proc), which a noisy machine disturbs far less than requests per second."""

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Server:
    base: str
    pid: int


def _processes() -> Iterator[tuple[int, int, str, float]]:
    """(pid, parent pid, command, CPU seconds used) of every process."""
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        command = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        yield int(entry.name), int(fields[1]), command, (int(fields[11]) + int(fields[12])) / tick


def cpu_seconds(root_pid: int) -> tuple[float, float]:
    """CPU seconds used so far by the process `root_pid` with its children, and by every PostgreSQL process."""
    processes = list(_processes())
    tree, grew = {root_pid}, True
    while grew:
        found = {pid for pid, parent, _, _ in processes if parent in tree} - tree
        tree |= found
        grew = bool(found)
    server = sum(cpu for pid, _, _, cpu in processes if pid in tree)
    database = sum(cpu for _, _, command, cpu in processes if command.startswith("postgres"))
    return server, database


@contextmanager
def running(
    target: str,
    port: int,
    database_url: str,
    *,
    factory: bool = True,
    workers: int = 1,
    python: str = sys.executable,
    ready_path: str = "/openapi.json",
    **env: str,
) -> Iterator[Server]:
    """Serve `target` on 127.0.0.1:`port` with `python` (another virtualenv's, for a server that is not the project's);
    yields it once `ready_path` answers."""
    environment = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT), **env}
    args = [
        python,
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
    # Its log (a JSON line per request) goes to a file, as to a log collector in production, not to the terminal.
    with tempfile.NamedTemporaryFile(prefix=f"yizhan-bench-{port}-", suffix=".log") as log:
        server = subprocess.Popen(args, env=environment, cwd=ROOT, stderr=log)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(150):
                try:
                    if httpx.get(f"{base}{ready_path}", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise SystemExit(f"{target} did not start on port {port}:\n{Path(log.name).read_text()[-3000:]}")
            yield Server(base, server.pid)
        finally:
            server.terminate()
            server.wait()
