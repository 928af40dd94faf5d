"""Request-time reads: one asyncpg pool, the hot path.

The nearest-site query is the mobile app's hot path; a bare asyncpg call is the cheapest way to run it, so
request-time reads use the pool directly (prepared statements, no ORM objects).
"""

import asyncio
import contextlib
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

import asyncpg
import orjson


class Reader(Protocol):
    """What read repositories need: an asyncpg Pool in the service, one Connection inside a test transaction."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...
    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None: ...
    async def fetchval(self, query: str, *args: Any) -> Any: ...


Run = Callable[[str, str, tuple[Any, ...], Hashable], Awaitable[Any]]


class Preferring:
    """A Reader whose statements go to the connection that ran the last ones with the same key, when it is free
    (ReadPool.preferring)."""

    def __init__(self, run: Run, key: Hashable) -> None:
        self._run, self.key = run, key

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._run("fetch", query, args, self.key)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._run("fetchrow", query, args, self.key)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._run("fetchval", query, args, self.key)


def preferring(reader: Reader, key: Hashable) -> Reader:
    """`reader`, its statements sent where those with `key` went before (see ReadPool.preferring); a single
    connection (a test's) as it is."""
    prefer: Callable[[Hashable], Reader] | None = getattr(reader, "preferring", None)
    return prefer(key) if prefer is not None else reader


async def schema_revision(reader: Reader) -> str | None:
    """The Alembic revision the database is at."""
    value = await reader.fetchval("SELECT version_num FROM alembic_version")
    return str(value) if value is not None else None


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Reset a read connection on its way back to the pool: nothing beyond asyncpg's own rollback of an open
    transaction. Reads set no session state (no SET, LISTEN, cursors or advisory locks), so the default reset
    (`RESET ALL; UNLISTEN *; …`) would only add a round trip, ~100 µs, to every release."""


MAX_PREFERENCES = 20_000  # keys whose connection is remembered (every plane of China: 3,254)


class ReadPool:
    """The asyncpg read pool, its connections kept between requests and its waiting requests served in order.

    Two things about asyncpg's Pool cost the hot path, and this works around both while leaving connecting,
    resetting and replacing connections to it:
    - Acquiring and releasing (a shielded release task, inactivity timers, proxies) costs ~40 µs per request, as
      much as decoding the answer. A connection taken here stays checked out and goes back on a list for the next
      request. Only a query that fails or is interrupted hands its connection back to asyncpg, which rolls back,
      resets or replaces it as its state requires, and the next request acquires a fresh one.
    - Requests waiting for a connection wait in an asyncio.Queue, where one that arrives just as a connection comes
      back takes it ahead of those already waiting (the woken one finds the queue empty and queues again, at the
      end). Under load that starves a few: 32 concurrent nearest requests over 10 connections see a p99 of 88 ms
      at a p50 of 13 ms. Requests here take one of as many turns as there are connections, from an asyncio.Semaphore,
      which hands a freed turn to the longest waiter.
    """

    def __init__(self, pool: asyncpg.Pool, size: int) -> None:
        self.pool = pool
        self._turns = asyncio.Semaphore(size)
        self._waiting = 0  # requests waiting for a turn (a metric)
        self._kept: list[asyncpg.pool.PoolConnectionProxy] = []  # checked out of `pool`, idle
        # Connections checked out of `pool`, idle or answering: while fewer than `size`, asyncpg has one to give at
        # once (a turn never waits on asyncpg for a connection this pool keeps idle).
        self._size, self._held = size, 0
        # Each preference key's connection (its server process), and how many keys each one is home to.
        self._homes: OrderedDict[Hashable, int] = OrderedDict()
        self._keys_at: Counter[int] = Counter()

    def preferring(self, key: Hashable) -> Preferring:
        """This pool, its statements sent to the connection that ran the last ones with `key` when that one is
        free; a new key goes to the free connection home to the fewest keys. For work whose cost is per server
        process: PostGIS readies a transformation into a region's plane once per process (~2.5 ms) and keeps 128,
        evicting the least used (a newly readied one first), so a province's 136 county planes asked of any
        connection are readied again at nearly every statement (the pool's size, DB_POOL_MAX, holds all of China's
        with room to spare)."""
        return Preferring(self.run, key)

    async def run(self, method: str, query: str, args: tuple[Any, ...], key: Hashable = None) -> Any:
        """`method` (fetch, fetchrow, fetchval) of the query; on the connection preferred for `key`, if any."""
        self._waiting += 1
        try:
            await self._turns.acquire()
        finally:
            self._waiting -= 1
        try:
            return await self._run_in_turn(method, query, args, key)
        finally:
            self._turns.release()

    def _take(self, key: Hashable) -> asyncpg.pool.PoolConnectionProxy | None:
        """A kept idle connection: `key`'s home if free; for a new key none while this pool holds fewer than its
        size (a new connection becomes its home: keys spread over every connection the pool may hold, so a busy
        home is rare), then the one home to the fewest keys; else the last one back."""
        if key is not None:
            home = self._homes.get(key)
            pids = [_server_pid(conn) for conn in self._kept]
            if home is not None and home in pids:
                return self._kept.pop(pids.index(home))
            if home is None:
                if self._held < self._size or not pids:
                    return None
                fewest = min(range(len(pids)), key=lambda i: self._keys_at[pids[i]])
                return self._kept.pop(fewest)
        return self._kept.pop() if self._kept else None

    def _home(self, key: Hashable, conn: asyncpg.pool.PoolConnectionProxy) -> None:
        if key in self._homes:
            self._homes.move_to_end(key)
            return
        pid = _server_pid(conn)
        self._homes[key] = pid
        self._keys_at[pid] += 1
        while len(self._homes) > MAX_PREFERENCES:
            _, gone = self._homes.popitem(last=False)
            self._keys_at[gone] -= 1

    async def _run_in_turn(self, method: str, query: str, args: tuple[Any, ...], key: Hashable) -> Any:
        conn = self._take(key)
        if conn is not None and not await self._usable(conn):
            conn = None
        if conn is None:
            self._held += 1  # counted while asyncpg connects: another turn must not count on that connection
            try:
                conn = await self.pool.acquire()
            except BaseException:
                self._held -= 1
                raise
        try:
            result = await getattr(conn, method)(query, *args)
        except BaseException as exc:
            self._held -= 1
            if isinstance(exc, asyncio.CancelledError):
                # Interrupted (over budget, the client gone), the connection may be left mid-statement: a server
                # process was seen still 'active' 20 s later, waiting for the rest of a statement asyncpg had begun.
                # Closed, its server process ends; asyncpg opens another when one is needed.
                conn.terminate()
            with contextlib.suppress(asyncpg.InterfaceError):  # already taken back: its connection terminated
                await self.pool.release(conn)
            raise
        self._kept.append(conn)
        if key is not None:
            self._home(key, conn)
        return result

    def gauges(self) -> dict[str, int]:
        """How many connections the pool holds, how many are answering a query, how many requests wait for one."""
        size = self.pool.get_size()
        idle = self.pool.get_idle_size() + len(self._kept)
        return {"size": size, "in_use": max(size - idle, 0), "waiting": self._waiting}

    async def _usable(self, conn: asyncpg.pool.PoolConnectionProxy) -> bool:
        """Whether a kept connection still talks to the server; one that does not goes back to asyncpg, which
        replaces it (a database restart or failover closes every connection)."""
        try:
            if not conn.is_closed():
                return True
        except asyncpg.InterfaceError:
            self._held -= 1
            return False  # asyncpg took it back itself when the server closed it
        self._held -= 1
        await self.pool.release(conn)
        return False

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self.run("fetch", query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self.run("fetchrow", query, args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self.run("fetchval", query, args)

    async def close(self) -> None:
        while self._kept:
            self._held -= 1
            await self.pool.release(self._kept.pop())
        await self.pool.close()


def _server_pid(conn: asyncpg.pool.PoolConnectionProxy) -> int:
    try:
        return int(conn.get_server_pid())
    except asyncpg.InterfaceError:
        return -1  # taken back by asyncpg (its server closed it): _usable finds out


async def connect_reader(dsn: str, *, min_size: int = 1, max_size: int = 10, standby: bool = False) -> ReadPool:
    """A read pool on `dsn`. A standby's starts even while its server is down, and gives up on it quickly (a
    connection in 2 s, a query in 10 s: the primary answers instead)."""
    timeouts: dict[str, float] = {"timeout": 2, "command_timeout": 10} if standby else {}
    pool = await asyncpg.create_pool(
        dsn,
        **timeouts,
        min_size=0 if standby else min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"application_name": "yizhan", "jit": "off"},
    )
    assert pool is not None
    return ReadPool(pool, max_size)
