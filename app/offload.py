"""CPU-heavy steps (geometry overlays, siting, spreadsheet parsing) run in worker processes, off the event loop.

One shapely overlay or greedy siting can take seconds; on the event loop it would stall every other request,
`/healthz` included, for as long. A worker process also lets the work be stopped: when the request that asked for
it is cancelled (its time budget ran out, app.budget, or its client left), the worker running it is terminated and
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
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

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


def close() -> None:
    """Stop the workers (at shutdown): what they run is abandoned."""
    global _pool
    if _pool is not None:
        _pool.stop()
        _pool.join(timeout=5)
        _pool = None
