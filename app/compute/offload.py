"""CPU-heavy steps (geometry overlays, siting, spreadsheet parsing) run in worker processes, off the event loop.

One shapely overlay or greedy siting can take seconds; on the event loop it would stall every other request,
`/healthz` included, for as long. A worker process also lets the work be stopped: when the request that asked for
it is cancelled (its time budget ran out, app.api.budget, or its client left), the worker running it is terminated and
a fresh one takes its place. A thread could not be stopped mid-GEOS call.

Workers start from a fork server (not by forking this multi-threaded process, whose locks a child could inherit
held) that has the steps' modules loaded (PRELOADED): a worker that replaces a terminated one starts in a few
milliseconds. Steps are plain functions of picklable values, with no I/O.
"""

import asyncio
import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from pebble import ProcessPool

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_pool: ProcessPool | None = None
_workers = os.cpu_count() or 1
PRELOADED = ["numpy", "shapely", "app.coverage.planar", "app.sites.bulk"]


# A worker hands the memory of a step's large shapes back to the system when the step is done (glibc keeps freed
# memory for reuse otherwise, and a worker that once built a province's overlay would stay that size), and is
# replaced after this many steps, which bounds what fragmentation keeps.
STEPS_PER_WORKER = 500
_libc = ctypes.CDLL(ctypes.util.find_library("c"))


def _step(step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    try:
        return step(*args, **kwargs)
    finally:
        _libc.malloc_trim(0)


def configure(workers: int | None) -> None:
    """How many worker processes (default: one per core); takes effect at the pool's next start."""
    global _workers
    _workers = workers or os.cpu_count() or 1


def _running_pool() -> ProcessPool:
    global _pool
    if _pool is not None and not _pool.active:
        # Broken (a worker killed from outside, a result that would not unpickle): its threads and workers go too.
        log.warning("worker pool broken; starting a new one")
        broken, _pool = _pool, None
        broken.stop()
        threading.Thread(target=broken.join, name="offload-join", daemon=True).start()
    if _pool is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOADED)
        _pool = ProcessPool(max_workers=_workers, max_tasks=STEPS_PER_WORKER, context=context)
    return _pool


def start() -> None:
    """Start the fork server and the workers now (at startup), not on the first request that needs them."""
    _running_pool().schedule(os.getpid)


async def run(step: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`step(*args, **kwargs)` in a worker process; cancelling the caller terminates the worker running it."""
    future = _running_pool().schedule(_step, args=(step, *args), kwargs=kwargs)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        future.cancel()
        raise


# Items of a list crossing to or from a worker pickled at a time: a few milliseconds of the GIL each. A whole
# 150,000-row upload pickled at once held it for 0.2–0.3 s, and the event loop with it.
LISTED_CHUNK = 2_000


async def run_listed(step: Callable[..., list[T]], *args: Any, items: list[Any] | None = None) -> list[T]:
    """`step(items, *args)` (or `step(*args)` without items) in a worker process, for a step whose list going in
    or coming back is large: both cross in pickled chunks, with the loop running between them."""
    chunks_in: list[bytes] | None = None
    if items is not None:
        chunks_in = []
        for start in range(0, len(items), LISTED_CHUNK):
            chunks_in.append(pickle.dumps(items[start : start + LISTED_CHUNK]))
            await asyncio.sleep(0)
    found: list[T] = []
    for chunk in await run(_listed, step, chunks_in, args):
        found += pickle.loads(chunk)
        await asyncio.sleep(0)
    return found


def _listed(step: Callable[..., list[Any]], chunks_in: list[bytes] | None, args: tuple[Any, ...]) -> list[bytes]:
    if chunks_in is None:
        found = step(*args)
    else:
        found = step([item for chunk in chunks_in for item in pickle.loads(chunk)], *args)
    return [pickle.dumps(found[start : start + LISTED_CHUNK]) for start in range(0, len(found), LISTED_CHUNK)]


def close() -> None:
    """Stop the workers (at shutdown): what they run is abandoned."""
    global _pool
    if _pool is not None:
        _pool.stop()
        _pool.join(timeout=5)
        _pool = None
