"""Answers kept for reuse (app.compute.kept) and the regions' work run side by side (app.coverage.regions.each_region):
bounded, and given up when nobody waits for them."""

import asyncio

import pytest

from app.compute.kept import LARGEST_SHARE, Kept
from app.coverage.regions import each_region


async def test_the_least_recently_used_answers_go_first_past_the_bounds() -> None:
    kept = Kept("test", seconds=60, max_entries=3, max_bytes=1_000)

    async def answer(value: int) -> int:
        return value

    for key in range(5):
        assert await kept.get(key, lambda key=key: answer(key), lambda _: 10) == key
    assert len(kept) == 3 and kept.bytes == 30
    await kept.get(2, lambda: answer(-1), lambda _: 10)  # kept: 2 is not computed again, and is now the newest
    for key in (5, 6):
        await kept.get(key, lambda key=key: answer(key), lambda _: 10)
    assert await kept.get(2, lambda: answer(-1), lambda _: 10) == 2
    assert await kept.get(3, lambda: answer(-3), lambda _: 10) == -3  # pushed out, computed afresh


async def test_an_answer_put_is_kept_as_one_computed_and_replaces_the_one_before() -> None:
    kept = Kept("test", seconds=60, max_entries=2, max_bytes=1_000)
    await kept.get("a", lambda: asyncio.sleep(0, "computed"), lambda _: 10)
    kept.put("a", "put", lambda _: 20)
    kept.put("b", "put too", lambda _: 30)
    assert len(kept) == 2 and kept.bytes == 50
    assert await kept.get("a", lambda: asyncio.sleep(0, "again"), lambda _: 10) == "put"
    kept.put("c", "newest", lambda _: 10)  # past the bound: the least recently used ("b") goes
    assert await kept.get("b", lambda: asyncio.sleep(0, "again"), lambda _: 10) == "again"


@pytest.mark.parametrize("size", [1_000 // LARGEST_SHARE + 1, 999, 5_000])
async def test_an_answer_too_large_to_keep_is_handed_out_and_pushes_nothing_out(size: int) -> None:
    kept = Kept("test", seconds=60, max_entries=100, max_bytes=1_000)
    for key in range(3):
        await kept.get(key, lambda key=key: asyncio.sleep(0, key), lambda _: 10)
    assert await kept.get("large", lambda: asyncio.sleep(0, "big"), lambda _: size) == "big"
    assert len(kept) == 3 and kept.bytes == 30


async def test_a_computation_everyone_left_is_cancelled_and_one_someone_waits_for_is_not() -> None:
    kept = Kept("test", seconds=60, max_entries=10, max_bytes=1_000)
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow() -> int:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 1

    first = asyncio.ensure_future(kept.get("k", slow, lambda _: 1))
    second = asyncio.ensure_future(kept.get("k", slow, lambda _: 1))
    await started.wait()
    first.cancel()
    await asyncio.sleep(0.01)
    assert not cancelled.is_set()  # the second asker still waits
    second.cancel()
    await asyncio.sleep(0.01)
    assert cancelled.is_set() and len(kept) == 0


@pytest.mark.parametrize("failing", [0, 2, 3])
async def test_when_one_region_fails_the_others_work_is_cancelled(failing: int) -> None:
    cancelled: list[int] = []

    async def work(region: int) -> int:
        if region == failing:
            await asyncio.sleep(0.01)
            raise ValueError(f"region {region}")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(region)
            raise
        return region

    started = asyncio.get_running_loop().time()
    with pytest.raises(ValueError, match=f"region {failing}"):
        await each_region(list(range(8)), work)  # type: ignore[arg-type]
    assert asyncio.get_running_loop().time() - started < 5
    await asyncio.sleep(0.01)
    running_when_it_failed = {r for r in range(8) if (r != failing and r < 4) or r == failing}  # four at once
    assert set(cancelled) >= running_when_it_failed - {failing}
