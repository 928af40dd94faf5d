"""Answers kept for a while by key: each computed once even when several requests ask at the same time, bounded in
entries and in bytes, and given up when nobody waits for it any more.

The map asks for the same counties' coverage through the table, the region, its gaps and the tiles at once; what-if
questions (a radius, a site count) make new keys without end, so the store is bounded: the least recently used
answers go first past `max_entries` or `max_bytes` (each answer's size as its `weigh` estimates it). A computation
whose every asker has left (cancelled: over budget, or the client gone) is cancelled too.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.observability import metrics

T = TypeVar("T")
LARGEST_SHARE = 8  # an answer weighing more than this share of the bound is handed out but not kept


@dataclass
class _Entry(Generic[T]):
    made: float
    task: "asyncio.Future[T]"
    weigh: Callable[[T], int]
    waiters: int = 0
    size: int = field(default=0)


class Kept:
    def __init__(self, name: str, seconds: float, max_entries: int, max_bytes: int) -> None:
        self.name, self.seconds, self.max_entries, self.max_bytes = name, seconds, max_entries, max_bytes
        self._entries: OrderedDict[Hashable, _Entry[Any]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def bytes(self) -> int:
        return self._bytes

    async def get(self, key: object, compute: Callable[[], Awaitable[T]], weigh: Callable[[T], int]) -> T:
        """The answer kept for `key` (any hashable object; None: compute, keep nothing), else `compute()`'s."""
        if key is None:
            return await compute()
        entry = self._entries.get(key)
        if entry is None or not self._usable(entry):
            if entry is not None:
                self._drop(key)
            entry = _Entry(time.monotonic(), asyncio.ensure_future(compute()), weigh)
            entry.task.add_done_callback(lambda _: self._weighed(key, entry))
            self._entries[key] = entry
            self._evict()
        else:
            self._entries.move_to_end(key)
        entry.waiters += 1
        try:
            return await asyncio.shield(entry.task)
        except asyncio.CancelledError:
            if entry.waiters == 1 and not entry.task.done():
                entry.task.cancel()  # the last one asking has gone: nobody needs the answer
                if self._entries.get(key) is entry:
                    self._drop(key)
            raise
        finally:
            entry.waiters -= 1

    def holds(self, key: Hashable) -> bool:
        """Whether an answer for `key` is kept, or being computed."""
        entry = self._entries.get(key)
        return entry is not None and self._usable(entry)

    def put(self, key: Hashable, value: T, weigh: Callable[[T], int]) -> None:
        """Keep `value` for `key` as if it had just been computed."""
        if key in self._entries:
            self._drop(key)
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        done.set_result(value)
        entry = _Entry(time.monotonic(), done, weigh)
        self._entries[key] = entry
        self._weighed(key, entry)

    def _usable(self, entry: _Entry[Any]) -> bool:
        if time.monotonic() - entry.made > self.seconds:
            return False
        return not (entry.task.done() and (entry.task.cancelled() or entry.task.exception() is not None))

    def _weighed(self, key: Hashable, entry: _Entry[Any]) -> None:
        if self._entries.get(key) is not entry:
            return
        if entry.task.cancelled() or entry.task.exception() is not None:
            self._drop(key)
            return
        entry.size = entry.weigh(entry.task.result())
        if entry.size > self.max_bytes // LARGEST_SHARE:
            # Keeping it would push out the many small answers a map asks for again (its counties' figures).
            entry.size = 0
            self._drop(key)
            return
        self._bytes += entry.size
        self._evict()

    def _evict(self) -> None:
        while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
            key = next(iter(self._entries))
            entry = self._entries[key]
            if not entry.task.done() and entry.waiters == 0:
                entry.task.cancel()
            self._drop(key)
        metrics.KEPT_ENTRIES.labels(self.name).set(len(self._entries))
        metrics.KEPT_BYTES.labels(self.name).set(self._bytes)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key)
        self._bytes -= entry.size
        metrics.KEPT_ENTRIES.labels(self.name).set(len(self._entries))
        metrics.KEPT_BYTES.labels(self.name).set(self._bytes)
