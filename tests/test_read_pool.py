"""app.db.ReadPool: more requests than connections are all served, in the order they asked."""

import asyncio
import contextvars

import asyncpg

from app.config import Settings
from app.db import ReadPool

asker: contextvars.ContextVar[int] = contextvars.ContextVar("asker")


async def _served_order(settings: Settings, turns: int) -> list[int]:
    served: list[int] = []

    async def note_who_got_it(conn: asyncpg.Connection) -> None:  # asyncpg runs it at every acquire
        served.append(asker.get())

    pool = await asyncpg.create_pool(settings.read_dsn, min_size=3, max_size=3, setup=note_who_got_it)
    reader = ReadPool(pool, turns)

    async def ask(i: int) -> int:
        asker.set(i)
        return int(await reader.fetchval("SELECT $1::int FROM pg_sleep(0.002)", i))

    try:
        tasks = []
        for i in range(60):
            tasks.append(asyncio.create_task(ask(i)))
            # Arrive one after another, many just as a connection comes back.
            await asyncio.sleep(0.0005 if i % 3 else 0)
        assert await asyncio.gather(*tasks) == list(range(60))
    finally:
        await reader.close()
    return served


async def test_waiting_requests_are_served_first_come_first_served(settings: Settings) -> None:
    assert await _served_order(settings, turns=3) == list(range(60))
