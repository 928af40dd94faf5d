"""A soak: the service under a minute of steady load per question, watched for errors, tail latency and memory.

    make bench-soak               # after `make bench` (it reuses the national register in yizhan_bench)

1. nearest at 64 connections from random points;
2. the city coverage table (Binzhou's counties, /v1/coverage/regions/371600/children) at 16 connections, as
   served (its figures kept per register state);
3. the same table under a random radius rule each time (1,500–2,500 m): evaluated afresh, the worst case;
4. what-ifs of every kind mixed (a county's coverage and gaps, the city table, the map's regions, catchments and gaps
   tiles; random radii, a quarter with cross coverage), each computed afresh and kept (bench/random_whatif.lua).
Prints requests/s, p50/p99, errors (non-2xx and socket errors) and the server's memory (RSS of its processes, the
worker processes of app.compute.offload included) before and after each phase, and from the start (after a warm-up of
every phase's questions, which fills the kept answers to their bound) to the end of the last. Target: no errors,
memory at the end within 10 % of the start.
"""

import argparse
import os
import re
import subprocess
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.database import db_url
from bench.nearest import DB_NAME, parse_ms
from bench.server import Server, running

HERE = Path(__file__).resolve().parent
console = Console(width=150)
PHASES = (
    ("nearest", 64, "random_points.lua", "/v1/sites/nearest?lat=%f&lon=%f"),
    ("city coverage table", 16, "random_points.lua", "/v1/coverage/regions/371600/children"),
    (
        "city table, random radius (uncached)",
        16,
        "random_radius.lua",
        "/v1/coverage/regions/371600/children?radius_m=%d",
    ),
    ("what-ifs mixed (coverage, gaps, table, tiles)", 16, "random_whatif.lua", ""),
)


def _descendants(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            for child in children.read_text().split():
                found += _descendants(int(child))
    return found


def rss_mib(root_pid: int) -> float:
    """Resident memory of the process `root_pid` and all its descendants (uvicorn's workers, the worker processes
    of app.compute.offload and their fork server), MiB."""
    total_kib = 0
    for pid in _descendants(root_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # gone meanwhile (a worker replaced)
        total_kib += int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))  # type: ignore[union-attr]
    return total_kib / 1024


def _wrk(server: Server, connections: int, script: str, template: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PATH_TEMPLATE": template}
    return ["wrk", "-t2", f"-c{connections}", "-s", str(HERE / script), "--timeout", "30s", server.base], env


def warm_up(server: Server, seconds: int) -> None:
    """Every phase's questions for `seconds` each: what the process loads once (modules, PROJ's database, the
    workers' first shapes) and the kept answers' store filled to its bound, so that what the phases add after
    is growth."""
    for _, connections, script, template in PHASES:
        command, env = _wrk(server, connections, script, template)
        subprocess.run([*command, f"-d{seconds}s"], env=env, capture_output=True, check=True)


def soak(server: Server, connections: int, script: str, template: str, seconds: int) -> dict[str, float]:
    command, env = _wrk(server, connections, script, template)
    subprocess.run([*command, "-d5s"], env=env, capture_output=True, check=True)  # warm-up
    before = rss_mib(server.pid)
    out = subprocess.run([*command, f"-d{seconds}s", "--latency"], env=env, capture_output=True, text=True, check=True)
    text = out.stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "p50": parse_ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)),  # type: ignore[union-attr]
        "p99": parse_ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)),  # type: ignore[union-attr]
        "errors": (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
        "rss_before": before,
        "rss_after": rss_mib(server.pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=60, help="seconds per phase")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--warm-up", type=int, default=20, help="seconds of each phase's questions before the start")
    args = parser.parse_args()
    limits = {f"RATE_LIMIT_{k}_PER_MINUTE": "1000000000" for k in ("READS", "COVERAGE")}
    table = Table(title=f"soak: {args.duration} s a phase, {args.workers} worker(s)")
    for column in ("phase", "connections", "requests/s", "p50 ms", "p99 ms", "errors", "RSS MiB before → after"):
        table.add_column(column, justify="right")
    with running("app.main:app", 8104, db_url(DB_NAME), workers=args.workers, **limits) as server:
        warm_up(server, args.warm_up)
        start = rss_mib(server.pid)
        for name, connections, script, template in PHASES:
            r = soak(server, connections, script, template, args.duration)
            growth = r["rss_after"] / r["rss_before"] - 1
            table.add_row(
                name,
                str(connections),
                f"{r['rps']:.1f}",
                f"{r['p50']:.1f}",
                f"{r['p99']:.1f}",
                f"{r['errors']:.0f}",
                f"{r['rss_before']:.0f} → {r['rss_after']:.0f} ({growth:+.1%})",
            )
        end = rss_mib(server.pid)
    console.print(table)
    console.print(f"memory after the warm-up and at the end: {start:.0f} → {end:.0f} MiB ({end / start - 1:+.1%})")
    console.print("targets: 0 errors; memory at the end within 10 % of the start")


if __name__ == "__main__":
    main()
