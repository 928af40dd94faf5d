"""The regions a coverage question is about: a region by its adcode, the leaves whose own rules apply, and work
on each of several regions."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg

from app.coverage import repository
from app.database.read_pool import Reader
from app.regions import service

T = TypeVar("T")


async def find_region(reader: Reader, adcode: str) -> asyncpg.Record:
    row = await repository.region(reader, adcode)
    if row is None:
        raise await service.absent(reader, adcode)
    return row


async def leaves(reader: Reader, region: asyncpg.Record) -> list[asyncpg.Record]:
    """The regions whose own rule applies: the region itself, or its children."""
    return list(await repository.children(reader, region["adcode"])) if region["has_children"] else [region]


# Child rows are independent; a pool runs a few at once (the database does the work, on more than one core).
CHILD_ROWS_AT_ONCE = 4


async def each_region(
    regions: list[asyncpg.Record],
    work: Callable[[asyncpg.Record], Awaitable[T]],
    at_once: int = CHILD_ROWS_AT_ONCE,
) -> list[T]:
    """`work` for each region, `at_once` at a time (the database does the work, on more than one core). When one
    fails (a 422, the request's budget) the others are cancelled: their work is nobody's any more."""
    limit = asyncio.Semaphore(at_once)

    async def one(region: asyncpg.Record) -> T:
        async with limit:
            return await work(region)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(region)) for region in regions]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None  # the first failure, as the caller would meet it alone
    return [task.result() for task in tasks]
